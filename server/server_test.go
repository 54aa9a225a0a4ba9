package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/openapi"
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
// the JSON is a self-contained, valid OpenAPI 3.0.3 document.
func TestSpecDownloads(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	for _, s := range openapi.Surfaces {
		status, yaml, h := get(t, env.URL+"/openapi/"+s.Name+".yaml")
		src, _ := openapi.YAML(s.Name)
		if status != 200 || yaml != string(src) || !strings.Contains(h.Get("Content-Type"), "yaml") {
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
