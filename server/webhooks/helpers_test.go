package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/delivery"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

// fast is a delivery configuration for tests: local receivers allowed, short retries.
func fast() delivery.Options {
	return delivery.Options{AllowPrivate: true, Schedule: []time.Duration{200 * time.Millisecond}, Jitter: -1, Timeout: 2 * time.Second}
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a local webhook endpoint that records what it gets and answers with respond.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, w http.ResponseWriter) // n counts requests from 1; nil = 204
	arrived chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{arrived: make(chan struct{}, 10000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Header: req.Header.Clone(), Body: b, At: time.Now()})
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

func (r *receiver) setRespond(f func(n int, w http.ResponseWriter)) {
	r.mu.Lock()
	r.respond = f
	r.mu.Unlock()
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wait blocks until the receiver has had n requests in all, or fails the test.
func (r *receiver) wait(t *testing.T, n int, within time.Duration) []received {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := r.requests(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("receiver got %d requests in %s, want %d", len(r.requests()), within, n)
		}
	}
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return e
}

// fixture is an app with an event type, a recipient and (optionally) endpoints.
type fixture struct {
	env       *servertest.Env
	c         *webhooksclient.ClientWithResponses
	ws        uuid.UUID
	key       string
	app       uuid.UUID
	recipient string
}

func setup(t *testing.T, env *servertest.Env, eventTypes ...string) *fixture {
	t.Helper()
	ws, key := env.Workspace(t, "*")
	c := env.Webhooks(t, key)
	app, err := c.CreateAppWithResponse(ctx, webhooksclient.CreateAppRequest{Name: "Billing webhooks"})
	if err != nil || app.JSON201 == nil {
		t.Fatalf("create app: %v %s", err, app.Body)
	}
	f := &fixture{env: env, c: c, ws: ws, key: key, app: app.JSON201.AppId, recipient: "customer_123"}
	for _, et := range eventTypes {
		res, err := c.PublishEventTypeWithResponse(ctx, f.app, et, webhooksclient.PublishEventTypeRequest{})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("publish %s: %v %s", et, err, res.Body)
		}
	}
	r, err := c.CreateRecipientWithResponse(ctx, f.app, webhooksclient.CreateRecipientRequest{RecipientId: f.recipient})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create recipient: %v %s", err, r.Body)
	}
	return f
}

func (f *fixture) endpoint(t *testing.T, url string, edit ...func(*webhooksclient.CreateEndpointRequest)) webhooksclient.Endpoint {
	t.Helper()
	body := webhooksclient.CreateEndpointRequest{Url: url}
	for _, e := range edit {
		e(&body)
	}
	res, err := f.c.CreateEndpointWithResponse(ctx, f.app, f.recipient, body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create endpoint: %v %s", err, res.Body)
	}
	return *res.JSON201
}

func (f *fixture) send(t *testing.T, eventType string, data string, edit ...func(*webhooksclient.SendMessageRequest)) webhooksclient.Message {
	t.Helper()
	rid := f.recipient
	body := webhooksclient.SendMessageRequest{RecipientId: &rid, EventType: eventType, Data: json.RawMessage(data)}
	for _, e := range edit {
		e(&body)
	}
	res, err := f.c.SendMessageWithResponse(ctx, f.app, body)
	if err != nil || res.JSON202 == nil {
		t.Fatalf("send: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON202
}

func (f *fixture) message(t *testing.T, id string) webhooksclient.Message {
	t.Helper()
	res, err := f.c.GetMessageWithResponse(ctx, f.app, id)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("get message: %v %s", err, res.Body)
	}
	return *res.JSON200
}

func (f *fixture) attempts(t *testing.T, id string) []webhooksclient.Attempt {
	t.Helper()
	res, err := f.c.ListMessageAttemptsWithResponse(ctx, f.app, id, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list attempts: %v %s", err, res.Body)
	}
	return res.JSON200.Data
}

func mustRequest(t *testing.T, method, url, body, key string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	return req
}
