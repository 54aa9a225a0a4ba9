package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// rawConn is one keep-alive HTTP/1.1 connection sending one request at a time, as load
// generators such as wrk do. It costs a fraction of net/http's client per request (no
// connection pool, no per-connection reader and writer goroutines handing requests over),
// so more of the machine's CPU goes to the server being measured, as with pgbench.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newRawConn(base string) *rawConn {
	return &rawConn{addr: strings.TrimPrefix(base, "http://")}
}

// post sends a JSON body with the given header lines ("Name: value") and returns the status.
// A broken connection is redialled at the next request.
func (rc *rawConn) post(path string, body []byte, headers ...string) (int, error) {
	if rc.c == nil {
		// The load runs for a fixed time and is never cancelled.
		c, err := new(net.Dialer).DialContext(context.Background(), "tcp", rc.addr)
		if err != nil {
			return 0, err
		}
		rc.c, rc.r, rc.w = c, bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 16<<10)
	}
	// A bufio.Writer keeps its first error and Flush returns it: the writes are checked there.
	fmt.Fprintf(rc.w, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, rc.addr, len(body))
	for _, h := range headers {
		_, _ = rc.w.WriteString(h)
		_, _ = rc.w.WriteString("\r\n")
	}
	_, _ = rc.w.WriteString("\r\n")
	_, _ = rc.w.Write(body)
	if err := rc.w.Flush(); err != nil {
		rc.reset()
		return 0, err
	}
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		rc.reset()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		rc.reset()
	}
	return resp.StatusCode, err
}

func (rc *rawConn) reset() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}
