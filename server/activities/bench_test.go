package activities_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// benchRequest measures one API call end to end over loopback HTTP: routing, authentication
// (a key lookup in PostgreSQL), validation, the handler and its queries.
func benchRequest(b *testing.B, method, path, body string) {
	env := servertest.New(b)
	_, key := env.Workspace(b, "*")
	c := env.Activities(b, key)
	if res := create(b, c, yomSalesman("k")); res.JSON201 == nil {
		b.Fatalf("seed config: %s", res.Body)
	}
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
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func BenchmarkListDispatchConfigs(b *testing.B) { benchRequest(b, "GET", "/api/dispatch-configs", "") }

func BenchmarkListDispatchProviders(b *testing.B) {
	benchRequest(b, "GET", "/api/dispatch-providers", "")
}

// BenchmarkInvalidCreate is a request the validation middleware refuses: the cost of
// authentication plus full request validation, without a write.
func BenchmarkInvalidCreate(b *testing.B) {
	env := servertest.New(b)
	_, key := env.Workspace(b, "*")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", env.URL+"/api/dispatch-configs", strings.NewReader(`{"channel":"FAX"}`))
			req.Header.Set("x-api-key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
