package activities_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// hammer sends one request from parallel goroutines for the benchmark's duration: routing,
// authentication (a key lookup in PostgreSQL), validation, the handler and its queries, over
// loopback HTTP.
func hammer(b *testing.B, env *servertest.Env, key, method, path, body string, want int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(method, env.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
		}
	})
}

// withConfig is a server whose workspace has one dispatch config.
func withConfig(b *testing.B) (*servertest.Env, string) {
	env := servertest.New(b)
	_, key := env.Workspace(b, "*")
	if res := create(b, env.Activities(b, key), yomSalesman("k")); res.JSON201 == nil {
		b.Fatalf("seed config: %s", res.Body)
	}
	return env, key
}

func BenchmarkListDispatchConfigs(b *testing.B) {
	env, key := withConfig(b)
	hammer(b, env, key, "GET", "/api/dispatch-configs", "", 200)
}

func BenchmarkListDispatchProviders(b *testing.B) {
	env, key := withConfig(b)
	hammer(b, env, key, "GET", "/api/dispatch-providers", "", 200)
}

// BenchmarkInvalidCreate is a request the validation middleware refuses: the cost of
// authentication plus full request validation, without a write.
func BenchmarkInvalidCreate(b *testing.B) {
	env, key := withConfig(b)
	hammer(b, env, key, "POST", "/api/dispatch-configs", `{"channel":"FAX"}`, 400)
}
