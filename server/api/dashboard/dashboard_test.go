package dashboard_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// apiCall is one entry of the script's API table.
type apiCall struct{ op, method, path string }

var (
	tableStart = "const API = Object.freeze({"
	tableLine  = regexp.MustCompile(`^(\w+): \["(GET|POST|PUT|PATCH|DELETE)", "(/[^"]*)"\],$`)
	quoted     = regexp.MustCompile(`"(\w+)"`)
)

// specs are the surfaces' specs with their prefixes.
func specs(t *testing.T) map[string]*openapi3.T {
	t.Helper()
	out := map[string]*openapi3.T{}
	for _, s := range openapi.Surfaces {
		data, err := openapi.YAML(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			t.Fatal(err)
		}
		out[s.Prefix] = doc
	}
	return out
}

// checkCalls parses the API table of the dashboard's script and checks it against the specs:
// each entry is an operation (its operationId, method and path under the surface's prefix, the
// longest prefix the path is under); an operationId named anywhere else in the script is an
// entry, and every entry is named; no request leaves the script any other way, and no API path
// is written outside the table. It returns the calls and every problem found.
func checkCalls(docs map[string]*openapi3.T, js string) ([]apiCall, []string) {
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
	operations := map[string]bool{}
	for _, doc := range docs {
		for _, item := range doc.Paths.Map() {
			for _, op := range item.Operations() {
				operations[op.OperationID] = true
			}
		}
	}
	for _, c := range calls {
		table[c.op] = true
		prefix := ""
		for p := range docs {
			if strings.HasPrefix(c.path, p+"/") && len(p) > len(prefix) {
				prefix = p
			}
		}
		if prefix == "" {
			problems = append(problems, fmt.Sprintf("%s: %s is under no surface", c.op, c.path))
			continue
		}
		item := docs[prefix].Paths.Value(strings.TrimPrefix(c.path, prefix))
		if item == nil {
			problems = append(problems, fmt.Sprintf("%s: %s is not a path of the API at %s", c.op, c.path, prefix))
			continue
		}
		op := item.GetOperation(c.method)
		if op == nil {
			problems = append(problems, fmt.Sprintf("%s: the API at %s has no %s %s", c.op, prefix, c.method, c.path))
			continue
		}
		if op.OperationID != c.op {
			problems = append(problems, fmt.Sprintf("%s: %s %s is operation %s", c.op, c.method, c.path, op.OperationID))
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
	for _, other := range []string{"XMLHttpRequest", "sendBeacon", "EventSource", "WebSocket", "import(", `"/api`, `"/workspaces`, `"/calling`} {
		if strings.Contains(rest, other) {
			problems = append(problems, fmt.Sprintf("%s appears outside the API table", other))
		}
	}
	return calls, problems
}

func script(t *testing.T) string {
	t.Helper()
	js, err := os.ReadFile("static/dashboard.js")
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestScriptCallsExistInSpecs: every API call the dashboard's script makes is an operation of
// a spec, with that method, under its surface's prefix; and the views the issue asks for have
// their calls.
func TestScriptCallsExistInSpecs(t *testing.T) {
	t.Parallel()
	calls, problems := checkCalls(specs(t), script(t))
	for _, p := range problems {
		t.Error(p)
	}
	for _, op := range []string{"login", "refreshSession", "logout", "createUserApiKey", "revokeUserApiKey", "createApp", "publishEventType",
		"createRecipient", "createEndpoint", "sendMessage", "getMessage", "listMessageAttempts", "replayMessage", "createBulkReplay",
		"createPortalSession", "listSources", "listEvents", "getEventRaw", "listDestinations", "listIssues", "updateIssue", "replayIssue",
		"listActivities", "listActivityStatusEvents", "listActivityDispatchAttempts", "cancelActivity", "listActivityTargetUsers",
		"listActivityAttributes", "retryActivityResolution", "listChannels",
		"listConfigurations", "decideCall", "getAppDeliveryStats", "getDestinationDeliveryStats"} {
		if !slices.ContainsFunc(calls, func(c apiCall) bool { return c.op == op }) {
			t.Errorf("the script does not call %s", op)
		}
	}
}

// TestCheckCallsCatchesBadCalls proves checkCalls fails a script that calls what no spec has,
// or calls around the table.
func TestCheckCallsCatchesBadCalls(t *testing.T) {
	t.Parallel()
	docs := specs(t)
	js := script(t)
	addEntry := func(line, use string) string {
		return strings.Replace(js, tableStart, tableStart+"\n    "+line, 1) + "\n" + use + "\n"
	}
	cases := map[string]struct{ js, want string }{
		"path not in the spec": {
			addEntry(`listThings: ["GET", "/api/v1/apps/{appId}/things"],`, `call("listThings");`),
			"listThings: /api/v1/apps/{appId}/things is not a path"},
		"method not in the spec": {
			strings.Replace(js, `revokeUserApiKey: ["DELETE",`, `revokeUserApiKey: ["PUT",`, 1),
			"revokeUserApiKey: the API at /api has no PUT"},
		"another surface's path": {
			addEntry(`listSourcesWrong: ["GET", "/api/v1/sources"],`, `call("listSourcesWrong");`),
			"/api/v1/sources is not a path of the API at /api/v1"},
		"under no surface": {
			addEntry(`secret: ["GET", "/private/thing"],`, `call("secret");`),
			"is under no surface"},
		"call outside the table": {js + `call("deleteApp", {});`, `"deleteApp" is an operation the API table does not have`},
		"fetch outside call()":   {js + `fetch("/x");`, "fetch( appears 2 times"},
		"path outside the table": {js + `const u = "/api/v1/apps/" + id;`, `"/api appears outside the API table`},
		"unused entry": {
			addEntry(`getApp: ["GET", "/api/v1/apps/{appId}"],`, ""),
			"getApp is in the API table but never called"},
	}
	for name, c := range cases {
		_, problems := checkCalls(docs, c.js)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: want a problem containing %q, got %q", name, c.want, problems)
		}
	}
}

// TestScriptBuildsNoHTML: values reach the page as text only; nothing parses HTML or runs
// strings as code; the styles load nothing from elsewhere.
func TestScriptBuildsNoHTML(t *testing.T) {
	t.Parallel()
	js := script(t)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"new Function", "setTimeout(\"", "javascript:", "createContextualFragment", "DOMParser", "localStorage"} {
		if strings.Contains(js, bad) {
			t.Errorf("dashboard.js uses %s", bad)
		}
	}
	css, err := os.ReadFile("static/dashboard.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"@import", "url(", "//"} {
		if strings.Contains(string(css), bad) {
			t.Errorf("dashboard.css contains %q", bad)
		}
	}
	html, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Match(html) || strings.Contains(string(html), "<script>") || strings.Contains(string(html), "style=") {
		t.Errorf("index.html loads from elsewhere or inlines script or style")
	}
}

// TestDashboardServed: the page and its assets are served with the strict policy; an unknown
// asset is a 404.
func TestDashboardServed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	for _, p := range []string{"/dashboard/", "/dashboard/assets/dashboard.js", "/dashboard/assets/dashboard.css"} {
		r, body := env.Request(t, "GET", p, "")
		if r.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d", p, r.StatusCode)
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", p, csp, d)
			}
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, r.Header)
		}
	}
	if r, _ := env.Request(t, "GET", "/dashboard/assets/nope.js", ""); r.StatusCode != 404 {
		t.Errorf("unknown asset: %d", r.StatusCode)
	}
}
