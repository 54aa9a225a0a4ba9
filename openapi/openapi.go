// Package openapi holds Switchboard's hand-written OpenAPI 3.0.3 specs, one per API surface.
// They are the source of truth: gen/ is generated from them, requests are validated against
// them, and they are served as-is (YAML) and converted (JSON) under /openapi/.
package openapi

import (
	"embed"
	"fmt"
)

//go:embed *.yaml
var files embed.FS

// Surface describes one API surface's spec.
type Surface struct {
	// Name is the spec's file name without extension, and its URL name (/openapi/{Name}.yaml).
	Name string
	// Title is shown in the docs' spec selector.
	Title string
	// Prefix is where the surface is mounted; the spec's paths are relative to it.
	Prefix string
}

// Surfaces lists every surface built so far, in the order the docs show them.
var Surfaces = []Surface{
	{Name: "activities", Title: "Activities API", Prefix: "/api"},
	{Name: "admin", Title: "Admin API", Prefix: "/admin/v1"},
	{Name: "channels", Title: "Channels API", Prefix: "/workspaces"},
	{Name: "calling", Title: "Calling API", Prefix: "/calling"},
	{Name: "webhooks", Title: "Webhooks API", Prefix: "/api/v1"},
	{Name: "ingest", Title: "Ingest API", Prefix: "/api/v1/ingest"},
}

// YAML returns the spec of a surface as written.
func YAML(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no spec named %q", name)
	}
	return b, nil
}
