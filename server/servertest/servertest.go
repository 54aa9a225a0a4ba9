// Package servertest runs the whole Switchboard HTTP server on a fresh database for a test and
// gives typed clients for it. Every response any of its clients receives is checked against
// the spec of the surface it came from; a response the spec does not allow fails the test.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/gen/adminclient"
	"github.com/switchboard-dev/switchboard/gen/callingclient"
	"github.com/switchboard-dev/switchboard/gen/channelsclient"
	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// AdminToken is the operator token of every test server.
const AdminToken = "test-admin-token"

// Env is one running server.
type Env struct {
	URL string
	// DSN is the test database's connection string.
	DSN   string
	DB    *store.DB
	Admin *adminclient.ClientWithResponses
	// HTTP is a plain client whose responses are checked against the specs too, for requests
	// the typed clients cannot make (the seed's verbatim bodies, malformed input).
	HTTP *http.Client
	// Logs holds everything the server logged.
	Logs *SyncBuffer
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond until it is true, or fails the test after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Option changes what New starts.
type Option func(*options)

type options struct {
	workers       *worker.Options
	refusePrivate bool
}

// RefusePrivateDestinations keeps the guard against loopback and private destinations on for
// the activity dispatch, webhook deliveries and the Calling API's pre-checks, as `serve` has it
// by default; tests otherwise turn it off, as their receivers listen on 127.0.0.1.
func RefusePrivateDestinations() Option {
	return func(o *options) { o.refusePrivate = true }
}

// WithWorkers also starts the background job workers (package worker), with opts; their
// logger defaults to the server's, and AllowPrivate follows RefusePrivateDestinations.
func WithWorkers(opts worker.Options) Option {
	return func(o *options) { o.workers = &opts }
}

// FastWorkers is a worker configuration for tests: webhook retries 200 ms apart without
// jitter, attempts bounded by 2 s.
func FastWorkers() worker.Options {
	return worker.Options{Webhooks: worker.WebhookOptions{Schedule: []time.Duration{200 * time.Millisecond}, Jitter: -1,
		Timeout: 2 * time.Second}}
}

// New starts a server on a new database; it stops when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dsn := storetest.DSN(t)
	db := storetest.Open(t, dsn)
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	// The listener first: the server's public URL is its address.
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	t.Cleanup(ts.Close)
	e, err := server.New(db, server.Config{AdminToken: AdminToken, Logger: log,
		AllowPrivateEndpoints: !o.refusePrivate, PublicURL: "http://" + ts.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	// Served as `serve` serves it, requests Go refuses before routing included.
	ts.Config = server.HTTPServer(e)
	ts.Listener = server.Listener(ts.Listener, e)
	ts.Start()
	hc := &http.Client{Transport: &checker{t: t, next: http.DefaultTransport, specs: specs(t)}}
	env := &Env{URL: ts.URL, DSN: dsn, DB: db, HTTP: hc, Logs: logs}
	if o.workers != nil {
		w := *o.workers
		w.AllowPrivate = !o.refusePrivate
		if w.Logger == nil {
			w.Logger = log
		}
		StartWorkers(t, dsn, db, w)
	}
	env.Admin = typed(t, adminclient.NewClientWithResponses, ts.URL+"/admin/v1", adminclient.WithHTTPClient(hc),
		adminclient.WithRequestEditorFn(bearer(AdminToken)))
	return env
}

// StartWorkers runs the background job workers on the database at dsn, as `serve` does, with
// opts. They stop when the test ends. A second call on one database is a second process.
func StartWorkers(t testing.TB, dsn string, db *store.DB, opts worker.Options) {
	t.Helper()
	runner, err := worker.Start(context.Background(), dsn, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Stop(ctx)
	})
}

func bearer(token string) func(context.Context, *http.Request) error {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// Workspace creates a workspace and a key holding permissions; it returns both.
func (e *Env) Workspace(t testing.TB, permissions ...string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	w, err := e.Admin.CreateWorkspaceWithResponse(ctx, adminclient.CreateWorkspaceJSONRequestBody{Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if w.JSON201 == nil {
		t.Fatalf("create workspace: %d %s", w.StatusCode(), w.Body)
	}
	return w.JSON201.Id, e.Key(t, w.JSON201.Id, permissions...)
}

// Key creates another key of a workspace.
func (e *Env) Key(t testing.TB, workspaceID uuid.UUID, permissions ...string) string {
	t.Helper()
	perms := make([]adminclient.Permission, len(permissions))
	for i, p := range permissions {
		perms[i] = adminclient.Permission(p)
	}
	k, err := e.Admin.CreateApiKeyWithResponse(context.Background(), workspaceID,
		adminclient.CreateApiKeyJSONRequestBody{Name: "test", Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	if k.JSON201 == nil {
		t.Fatalf("create key: %d %s", k.StatusCode(), k.Body)
	}
	return k.JSON201.Key
}

// typed makes a generated client with its NewClientWithResponses (mk) for the surface at url.
func typed[C any, O any](t testing.TB, mk func(string, ...O) (C, error), url string, opts ...O) C {
	t.Helper()
	c, err := mk(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Activities returns a typed Activities API client authenticating with key as a bearer token.
func (e *Env) Activities(t testing.TB, key string) *activitiesclient.ClientWithResponses {
	t.Helper()
	return typed(t, activitiesclient.NewClientWithResponses, e.URL+"/api", activitiesclient.WithHTTPClient(e.HTTP),
		activitiesclient.WithRequestEditorFn(bearer(key)))
}

// Channels returns a typed Channels API client authenticating with key as
// `Authorization: AccessKey <key>`, the scheme Bird documents.
func (e *Env) Channels(t testing.TB, key string) *channelsclient.ClientWithResponses {
	t.Helper()
	return typed(t, channelsclient.NewClientWithResponses, e.URL+"/workspaces", channelsclient.WithHTTPClient(e.HTTP),
		channelsclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "AccessKey "+key)
			return nil
		}))
}

// Calling returns a typed Calling API client authenticating with key as a bearer token.
func (e *Env) Calling(t testing.TB, key string) *callingclient.ClientWithResponses {
	t.Helper()
	return typed(t, callingclient.NewClientWithResponses, e.URL+"/calling", callingclient.WithHTTPClient(e.HTTP),
		callingclient.WithRequestEditorFn(bearer(key)))
}

// Webhooks returns a typed Webhooks API client authenticating with key (an API key or a
// portal session token) as a bearer token.
func (e *Env) Webhooks(t testing.TB, key string) *webhooksclient.ClientWithResponses {
	t.Helper()
	return typed(t, webhooksclient.NewClientWithResponses, e.URL+"/api/v1", webhooksclient.WithHTTPClient(e.HTTP),
		webhooksclient.WithRequestEditorFn(bearer(key)))
}

// Ingest returns a typed Ingest API client authenticating with key as a bearer token.
func (e *Env) Ingest(t testing.TB, key string) *ingestclient.ClientWithResponses {
	t.Helper()
	return typed(t, ingestclient.NewClientWithResponses, e.URL+"/api/v1/ingest", ingestclient.WithHTTPClient(e.HTTP),
		ingestclient.WithRequestEditorFn(bearer(key)))
}

// Do sends a raw request (body may be nil) with headers given as name, value pairs, and
// returns the response's status and body.
func (e *Env) Do(t testing.TB, method, path, body string, headers ...string) (int, []byte) {
	t.Helper()
	resp, b := e.Request(t, method, path, body, headers...)
	return resp.StatusCode, b
}

// Reply is the status and header of a response whose body Request has read and closed.
type Reply struct {
	StatusCode int
	Header     http.Header
}

// Request is Do for a test that checks the response's headers too.
func (e *Env) Request(t testing.TB, method, path, body string, headers ...string) (Reply, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Reply{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

var (
	specsOnce sync.Once
	loaded    map[string]*contract.Spec
	specsErr  error
)

func specs(t testing.TB) map[string]*contract.Spec {
	specsOnce.Do(func() {
		loaded = map[string]*contract.Spec{}
		for _, s := range openapi.Surfaces {
			data, err := openapi.YAML(s.Name)
			if err != nil {
				specsErr = err
				return
			}
			spec, err := contract.Load(data, s.Prefix)
			if err != nil {
				specsErr = err
				return
			}
			loaded[s.Prefix] = spec
			// Paths served outside the prefix (the Ingest API's receiving URL) are checked too.
			ext, err := spec.External()
			if err != nil {
				specsErr = err
				return
			}
			if ext != nil {
				loaded[ext.Prefix] = ext
			}
		}
	})
	if specsErr != nil {
		t.Fatal(specsErr)
	}
	return loaded
}

// MatchesSpec checks a response the test received by other means than the Env's clients (a raw
// connection, say) against the spec of the operation method and path are for: nil when the
// status is declared and the headers and body match.
func MatchesSpec(t testing.TB, method, path string, status int, header http.Header, body []byte) error {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://switchboard"+path, nil)
	if err != nil {
		return err
	}
	for prefix, spec := range specs(t) {
		if (path == prefix || strings.HasPrefix(path, prefix+"/")) && spec.Operation(req) != nil {
			return spec.ValidateResponse(req, status, header, body)
		}
	}
	return fmt.Errorf("no operation for %s %s", method, path)
}

// checker validates every response of a surface against that surface's spec.
type checker struct {
	t     testing.TB
	next  http.RoundTripper
	specs map[string]*contract.Spec
}

func (c *checker) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	for prefix, spec := range c.specs {
		if req.URL.Path != prefix && !strings.HasPrefix(req.URL.Path, prefix+"/") && prefix != "" {
			continue
		}
		if spec.Operation(req) == nil {
			continue // an unknown path or method: no operation to check against
		}
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(reqBody))
		if verr := spec.ValidateResponse(check, resp.StatusCode, resp.Header, b); verr != nil {
			c.t.Errorf("%s %s → %d does not match the spec: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, verr, b)
		}
	}
	return resp, nil
}

// Decode reads a JSON body as a T, or fails the test.
func Decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return v
}

// Count returns SELECT count(*) FROM from (a table, with any WHERE clause, args its
// parameters) on the test database.
func (e *Env) Count(t testing.TB, from string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.SQL().GetContext(context.Background(), &n, `SELECT count(*) FROM `+from, args...); err != nil {
		t.Fatalf("count %s: %v", from, err)
	}
	return n
}

// User adds a new user to a workspace with a role (through the Admin API) and returns their
// email and password.
func (e *Env) User(t testing.TB, workspaceID uuid.UUID, role string) (email, password string) {
	t.Helper()
	email = strings.ToLower(uuid.NewString()[:8]) + "@example.com"
	password = "pw-" + uuid.NewString()
	u, err := e.Admin.CreateWorkspaceUserWithResponse(context.Background(), workspaceID, adminclient.CreateWorkspaceUserJSONRequestBody{
		Email: openapi_types.Email(email), Password: &password, Role: adminclient.Role(role)})
	if err != nil {
		t.Fatal(err)
	}
	if u.JSON201 == nil {
		t.Fatalf("create user: %d %s", u.StatusCode(), u.Body)
	}
	return email, password
}

// Login signs a user in (POST /api/auth/login) and returns the access token.
func (e *Env) Login(t testing.TB, email, password string) string {
	t.Helper()
	r, err := e.Activities(t, "").LoginWithResponse(context.Background(), activitiesclient.LoginJSONRequestBody{Identifier: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if r.JSON200 == nil {
		t.Fatalf("login: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.AccessToken
}

// Member adds a user with a role to a new workspace and signs them in: it returns the
// workspace and the access token.
func (e *Env) Member(t testing.TB, role string) (uuid.UUID, string) {
	t.Helper()
	w, err := e.Admin.CreateWorkspaceWithResponse(context.Background(), adminclient.CreateWorkspaceJSONRequestBody{Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if w.JSON201 == nil {
		t.Fatalf("create workspace: %d %s", w.StatusCode(), w.Body)
	}
	email, pw := e.User(t, w.JSON201.Id, role)
	return w.JSON201.Id, e.Login(t, email, pw)
}
