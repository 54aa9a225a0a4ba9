package contract

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

const spec = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
    post:
      operationId: postThing
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 10}}
        - {name: q, in: query, schema: {type: string}}
        - {name: tags, in: query, schema: {type: array, items: {type: string}}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [dispatch_provider_id, kind]
              properties:
                dispatch_provider_id: {type: string}
                kind: {type: string, enum: [a, b]}
                base_url: {type: string}
                nested: {type: object, properties: {when: {type: string, format: date-time}}}
                config: {type: object, allOf: [{$ref: '#/components/schemas/Config'}], nullable: true}
      responses:
        '200': {description: ok}
  /things/{id}/parts/{part}:
    get:
      operationId: getPart
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: part, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: ok}
components:
  schemas:
    Config:
      type: object
      additionalProperties: false
      properties:
        app_id: {type: string}
`

// aliased is spec with camelCase aliases declared for two body fields.
var aliased = strings.Replace(spec, "                base_url: {type: string}\n", `                base_url: {type: string}
                baseUrl: {type: string, deprecated: true, x-alias-of: base_url}
                dispatchProviderId: {type: string, deprecated: true, x-alias-of: dispatch_provider_id}
`, 1)

func serve(t *testing.T, withAliases bool, method, target, body string) (*problem.Problem, bool) {
	t.Helper()
	src := spec
	if withAliases {
		src = aliased
	}
	s, err := Load([]byte(src), "/v1")
	if err != nil {
		t.Fatal(err)
	}
	s.BodyLimit = 200
	e := echo.New()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	c := e.NewContext(req, httptest.NewRecorder())
	reached := false
	err = s.Match()(s.Validate()(func(echo.Context) error { reached = true; return nil }))(c)
	if err == nil {
		return nil, reached
	}
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %T %v", err, err)
	}
	return p, reached
}

func TestValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	p, reached := serve(t, false, "POST", "/v1/things/nope?limit=11",
		`{"kind":"c","extra":1,"nested":{"when":"yesterday"}}`)
	if reached || p.Status != 400 {
		t.Fatalf("reached=%v problem=%v", reached, p)
	}
	got := map[string]string{}
	for _, d := range p.Details {
		got[d.Field] = d.Message
	}
	for field, want := range map[string]string{
		"path.id": "", "query.limit": "", "kind": "must be one of: a, b", "extra": "is not an allowed field",
		"dispatch_provider_id": "is required", "nested.when": "",
	} {
		msg, ok := got[field]
		if !ok || (want != "" && msg != want) {
			t.Errorf("%s: got %q (present %v), want %q; all: %v", field, msg, ok, want, p.Details)
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	if p, _ := serve(t, false, "GET", "/v1/elsewhere", ""); p == nil || p.Status != 404 {
		t.Errorf("unknown path: %v", p)
	}
	if p, _ := serve(t, false, "GET", "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e", ""); p == nil || p.Status != 405 {
		t.Errorf("unknown method: %v", p)
	}
	if p, reached := serve(t, false, "POST", "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e", `{"dispatch_provider_id":"x","kind":"a"}`); p != nil || !reached {
		t.Errorf("valid request: %v", p)
	}
	if p, reached := serve(t, false, "GET", "/v1/things/a%3Ab/parts/c", ""); p != nil || !reached {
		t.Errorf("escaped characters in a segment: %v", p)
	}
	// Decoded, this is getPart; Echo would route the raw path elsewhere: refused.
	if p, reached := serve(t, false, "GET", "/v1/things/a%2Fparts%2Fc", ""); reached || p == nil || p.Status != 404 {
		t.Errorf("escaped slash: reached=%v problem=%v", reached, p)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	p, reached := serve(t, false, "POST", "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e", `{"kind":"a","base_url":"`+strings.Repeat("x", 300)+`"}`)
	if reached || p == nil || p.Status != 413 {
		t.Fatalf("reached=%v problem=%v", reached, p)
	}
}

// TestAliases: a body field's alias declared in the spec (x-alias-of) is renamed to the field
// before validation; an undeclared spelling is refused, and so are both spellings at once.
func TestAliases(t *testing.T) {
	t.Parallel()
	id := "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e"
	if p, reached := serve(t, true, "POST", id, `{"dispatchProviderId":"x","kind":"a","baseUrl":"u"}`); p != nil || !reached {
		t.Errorf("declared aliases accepted: %v", p)
	}
	if p, _ := serve(t, false, "POST", id, `{"dispatchProviderId":"x","kind":"a"}`); p == nil || p.Status != 400 {
		t.Errorf("an alias the spec does not declare is refused: %v", p)
	}
	if p, _ := serve(t, true, "POST", id, `{"dispatch_provider_id":"x","kind":"a","isActive":true}`); p == nil || p.Status != 400 {
		t.Errorf("an undeclared camelCase spelling is refused: %v", p)
	}
	p, _ := serve(t, true, "POST", id, `{"dispatch_provider_id":"x","dispatchProviderId":"y","kind":"a"}`)
	if p == nil || p.Status != 400 || len(p.Details) != 1 || p.Details[0].Field != "dispatch_provider_id" {
		t.Errorf("both spellings: %v", p)
	}
	// The alias spelled as a value, not a key: nothing to rename.
	if p, reached := serve(t, true, "POST", id, `{"dispatch_provider_id":"baseUrl","kind":"a"}`); p != nil || !reached {
		t.Errorf("alias as a value: %v", p)
	}
	if _, err := Load([]byte(strings.Replace(aliased, "x-alias-of: base_url", "x-alias-of: nothing", 1)), "/v1"); err == nil ||
		!strings.Contains(err.Error(), "names no other property") {
		t.Errorf("an alias of no property: %v", err)
	}
}

// TestLoadPermissions: an operation that needs a credential must list its permissions in
// x-permissions ([] = any valid credential), so that one without them is never left open to
// every key; scopes on http and apiKey schemes (which OpenAPI 3.0.3 leaves empty) are refused.
func TestLoadPermissions(t *testing.T) {
	t.Parallel()
	const head = `openapi: 3.0.3
info: {title: t, version: "1"}
components:
  securitySchemes:
    key: {type: http, scheme: bearer}
security:
  - key: []
paths:
  /things:
    get:
      operationId: listThings
      responses:
        '200': {description: ok}
`
	for name, tc := range map[string]struct {
		op      string
		wantErr string
		perms   []string
	}{
		"listed":                {op: "      x-permissions: [thing:read, thing:list]\n", perms: []string{"thing:read", "thing:list"}},
		"any credential":        {op: "      x-permissions: []\n", perms: []string{}},
		"missing":               {op: "", wantErr: "has no x-permissions"},
		"scopes on http":        {op: "      security: [{key: [thing:read]}]\n      x-permissions: [thing:read]\n", wantErr: "has scopes"},
		"not a list":            {op: "      x-permissions: thing:read\n", wantErr: "must be a list"},
		"public with perms":     {op: "      security: []\n      x-permissions: [thing:read]\n", wantErr: "is public"},
		"public, none listed":   {op: "      security: []\n"},
		"empty permission name": {op: "      x-permissions: ['']\n", wantErr: "must be a list of permission names"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := Load([]byte(head+tc.op), "/v1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := echo.New()
			c := e.NewContext(httptest.NewRequest("GET", "/v1/things", nil), httptest.NewRecorder())
			var got *Route
			if err := s.Match()(func(c echo.Context) error { got = RouteOf(c); return nil })(c); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Permissions) != fmt.Sprint(tc.perms) {
				t.Errorf("permissions %v, want %v", got.Permissions, tc.perms)
			}
		})
	}
}

// TestValidateResponseStrictNulls: a null the schema's enum or allOf refuses is an error, as
// strict tools read OpenAPI 3.0.3, though kin-openapi takes it because of `nullable: true`; an
// untyped anyOf with a nullable member (any JSON or null) takes it.
func TestValidateResponseStrictNulls(t *testing.T) {
	t.Parallel()
	s, err := Load([]byte(`openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      operationId: getThing
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  bad: {type: string, nullable: true, enum: [on, off]}
                  good: {type: string, nullable: true, enum: [on, off, null]}
                  limit: {type: object, nullable: true, allOf: [{$ref: '#/components/schemas/Limit'}]}
                  fine: {$ref: '#/components/schemas/NullableLimit'}
                  list: {type: array, items: {type: string, nullable: true, enum: [a]}}
                  anyJSON: {anyOf: [{type: object, nullable: true}, {type: string}]}
components:
  schemas:
    Limit: {type: object, properties: {max: {type: integer}}}
    NullableLimit: {type: object, nullable: true, properties: {max: {type: integer}}}
`), "/v1")
	if err != nil {
		t.Fatal(err)
	}
	check := func(body string) error {
		req := httptest.NewRequest("GET", "/v1/things", nil)
		return s.ValidateResponse(req, 200, map[string][]string{"Content-Type": {"application/json"}}, []byte(body))
	}
	if err := check(`{"bad":"on","good":null,"limit":{"max":1},"fine":null,"list":["a"],"anyJSON":null}`); err != nil {
		t.Errorf("valid response: %v", err)
	}
	err = check(`{"bad":null,"limit":null,"list":["a",null]}`)
	if err == nil {
		t.Fatal("nulls the enum and the allOf refuse were accepted")
	}
	for _, want := range []string{"/bad:", "/limit:", "/list/1:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}
