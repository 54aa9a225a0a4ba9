package openapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/openapi"
)

func load(t *testing.T, name string) *openapi3.T {
	t.Helper()
	data, err := openapi.YAML(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// TestSpecs checks what every surface's spec must say for its users: version 3.0.3, an
// operationId, summary, description and tags on every operation, every error status the server
// produces for that operation, security requirements without scopes (OpenAPI 3.0.3 keeps those
// for OAuth2), and the permissions every operation of a permissioned surface needs, in
// x-permissions and in words in its description (the docs UI does not show extensions), but for
// those marked x-public.
func TestSpecs(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		t.Run(s.Name, func(t *testing.T) {
			doc := load(t, s.Name)
			if doc.OpenAPI != "3.0.3" {
				t.Errorf("openapi: %s, want 3.0.3", doc.OpenAPI)
			}
			// Relative to where the document is served from; docs.ServedYAML adds the public URL.
			if len(doc.Servers) != 1 || doc.Servers[0].URL != s.Prefix {
				t.Errorf("servers: want one, the prefix %s (relative), got %v", s.Prefix, doc.Servers)
			}
			permissioned := s.Name != "admin"
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					where := fmt.Sprintf("%s %s", method, path)
					if op.OperationID == "" || op.Summary == "" || op.Description == "" || len(op.Tags) == 0 {
						t.Errorf("%s: needs operationId, summary, description and tags", where)
					}
					want := []string{"401"}
					if op.RequestBody != nil {
						want = append(want, "400", "413")
					}
					for _, p := range append(item.Parameters, op.Parameters...) {
						if p.Value.In == "path" || p.Value.In == "query" {
							want = append(want, "400")
						}
					}
					for _, code := range want {
						if op.Responses.Value(code) == nil {
							t.Errorf("%s: does not declare %s", where, code)
						}
					}
					// A public operation says so, and why (x-public), with an explicitly empty
					// security: the Ingest API's receiving URL.
					if reason, _ := op.Extensions["x-public"].(string); reason != "" {
						if op.Security == nil || len(*op.Security) != 0 {
							t.Errorf("%s: x-public but not security: []", where)
						}
						continue
					}
					security := doc.Security
					if op.Security != nil {
						security = *op.Security
					}
					for _, alt := range security {
						for scheme, scopes := range alt {
							if len(scopes) > 0 {
								t.Errorf("%s: %s has scopes %v; permissions belong in x-permissions", where, scheme, scopes)
							}
						}
					}
					perms := permissions(t, where, op)
					if !permissioned {
						continue
					}
					// An operation for signed-in users as such (their API keys, who they are) needs
					// no permission, and says why (x-user-session).
					if reason, _ := op.Extensions["x-user-session"].(string); reason != "" && len(security) > 0 && len(perms) == 0 {
						if op.Responses.Value("403") == nil {
							t.Errorf("%s: does not declare 403", where)
						}
						continue
					}
					if len(security) == 0 || len(perms) == 0 {
						t.Errorf("%s: needs a security requirement and the permission it needs in x-permissions", where)
						continue
					}
					if op.Responses.Value("403") == nil {
						t.Errorf("%s: does not declare 403", where)
					}
					for _, p := range perms {
						if !strings.Contains(op.Description, "`"+p+"`") {
							t.Errorf("%s: the description does not name its permission `%s`", where, p)
						}
					}
				}
			}
		})
	}
}

// permissions returns an operation's x-permissions, failing the test when it is not a list of
// names.
func permissions(t *testing.T, where string, op *openapi3.Operation) []string {
	t.Helper()
	raw, ok := op.Extensions["x-permissions"]
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		t.Errorf("%s: x-permissions is %T, want a list", where, raw)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: x-permissions holds %v, want names", where, v)
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestPermissionsCatalog keeps the Admin API's Permission enum (what keys can be given) and
// the permissions operations require in step.
func TestPermissionsCatalog(t *testing.T) {
	t.Parallel()
	admin := load(t, "admin")
	var known []string
	for _, v := range admin.Components.Schemas["Permission"].Value.Enum {
		known = append(known, v.(string))
	}
	if !slices.Contains(known, "*") {
		t.Error("the Permission enum lacks *")
	}
	for _, s := range openapi.Surfaces {
		doc := load(t, s.Name)
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				for _, p := range permissions(t, method+" "+path, op) {
					if !slices.Contains(known, p) {
						t.Errorf("%s %s %s requires %q, which admin.yaml's Permission enum does not list", s.Name, method, path, p)
					}
				}
			}
		}
	}
}

// TestRoles checks the role table the specs' x-roles make: every permission an operation of a
// surface names is held by some role (SUPER_ADMIN holds them all), no role is given a
// permission no operation names, and a higher role holds everything a lower one does.
func TestRoles(t *testing.T) {
	t.Parallel()
	roles, err := openapi.RolePermissions()
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, s := range openapi.Surfaces {
		if s.Name == "admin" {
			continue
		}
		doc := load(t, s.Name)
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				for _, p := range permissions(t, method+" "+path, op) {
					named[p] = true
					if !slices.Contains(roles["SUPER_ADMIN"], p) {
						t.Errorf("%s %s %s: no role holds %s", s.Name, method, path, p)
					}
				}
			}
		}
	}
	for role, perms := range roles {
		for _, p := range perms {
			if !named[p] {
				t.Errorf("%s holds %s, which no operation names", role, p)
			}
		}
	}
	for i := 1; i < len(openapi.Roles); i++ {
		for _, p := range roles[openapi.Roles[i]] {
			if !slices.Contains(roles[openapi.Roles[i-1]], p) {
				t.Errorf("%s holds %s but %s, above it, does not", openapi.Roles[i], p, openapi.Roles[i-1])
			}
		}
	}
	if want := []string{"VIEW_ACTIVITIES", "app:read", "calling:read", "channel:read", "endpoint:read", "event_type:read",
		"ingest:read", "message:read", "recipient:read"}; !slices.Equal(roles["VIEWER"], want) {
		t.Errorf("VIEWER holds %v, want %v", roles["VIEWER"], want)
	}
}
