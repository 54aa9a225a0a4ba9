package ingest_test

import (
	"context"
	"encoding/json"
	"github.com/oapi-codegen/nullable"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestWorkspaceIsolation: every id of the Ingest API (source, destination, event, issue,
// replay) is a 404 from another workspace, and lists show only the workspace's own; keys
// without ingest permissions get 403.
func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a, b := newFixture(t, env), newFixture(t, env)
	ctx := context.Background()
	src := a.source(t, ingestclient.CreateSourceRequest{Name: "A", Type: ingestclient.SourceTypeNone,
		AllowedMethods: &[]ingestclient.HttpMethod{ingestclient.POST}})
	dest := a.destination(t, ingestclient.CreateDestinationRequest{Url: "https://a.example.com/hook", SourceIds: []uuid.UUID{src.SourceId}})
	// A refused request makes an event and an issue.
	status, body := receive(t, env, http.MethodPut, src.Url, "text/plain", "x", nil)
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d %s", status, body)
	}
	events, _ := a.c.ListEventsWithResponse(ctx, nil)
	issues := a.issues(t, ingestclient.ListIssuesParams{})
	if events.JSON200 == nil || len(events.JSON200.Data) != 1 || len(issues) != 1 {
		t.Fatalf("setup: %s %v", events.Body, issues)
	}
	ev, iss := events.JSON200.Data[0].EventId, issues[0].IssueId
	rep, err := a.c.CreateReplayWithResponse(ctx, ingestclient.CreateReplayRequest{SourceId: &src.SourceId})
	if err != nil || rep.JSON202 == nil {
		t.Fatalf("replay: %v %s", err, rep.Body)
	}
	codes := map[string]int{}
	check := func(name string, status int) { codes[name] = status }
	r1, _ := b.c.GetSourceWithResponse(ctx, src.SourceId)
	check("getSource", r1.StatusCode())
	r2, _ := b.c.UpdateSourceWithResponse(ctx, src.SourceId, ingestclient.UpdateSourceRequest{Name: ptr("x")})
	check("updateSource", r2.StatusCode())
	r3, _ := b.c.DeleteSourceWithResponse(ctx, src.SourceId)
	check("deleteSource", r3.StatusCode())
	r4, _ := b.c.RotateSourceUrlWithResponse(ctx, src.SourceId)
	check("rotateSourceUrl", r4.StatusCode())
	r5, _ := b.c.GetDestinationWithResponse(ctx, dest.DestinationId)
	check("getDestination", r5.StatusCode())
	r6, _ := b.c.GetDestinationSecretWithResponse(ctx, dest.DestinationId)
	check("getDestinationSecret", r6.StatusCode())
	r7, _ := b.c.DeleteDestinationWithResponse(ctx, dest.DestinationId)
	check("deleteDestination", r7.StatusCode())
	r8, _ := b.c.GetEventWithResponse(ctx, ev)
	check("getEvent", r8.StatusCode())
	r9, _ := b.c.GetEventRawWithResponse(ctx, ev)
	check("getEventRaw", r9.StatusCode())
	r10, _ := b.c.ReplayEventWithResponse(ctx, ev, ingestclient.ReplayEventRequest{})
	check("replayEvent", r10.StatusCode())
	r11, _ := b.c.GetIssueWithResponse(ctx, iss)
	check("getIssue", r11.StatusCode())
	r12, _ := b.c.UpdateIssueWithResponse(ctx, iss, ingestclient.UpdateIssueRequest{Status: ingestclient.Ignored})
	check("updateIssue", r12.StatusCode())
	r13, _ := b.c.ReplayIssueWithResponse(ctx, iss)
	check("replayIssue", r13.StatusCode())
	r14, _ := b.c.GetReplayWithResponse(ctx, rep.JSON202.ReplayId)
	check("getReplay", r14.StatusCode())
	r15, _ := b.c.CreateReplayWithResponse(ctx, ingestclient.CreateReplayRequest{SourceId: &src.SourceId})
	check("createReplay with another's source", r15.StatusCode())
	// Nor can b point a destination at a's source, or replay a's event to b's destination.
	r16, _ := b.c.CreateDestinationWithResponse(ctx, ingestclient.CreateDestinationRequest{Url: "https://b.example.com", SourceIds: []uuid.UUID{src.SourceId}})
	check("createDestination from another's source (400)", r16.StatusCode())
	for name, status := range codes {
		want := http.StatusNotFound
		if strings.HasSuffix(name, "(400)") {
			want = http.StatusBadRequest
		}
		if status != want {
			t.Errorf("%s from another workspace: %d, want %d", name, status, want)
		}
	}
	for _, list := range []int{len(b.issues(t, ingestclient.ListIssuesParams{}))} {
		if list != 0 {
			t.Errorf("b sees %d of a's issues", list)
		}
	}
	bEvents, _ := b.c.ListEventsWithResponse(ctx, nil)
	bSources, _ := b.c.ListSourcesWithResponse(ctx, nil)
	bDests, _ := b.c.ListDestinationsWithResponse(ctx, nil)
	if len(bEvents.JSON200.Data)+len(bSources.JSON200.Data)+len(bDests.JSON200.Data) != 0 {
		t.Error("b lists a's events, sources or destinations")
	}
	// Permissions: a key without ingest:write can read, not write; one without either, neither.
	ws, _ := env.Workspace(t, "ingest:read")
	reader := env.Ingest(t, env.Key(t, ws, "ingest:read"))
	if res, _ := reader.ListSourcesWithResponse(ctx, nil); res.StatusCode() != http.StatusOK {
		t.Errorf("ingest:read lists sources: %d", res.StatusCode())
	}
	if res, _ := reader.CreateSourceWithResponse(ctx, ingestclient.CreateSourceRequest{Name: "x", Type: ingestclient.SourceTypeNone}); res.StatusCode() != http.StatusForbidden {
		t.Errorf("ingest:read creates a source: %d", res.StatusCode())
	}
	other := env.Ingest(t, env.Key(t, ws, "message:read"))
	if res, _ := other.ListEventsWithResponse(ctx, nil); res.StatusCode() != http.StatusForbidden {
		t.Errorf("message:read lists events: %d", res.StatusCode())
	}
}

// TestSourceValidation: secrets, verification settings and custom responses are checked for
// the source's type, every problem in one 400, nothing written.
func TestSourceValidation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	ctx := context.Background()
	sha := ingestclient.Sha256
	for _, c := range []struct {
		body   ingestclient.CreateSourceRequest
		fields []string
	}{
		{ingestclient.CreateSourceRequest{Name: "s", Type: ingestclient.SourceTypeStripe}, []string{"secret"}},
		{ingestclient.CreateSourceRequest{Name: "n", Type: ingestclient.SourceTypeNone, Secret: ptr("x")}, []string{"secret"}},
		{ingestclient.CreateSourceRequest{Name: "b", Type: ingestclient.SourceTypeBasicAuth, Secret: ptr("pw")}, []string{"verification.username"}},
		{ingestclient.CreateSourceRequest{Name: "g", Type: ingestclient.SourceTypeGithub, Secret: ptr("x"),
			Verification: &ingestclient.Verification{Algorithm: &sha, ToleranceSeconds: ptr(10)}},
			[]string{"verification.algorithm", "verification.toleranceSeconds"}},
		{ingestclient.CreateSourceRequest{Name: "w", Type: ingestclient.SourceTypeStandardWebhooks, Secret: ptr("not-whsec")}, []string{"secret"}},
		{ingestclient.CreateSourceRequest{Name: "c", Type: ingestclient.SourceTypeNone,
			CustomResponse: nullable.NewNullableWithValue(ingestclient.CustomResponse{Body: "ok", ContentType: ptr("not a type")})}, []string{"customResponse.contentType"}},
	} {
		res, err := f.c.CreateSourceWithResponse(ctx, c.body)
		if err != nil || res.JSON400 == nil {
			t.Errorf("%s: %v %d %s", c.body.Name, err, res.StatusCode(), res.Body)
			continue
		}
		got := map[string]bool{}
		for _, d := range *res.JSON400.Details {
			got[*d.Field] = true
		}
		for _, field := range c.fields {
			if !got[field] {
				t.Errorf("%s: no detail for %s in %s", c.body.Name, field, res.Body)
			}
		}
	}
	if n := env.Count(t, "ingest_sources"); n != 0 {
		t.Errorf("%d sources written", n)
	}
	// The spec's own checks: an unknown type, a bad method, an unknown field.
	status, b := env.Do(t, "POST", "/api/v1/ingest/sources", `{"name":"x","type":"paypal","allowedMethods":["TRACE"],"extra":1}`,
		"Authorization", "Bearer "+f.key)
	if status != http.StatusBadRequest || !strings.Contains(string(b), "invalid_request") {
		t.Errorf("spec validation: %d %s", status, b)
	}
	// Source types list the presets.
	types, err := f.c.ListSourceTypesWithResponse(ctx)
	if err != nil || types.JSON200 == nil || len(types.JSON200.Data) != 10 {
		t.Fatalf("source types: %v %s", err, types.Body)
	}
}

// TestDestinations: filters and headers are checked; a paused destination holds deliveries
// and delivers them when resumed; test-filter answers for a sample and for a ledger event; a
// single replay re-routes or goes where it is told.
func TestDestinations(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Generic", Type: ingestclient.SourceTypeNone})
	bad := ingestclient.BodyFilter(`{"amount":{"$like":5}}`)
	res, err := f.c.CreateDestinationWithResponse(ctx, ingestclient.CreateDestinationRequest{Url: "https://x.example.com", SourceIds: []uuid.UUID{src.SourceId},
		BodyFilter: &bad, Headers: &ingestclient.DestinationHeaders{"webhook-id": "x"},
		Auth: nullable.NewNullableWithValue(ingestclient.DestinationAuthInput{Type: ingestclient.DestinationAuthInputTypeBasic, Username: ptr("u")})})
	if err != nil || res.JSON400 == nil {
		t.Fatalf("bad destination: %v %d %s", err, res.StatusCode(), res.Body)
	}
	for _, want := range []string{"bodyFilter.amount.$like", "headers.webhook-id", "auth.password"} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("no detail for %s: %s", want, res.Body)
		}
	}
	recv := servertest.NewReceiver(t)
	paused := ingestclient.CreateDestinationRequestStatusPaused
	filter := ingestclient.BodyFilter(`{"amount":{"$gte":100}}`)
	dest := f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}, Status: &paused,
		BodyFilter: &filter, Auth: nullable.NewNullableWithValue(ingestclient.DestinationAuthInput{Type: ingestclient.DestinationAuthInputTypeBearer, Token: ptr("tok-1")})})
	if !dest.Auth.IsSpecified() || dest.Auth.MustGet().Type != ingestclient.DestinationAuthTypeBearer || strings.Contains(string(mustJSON(t, dest)), "tok-1") {
		t.Errorf("destination auth shown: %+v", dest.Auth)
	}
	_, big := receive(t, env, http.MethodPost, src.Url, "application/json", `{"amount":150}`, nil)
	_, small := receive(t, env, http.MethodPost, src.Url, "application/json", `{"amount":5}`, nil)
	bigID, smallID := uuid.MustParse(servertest.Decode[received](t, big).EventID), uuid.MustParse(servertest.Decode[received](t, small).EventID)
	if d := f.event(t, bigID).Deliveries; len(d) != 1 || d[0].Status != ingestclient.DeliveryStatusHeld {
		t.Fatalf("paused destination: %+v", d)
	}
	if d := f.event(t, smallID).Deliveries; len(d) != 0 {
		t.Fatalf("filtered out event has deliveries: %+v", d)
	}
	active := ingestclient.DestinationStatusActive
	if up, err := f.c.UpdateDestinationWithResponse(ctx, dest.DestinationId, ingestclient.UpdateDestinationRequest{Status: &active}); err != nil || up.JSON200 == nil {
		t.Fatalf("resume: %v %s", err, up.Body)
	}
	got := recv.Wait(t, 1, 10*time.Second)[0]
	if got.Header.Get("Authorization") != "Bearer tok-1" || string(got.Body) != `{"amount":150}` {
		t.Errorf("resumed delivery %v %s", got.Header, got.Body)
	}

	tf, err := f.c.TestDestinationFilterWithResponse(ctx, ingestclient.TestFilterRequest{DestinationId: &dest.DestinationId, EventId: &smallID})
	if err != nil || tf.JSON200 == nil || tf.JSON200.Matches || !tf.JSON200.EventTypeMatches || tf.JSON200.BodyMatches {
		t.Errorf("test-filter on the ledger's event: %v %s", err, tf.Body)
	}
	sample := []byte(`{"data":{"object":{"amount_paid":1200}}}`)
	raw := ingestclient.BodyFilter(`{"data":{"object":{"amount_paid":{"$gte":1000}}}}`)
	tf, err = f.c.TestDestinationFilterWithResponse(ctx, ingestclient.TestFilterRequest{
		Filter: &ingestclient.FilterInput{EventTypes: &ingestclient.EventTypePatterns{"invoice.*"}, BodyFilter: &raw},
		Event:  &ingestclient.SampleEvent{EventType: ptr("invoice.paid"), Body: (*json.RawMessage)(&sample)}})
	if err != nil || tf.JSON200 == nil || !tf.JSON200.Matches {
		t.Errorf("test-filter on a sample: %v %s", err, tf.Body)
	}
	if tf, _ := f.c.TestDestinationFilterWithResponse(ctx, ingestclient.TestFilterRequest{}); tf.StatusCode() != http.StatusBadRequest {
		t.Errorf("test-filter without anything: %d", tf.StatusCode())
	}

	// The filtered-out event, replayed to the destination by name, goes there anyway.
	rep, err := f.c.ReplayEventWithResponse(ctx, smallID, ingestclient.ReplayEventRequest{DestinationIds: &[]uuid.UUID{dest.DestinationId}})
	if err != nil || rep.JSON202 == nil || rep.JSON202.Destinations != 1 {
		t.Fatalf("replay to a destination: %v %s", err, rep.Body)
	}
	recv.Wait(t, 2, 10*time.Second)
	// Re-routed, the delivered event goes again to where it went.
	rep, err = f.c.ReplayEventWithResponse(ctx, bigID, ingestclient.ReplayEventRequest{})
	if err != nil || rep.JSON202 == nil || rep.JSON202.Destinations != 1 {
		t.Fatalf("replay: %v %s", err, rep.Body)
	}
	recv.Wait(t, 3, 10*time.Second)
	if r, _ := f.c.ReplayEventWithResponse(ctx, bigID, ingestclient.ReplayEventRequest{DestinationIds: &[]uuid.UUID{uuid.New()}}); r.StatusCode() != http.StatusNotFound {
		t.Errorf("replay to an unknown destination: %d", r.StatusCode())
	}
}

// TestEventList: the ledger's filters, search and cursor pages.
func TestEventList(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	ctx := context.Background()
	s1 := f.source(t, ingestclient.CreateSourceRequest{Name: "one", Type: ingestclient.SourceTypeNone})
	s2 := f.source(t, ingestclient.CreateSourceRequest{Name: "two", Type: ingestclient.SourceTypeNone})
	for i, body := range []string{`{"type":"a.created","note":"needle"}`, `{"type":"a.deleted"}`, `{"type":"b.created"}`} {
		u := s1.Url
		if i == 2 {
			u = s2.Url
		}
		if status, b := receive(t, env, http.MethodPost, u, "application/json", body, map[string]string{"Authorization": "Bearer secret-token"}); status != 200 {
			t.Fatalf("receive: %d %s", status, b)
		}
	}
	list := func(p ingestclient.ListEventsParams) []ingestclient.Event {
		t.Helper()
		res, err := f.c.ListEventsWithResponse(ctx, &p)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %s", err, res.Body)
		}
		return res.JSON200.Data
	}
	if n := len(list(ingestclient.ListEventsParams{SourceId: &s1.SourceId})); n != 2 {
		t.Errorf("by source: %d", n)
	}
	if got := list(ingestclient.ListEventsParams{Search: ptr("needle")}); len(got) != 1 || got[0].EventType.MustGet() != "a.created" {
		t.Errorf("search: %+v", got)
	}
	if n := len(list(ingestclient.ListEventsParams{EventType: ptr("b.created")})); n != 1 {
		t.Errorf("by event type: %d", n)
	}
	unchecked := ingestclient.VerificationStatusUnchecked
	if n := len(list(ingestclient.ListEventsParams{Verification: &unchecked})); n != 3 {
		t.Errorf("unchecked: %d", n)
	}
	future := time.Now().Add(time.Hour)
	if n := len(list(ingestclient.ListEventsParams{Since: &future})); n != 0 {
		t.Errorf("since the future: %d", n)
	}
	page1 := list(ingestclient.ListEventsParams{Limit: ptr(2)})
	res, _ := f.c.ListEventsWithResponse(ctx, &ingestclient.ListEventsParams{Limit: ptr(2)})
	page2 := list(ingestclient.ListEventsParams{Limit: ptr(2), Cursor: res.JSON200.NextCursor})
	if len(page1) != 2 || len(page2) != 1 || page2[0].EventId == page1[1].EventId || !(page1[0].EventId.String() > page1[1].EventId.String()) {
		t.Errorf("pages %v %v", page1, page2)
	}
	if h := page1[0].Request.Headers["Authorization"]; h != "[redacted]" {
		t.Errorf("Authorization shown as %q", h)
	}
	if status, _ := env.Do(t, "GET", "/api/v1/ingest/events?cursor=nope", "", "Authorization", "Bearer "+f.key); status != http.StatusBadRequest {
		t.Errorf("bad cursor: %d", status)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
