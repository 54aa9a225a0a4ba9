package servertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Errorf was given.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestCheckerCatchesSpecViolations proves the response check used by every HTTP test can fail.
func TestCheckerCatchesSpecViolations(t *testing.T) {
	t.Parallel()
	responses := map[string]string{
		"/api/dispatch-configs":        `[{"id":"not-a-uuid"}]`,                                                 // missing fields, bad format
		"/api/dispatch-providers":      `[]`,                                                                    // valid
		"/admin/v1/workspaces":         `{"data":[]}`,                                                           // valid
		"/admin/v1/dispatch-providers": `[{"id":"5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e","protocolType":"SOAP"}]`, // bad enum
	}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, responses[r.URL.Path])
	}))
	defer fake.Close()
	rec := &recorder{TB: t}
	hc := &http.Client{Transport: &checker{t: rec, next: http.DefaultTransport, specs: specs(t)}}
	for path := range responses {
		resp, err := hc.Get(fake.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	joined := strings.Join(rec.errors, "\n")
	if len(rec.errors) != 2 || !strings.Contains(joined, "/api/dispatch-configs") || !strings.Contains(joined, "/admin/v1/dispatch-providers") {
		t.Fatalf("want exactly the two bad responses reported, got:\n%s", joined)
	}
}
