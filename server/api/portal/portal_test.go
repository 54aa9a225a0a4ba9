package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

// recipientID has characters the script's encodeURIComponent escapes (: and @), so the tests
// cover the page's URL and the ids reaching the API with them.
const recipientID = "acme:eu@1"

// fixture is a workspace with an app, an event type, a recipient with an endpoint, a message
// to it, and a portal session for it.
type fixture struct {
	env      *servertest.Env
	key      string // holds every permission
	app      string
	endpoint string
	message  string
	session  webhooksclient.PortalSession
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := servertest.New(t)
	w := servertest.NewWebhookAppFor(t, env, recipientID, "invoice.paid")
	ep := w.Endpoint(t, "https://example.com/hooks")
	msg := w.Send(t, "invoice.paid", `{"invoiceId":"inv_1"}`)
	ps, err := w.Client.CreatePortalSessionWithResponse(ctx, w.App, recipientID, webhooksclient.CreatePortalSessionRequest{})
	if err != nil || ps.JSON201 == nil {
		t.Fatalf("create portal session: %v %s", err, ps.Body)
	}
	return &fixture{env: env, key: w.Key, app: w.App.String(), endpoint: ep.EndpointId.String(),
		message: msg.MessageId, session: *ps.JSON201}
}

// checkSecurityHeaders fails unless h has every security header the portal promises, with a
// policy that lets the page load scripts, styles and API responses from its own origin only.
func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	directives := map[string][]string{}
	for d := range strings.SplitSeq(h.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 {
			directives[f[0]] = f[1:]
		}
	}
	for _, d := range []string{"script-src", "style-src", "connect-src"} {
		if !slices.Equal(directives[d], []string{"'self'"}) {
			t.Errorf("%s: CSP %s = %v, want only 'self' (policy %q)", what, d, directives[d], h.Get("Content-Security-Policy"))
		}
	}
	if !slices.Equal(directives["default-src"], []string{"'none'"}) || !slices.Equal(directives["frame-ancestors"], []string{"'none'"}) {
		t.Errorf("%s: CSP %q should default to 'none' and forbid framing", what, h.Get("Content-Security-Policy"))
	}
}

// TestPortalURLIsServed opens the URL createPortalSession returns, as a browser would: the
// page, then every asset it names.
func TestPortalURLIsServed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	u, err := url.Parse(f.session.Url)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host != f.env.URL || u.RawQuery != "" || strings.Contains(u.Path, f.session.Token) ||
		u.Fragment != "token="+f.session.Token {
		t.Fatalf("portal URL %s: want %s/portal/… with the token in the fragment only", f.session.Url, f.env.URL)
	}
	if want := "/portal/" + f.app + "/" + recipientID; u.Path != want {
		t.Errorf("portal URL path %q, want %q", u.Path, want)
	}
	// A client never sends the fragment; this is the request a browser makes.
	resp, page := f.env.Request(t, http.MethodGet, u.EscapedPath(), "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: %d %s", u.EscapedPath(), resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "page", resp.Header)
	if resp.Header.Get("Cache-Control") == "" {
		t.Error("page: no Cache-Control")
	}
	if !strings.Contains(string(page), `<main id="main"`) {
		t.Errorf("page is not the portal: %.200s", page)
	}
	// The same page for any ids: the script reads them from the path.
	if _, other := f.env.Request(t, http.MethodGet, "/portal/00000000-0000-0000-0000-000000000000/someone_else", ""); string(other) != string(page) {
		t.Error("the page differs for other ids")
	}

	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(page), -1)
	seen := map[string]bool{}
	for _, r := range refs {
		ref := r[1]
		if !strings.HasPrefix(ref, "/portal/assets/") {
			t.Errorf("the page loads %s, not one of its own assets", ref)
			continue
		}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		resp, body := f.env.Request(t, http.MethodGet, ref, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != types[path.Ext(ref)] || len(body) == 0 {
			t.Errorf("asset %s: %d %q, want 200 %q", ref, resp.StatusCode, resp.Header.Get("Content-Type"), types[path.Ext(ref)])
		}
		checkSecurityHeaders(t, ref, resp.Header)
		// The assets carry no version in their URL: browsers revalidate, and get a 304 while
		// the content is unchanged.
		etag := resp.Header.Get("ETag")
		if resp.Header.Get("Cache-Control") != "no-cache" || etag == "" {
			t.Errorf("asset %s: Cache-Control %q, ETag %q", ref, resp.Header.Get("Cache-Control"), etag)
		} else if again, _ := f.env.Request(t, http.MethodGet, ref, "", "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("asset %s revalidated: %d, want 304", ref, again.StatusCode)
		}
		// What is served is the source the other tests check.
		disk, err := os.ReadFile("static/" + path.Base(ref))
		if err != nil || string(disk) != string(body) {
			t.Errorf("asset %s is not static/%s (%v)", ref, path.Base(ref), err)
		}
	}
	for _, want := range []string{"/portal/assets/portal.js", "/portal/assets/portal.css"} {
		if !seen[want] {
			t.Errorf("the page does not load %s", want)
		}
	}
	for _, missing := range []string{"/portal/assets/nope.js", "/portal/assets/index.html", "/portal/assets/", "/portal/" + f.app} {
		if resp, _ := f.env.Request(t, http.MethodGet, missing, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", missing, resp.StatusCode)
		}
	}
	resp, _ = f.env.Request(t, http.MethodGet, "/portal/assets/nope.js", "")
	checkSecurityHeaders(t, "unknown asset", resp.Header)
}

// TestStylesLoadNothingElse: the stylesheet imports nothing and names no outside resource, so
// the page works offline (and the CSP would refuse it anyway).
func TestStylesLoadNothingElse(t *testing.T) {
	t.Parallel()
	css, err := os.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"@import", "url(", "//fonts."} {
		if strings.Contains(string(css), bad) {
			t.Errorf("portal.css contains %q", bad)
		}
	}
}

// apiCall is one entry of the script's API table.
type apiCall struct{ op, method, path string }

var (
	tableStart = "const API = Object.freeze({"
	tableLine  = regexp.MustCompile(`^(\w+): \["(GET|POST|PUT|PATCH|DELETE)", "(/[^"]*)"\],$`)
	quoted     = regexp.MustCompile(`"(\w+)"`)
)

// checkCalls parses the API table of the portal's script and checks it against the Webhooks
// spec: each entry is an operation (its operationId, path and method) whose security accepts a
// portal session; an operationId named anywhere else in the script (call("getMessage"),
// pager("listMessages", …)) is an entry, and every entry is named; no request leaves the script
// any other way. It returns the calls and every problem found.
func checkCalls(doc *openapi3.T, js string) ([]apiCall, []string) {
	var calls []apiCall
	var problems []string
	start := strings.Index(js, tableStart)
	if start < 0 {
		return nil, []string{"no API table (" + tableStart + ")"}
	}
	end := strings.Index(js[start:], "});")
	if end < 0 {
		return nil, []string{"the API table does not end"}
	}
	block := js[start+len(tableStart) : start+end]
	rest := js[:start] + js[start+end:]
	for line := range strings.SplitSeq(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		m := tableLine.FindStringSubmatch(line)
		if m == nil {
			problems = append(problems, fmt.Sprintf("API table line %q is not `name: [\"METHOD\", \"/path\"],`", line))
			continue
		}
		calls = append(calls, apiCall{op: m[1], method: m[2], path: m[3]})
	}
	table := map[string]bool{}
	for _, c := range calls {
		table[c.op] = true
		item := doc.Paths.Value(c.path)
		if item == nil {
			problems = append(problems, fmt.Sprintf("%s: %s is not a path of the Webhooks API", c.op, c.path))
			continue
		}
		op := item.GetOperation(c.method)
		if op == nil {
			problems = append(problems, fmt.Sprintf("%s: the Webhooks API has no %s %s", c.op, c.method, c.path))
			continue
		}
		if op.OperationID != c.op {
			problems = append(problems, fmt.Sprintf("%s: %s %s is operation %s", c.op, c.method, c.path, op.OperationID))
		}
		security := op.Security
		if security == nil {
			security = &doc.Security
		}
		portal := false
		for _, req := range *security {
			for name := range req {
				if s := doc.Components.SecuritySchemes[name]; s != nil && s.Value != nil && s.Value.Extensions["x-portal-session"] == true {
					portal = true
				}
			}
		}
		if !portal {
			problems = append(problems, fmt.Sprintf("%s: %s %s does not accept a portal session", c.op, c.method, c.path))
		}
	}
	operations := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			operations[op.OperationID] = true
		}
	}
	used := map[string]bool{}
	for _, m := range quoted.FindAllStringSubmatch(rest, -1) {
		used[m[1]] = true
		if operations[m[1]] && !table[m[1]] {
			problems = append(problems, fmt.Sprintf("%q is an operation the API table does not have", m[1]))
		}
	}
	for _, c := range calls {
		if !used[c.op] {
			problems = append(problems, fmt.Sprintf("%s is in the API table but never called", c.op))
		}
	}
	if n := strings.Count(js, "fetch("); n != 1 {
		problems = append(problems, fmt.Sprintf("fetch( appears %d times: requests go through call() only", n))
	}
	for _, other := range []string{"XMLHttpRequest", "sendBeacon", "EventSource", "WebSocket", "import(", "/apps"} {
		if strings.Contains(rest, other) {
			problems = append(problems, fmt.Sprintf("%s appears outside the API table", other))
		}
	}
	return calls, problems
}

func webhooksSpec(t *testing.T) *openapi3.T {
	t.Helper()
	data, err := openapi.YAML("webhooks")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func script(t *testing.T) string {
	t.Helper()
	js, err := os.ReadFile("static/portal.js")
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestScriptCallsPortalOperations: every API call the script makes is an operation of
// openapi/webhooks.yaml that accepts a portal session.
func TestScriptCallsPortalOperations(t *testing.T) {
	t.Parallel()
	calls, problems := checkCalls(webhooksSpec(t), script(t))
	for _, p := range problems {
		t.Error(p)
	}
	// The views the page has need at least these.
	for _, op := range []string{"listEndpoints", "createEndpoint", "updateEndpoint", "deleteEndpoint", "getEndpointSecret",
		"rotateEndpointSecret", "listEventTypes", "listMessages", "getMessage", "listMessageAttempts", "listEndpointAttempts"} {
		if !slices.ContainsFunc(calls, func(c apiCall) bool { return c.op == op }) {
			t.Errorf("the script does not call %s", op)
		}
	}
}

// TestCheckCallsCatchesBadCalls proves checkCalls fails a script that calls what a portal
// session may not, or calls around the table.
func TestCheckCallsCatchesBadCalls(t *testing.T) {
	t.Parallel()
	doc := webhooksSpec(t)
	js := script(t)
	addEntry := func(line, use string) string {
		return strings.Replace(js, tableStart, tableStart+"\n    "+line, 1) + "\n" + use + "\n"
	}
	cases := map[string]struct{ js, want string }{
		"operation not for portal sessions": {
			addEntry(`replayMessage: ["POST", "/apps/{appId}/messages/{messageId}/replay"],`, `call("replayMessage", {});`),
			"replayMessage: POST /apps/{appId}/messages/{messageId}/replay does not accept a portal session"},
		"path not in the spec": {
			addEntry(`listThings: ["GET", "/apps/{appId}/things"],`, `call("listThings");`),
			"listThings: /apps/{appId}/things is not a path"},
		"method not in the spec": {
			strings.Replace(js, `deleteEndpoint: ["DELETE",`, `deleteEndpoint: ["PUT",`, 1),
			"deleteEndpoint: the Webhooks API has no PUT"},
		"another operation's name": {
			addEntry(`listRecipientMessages: ["GET", "/apps/{appId}/messages"],`, `call("listRecipientMessages");`),
			"is operation listMessages"},
		"call outside the table": {js + `call("sendMessage", {});`, `"sendMessage" is an operation the API table does not have`},
		"fetch outside call()":   {js + `fetch("/api/v1/apps");`, "fetch( appears 2 times"},
		"path outside the table": {js + `const u = "/api/v1/apps/" + id;`, "/apps appears outside the API table"},
		"unparsable entry": {
			addEntry(`sendMessage: ["POST", base + "/messages"],`, `call("sendMessage");`),
			"is not `name:"},
		"unused entry": {
			addEntry(`getMessage2: ["GET", "/apps/{appId}/messages/{messageId}"],`, ""),
			"getMessage2 is in the API table but never called"},
	}
	for name, c := range cases {
		_, problems := checkCalls(doc, c.js)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: want a problem containing %q, got %q", name, c.want, problems)
		}
	}
}

// TestScriptBuildsNoHTML: values reach the page as text only; nothing parses HTML or runs
// strings as code.
func TestScriptBuildsNoHTML(t *testing.T) {
	t.Parallel()
	js := script(t)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"new Function", "setTimeout(\"", "javascript:", "createContextualFragment", "DOMParser"} {
		if strings.Contains(js, bad) {
			t.Errorf("portal.js uses %s", bad)
		}
	}
}

// encodeURIComponent is JavaScript's, which the script's call() applies to path parameters.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestScriptCallsWorkWithAPortalSession makes every call of the script's table, as call()
// builds it, with a portal session's token, on a real server: each must succeed, so the
// session holds the scope each operation asks for and the ids reach the API as the script
// encodes them.
func TestScriptCallsWorkWithAPortalSession(t *testing.T) {
	t.Parallel()
	f := setup(t)
	calls, problems := checkCalls(webhooksSpec(t), script(t))
	if len(problems) > 0 {
		t.Fatalf("the API table has problems: %q", problems)
	}
	values := map[string]string{"appId": f.app, "recipientId": recipientID, "endpointId": f.endpoint, "messageId": f.message}
	bodies := map[string]string{
		"createEndpoint": `{"url":"https://example.com/other","description":"Staging","eventTypes":["invoice.paid"]}`,
		"updateEndpoint": `{"url":"https://example.com/hooks2","description":"Production","eventTypes":[],"status":"paused"}`,
	}
	order := map[string]int{"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2} // the endpoint is deleted last
	slices.SortStableFunc(calls, func(a, b apiCall) int { return order[a.method] - order[b.method] })
	param := regexp.MustCompile(`\{(\w+)\}`)
	for _, c := range calls {
		p := param.ReplaceAllStringFunc(c.path, func(m string) string {
			v, ok := values[m[1:len(m)-1]]
			if !ok {
				t.Errorf("%s: no test value for %s", c.op, m)
			}
			return encodeURIComponent(v)
		})
		status, body := f.env.Do(t, c.method, "/api/v1"+p, bodies[c.op], "Authorization", "Bearer "+f.session.Token)
		if status < 200 || status > 299 {
			t.Errorf("%s %s with the portal session: %d %s", c.method, p, status, body)
		}
	}
}
