package egress

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRefused(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"::1": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "100.64.0.1": true, "::ffff:127.0.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false,
	} {
		if got := refused(netip.MustParseAddr(addr)) != ""; got != want {
			t.Errorf("refused(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestCanonicalURL: spaces, raw non-ASCII bytes and stray '%' in a path or query are
// percent-encoded, valid escapes and separators are kept, an internationalised host becomes
// its IDNA form, the fragment goes, and what cannot be sent is refused.
func TestCanonicalURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://example.com/hooks":                       "https://example.com/hooks",
		"https://example.com/a b/ñ?q=a b&x=ñ":             "https://example.com/a%20b/%C3%B1?q=a%20b&x=%C3%B1",
		"https://example.com/h?q=%20ok&r=100%&s=a+b&t=/?": "https://example.com/h?q=%20ok&r=100%25&s=a+b&t=/?",
		"https://example.com/h?q=\"<x>\"|{}^`\\":          "https://example.com/h?q=%22%3Cx%3E%22%7C%7B%7D%5E%60%5C",
		"http://bücher.example:8080/x":                    "http://xn--bcher-kva.example:8080/x",
		"https://example.com/h#frag":                      "https://example.com/h",
		"https://user:pw@example.com/h?":                  "https://user:pw@example.com/h",
		"  https://example.com/padded  ":                  "https://example.com/padded",
	} {
		got, err := CanonicalURL(in)
		if err != nil || got != want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ftp://example.com/x", "/relative", "https://", "https://exa mple.com/", "https://example.com/\x00",
		"https://bü cher.example/", "mailto:a@example.com"} {
		if got, err := CanonicalURL(in); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want an error", in, got)
		} else if ie := (*InvalidURLError)(nil); !errors.As(err, &ie) {
			t.Errorf("CanonicalURL(%q): %T, want *InvalidURLError", in, err)
		}
	}
}

// TestDoSendsCanonicalQuery: a URL with a space and raw non-ASCII bytes in its query reaches
// a Go receiver (which, like Node's, answers 400 to such a request line) percent-encoded.
func TestDoSendsCanonicalQuery(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.RawQuery
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	c := New(Options{Timeout: 5 * time.Second, AllowPrivate: true})
	resp, err := c.Do(context.Background(), Request{URL: srv.URL + "/hook?q=a b&name=José", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != "ok" {
		t.Fatalf("answer %d %q", resp.StatusCode, resp.Body)
	}
	if q := <-got; q != "q=a%20b&name=Jos%C3%A9" {
		t.Errorf("the receiver got the query %q", q)
	}
}

// TestDoGuards: a loopback destination is refused unless allowed, a redirect is returned as
// the answer (not followed), a long answer is cut at MaxResponseBytes, and a slow one times out.
func TestDoGuards(t *testing.T) {
	t.Parallel()
	followed := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/target", http.StatusFound) })
	mux.HandleFunc("/target", func(_ http.ResponseWriter, _ *http.Request) { followed <- struct{}{} })
	mux.HandleFunc("/long", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, strings.Repeat("x", 10000)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()

	_, err := New(Options{}).Do(ctx, Request{URL: srv.URL + "/long"})
	if !Refused(err) || !strings.Contains(Describe(err), "loopback") {
		t.Errorf("a loopback destination without AllowPrivate: %v", err)
	}
	c := New(Options{AllowPrivate: true, MaxResponseBytes: 100, Timeout: 300 * time.Millisecond})
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, URL: srv.URL + "/redirect"})
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("redirect: %v %v", resp, err)
	}
	select {
	case <-followed:
		t.Error("the redirect was followed")
	default:
	}
	resp, err = c.Do(ctx, Request{Method: http.MethodGet, URL: srv.URL + "/long"})
	if err != nil || len(resp.Body) != 100 || !resp.Truncated {
		t.Errorf("long answer: %d bytes, truncated %v, %v", len(resp.Body), resp != nil && resp.Truncated, err)
	}
	_, err = c.Do(ctx, Request{URL: srv.URL + "/slow"})
	if !Timeout(err) || !strings.HasPrefix(Describe(err), "timeout") {
		t.Errorf("slow answer: %v (%s)", err, Describe(err))
	}
	if _, err := c.Do(ctx, Request{URL: "https://exa mple.com/"}); err == nil || Refused(err) || Timeout(err) {
		t.Errorf("an invalid URL: %v", err)
	}
}
