package servertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Received is one request a Receiver got.
type Received struct {
	// RequestURI is the request line's target, as sent.
	RequestURI string
	Header     http.Header
	Body       []byte
	At         time.Time
}

// Receiver is a local webhook endpoint that records what it gets and answers with its
// respond function (204 when there is none).
type Receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []Received
	respond func(n int, w http.ResponseWriter) // n counts requests from 1
	arrived chan struct{}
}

// NewReceiver starts a Receiver; it stops when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{arrived: make(chan struct{}, 10000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, Received{RequestURI: req.RequestURI, Header: req.Header.Clone(), Body: b, At: time.Now()})
		n, respond := len(r.got), r.respond
		r.mu.Unlock()
		if respond != nil {
			respond(n, w)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// SetRespond sets how the receiver answers from now on; n counts requests from 1.
func (r *Receiver) SetRespond(f func(n int, w http.ResponseWriter)) {
	r.mu.Lock()
	r.respond = f
	r.mu.Unlock()
}

// Requests returns what the receiver got so far.
func (r *Receiver) Requests() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Wait blocks until the receiver has had n requests in all, or fails the test.
func (r *Receiver) Wait(t testing.TB, n int, within time.Duration) []Received {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := r.Requests(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("receiver got %d requests in %s, want %d", len(r.Requests()), within, n)
		}
	}
}
