// Package docs serves the specs for download (/openapi/{surface}.yaml and .json) and the
// interactive reference (/docs), a Swagger UI embedded in the binary, so both work with no
// internet access.
package docs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/openapi"
)

// Register mounts the spec downloads and the docs UI on e. The specs are served with the
// servers this Switchboard is reached at (ServedYAML), publicURL being its public base URL.
func Register(e *echo.Echo, publicURL string) error {
	type spec struct{ yaml, json []byte }
	specs := map[string]spec{}
	urls := make([]string, 0, len(openapi.Surfaces))
	for _, s := range openapi.Surfaces {
		y, err := ServedYAML(s, publicURL)
		if err != nil {
			return err
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			return fmt.Errorf("spec %s: %w", s.Name, err)
		}
		specs[s.Name] = spec{yaml: y, json: j}
		u, _ := json.Marshal(map[string]string{"url": "/openapi/" + s.Name + ".json", "name": s.Title})
		urls = append(urls, string(u))
	}
	e.GET("/openapi/:file", func(c echo.Context) error {
		file := c.Param("file")
		name, ext, _ := strings.Cut(file, ".")
		s, ok := specs[name]
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, "No spec named "+file)
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		switch ext {
		case "yaml", "yml":
			return c.Blob(http.StatusOK, "application/yaml", s.yaml)
		case "json":
			return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.json)
		}
		return echo.NewHTTPError(http.StatusNotFound, "Specs are served as .yaml and .json")
	})
	ui := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Switchboard API reference",
		SwaggerJSON: "/openapi/" + openapi.Surfaces[0].Name + ".json",
		BasePath:    "/docs/",
		ShowTopBar:  true,
		SettingsUI: map[string]string{
			"urls":                   "[" + strings.Join(urls, ",") + "]",
			"persistAuthorization":   "true",
			"displayRequestDuration": "true",
			"validatorUrl":           "null",
		},
	})
	e.GET("/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/docs/") })
	e.GET("/docs/*", echo.WrapHandler(ui))
	return nil
}

// ServedYAML returns a surface's spec as served: as written, but with a servers list that works
// wherever this Switchboard runs. First the surface's prefix, relative to wherever the document
// was fetched from — what the docs' "Try it out" uses, so it calls the origin the page came
// from on any address (no cross-origin request, whatever the configuration); then the
// absolute URL on publicURL (SWITCHBOARD_PUBLIC_URL), for a downloaded copy. Neither comes
// from the request.
func ServedYAML(s openapi.Surface, publicURL string) ([]byte, error) {
	y, err := openapi.YAML(s.Name)
	if err != nil {
		return nil, err
	}
	servers, err := yaml.Marshal(map[string]any{"servers": []map[string]string{
		{"url": s.Prefix, "description": "This Switchboard, relative to the address this document was fetched from"},
		{"url": publicURL + s.Prefix, "description": "This Switchboard at its public URL (SWITCHBOARD_PUBLIC_URL)"},
	}})
	if err != nil {
		return nil, err
	}
	// The top-level servers block, as written: from "servers:" to the next top-level key.
	lines := strings.SplitAfter(string(y), "\n")
	start := slices.Index(lines, "servers:\n")
	if start < 0 {
		return nil, fmt.Errorf("spec %s has no top-level servers list", s.Name)
	}
	end := start + 1
	for end < len(lines) && (strings.HasPrefix(lines[end], " ") || strings.TrimSpace(lines[end]) == "") {
		end++
	}
	out := strings.Join(lines[:start], "") + string(servers) + strings.Join(lines[end:], "")
	return []byte(out), nil
}
