// Package portal serves the customer portal: the page a createPortalSession URL
// (/portal/{appId}/{recipientId}#token=…) opens, where a recipient's customer manages their own
// webhook endpoints, reads their messages and delivery attempts, and reveals or rotates signing
// secrets. The page is plain HTML, CSS and JavaScript embedded in the binary, so it works with no
// internet access; it calls the Webhooks API (/api/v1) from the browser with the session token as
// a bearer credential, so serving it needs no authentication and no knowledge of the ids.
package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// files holds the page (index.html) and its assets, as served.
//
//go:embed static
var files embed.FS

// AssetsPath is the URL path the assets are served under.
const AssetsPath = "/portal/assets/"

// csp lets the page load scripts, styles, images and API responses from its own origin only,
// and nothing else: no inline script (a value from the API can never run as code), no outside
// host, no form posting anywhere (forms are handled by the script). It is followed by the
// frame-ancestors directive: 'none', or for the page the origins its app allows.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors "

// securityHeaders go on every portal response. The token is only ever in the URL fragment and
// in the page's memory, but no-referrer also keeps the page's path (which names the app and the
// recipient) from other sites.
var securityHeaders = map[string]string{
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// FrameAncestors finds the origins an app lets frame its portal page (none for an unknown
// app); the store's PortalFrameAncestors.
type FrameAncestors func(ctx context.Context, appID uuid.UUID) ([]string, error)

// contentTypes are the types of the files the page is made of; a file of another kind is a
// mistake Register reports by panicking, caught by any test that starts a server.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Register mounts the page at /portal/{appId}/{recipientId} (the same page for any ids: the
// script reads them from the path), framable by the origins frameAncestors gives for the app
// (the vendor's portal is embedded in an iframe of the customer's dashboard), and its assets
// under AssetsPath, framable by none.
func Register(e *echo.Echo, frameAncestors FrameAncestors) {
	assets := load()
	page := assets["index.html"]
	delete(assets, "index.html")
	e.Match([]string{http.MethodGet, http.MethodHead}, "/portal/:appId/:recipientId", func(c echo.Context) error {
		var origins []string
		if id, err := uuid.Parse(c.Param("appId")); err == nil {
			if origins, err = frameAncestors(c.Request().Context(), id); err != nil {
				return err
			}
		}
		setSecurityHeaders(c, origins)
		return serve(c, page)
	})
	e.Match([]string{http.MethodGet, http.MethodHead}, AssetsPath+":name", func(c echo.Context) error {
		setSecurityHeaders(c, nil)
		f, ok := assets[c.Param("name")]
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, "No portal asset named "+c.Param("name"))
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
			panic("portal: no content type for " + p)
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
		panic("portal: " + err.Error())
	}
	if _, ok := out["index.html"]; !ok {
		panic("portal: no index.html")
	}
	return out
}

// setSecurityHeaders sets the portal's headers, the page framable by origins (validated by the
// Webhooks API's spec: a scheme, a host and a port, nothing a policy could be injected with).
func setSecurityHeaders(c echo.Context, origins []string) {
	h := c.Response().Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	if len(origins) == 0 {
		h.Set("Content-Security-Policy", csp+"'none'")
		h.Set("X-Frame-Options", "DENY")
		return
	}
	// X-Frame-Options cannot name origins; browsers follow frame-ancestors instead.
	h.Set("Content-Security-Policy", csp+strings.Join(origins, " "))
}

// serve writes f. The asset URLs carry no version, so browsers revalidate every time
// (no-cache) and get a 304 while the ETag (a hash of the content) is unchanged: a new build is
// picked up at once, an unchanged one costs no body.
func serve(c echo.Context, f file) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(f.body))
	return nil
}
