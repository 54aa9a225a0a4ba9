package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// MaxHeaderBytes is the most a request's line and headers may take; a larger request is
// answered 431.
const MaxHeaderBytes = 1 << 20

// HTTPServer is the http.Server that serves e, as `serve` runs it and the test harness does:
// bounded header reading (10 s, MaxHeaderBytes) and idle connections closed after 2 minutes.
// Serve it on Listener(ln, e), so that the requests Go refuses before routing are answered in
// the surface's error body too.
func HTTPServer(e *echo.Echo) *http.Server {
	return &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: MaxHeaderBytes}
}

// Listener wraps ln for HTTPServer: Go's HTTP server answers some requests itself before any
// handler runs, in plain text — a malformed request line or header (a control byte in a header
// value, a missing Host), headers over MaxHeaderBytes (431), a Transfer-Encoding it does not
// know, an HTTP version it does not speak, an Expect other than 100-continue. No handler can
// answer those, so the connection does: it recognises the response Go writes and writes instead
// the error body of the surface the request's path is under (through e's error handler, as
// every other error), with the same status — 431 for headers too large, 400 for everything else,
// its message saying what was wrong.
func Listener(ln net.Listener, e *echo.Echo) net.Listener {
	return &preRoutingListener{Listener: ln, e: e}
}

type preRoutingListener struct {
	net.Listener
	e *echo.Echo
}

func (l *preRoutingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &preRoutingConn{Conn: c, e: l.e}, nil
}

// preRoutingConn remembers the last request line read from it (its path says which surface
// answers) and rewrites the plain-text errors Go's server writes on it.
type preRoutingConn struct {
	net.Conn
	e *echo.Echo

	mu       sync.Mutex // Read (the server's background reader) and Write (the handler) may race
	line     []byte     // the start of the line being read, up to maxLineStart bytes
	lastLine []byte     // the start of the last complete request line
}

// maxLineStart is how much of a line is kept: enough for a method and the start of a path.
const maxLineStart = 1024

func (c *preRoutingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.observe(p[:n])
	}
	return n, err
}

// observe follows the lines of what was read, keeping the last request line.
func (c *preRoutingConn) observe(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxLineStart - len(c.line); room > 0 {
			c.line = append(c.line, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			return
		}
		if _, _, ok := requestLine(c.line); ok {
			c.lastLine = append(c.lastLine[:0], c.line...)
		}
		c.line = c.line[:0]
		b = b[i+1:]
	}
}

// CloseWrite lets Go's server half-close the connection after a 431, as it does a TCP one.
func (c *preRoutingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// goErrorHeaders follow the status line of every error response Go's server writes itself.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *preRoutingConn) Write(p []byte) (int, error) {
	status, text, ok := goError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(c.render(status, text)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// goError recognises a response Go's server writes before routing: its status and, for a 400,
// what Go said was wrong.
func goError(p []byte) (status int, text string, ok bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(proto)) || len(p) < len(proto)+3 {
		return 0, "", false
	}
	if bytes.HasPrefix(p, []byte(proto+"417 Expectation Failed\r\n")) {
		return http.StatusExpectationFailed, "", true // written as a response, not with goErrorHeaders
	}
	end := bytes.Index(p, []byte(goErrorHeaders))
	if end < 0 || bytes.IndexByte(p[:end], '\n') >= 0 {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(p[len(proto) : len(proto)+3]))
	if err != nil {
		return 0, "", false
	}
	// The status line is "400 Bad Request" or "400 Bad Request: invalid header value".
	if _, reason, found := bytes.Cut(p[len(proto):end], []byte(": ")); found {
		text = string(reason)
	}
	return status, text, true
}

// render is the answer to a request Go refused: the error body of the surface its path is
// under, written by the server's error handler.
func (c *preRoutingConn) render(status int, text string) []byte {
	c.mu.Lock()
	line := c.lastLine
	if _, _, ok := requestLine(c.line); ok {
		line = c.line // a request line too long to end before the limit
	}
	method, target, _ := requestLine(line)
	c.mu.Unlock()

	var p *problem.Problem
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		p = problem.New(status, "Request line and headers are larger than %d bytes", MaxHeaderBytes)
	case http.StatusNotImplemented:
		p = problem.New(http.StatusBadRequest, "Malformed request: unsupported Transfer-Encoding (only chunked is accepted)")
	case http.StatusHTTPVersionNotSupported:
		p = problem.New(http.StatusBadRequest, "Malformed request: unsupported HTTP version (HTTP/1.0 and HTTP/1.1 are served)")
	case http.StatusExpectationFailed:
		p = problem.New(http.StatusBadRequest, "Malformed request: unsupported Expect header (only 100-continue is accepted)")
	default:
		p = problem.New(http.StatusBadRequest, "Malformed request: the request line or a header is not valid HTTP")
		if text != "" {
			p.Message = "Malformed request: " + text
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		// Cut short, perhaps inside an escape: the path up to its first escape or query names
		// the surface as well.
		if i := strings.IndexAny(target, "%?#"); i >= 0 {
			target = target[:i]
		}
		u, err = url.ParseRequestURI(target)
	}
	if err != nil || method == "" {
		method, u = http.MethodGet, &url.URL{Path: "/"}
	}
	req := (&http.Request{Method: method, URL: u, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1,
		ProtoMinor: 1, Host: "", RemoteAddr: c.RemoteAddr().String()}).WithContext(context.Background())
	w := &bufferedResponse{header: http.Header{}}
	c.e.HTTPErrorHandler(p, c.e.NewContext(req, w))
	if w.status == 0 {
		w.status = p.Status
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Del("Content-Length")
	w.header.Set("Connection", "close")
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	_ = w.header.Write(&out)
	out.WriteString("\r\n")
	out.Write(w.body.Bytes())
	return out.Bytes()
}

// requestLine splits the start of an HTTP request line ("GET /path HTTP/1.1", perhaps cut
// short) into its method and target.
func requestLine(l []byte) (method, target string, ok bool) {
	l = bytes.TrimSuffix(l, []byte("\r"))
	sp := bytes.IndexByte(l, ' ')
	if sp < 1 || sp > 16 || sp+1 >= len(l) || l[sp+1] != '/' {
		return "", "", false
	}
	for _, b := range l[:sp] {
		if b < 'A' || b > 'Z' {
			return "", "", false
		}
	}
	rest := l[sp+1:]
	if end := bytes.IndexByte(rest, ' '); end >= 0 {
		rest = rest[:end]
	}
	return string(l[:sp]), string(rest), true
}

// bufferedResponse is an http.ResponseWriter that keeps what is written.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
