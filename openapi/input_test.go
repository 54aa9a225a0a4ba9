package openapi_test

import (
	"fmt"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/openapi"
)

// maxSafeInteger is the largest integer every JSON client reads exactly (2^53 - 1).
const maxSafeInteger = 1<<53 - 1

// TestEveryIntegerIsBounded holds every integer of every spec (parameters, headers, request and
// response bodies) to a minimum and a maximum: a value past the column it lands in (an int4,
// say) must be a 400 from validation, never a database error, and clients learn the range their
// types need. No bound is past 2^53 - 1, the largest integer every JSON client reads exactly.
func TestEveryIntegerIsBounded(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		doc := load(t, s.Name)
		seen := map[*openapi3.Schema]bool{}
		var walk func(where string, ref *openapi3.SchemaRef)
		walk = func(where string, ref *openapi3.SchemaRef) {
			if ref == nil || ref.Value == nil || seen[ref.Value] {
				return
			}
			sc := ref.Value
			seen[sc] = true
			if sc.Type.Is(openapi3.TypeInteger) {
				switch {
				case sc.Min == nil || sc.Max == nil:
					t.Errorf("%s %s: an integer without minimum and maximum", s.Name, where)
				case *sc.Min < -maxSafeInteger || *sc.Max > maxSafeInteger || *sc.Min > *sc.Max:
					t.Errorf("%s %s: bounds [%v, %v] are not within ±(2^53 - 1)", s.Name, where, *sc.Min, *sc.Max)
				}
			}
			for name, p := range sc.Properties {
				walk(where+"."+name, p)
			}
			walk(where+"[]", sc.Items)
			walk(where+"{}", sc.AdditionalProperties.Schema)
			for _, group := range [][]*openapi3.SchemaRef{sc.AllOf, sc.OneOf, sc.AnyOf} {
				for i, x := range group {
					walk(fmt.Sprintf("%s/%d", where, i), x)
				}
			}
			walk(where+"!", sc.Not)
		}
		for name, ref := range doc.Components.Schemas {
			walk(name, ref)
		}
		content := func(where string, c openapi3.Content) {
			for mt, m := range c {
				walk(where+" "+mt, m.Schema)
			}
		}
		for name, p := range doc.Components.Parameters {
			walk("parameter "+name, p.Value.Schema)
		}
		for name, r := range doc.Components.Responses {
			content("response "+name, r.Value.Content)
			for h, hv := range r.Value.Headers {
				walk("response "+name+" header "+h, hv.Value.Schema)
			}
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				where := method + " " + path
				for _, p := range append(item.Parameters, op.Parameters...) {
					walk(where+" "+p.Value.In+"."+p.Value.Name, p.Value.Schema)
				}
				if op.RequestBody != nil {
					content(where+" body", op.RequestBody.Value.Content)
				}
				for code, r := range op.Responses.Map() {
					content(where+" "+code, r.Value.Content)
					for h, hv := range r.Value.Headers {
						walk(where+" "+code+" header "+h, hv.Value.Schema)
					}
				}
			}
		}
	}
}

// TestEveryOperationDeclaresMalformedRequests holds every operation to declaring what any
// request can be answered, whatever its parameters: 400 (a malformed request, answered before
// routing), 431 (a request line and headers over 1 MiB) and 503 (the database unreachable, as
// during a failover: every operation reads it, if only for its credential).
func TestEveryOperationDeclaresMalformedRequests(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		doc := load(t, s.Name)
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				for _, code := range []string{"400", "431", "503"} {
					if op.Responses.Value(code) == nil {
						t.Errorf("%s %s %s: does not declare %s", s.Name, method, path, code)
					}
				}
			}
		}
	}
}
