// Package dashboard serves the dashboard at /dashboard/: the page where a workspace's users sign
// in (Reten's /api/auth/login) and manage API keys, Dispatch, Ingest and Activities, and read
// Channels and Calling. The page is plain HTML, CSS and JavaScript embedded in the binary (no
// CDN, works with no internet access); every view calls the public API routes from the browser
// with the signed-in user's access token, so serving it needs no authentication and it has no
// endpoint of its own.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/labstack/echo/v4"
)

// files holds the page (index.html) and its assets, as served.
//
//go:embed static
var files embed.FS

// AssetsPath is the URL path the assets are served under.
const AssetsPath = "/dashboard/assets/"

// CSP lets the page load scripts, styles, images and API responses from its own origin only:
// no inline script (a value from the API can never run as code), no outside host, no form
// posting anywhere (forms are handled by the script), and no framing (clickjacking).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var securityHeaders = map[string]string{
	"Content-Security-Policy":    CSP,
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Referrer-Policy":            "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Register mounts the page at /dashboard/ (/dashboard redirects there) and its assets under
// AssetsPath.
func Register(e *echo.Echo) {
	assets := load()
	page := assets["index.html"]
	delete(assets, "index.html")
	get := []string{http.MethodGet, http.MethodHead}
	e.Match(get, "/dashboard", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/dashboard/") })
	e.Match(get, "/dashboard/", func(c echo.Context) error { return serve(c, page) })
	e.Match(get, AssetsPath+":name", func(c echo.Context) error {
		f, ok := assets[c.Param("name")]
		if !ok {
			setSecurityHeaders(c)
			return echo.NewHTTPError(http.StatusNotFound, "No dashboard asset named "+c.Param("name"))
		}
		return serve(c, f)
	})
}

func load() map[string]file {
	out := map[string]file{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			panic("dashboard: no content type for " + p)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path.Base(p)] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: " + err.Error())
	}
	if _, ok := out["index.html"]; !ok {
		panic("dashboard: no index.html")
	}
	return out
}

func setSecurityHeaders(c echo.Context) {
	for k, v := range securityHeaders {
		c.Response().Header().Set(k, v)
	}
}

// serve writes f, revalidated on every load (no-cache; a 304 while its ETag is unchanged).
func serve(c echo.Context, f file) error {
	setSecurityHeaders(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(f.body))
	return nil
}
