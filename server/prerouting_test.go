package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// answer is a response read off a raw connection, its body read and closed.
type answer struct {
	StatusCode int
	Header     http.Header
}

// raw sends request as written on a new connection to env and reads its last response, the
// answers to the requests before it discarded.
func raw(t *testing.T, env *servertest.Env, request string, answers int) (answer, []byte) {
	t.Helper()
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	// Written while the server may already answer (a header too large): a write error after
	// the answer is not this test's concern.
	go func() { _, _ = io.WriteString(conn, request) }()
	r := bufio.NewReader(conn)
	for i := 1; ; i++ {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("read response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		if i == answers {
			return answer{StatusCode: resp.StatusCode, Header: resp.Header}, b
		}
	}
}

// TestRequestsRefusedBeforeRouting sends requests Go's HTTP server refuses before any handler
// runs, and gets each answered in the error body of the surface its path is under, with a status
// the operation declares: a control byte in a header value, a header over 1 MiB, an unknown
// Transfer-Encoding, an HTTP version not served, an Expect other than 100-continue, a request
// line cut short by the header limit, and a bad request after a good one on one connection.
func TestRequestsRefusedBeforeRouting(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	huge := strings.Repeat("a", 1<<20+8192)
	cases := []struct {
		name, method, path, request string
		status                      int
		want                        string // in the body
		answers                     int    // the one checked, after those to the requests before
	}{
		{"control byte in a header", "GET", "/calling/blacklist",
			"GET /calling/blacklist HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\n\r\n",
			400, `{"detail":"Malformed request: the request line or a header is not valid HTTP"}`, 1},
		{"header over 1 MiB", "GET", "/api/v1/apps",
			"GET /api/v1/apps HTTP/1.1\r\nHost: x\r\nX-Huge: " + huge + "\r\n\r\n",
			431, `"code":"headers_too_large"`, 1},
		{"unknown Transfer-Encoding", "POST", "/api/activities",
			"POST /api/activities HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
			400, `"statusCode":400`, 1},
		{"HTTP version", "GET", "/admin/v1/workspaces",
			"GET /admin/v1/workspaces HTTP/2.0\r\nHost: x\r\n\r\n",
			400, `"code":"invalid_request"`, 1},
		{"Expect", "GET", "/workspaces/" + "0190b9c4-d2e0-7a8c-9f1e-2d3c4b5a6978" + "/channels",
			"GET /workspaces/0190b9c4-d2e0-7a8c-9f1e-2d3c4b5a6978/channels HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n",
			400, `"code":"InvalidRequest"`, 1},
		{"missing Host", "GET", "/calling/blacklist",
			"GET /calling/blacklist HTTP/1.1\r\n\r\n",
			400, `missing required Host header`, 1},
		{"request line over 1 MiB", "GET", "/calling/configurations",
			"GET /calling/configurations?reseller_id=" + huge + " HTTP/1.1\r\nHost: x\r\n\r\n",
			431, `{"detail":"Request line and headers are larger than 1048576 bytes"}`, 1},
		{"after a good request", "GET", "/calling/blacklist",
			"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /calling/blacklist HTTP/1.1\r\nHost: x\r\nX-Note: \x7f\r\n\r\n",
			400, `{"detail":"Malformed request: the request line or a header is not valid HTTP"}`, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp, body := raw(t, env, c.request, max(c.answers, 1))
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, body, c.status, c.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if err := servertest.MatchesSpec(t, c.method, c.path, resp.StatusCode, resp.Header, body); err != nil {
				t.Errorf("does not match the spec of %s %s: %v", c.method, c.path, err)
			}
		})
	}
}
