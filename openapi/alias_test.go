package openapi_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/openapi"
)

// TestAliases: an alias (x-alias-of) is deprecated and takes what the property it spells takes,
// and the Activities API, which accepts the camelCase spelling of every top-level body field
// (its info description says so), declares each one, so that strict clients and proxies
// accept what the server does.
func TestAliases(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		doc := load(t, s.Name)
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.RequestBody == nil {
					continue
				}
				mt := op.RequestBody.Value.Content.Get("application/json")
				if mt == nil || mt.Schema.Value == nil {
					continue
				}
				where := s.Name + " " + method + " " + path
				props := mt.Schema.Value.Properties
				for name, p := range props {
					target, isAlias := p.Value.Extensions["x-alias-of"].(string)
					if isAlias {
						if props[target] == nil || !p.Value.Deprecated {
							t.Errorf("%s: %s is an alias of %q, which must be a deprecated alias of a sibling", where, name, target)
							continue
						}
						if !sameSchema(p, props[target]) {
							t.Errorf("%s: alias %s does not take what %s takes", where, name, target)
						}
						continue
					}
					if s.Name == "activities" && strings.Contains(name, "_") {
						alias := camel(name)
						if a := props[alias]; a == nil || a.Value.Extensions["x-alias-of"] != name {
							t.Errorf("%s: %s has no declared camelCase alias %s", where, name, alias)
						}
					}
				}
			}
		}
	}
}

func camel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sameSchema compares an alias with its property, leaving out what may differ: descriptions,
// deprecation and extensions; `allOf: [$ref]` (which can carry them) stands for the $ref.
func sameSchema(alias, prop *openapi3.SchemaRef) bool {
	if a := alias.Value; alias.Ref == "" && len(a.AllOf) == 1 && a.AllOf[0].Ref != "" {
		return a.AllOf[0].Ref == prop.Ref || a.AllOf[0].Value == prop.Value
	}
	if alias.Ref != "" || prop.Ref != "" {
		return alias.Ref == prop.Ref
	}
	a, p := comparable(alias.Value), comparable(prop.Value)
	for _, m := range []map[string]any{a, p} {
		for k := range m {
			if k == "deprecated" || strings.HasPrefix(k, "x-") {
				delete(m, k)
			}
		}
	}
	a["nullable"], p["nullable"] = alias.Value.Nullable, prop.Value.Nullable
	a["enum"], p["enum"] = alias.Value.Enum, prop.Value.Enum
	return reflect.DeepEqual(a, p)
}
