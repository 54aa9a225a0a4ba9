// Package egress is the one way Switchboard calls a URL a user gave it: webhook deliveries,
// activity dispatches to a provider, the Calling API's pre-checks (and, as they come, Ingest
// forwarding and attribute hooks). A Client refuses loopback, private and link-local
// destinations when it dials (after name resolution, so a name that resolves to an internal
// address is refused too) unless allowed, never follows a redirect (an answer, not a
// delivery), never goes through a proxy (which would be dialled instead, past the guard),
// bounds every call in time, reads at most a set size of an answer, and sends URLs in their
// canonical form (CanonicalURL).
package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Options tune a Client.
type Options struct {
	// Timeout bounds one call, from dialling to the answer's last byte (default 15 s). A
	// caller's context may end it sooner.
	Timeout time.Duration
	// AllowPrivate lets calls reach loopback, private and link-local addresses (local
	// development and tests; SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS).
	AllowPrivate bool
	// MaxResponseBytes is how much of an answer's body is kept (default 64 KiB); the rest is
	// read and dropped up to drainLimit, so the connection can be reused, then the body closed.
	MaxResponseBytes int64
	// UserAgent is sent unless a request sets its own.
	UserAgent string
}

// drainLimit is how much of an answer beyond MaxResponseBytes is read to keep its connection;
// a larger answer costs its connection instead.
const drainLimit = 64 << 10

// Client makes guarded calls. It is safe for concurrent use; make one per purpose and keep it
// (it holds the idle connections).
type Client struct {
	http      *http.Client
	maxBody   int64
	userAgent string
}

// New returns a Client.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 10
	}
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = guard
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would be dialled instead of the destination, bypassing the guard
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		ForceAttemptHTTP2:     true,
	}
	return &Client{
		http: &http.Client{
			Transport: transport,
			Timeout:   o.Timeout,
			// A redirect is an answer, not a delivery (3xx counts as a failure, as Standard
			// Webhooks advises), and following it could lead anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		maxBody:   o.MaxResponseBytes,
		userAgent: o.UserAgent,
	}
}

// Request is one call.
type Request struct {
	Method string // default POST
	URL    string // made canonical before it is sent (CanonicalURL)
	Header http.Header
	Body   []byte
	// Username and Password, when Username is set, are sent as HTTP basic authentication.
	Username, Password string
}

// Response is an answer.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body is the answer's body, at most the client's MaxResponseBytes of it.
	Body []byte
	// Truncated says the body was longer than what Body holds.
	Truncated bool
}

// OK reports whether the status is 2xx.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Do makes the call. It fails with an *InvalidURLError before any connection when the URL
// cannot be sent, a *RefusedError (wrapped) when the destination is refused, and otherwise
// with the transport's error (Timeout and Describe tell them apart). An answer whose body
// breaks off is returned with what arrived and a *ReadError.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	u, err := CanonicalURL(r.URL)
	if err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, &InvalidURLError{URL: r.URL, Why: err.Error()}
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if req.Header.Get("User-Agent") == "" && c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if r.Username != "" {
		req.SetBasicAuth(r.Username, r.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header}
	out.Body, err = io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if int64(len(out.Body)) > c.maxBody {
		out.Body, out.Truncated = out.Body[:c.maxBody], true
		// Drain a little more so the connection can be reused; a huge body is not worth it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	}
	if err != nil {
		return out, &ReadError{Err: err}
	}
	return out, nil
}

// ReadError is an answer whose body broke off (or timed out) while it was read.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading the answer failed: " + e.Err.Error() }

// Unwrap gives the cause, so Timeout sees a timeout.
func (e *ReadError) Unwrap() error { return e.Err }

// Timeout reports whether err is a call that ran out of time (the client's timeout, or the
// caller's deadline).
func Timeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout()
}

// Refused reports whether err is a destination the guard refused.
func Refused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// Describe says in a few words why a call got no (complete) answer.
func Describe(err error) string {
	var refused *RefusedError
	var invalid *InvalidURLError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &invalid):
		return invalid.Error()
	case Timeout(err):
		return "timeout: no answer within the time allowed"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed: " + dnsErr.Error()
	case errors.As(err, &opErr):
		return "connection failed: " + opErr.Err.Error()
	}
	var re *ReadError
	if errors.As(err, &re) {
		return re.Error()
	}
	return strings.TrimSpace(err.Error())
}

// Code names in one word why a call got no (complete) answer, for grouping failures (Ingest's
// delivery issues): refused_address, invalid_url, timeout, dns_lookup_failed,
// connection_refused, connection_reset, tls_error, bad_response or network_error.
func Code(err error) string {
	var refused *RefusedError
	var invalid *InvalidURLError
	var dnsErr *net.DNSError
	var re *ReadError
	var tlsErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &refused):
		return "refused_address"
	case errors.As(err, &invalid):
		return "invalid_url"
	case Timeout(err):
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns_lookup_failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.As(err, &tlsErr) || errors.As(err, &recordErr):
		return "tls_error"
	case errors.As(err, &re):
		return "bad_response"
	}
	return "network_error"
}

// InvalidURLError is a URL that cannot be sent.
type InvalidURLError struct {
	URL, Why string
}

func (e *InvalidURLError) Error() string { return fmt.Sprintf("invalid URL: %s", e.Why) }
