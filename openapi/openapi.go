// Package openapi holds Switchboard's hand-written OpenAPI 3.0.3 specs, one per API surface.
// They are the source of truth: gen/ is generated from them, requests are validated against
// them, and they are served as-is (YAML) and converted (JSON) under /openapi/.
package openapi

import (
	"embed"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"
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

// Roles lists the roles a workspace user can have, highest first. Each holds every permission
// of the roles after it.
var Roles = []string{"SUPER_ADMIN", "ADMIN", "FDE", "VIEWER"}

// RolesExtension is the top-level extension of a surface spec that lists, per role, the
// permissions the role adds on that surface to those of the roles below it.
const RolesExtension = "x-roles"

// RolePermissions returns, for every role, the permissions it holds on every surface: what the
// specs' x-roles give it and the roles below it. A spec that lists an unknown role, or leaves
// one out, is an error.
func RolePermissions() (map[string][]string, error) {
	added := map[string][]string{}
	for _, s := range Surfaces {
		b, err := YAML(s.Name)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Roles map[string][]string `json:"x-roles"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if doc.Roles == nil {
			continue // the Admin API: the operator's, no roles
		}
		for role, perms := range doc.Roles {
			if !slices.Contains(Roles, role) {
				return nil, fmt.Errorf("%s: %s names the unknown role %q", s.Name, RolesExtension, role)
			}
			added[role] = append(added[role], perms...)
		}
		for _, role := range Roles {
			if _, ok := doc.Roles[role]; !ok {
				return nil, fmt.Errorf("%s: %s leaves out the role %s", s.Name, RolesExtension, role)
			}
		}
	}
	out := map[string][]string{}
	var below []string
	for i := len(Roles) - 1; i >= 0; i-- {
		below = append(below, added[Roles[i]]...)
		perms := slices.Clone(below)
		slices.Sort(perms)
		out[Roles[i]] = slices.Compact(perms)
	}
	return out, nil
}
