package openapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/contract"
)

// TestNullable holds every spec to the reading of `nullable` that strict tools (hey-api's zod
// validator, Prism, libopenapi) have: in OpenAPI 3.0.3 `nullable: true` adds null to the
// schema's type but leaves its other keywords in force. So a nullable enum must list null,
// and a nullable schema built of allOf/oneOf/anyOf members must have members that take null
// too (`nullable: true` beside `allOf: [$ref]` still rejects null through the $ref). `nullable`
// beside a `$ref` is ignored altogether. Refer to a nullable schema instead, as
// NullableUseCaseType in channels.yaml.
func TestNullable(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			for _, problem := range nullableProblems(load(t, s.Name)) {
				t.Error(problem)
			}
			data, err := openapi.YAML(s.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range refSiblings(t, data) {
				t.Error(problem)
			}
		})
	}
}

// TestNullableFindsBoth: the check above finds each pattern it is there for.
func TestNullableFindsBoth(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData([]byte(`openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Limit: {type: object, properties: {max: {type: integer}}}
    Good: {type: string, nullable: true, enum: [a, null]}
    Thing:
      type: object
      properties:
        state: {type: string, nullable: true, enum: [on, off]}
        limit: {type: object, nullable: true, allOf: [{$ref: '#/components/schemas/Limit'}]}
        fine: {$ref: '#/components/schemas/Good'}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(nullableProblems(doc), "\n")
	for _, want := range []string{"schemas.Thing.properties.state: nullable, but its enum", "schemas.Thing.properties.limit: nullable, but allOf"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Good") || strings.Count(got, "\n") != 1 {
		t.Errorf("reports more than the two problems:\n%s", got)
	}
	sib := refSiblings(t, []byte(`components: {schemas: {A: {properties: {b: {$ref: '#/x', nullable: true}}}}}`))
	if len(sib) != 1 || !strings.Contains(sib[0], "components.schemas.A.properties.b") {
		t.Errorf("nullable beside $ref: %v", sib)
	}
}

// nullableProblems walks every schema of doc (components, parameters, bodies, responses).
func nullableProblems(doc *openapi3.T) []string {
	w := &schemaWalk{seen: map[*openapi3.Schema]bool{}}
	names := make([]string, 0, len(doc.Components.Schemas))
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w.walk("schemas."+name, doc.Components.Schemas[name])
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil {
					w.walk(where+" "+p.Value.In+"."+p.Value.Name, p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					w.walk(where+" body "+ct, mt.Schema)
				}
			}
			for code, r := range op.Responses.Map() {
				if r.Value == nil {
					continue
				}
				for ct, mt := range r.Value.Content {
					w.walk(where+" "+code+" "+ct, mt.Schema)
				}
			}
		}
	}
	sort.Strings(w.problems)
	return w.problems
}

type schemaWalk struct {
	seen     map[*openapi3.Schema]bool
	problems []string
}

func (w *schemaWalk) walk(where string, ref *openapi3.SchemaRef) {
	if ref == nil || ref.Value == nil || w.seen[ref.Value] {
		return
	}
	s := ref.Value
	w.seen[s] = true
	if s.Nullable {
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, nil) {
			w.problems = append(w.problems, fmt.Sprintf("%s: nullable, but its enum %v does not list null, so null is refused", where, s.Enum))
		}
		for _, m := range s.AllOf {
			if !contract.TakesNull(m.Value) {
				w.problems = append(w.problems, fmt.Sprintf("%s: nullable, but allOf member %s refuses null; refer to a nullable schema instead", where, refName(m)))
			}
		}
		for kind, members := range map[string]openapi3.SchemaRefs{"oneOf": s.OneOf, "anyOf": s.AnyOf} {
			if len(members) > 0 && !slices.ContainsFunc(members, func(m *openapi3.SchemaRef) bool { return contract.TakesNull(m.Value) }) {
				w.problems = append(w.problems, fmt.Sprintf("%s: nullable, but no %s member takes null", where, kind))
			}
		}
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w.walk(where+".properties."+name, s.Properties[name])
	}
	w.walk(where+".items", s.Items)
	w.walk(where+".additionalProperties", s.AdditionalProperties.Schema)
	w.walk(where+".not", s.Not)
	for kind, members := range map[string]openapi3.SchemaRefs{"allOf": s.AllOf, "oneOf": s.OneOf, "anyOf": s.AnyOf} {
		for i, m := range members {
			w.walk(fmt.Sprintf("%s.%s[%d]", where, kind, i), m)
		}
	}
}

func refName(r *openapi3.SchemaRef) string {
	if r.Ref != "" {
		return r.Ref
	}
	return "(inline)"
}

// refSiblings finds `nullable` written beside a `$ref`, which OpenAPI 3.0.3 ignores. It reads
// the spec as written: the loader drops such siblings.
func refSiblings(t *testing.T, data []byte) []string {
	t.Helper()
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ref := v["$ref"]; ref {
				if _, n := v["nullable"]; n {
					out = append(out, where+": nullable beside $ref is ignored; refer to a nullable schema")
				}
			}
			for k, e := range v {
				walk(strings.TrimPrefix(where+"."+k, "."), e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", where, i), e)
			}
		}
	}
	walk("", doc)
	sort.Strings(out)
	return out
}

// TestNullableTwins: oapi-codegen (v2.8.2) turns a null in an enum into a constant "<nil>", so
// every enum listing null names its Go type with x-go-type — the non-null schema it mirrors, or
// string — and a schema whose x-go-type names another component (NullableTaskResultDetail →
// TaskResultDetail) must be that component plus null, so that one Go type serves both.
func TestNullableTwins(t *testing.T) {
	t.Parallel()
	for _, s := range openapi.Surfaces {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			doc := load(t, s.Name)
			w := &schemaWalk{seen: map[*openapi3.Schema]bool{}}
			collect(doc, w)
			for sch := range w.seen {
				goType, _ := sch.Extensions["x-go-type"].(string)
				if slices.Contains(sch.Enum, nil) && goType == "" {
					t.Errorf("enum %v lists null but names no x-go-type (oapi-codegen would make a \"<nil>\" constant)", sch.Enum)
				}
				twin := doc.Components.Schemas[goType]
				if goType == "" || twin == nil || twin.Value == sch {
					continue
				}
				if diff := twinDiff(sch, twin.Value); diff != "" {
					t.Errorf("a schema with x-go-type %s is not %s plus null: %s", goType, goType, diff)
				}
			}
		})
	}
}

// collect visits every schema of doc with w, so that w.seen holds them all.
func collect(doc *openapi3.T, w *schemaWalk) {
	for name, ref := range doc.Components.Schemas {
		w.walk("schemas."+name, ref)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil {
					w.walk("param", p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					w.walk("body", mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						w.walk("response", mt.Schema)
					}
				}
			}
		}
	}
}

// twinDiff compares a nullable schema with the non-null one it mirrors, leaving out what may
// differ: nullable, null in the enum, descriptions, examples and x-go-type.
func twinDiff(nullable, twin *openapi3.Schema) string {
	if !nullable.Nullable {
		return "it is not nullable"
	}
	wantEnum := append(slices.Clone(twin.Enum), nil)
	if len(twin.Enum) > 0 && !reflect.DeepEqual(nullable.Enum, wantEnum) {
		return fmt.Sprintf("enum %v, want %v", nullable.Enum, wantEnum)
	}
	a, b := comparable(nullable), comparable(twin)
	if !reflect.DeepEqual(a, b) {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return fmt.Sprintf("%s\nvs\n%s", x, y)
	}
	return ""
}

func comparable(s *openapi3.Schema) map[string]any {
	j, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		panic(err)
	}
	for _, k := range []string{"nullable", "enum", "description", "example", "x-go-type"} {
		delete(m, k)
	}
	return m
}
