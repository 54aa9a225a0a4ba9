package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// TakesNull reports whether null is valid against s as OpenAPI 3.0.3 reads it, and as strict
// tools (libopenapi, Prism, zod validators generated from the spec) check it: `nullable: true`
// adds null to the schema's type and leaves every other keyword in force, so a nullable enum
// must list null, and allOf members (a `$ref` beside `nullable`) must take null too. kin-openapi
// is more lenient: it accepts null wherever `nullable` is true. A schema without a type is not
// narrowed by `nullable` (3.0.3 gives it effect only beside `type`): its members decide, so
// "any JSON or null" is `anyOf` with a nullable member.
func TakesNull(s *openapi3.Schema) bool {
	if s == nil {
		return true
	}
	untyped := s.Type == nil || len(*s.Type) == 0
	if !s.Nullable && (!untyped || len(s.Enum) > 0) {
		return false
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, nil) {
		return false
	}
	for _, m := range s.AllOf {
		if !TakesNull(m.Value) {
			return false
		}
	}
	for _, members := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(members) > 0 && !slices.ContainsFunc(members, func(m *openapi3.SchemaRef) bool { return TakesNull(m.Value) }) {
			return false
		}
	}
	return true
}

// strictNulls finds the nulls of a JSON document that s does not take as TakesNull reads it.
// The rest of the document has passed kin-openapi's validation already.
func strictNulls(s *openapi3.Schema, body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil // not JSON: the schema validation has said so
	}
	var out []string
	nullsIn(s, v, nil, &out)
	sort.Strings(out)
	return slices.Compact(out)
}

func nullsIn(s *openapi3.Schema, v any, at []string, out *[]string) {
	if s == nil {
		return
	}
	where := "/" + strings.Join(at, "/")
	switch v := v.(type) {
	case nil:
		if !TakesNull(s) {
			*out = append(*out, fmt.Sprintf("%s: null is not allowed by the schema (OpenAPI 3.0.3: `nullable` leaves enum and allOf in force)", where))
		}
		return
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := s.Properties[k]
			if p == nil {
				p = s.AdditionalProperties.Schema
			}
			if p != nil {
				nullsIn(p.Value, v[k], append(at, k), out)
			}
		}
	case []any:
		if s.Items != nil {
			for i, e := range v {
				nullsIn(s.Items.Value, e, append(at, fmt.Sprint(i)), out)
			}
		}
	}
	for _, m := range s.AllOf {
		nullsIn(m.Value, v, at, out)
	}
	// Of a oneOf or anyOf, the members the value matches are the ones that apply.
	for _, members := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		for _, m := range members {
			if m.Value != nil && m.Value.VisitJSON(v) == nil {
				nullsIn(m.Value, v, at, out)
			}
		}
	}
}
