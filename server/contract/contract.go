// Package contract makes a surface's OpenAPI spec the contract its HTTP handlers are held to:
// it finds the operation a request is for (404/405 otherwise), exposes the operation's security
// requirements and permissions (x-permissions) so authentication reads them from the spec, and
// validates requests with
// kin-openapi (parameters, formats, enums, bodies, body size) before any handler runs.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zone names resolve even where the system has no zoneinfo
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

func init() {
	// kin-openapi checks date-time out of the box but not uuid.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return errors.New("must be a UUID")
		}
		return nil
	}))
	// IANA time zone names (Asia/Kolkata); "Local" and "" are not names a client can mean.
	openapi3.DefineStringFormatValidator("timezone", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
			return errors.New("must be an IANA time zone name, e.g. Asia/Kolkata")
		}
		return nil
	}))
}

// DefaultBodyLimit is the largest request body accepted unless a surface sets its own.
const DefaultBodyLimit = 1 << 20

// Spec is one surface's loaded OpenAPI document and its router.
type Spec struct {
	// Doc is the parsed, validated document.
	Doc *openapi3.T
	// Prefix is where the surface is mounted (e.g. "/api"); spec paths are relative to it.
	Prefix string
	// BodyLimit is the largest request body in bytes; larger ones get 413.
	BodyLimit int64
	router    routers.Router
	security  map[*openapi3.Operation]access                // by operation, from Load
	aliases   map[*openapi3.Operation]map[string]string     // by operation: body alias → property (x-alias-of)
	params    map[*openapi3.Operation][]*openapi3.Parameter // by operation, its path item's included
	rawPaths  map[*openapi3.Operation][][]string            // by operation, its RawStrings fields
}

// Load parses and validates a spec mounted at prefix.
func Load(data []byte, prefix string) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	router, err := newRouter(doc, false)
	if err != nil {
		return nil, err
	}
	s := &Spec{Doc: doc, Prefix: prefix, BodyLimit: DefaultBodyLimit, router: router,
		security: map[*openapi3.Operation]access{}, aliases: map[*openapi3.Operation]map[string]string{},
		params: map[*openapi3.Operation][]*openapi3.Parameter{}, rawPaths: map[*openapi3.Operation][][]string{}}
	// Each operation's security alternatives, permissions, parameters and raw-string fields,
	// resolved once here rather than per request.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if _, done := s.security[op]; done {
				continue // an operation shared by two path items
			}
			s.params[op] = operationParams(item, op)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				if mt := op.RequestBody.Value.Content.Get(echo.MIMEApplicationJSON); mt != nil {
					s.rawPaths[op] = rawStringPaths(mt.Schema, nil, 0)
				}
			}
			a, err := operationAccess(doc, op)
			if err != nil {
				return nil, fmt.Errorf("spec: %s %s (%s): %w", method, path, op.OperationID, err)
			}
			s.security[op] = a
			if s.aliases[op], err = bodyAliases(op); err != nil {
				return nil, fmt.Errorf("spec: %s %s (%s): %w", method, path, op.OperationID, err)
			}
		}
	}
	return s, nil
}

// newRouter routes doc's paths on the path alone (the router would match servers' hosts when
// there are any, so it gets a copy without servers). A path item with servers of its own is
// not under the surface's prefix: its surface serves it itself, elsewhere (the Ingest API's
// public receiving URL), so it is routed only when external is set, and then alone.
func newRouter(doc *openapi3.T, external bool) (routers.Router, error) {
	routed := *doc
	routed.Servers = nil
	routed.Paths = openapi3.NewPaths()
	for path, item := range doc.Paths.Map() {
		if (len(item.Servers) > 0) != external {
			continue
		}
		copied := *item
		copied.Servers = nil
		routed.Paths.Set(path, &copied)
	}
	return gorillamux.NewRouter(&routed)
}

// External returns the spec of the paths that declare servers of their own (served by their
// surface outside its prefix), routed from the root, or nil when there are none: tests hold
// those responses to the spec too. Paths are taken as relative to the first server's path.
func (s *Spec) External() (*Spec, error) {
	prefix, found := "", false
	for _, item := range s.Doc.Paths.Map() {
		if len(item.Servers) == 0 {
			continue
		}
		found = true
		if u, err := url.Parse(item.Servers[0].URL); err == nil {
			prefix = strings.TrimSuffix(u.Path, "/")
		}
	}
	if !found {
		return nil, nil
	}
	router, err := newRouter(s.Doc, true)
	if err != nil {
		return nil, err
	}
	return &Spec{Doc: s.Doc, Prefix: prefix, BodyLimit: s.BodyLimit, router: router, security: s.security,
		aliases: s.aliases, params: s.params, rawPaths: s.rawPaths}, nil
}

// operationParams are the parameters of op, those of its path item included (op's own win).
func operationParams(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	seen := map[string]bool{}
	for _, ps := range []openapi3.Parameters{op.Parameters, item.Parameters} {
		for _, p := range ps {
			if p.Value == nil || seen[p.Value.In+" "+p.Value.Name] {
				continue
			}
			seen[p.Value.In+" "+p.Value.Name] = true
			out = append(out, p.Value)
		}
	}
	return out
}

// rawStringPaths lists the fields of a body schema marked RawStrings, as paths of keys ("*"
// for an array's items or an object's additional properties).
func rawStringPaths(ref *openapi3.SchemaRef, path []string, depth int) [][]string {
	if ref == nil || ref.Value == nil || depth > 16 {
		return nil
	}
	sc := ref.Value
	if v, _ := sc.Extensions[RawStrings].(bool); v {
		return [][]string{path}
	}
	var out [][]string
	for name, p := range sc.Properties {
		out = append(out, rawStringPaths(p, append(slices.Clone(path), name), depth+1)...)
	}
	out = append(out, rawStringPaths(sc.Items, append(slices.Clone(path), "*"), depth+1)...)
	out = append(out, rawStringPaths(sc.AdditionalProperties.Schema, append(slices.Clone(path), "*"), depth+1)...)
	for _, group := range [][]*openapi3.SchemaRef{sc.AllOf, sc.OneOf, sc.AnyOf} {
		for _, x := range group {
			out = append(out, rawStringPaths(x, path, depth+1)...)
		}
	}
	return out
}

// access is what an operation accepts as credentials and what they must be allowed to do.
type access struct {
	requirements []Requirement
	permissions  []string
}

// PermissionsExtension is the operation extension listing the permissions a credential needs
// to call it, all of them. OpenAPI 3.0.3 reserves security scopes for OAuth2 and OpenID
// Connect, so the requirements of http and apiKey schemes carry none and permissions live here.
const PermissionsExtension = "x-permissions"

// operationAccess resolves an operation's security (its own, else the document's) and its
// x-permissions. An operation that needs a credential must say which permissions it needs —
// an empty list where any valid credential will do — so that a forgotten x-permissions
// cannot leave an operation open to every key; a public one (no security) must list none.
func operationAccess(doc *openapi3.T, op *openapi3.Operation) (access, error) {
	security := op.Security
	if security == nil {
		security = &doc.Security
	}
	var a access
	for _, alt := range *security {
		names := make([]string, 0, len(alt))
		for name := range alt {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil {
				return access{}, fmt.Errorf("uses undefined security scheme %q", name)
			}
			if len(alt[name]) > 0 && ref.Value.Type != "oauth2" && ref.Value.Type != "openIdConnect" {
				return access{}, fmt.Errorf("security scheme %q (%s) has scopes %v; list permissions in %s", name, ref.Value.Type, alt[name], PermissionsExtension)
			}
			a.requirements = append(a.requirements, Requirement{SchemeName: name, Scheme: ref.Value})
		}
	}
	raw, listed := op.Extensions[PermissionsExtension]
	switch {
	case !listed && len(a.requirements) > 0:
		return access{}, fmt.Errorf("needs a credential but has no %s (list its permissions, or [] when any valid credential may call it)", PermissionsExtension)
	case listed && len(a.requirements) == 0:
		return access{}, fmt.Errorf("is public (no security requirement) but lists %s", PermissionsExtension)
	case !listed:
		return a, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return access{}, fmt.Errorf("%s must be a list of permission names", PermissionsExtension)
	}
	a.permissions = make([]string, 0, len(list))
	for _, v := range list {
		p, ok := v.(string)
		if !ok || p == "" {
			return access{}, fmt.Errorf("%s must be a list of permission names, has %v", PermissionsExtension, v)
		}
		a.permissions = append(a.permissions, p)
	}
	return a, nil
}

// Requirement is one way to present an operation's credential: a security scheme.
type Requirement struct {
	SchemeName string
	Scheme     *openapi3.SecurityScheme
}

// Route is the operation a request was matched to.
type Route struct {
	Operation  *openapi3.Operation
	PathParams map[string]string
	// Security lists the alternatives; empty means the operation is public.
	Security []Requirement
	// Permissions are those a credential needs, every one of them (the operation's
	// x-permissions); empty when any valid credential may call it.
	Permissions []string
	route       *routers.Route
}

const routeKey = "contract.route"

// RouteOf returns the route Match stored on the request, or nil.
func RouteOf(c echo.Context) *Route {
	r, _ := c.Get(routeKey).(*Route)
	return r
}

// Match finds the operation for each request (404 for an unknown path, 405 for a method the
// path does not have) and stores it for RouteOf.
func (s *Spec) Match() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			// An escaped slash inside a segment: Echo would route on the raw path and this
			// router on the decoded one, so the operation checked here (validation, auth)
			// and the one run could differ. No id of any surface contains "/".
			if strings.Contains(strings.ToLower(req.URL.RawPath), "%2f") {
				return problem.New(http.StatusNotFound, "Cannot %s %s", req.Method, req.URL.Path)
			}
			route, params, err := s.router.FindRoute(s.relative(req))
			if err != nil {
				if errors.Is(err, routers.ErrMethodNotAllowed) {
					return problem.New(http.StatusMethodNotAllowed, "Method %s is not allowed on %s", req.Method, req.URL.Path)
				}
				return problem.New(http.StatusNotFound, "Cannot %s %s", req.Method, req.URL.Path)
			}
			// The router matches the escaped path, so its parameters are still escaped ("a%7Cb");
			// validation and the handlers read them decoded, as the client meant them.
			for k, v := range params {
				if u, err := url.PathUnescape(v); err == nil {
					params[k] = u
				}
			}
			a := s.security[route.Operation]
			r := &Route{Operation: route.Operation, PathParams: params, Security: a.requirements, Permissions: a.permissions, route: route}
			c.Set(routeKey, r)
			return next(c)
		}
	}
}

// Validate checks each request against its operation (run after Match): the body size limit
// (413), then what the schemas cannot say (parameters with NUL or bytes that are not UTF-8, a
// single-valued query parameter given twice, a JSON body that is not exactly one valid JSON
// value, or has a duplicate key, NUL, an unpaired surrogate or invalid UTF-8 in a string; see
// checkJSON), then parameters and body against the schemas, reporting every problem at once
// (400).
func (s *Spec) Validate() echo.MiddlewareFunc {
	opts := &openapi3filter.Options{
		MultiError:         true,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // auth is its own middleware
		// Without the schema and the value in each error's message: kin-openapi renders the
		// message of every error of an allOf eagerly, and with the value in it a body of n
		// unknown keys took time quadratic in n (4,000 keys, 7.7 s). Details does not read them.
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := RouteOf(c)
			if r == nil {
				return errors.New("contract: Validate used without Match")
			}
			req := c.Request()
			if details := s.checkParams(req, r); len(details) > 0 {
				return problem.Invalid(problem.ValidationFailed, details...)
			}
			if req.Body != nil && req.Body != http.NoBody {
				limit := s.BodyLimit
				// An operation can raise its own limit (bulk endpoints) with x-max-body-bytes.
				if v, ok := r.Operation.Extensions["x-max-body-bytes"].(float64); ok && v > 0 {
					limit = int64(v)
				}
				body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
				if err != nil {
					return problem.New(http.StatusBadRequest, "Could not read the request body")
				}
				if int64(len(body)) > limit {
					return problem.New(http.StatusRequestEntityTooLarge, "Request body is larger than %d bytes", limit)
				}
				if isJSON(req) && hasJSONBody(r.Operation) {
					if details := checkJSON(body, s.rawPaths[r.Operation]); len(details) > 0 {
						return problem.Invalid(problem.ValidationFailed, details...)
					}
				}
				if aliases := s.aliases[r.Operation]; aliases != nil {
					if body, err = renameAliases(body, aliases); err != nil {
						return err
					}
				}
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = int64(len(body))
				err = s.validate(req, r, opts)
				// The handler decodes the body again, from the start.
				req.Body = io.NopCloser(bytes.NewReader(body))
				if err != nil {
					return err
				}
				return next(c)
			}
			if err := s.validate(req, r, opts); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// checkParams reports the operation's parameters whose values no schema can allow: a NUL or
// bytes that are not UTF-8 (PostgreSQL stores neither in text), and a query parameter that is
// not an array given more than once (which value would count?).
func (s *Spec) checkParams(req *http.Request, r *Route) []problem.Detail {
	var out []problem.Detail
	var query url.Values
	for _, p := range s.params[r.Operation] {
		var values []string
		switch p.In {
		case openapi3.ParameterInPath:
			if v, ok := r.PathParams[p.Name]; ok {
				values = []string{v}
			}
		case openapi3.ParameterInQuery:
			if query == nil {
				query = req.URL.Query()
			}
			values = query[p.Name]
			if len(values) > 1 && (p.Schema == nil || p.Schema.Value == nil || !p.Schema.Value.Type.Is(openapi3.TypeArray)) {
				out = append(out, problem.Detail{Field: p.In + "." + p.Name, Message: "must be given once", Type: "type"})
				continue
			}
		case openapi3.ParameterInHeader:
			values = req.Header.Values(p.Name)
		case openapi3.ParameterInCookie:
			values = rawCookies(req, p.Name)
		}
		integer := p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is(openapi3.TypeInteger)
		for _, v := range values {
			if msg := badText(v); msg != "" {
				out = append(out, problem.Detail{Field: p.In + "." + p.Name, Message: msg, Type: "string_unicode"})
				break
			}
			// kin-openapi takes 1e0 and 1.0 for integers, as JSON Schema does; the handlers'
			// binders do not, and would answer in words of their own.
			if _, err := strconv.ParseInt(v, 10, 64); integer && v != "" && err != nil {
				out = append(out, problem.Detail{Field: p.In + "." + p.Name, Message: "must be an integer", Type: "type"})
				break
			}
		}
	}
	return out
}

// rawCookies returns the values of the cookies named name as sent, before Go's cookie parser,
// which drops values it finds invalid (so a NUL or bytes that are not UTF-8 would pass as no
// cookie at all rather than be refused).
func rawCookies(req *http.Request, name string) []string {
	var out []string
	for _, line := range req.Header.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == name {
				out = append(out, v)
			}
		}
	}
	return out
}

// badText says what is wrong with a parameter value that holds NUL or is not UTF-8; "" when
// neither.
func badText(v string) string {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return "must not contain the NUL character (%00)"
	case !utf8.ValidString(v):
		return "must be UTF-8 (percent-encoded bytes that are not UTF-8 were sent)"
	}
	return ""
}

// isJSON reports whether the request says its body is JSON.
func isJSON(req *http.Request) bool {
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	return err == nil && (mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"))
}

// hasJSONBody reports whether the operation takes a JSON request body.
func hasJSONBody(op *openapi3.Operation) bool {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return false
	}
	for mt := range op.RequestBody.Value.Content {
		if mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json") {
			return true
		}
	}
	return false
}

func (s *Spec) validate(req *http.Request, r *Route, opts *openapi3filter.Options) error {
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: r.PathParams, Route: r.route, Options: opts}
	err := openapi3filter.ValidateRequest(req.Context(), in)
	if err == nil {
		return nil
	}
	out, more := details(err, maxDetails)
	if more > 0 {
		out = append(out, problem.Detail{Field: "body", Message: fmt.Sprintf("and %d more problems", more)})
	}
	return problem.Invalid(problem.ValidationFailed, out...)
}

// Details flattens kin-openapi's validation errors into one Detail per problem, naming the
// field ("channel", "credentials.apiKey", "query.limit") without echoing the value sent.
func Details(err error) []problem.Detail {
	out, _ := details(err, -1)
	return out
}

// details is Details, up to limit details (all when limit < 0) and the count of the others: a
// body of 100,000 unknown keys is 100,000 errors, of which an answer shows maxDetails.
func details(err error, limit int) ([]problem.Detail, int) {
	var out []problem.Detail
	more := 0
	add := func(d func() problem.Detail) {
		if limit >= 0 && len(out) >= limit {
			more++
			return
		}
		out = append(out, d())
	}
	var walk func(err error, prefix string)
	walk = func(err error, prefix string) {
		// A type switch, not errors.As: a RequestError unwraps to the MultiError inside it,
		// and matching that first would lose the parameter name.
		switch e := err.(type) { //nolint:errorlint // on purpose, see above; walk visits the wrapped errors itself
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner, prefix)
			}
		case *openapi3filter.RequestError:
			if e.Parameter != nil {
				prefix = e.Parameter.In + "." + e.Parameter.Name
			}
			var pe *openapi3filter.ParseError
			switch {
			case e.Err == nil:
				add(func() problem.Detail { return problem.Detail{Field: fieldOr(prefix, "body"), Message: e.Reason} })
			case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
				add(func() problem.Detail {
					return problem.Detail{Field: fieldOr(prefix, "body"), Message: "is required", Type: "required"}
				})
			case errors.As(e.Err, &pe) && e.RequestBody != nil:
				add(func() problem.Detail {
					return problem.Detail{Field: "body", Message: "is not valid JSON", Type: "json"}
				})
			default:
				walk(e.Err, prefix)
			}
		case *openapi3.SchemaError:
			// An allOf's own error only says one of its schemas failed; the errors of those
			// schemas (already marked with their paths) say what is wrong.
			var inner openapi3.MultiError
			if e.SchemaField == "allOf" && errors.As(e.Origin, &inner) {
				walk(inner, prefix)
				break
			}
			add(func() problem.Detail { return schemaDetail(e, prefix) })
		case *openapi3filter.ParseError:
			add(func() problem.Detail { return problem.Detail{Field: prefix, Message: e.Reason, Type: "type"} })
		default:
			add(func() problem.Detail { return problem.Detail{Field: prefix, Message: err.Error()} })
		}
	}
	walk(err, "")
	return out, more
}

func schemaDetail(se *openapi3.SchemaError, prefix string) problem.Detail {
	path := append([]string{}, se.JSONPointer()...)
	msg := se.Reason
	typ := se.SchemaField
	// A schema can say in words what its pattern means (x-error-message) instead of showing it.
	if se.Schema != nil && (typ == "pattern" || typ == "format") {
		if m, ok := se.Schema.Extensions["x-error-message"].(string); ok {
			msg = m
		}
	}
	switch {
	case se.SchemaField == "required":
		msg = "is required"
	case strings.HasPrefix(se.Reason, "property \"") && strings.HasSuffix(se.Reason, "\" is unsupported"):
		path = append(path, strings.TrimSuffix(strings.TrimPrefix(se.Reason, "property \""), "\" is unsupported"))
		msg = "is not an allowed field"
		typ = "additionalProperties"
	case se.SchemaField == "enum" && se.Schema != nil:
		vals := make([]string, 0, len(se.Schema.Enum))
		for _, v := range se.Schema.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		msg = "must be one of: " + strings.Join(vals, ", ")
	}
	field := strings.Join(path, ".")
	if prefix != "" {
		field = strings.TrimSuffix(prefix+"."+field, ".")
	}
	// A problem with the body as a whole (not an object, too few properties) names it.
	return problem.Detail{Field: fieldOr(field, "body"), Message: msg, Type: typ}
}

func fieldOr(field, dflt string) string {
	if field == "" {
		return dflt
	}
	return field
}

// AliasExtension marks a request body property as another spelling of a sibling property,
// which it names (`baseUrl: {x-alias-of: base_url, deprecated: true, ...}`): Validate renames
// it before validating, so handlers only ever see the documented field.
const AliasExtension = "x-alias-of"

// bodyAliases returns the aliases a request body schema declares, alias → property, or nil.
func bodyAliases(op *openapi3.Operation) (map[string]string, error) {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil, nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil, nil
	}
	var out map[string]string
	for name, p := range mt.Schema.Value.Properties {
		if p.Value == nil {
			continue
		}
		raw, ok := p.Value.Extensions[AliasExtension]
		if !ok {
			continue
		}
		target, _ := raw.(string)
		if _, exists := mt.Schema.Value.Properties[target]; !exists || target == name {
			return nil, fmt.Errorf("property %s: %s %v names no other property of the body", name, AliasExtension, raw)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = target
	}
	return out, nil
}

// renameAliases renames the top-level keys of a JSON object body that are declared aliases
// (baseUrl → base_url). Both spellings of one field is a 400; anything that is not a JSON
// object is left for validation to judge.
func renameAliases(body []byte, aliases map[string]string) ([]byte, error) {
	present := false
	for alias := range aliases {
		if bytes.Contains(body, []byte(`"`+alias+`"`)) {
			present = true // maybe as a key: decode to know
			break
		}
	}
	if !present {
		return body, nil // the common case: no alias spelled anywhere, no need to decode
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return body, nil
	}
	changed := false
	var dup []problem.Detail
	for alias, target := range aliases {
		v, ok := obj[alias]
		if !ok {
			continue
		}
		if _, both := obj[target]; both {
			dup = append(dup, problem.Detail{Field: target, Message: fmt.Sprintf("is given twice, as %s and %s", target, alias)})
			continue
		}
		obj[target] = v
		delete(obj, alias)
		changed = true
	}
	if len(dup) > 0 {
		sort.Slice(dup, func(i, j int) bool { return dup[i].Field < dup[j].Field })
		return nil, problem.Invalid(problem.ValidationFailed, dup...)
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(obj)
}

// ValidateResponse checks a response to req against the operation's declared responses:
// an undeclared status code, a missing or wrong header or a body that does not match the
// schema is an error, and so is a null the schema refuses as strict tools read it (TakesNull).
// Tests use it to hold handlers to the spec.
func (s *Spec) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	rel := s.relative(req)
	route, params, err := s.router.FindRoute(rel)
	if err != nil {
		return fmt.Errorf("no operation for %s %s: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: rel, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return err
	}
	// kin-openapi takes null wherever `nullable` is true; strict readers of the spec do not.
	if ref := route.Operation.Responses.Status(status); ref != nil && ref.Value != nil {
		if mt := ref.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			if nulls := strictNulls(mt.Schema.Value, body); len(nulls) > 0 {
				return fmt.Errorf("response body has nulls its schema refuses: %s", strings.Join(nulls, "; "))
			}
		}
	}
	return nil
}

// relative returns a shallow copy of req whose path is relative to the surface's prefix, the
// form the spec's paths are written in.
func (s *Spec) relative(req *http.Request) *http.Request {
	rel := *req
	u := *req.URL
	u.Path = strings.TrimPrefix(req.URL.Path, s.Prefix)
	u.RawPath = ""
	rel.URL = &u
	return &rel
}

// Operation returns the operation of the spec req is for, or nil when there is none.
func (s *Spec) Operation(req *http.Request) *openapi3.Operation {
	route, _, err := s.router.FindRoute(s.relative(req))
	if err != nil {
		return nil
	}
	return route.Operation
}
