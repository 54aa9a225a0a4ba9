package openapi_test

import (
	"context"
	"fmt"
	"slices"
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
// operationId, summary and tags on every operation, every error status the server produces
// for that operation, and permissions (scopes) on every operation of a permissioned surface
// but those marked x-public.
func TestSpecs(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		t.Run(s.Name, func(t *testing.T) {
			doc := load(t, s.Name)
			if doc.OpenAPI != "3.0.3" {
				t.Errorf("openapi: %s, want 3.0.3", doc.OpenAPI)
			}
			permissioned := s.Name != "admin"
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					where := fmt.Sprintf("%s %s", method, path)
					if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
						t.Errorf("%s: needs operationId, summary and tags", where)
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
					if permissioned {
						if op.Security == nil || len(*op.Security) == 0 {
							t.Errorf("%s: no security requirement naming its permission", where)
							continue
						}
						if op.Responses.Value("403") == nil {
							t.Errorf("%s: does not declare 403", where)
						}
						for _, alt := range *op.Security {
							for scheme, scopes := range alt {
								if len(scopes) == 0 {
									t.Errorf("%s: %s names no permission", where, scheme)
								}
							}
						}
					}
				}
			}
		})
	}
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
				if op.Security == nil {
					continue
				}
				for _, alt := range *op.Security {
					for _, scopes := range alt {
						for _, sc := range scopes {
							if !slices.Contains(known, sc) {
								t.Errorf("%s %s %s requires %q, which admin.yaml's Permission enum does not list", s.Name, method, path, sc)
							}
						}
					}
				}
			}
		}
	}
}
