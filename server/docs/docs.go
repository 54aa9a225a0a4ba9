// Package docs serves the specs for download (/openapi/{surface}.yaml and .json) and the
// interactive reference (/docs), a Swagger UI embedded in the binary, so both work with no
// internet access.
package docs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/openapi"
)

// Register mounts the spec downloads and the docs UI on e.
func Register(e *echo.Echo) error {
	type spec struct{ yaml, json []byte }
	specs := map[string]spec{}
	urls := make([]string, 0, len(openapi.Surfaces))
	for _, s := range openapi.Surfaces {
		y, err := openapi.YAML(s.Name)
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
