package portal_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
)

// frameAncestors is the CSP frame-ancestors directive of h, and its X-Frame-Options.
func frameAncestors(h http.Header) ([]string, string) {
	for d := range strings.SplitSeq(h.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "frame-ancestors" {
			return f[1:], h.Get("X-Frame-Options")
		}
	}
	return nil, h.Get("X-Frame-Options")
}

// checkPolicy fails unless h's CSP still keeps everything but framing to the page's origin.
func checkPolicy(t *testing.T, what string, h http.Header) {
	t.Helper()
	directives := map[string][]string{}
	for d := range strings.SplitSeq(h.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 {
			directives[f[0]] = f[1:]
		}
	}
	for d, want := range map[string]string{"default-src": "'none'", "script-src": "'self'", "style-src": "'self'",
		"connect-src": "'self'", "base-uri": "'none'", "form-action": "'none'"} {
		if !slices.Equal(directives[d], []string{want}) {
			t.Errorf("%s: CSP %s = %v, want %s", what, d, directives[d], want)
		}
	}
}

// TestPortalFramedByAllowedOrigins: an app lists the origins that may show its portal in a
// frame (the vendor's portal is embedded in an iframe); the page's CSP frame-ancestors names
// exactly them, without X-Frame-Options: DENY. Without any (the default), and for the assets,
// framing stays forbidden. An origin that is not one (a policy injected after it) is a 400.
func TestPortalFramedByAllowedOrigins(t *testing.T) {
	t.Parallel()
	f := setup(t)
	page := "/portal/" + f.app + "/" + recipientID
	resp, _ := f.env.Request(t, http.MethodGet, page, "")
	if fa, xfo := frameAncestors(resp.Header); !slices.Equal(fa, []string{"'none'"}) || xfo != "DENY" {
		t.Fatalf("by default: frame-ancestors %v, X-Frame-Options %q", fa, xfo)
	}

	allowed := []string{"https://dashboard.example.com", "https://*.example.org:8443", "http://localhost:3000"}
	status, body := f.env.Do(t, "PATCH", "/api/v1/apps/"+f.app, `{"portalFrameAncestors":["https://dashboard.example.com",
		"https://*.example.org:8443","http://localhost:3000"]}`, "Authorization", "Bearer "+f.key)
	if status != 200 || !strings.Contains(string(body), `"portalFrameAncestors":["https://dashboard.example.com"`) {
		t.Fatalf("update: %d %s", status, body)
	}
	resp, _ = f.env.Request(t, http.MethodGet, page, "")
	if fa, xfo := frameAncestors(resp.Header); !slices.Equal(fa, allowed) || xfo != "" {
		t.Errorf("allowed: frame-ancestors %v, X-Frame-Options %q; want %v and none", fa, xfo, allowed)
	}
	checkPolicy(t, "framable page", resp.Header)
	resp, _ = f.env.Request(t, http.MethodGet, "/portal/assets/portal.js", "")
	if fa, xfo := frameAncestors(resp.Header); !slices.Equal(fa, []string{"'none'"}) || xfo != "DENY" {
		t.Errorf("asset: frame-ancestors %v, X-Frame-Options %q", fa, xfo)
	}
	// Another app's page is not framable by this app's origins.
	c := f.env.Webhooks(t, f.key)
	other, err := c.CreateAppWithResponse(ctx, webhooksclient.CreateAppRequest{Name: "Other"})
	if err != nil || other.JSON201 == nil || len(other.JSON201.PortalFrameAncestors) != 0 {
		t.Fatalf("create app: %v %s", err, other.Body)
	}
	resp, _ = f.env.Request(t, http.MethodGet, "/portal/"+other.JSON201.AppId.String()+"/"+recipientID, "")
	if fa, _ := frameAncestors(resp.Header); !slices.Equal(fa, []string{"'none'"}) {
		t.Errorf("another app: frame-ancestors %v", fa)
	}

	for _, bad := range []string{`"https://a.example.com; script-src *"`, `"https://a.example.com/path"`, `"javascript:alert(1)"`,
		`"'self'"`, `"*"`, `"https://a.example.com https://b.example.com"`} {
		status, body := f.env.Do(t, "PATCH", "/api/v1/apps/"+f.app, `{"portalFrameAncestors":[`+bad+`]}`, "Authorization", "Bearer "+f.key)
		if status != 400 || !strings.Contains(string(body), "portalFrameAncestors.0") {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	// Back to none.
	if status, body := f.env.Do(t, "PATCH", "/api/v1/apps/"+f.app, `{"portalFrameAncestors":[]}`, "Authorization", "Bearer "+f.key); status != 200 {
		t.Fatalf("clear: %d %s", status, body)
	}
	resp, _ = f.env.Request(t, http.MethodGet, page, "")
	if fa, xfo := frameAncestors(resp.Header); !slices.Equal(fa, []string{"'none'"}) || xfo != "DENY" {
		t.Errorf("cleared: frame-ancestors %v, X-Frame-Options %q", fa, xfo)
	}
}
