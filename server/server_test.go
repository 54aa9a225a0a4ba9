package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHealth(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body, _ := get(t, env.URL+path); status != 200 {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	// Undo a migration's record: the database no longer has every migration applied.
	if _, err := env.DB.SQL().Exec(`DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := get(t, env.URL+"/readyz"); status != 503 {
		t.Errorf("readyz without migrations: %d %s", status, body)
	}
}

// TestSpecDownloads checks that every surface's spec is served as YAML and JSON, and that
// the JSON is a self-contained, valid OpenAPI 3.0.3 document. The YAML is the spec as written
// but for its servers (TestServedServers).
func TestSpecDownloads(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	for _, s := range openapi.Surfaces {
		status, yaml, h := get(t, env.URL+"/openapi/"+s.Name+".yaml")
		src, _ := openapi.YAML(s.Name)
		_, written, _ := strings.Cut(string(src), "\ntags:\n")
		if status != 200 || !strings.HasSuffix(yaml, written) || !strings.Contains(h.Get("Content-Type"), "yaml") {
			t.Errorf("%s.yaml: %d %s", s.Name, status, h.Get("Content-Type"))
		}
		status, js, h := get(t, env.URL+"/openapi/"+s.Name+".json")
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("%s.json: %d", s.Name, status)
		}
		loader := openapi3.NewLoader() // external refs are not allowed: the file must stand alone
		doc, err := loader.LoadFromData([]byte(js))
		if err != nil {
			t.Fatalf("%s.json: %v", s.Name, err)
		}
		if err := doc.Validate(context.Background()); err != nil || doc.OpenAPI != "3.0.3" {
			t.Errorf("%s.json: %v (openapi %s)", s.Name, err, doc.OpenAPI)
		}
	}
	if status, _, _ := get(t, env.URL+"/openapi/nope.yaml"); status != 404 {
		t.Errorf("unknown spec: %d", status)
	}
}

// TestServedServers: the specs are served with servers that work wherever Switchboard runs —
// the surface's prefix relative to the document (what the docs' "Try it out" calls: the
// page's own origin), then the prefix on the public URL — and a request's Host header, which
// the client chooses, changes neither, nor the link a portal session hands out.
func TestServedServers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	evil := func(method, path, body, key string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, env.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, s := range openapi.Surfaces {
		for _, ext := range []string{"json", "yaml"} {
			status, body := evil("GET", "/openapi/"+s.Name+"."+ext, "", "")
			doc, err := openapi3.NewLoader().LoadFromData(body)
			if status != 200 || err != nil {
				t.Fatalf("%s.%s: %d %v", s.Name, ext, status, err)
			}
			var got []string
			for _, sv := range doc.Servers {
				got = append(got, sv.URL)
			}
			if want := []string{s.Prefix, env.URL + s.Prefix}; !slices.Equal(got, want) {
				t.Errorf("%s.%s servers %v, want %v", s.Name, ext, got, want)
			}
		}
	}
	_, key := env.Workspace(t, "*")
	wh := env.Webhooks(t, key)
	app, err := wh.CreateAppWithResponse(context.Background(), webhooksclient.CreateAppJSONRequestBody{Name: "a"})
	if err != nil || app.JSON201 == nil {
		t.Fatalf("create app: %v %v", err, app)
	}
	base := "/api/v1/apps/" + app.JSON201.AppId.String() + "/recipients"
	if status, body := evil("POST", base, `{"recipientId":"c1"}`, key); status != 201 {
		t.Fatalf("create recipient: %d %s", status, body)
	}
	status, body := evil("POST", base+"/c1/portal-sessions", `{}`, key)
	session := servertest.Decode[webhooksclient.PortalSession](t, body)
	if status != 201 || !strings.HasPrefix(session.Url, env.URL+"/portal/") || strings.Contains(session.Url, "evil") {
		t.Errorf("portal session with Host: evil.example: %d %s, want a URL on %s", status, body, env.URL)
	}
}

// TestDocsWorkOffline checks that /docs serves the UI and every asset it loads from this
// server, naming every surface's spec and no outside host.
func TestDocsWorkOffline(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	status, page, _ := get(t, env.URL+"/docs/")
	if status != 200 || !strings.Contains(page, "swagger-ui") {
		t.Fatalf("/docs/: %d", status)
	}
	for _, s := range openapi.Surfaces {
		if !strings.Contains(page, "/openapi/"+s.Name+".json") {
			t.Errorf("/docs/ does not offer the %s spec", s.Name)
		}
	}
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) < 3 {
		t.Fatalf("found %d assets in the page", len(assets))
	}
	for _, a := range assets {
		u := a[1]
		if strings.HasPrefix(u, "http:") || strings.HasPrefix(u, "https:") || strings.HasPrefix(u, "//") {
			t.Errorf("the docs load %s from another host", u)
			continue
		}
		if status, _, _ := get(t, env.URL+u); status != 200 {
			t.Errorf("asset %s: %d", u, status)
		}
	}
	if status, _, _ := get(t, env.URL+"/docs"); status != 200 { // redirect followed
		t.Errorf("/docs: %d", status)
	}
}

// TestClientGoneIsNotAFailure: a request whose client hangs up while it waits (here on a row
// another transaction holds) is logged as canceled by its client, with status 499, never as a
// failed request or a 500.
func TestClientGoneIsNotAFailure(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "*")
	c := env.Webhooks(t, key)
	app, err := c.CreateAppWithResponse(context.Background(), webhooksclient.CreateAppRequest{Name: "a"})
	if err != nil || app.JSON201 == nil {
		t.Fatalf("create app: %v", err)
	}
	tx, err := env.DB.SQL().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SELECT 1 FROM webhook_apps WHERE id = $1 FOR UPDATE`, app.JSON201.AppId); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, env.URL+"/api/v1/apps/"+app.JSON201.AppId.String(), strings.NewReader(`{"name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered (%d) while its row was locked", resp.StatusCode)
	}
	servertest.Eventually(t, 10*time.Second, "the canceled request to be logged", func() bool {
		return strings.Contains(env.Logs.String(), `"status":499`)
	})
	logs := env.Logs.String()
	if !strings.Contains(logs, "request canceled by its client") || strings.Contains(logs, "request failed") || strings.Contains(logs, `"status":500`) {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestPublicBase: SWITCHBOARD_PUBLIC_URL must be an absolute http(s) URL with at most a path;
// without one, the listen address stands in (127.0.0.1 for an unspecified host).
func TestPublicBase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://switchboard.example.com":   "https://switchboard.example.com",
		"https://switchboard.example.com/":  "https://switchboard.example.com",
		"http://10.0.0.1:8080/switchboard/": "http://10.0.0.1:8080/switchboard",
	} {
		if got, err := server.PublicBase(in); err != nil || got != want {
			t.Errorf("PublicBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "switchboard.example.com", "ftp://x", "https://", "https://x/?a=1", "https://x/#f", "https://u:p@x", "/relative"} {
		if got, err := server.PublicBase(bad); err == nil {
			t.Errorf("PublicBase(%q) = %q, want an error", bad, got)
		}
	}
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080", "0.0.0.0:9000": "http://127.0.0.1:9000",
		"[::]:8080": "http://127.0.0.1:8080", ":8080": "http://127.0.0.1:8080", "[::1]:80": "http://[::1]:80",
		"example.com:8080": "http://example.com:8080",
	} {
		if got := server.DefaultPublicURL(addr); got != want {
			t.Errorf("DefaultPublicURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
