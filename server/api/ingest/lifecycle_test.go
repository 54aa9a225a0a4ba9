package ingest_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestBackpressureAndRetention: a destination whose deliveries wait (no worker is running)
// gets a backpressure issue, which resolves itself once they are delivered; retention then
// deletes the delivered event with its delivery and attempt, and keeps one still pending.
func TestBackpressureAndRetention(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Generic", Type: ingestclient.SourceTypeNone})
	recv := servertest.NewReceiver(t)
	dest := f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}})
	_, b := receive(t, env, http.MethodPost, src.Url, "application/json", `{"type":"a"}`, nil)
	id := uuid.MustParse(servertest.Decode[received](t, b).EventID)
	time.Sleep(50 * time.Millisecond)
	if opened, _, err := env.DB.CheckBackpressure(ctx, 20*time.Millisecond); err != nil || opened != 1 {
		t.Fatalf("check: %d %v", opened, err)
	}
	bp := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeBackpressure)})
	if len(bp) != 1 || bp[0].Status != ingestclient.Open || bp[0].DestinationId.MustGet() != dest.DestinationId {
		t.Fatalf("backpressure issue %+v", bp)
	}
	// Retention keeps what is still pending.
	if res, err := env.DB.PruneIngest(ctx, time.Now().Add(time.Hour), 100); err != nil || res.Events != 0 {
		t.Fatalf("prune while pending: %+v %v", res, err)
	}
	w := servertest.FastWorkers()
	w.AllowPrivate, w.Logger = true, slog.New(slog.NewJSONHandler(env.Logs, nil))
	servertest.StartWorkers(t, env.DSN, env.DB, w)
	recv.Wait(t, 1, 10*time.Second)
	servertest.Eventually(t, 5*time.Second, "delivered", func() bool {
		return f.event(t, id).Deliveries[0].Status == ingestclient.DeliveryStatusDelivered
	})
	if _, resolved, err := env.DB.CheckBackpressure(ctx, 20*time.Millisecond); err != nil || resolved != 1 {
		t.Fatalf("check after: %d %v", resolved, err)
	}
	if i := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeBackpressure)})[0]; i.Status != ingestclient.Resolved || i.AutoResolvedAt.IsNull() {
		t.Errorf("backpressure issue after the backlog: %+v", i)
	}
	res, err := env.DB.PruneIngest(ctx, time.Now().Add(time.Hour), 100)
	if err != nil || res.Events != 1 || res.Deliveries != 1 || res.Attempts != 1 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	if r, _ := f.c.GetEventWithResponse(ctx, id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("pruned event: %d", r.StatusCode())
	}
	if r, _ := f.c.GetIssueWithResponse(ctx, bp[0].IssueId); r.StatusCode() != http.StatusOK {
		t.Errorf("issues are kept: %d", r.StatusCode())
	}
}

// TestReplayRejected: a verification issue's replay forwards its rejected events to the
// source's destinations that match them, flagged failed; a bulk replay by source, search and
// window replays only the failed deliveries that match.
func TestReplayRejected(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Keyed", Type: ingestclient.SourceTypeApiKey, Secret: ptr("key-1")})
	recv := servertest.NewReceiver(t)
	patterns := ingestclient.EventTypePatterns{"order.*"}
	f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}, EventTypes: &patterns})
	for _, body := range []string{`{"type":"order.paid"}`, `{"type":"user.created"}`} {
		if status, b := receive(t, env, http.MethodPost, src.Url, "application/json", body, map[string]string{"X-Api-Key": "wrong"}); status != http.StatusUnauthorized {
			t.Fatalf("wrong key: %d %s", status, b)
		}
	}
	vi := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeVerification)})
	if len(vi) != 1 || vi[0].Kind != "invalid_credentials" || vi[0].Occurrences != 2 {
		t.Fatalf("verification issue %+v", vi)
	}
	rep, err := f.c.ReplayIssueWithResponse(ctx, vi[0].IssueId)
	if err != nil || rep.JSON202 == nil {
		t.Fatalf("replay: %v %s", err, rep.Body)
	}
	got := recv.Wait(t, 1, 10*time.Second)
	if string(got[0].Body) != `{"type":"order.paid"}` || got[0].Header.Get("X-Switchboard-Verification") != "failed" {
		t.Errorf("replayed %s %v", got[0].Body, got[0].Header)
	}
	servertest.Eventually(t, 5*time.Second, "replay completed", func() bool {
		r, _ := f.c.GetReplayWithResponse(ctx, rep.JSON202.ReplayId)
		return r.JSON200 != nil && r.JSON200.Status == ingestclient.Completed && r.JSON200.Replayed == 1
	})
	if n := len(recv.Requests()); n != 1 {
		t.Errorf("%d forwarded, want 1 (user.created matches no destination)", n)
	}
	servertest.Eventually(t, 5*time.Second, "the replayed delivery recorded", func() bool {
		list, _ := f.c.ListEventsWithResponse(ctx, &ingestclient.ListEventsParams{EventType: ptr("order.paid")})
		return list.JSON200 != nil && len(list.JSON200.Data) == 1 &&
			f.event(t, list.JSON200.Data[0].EventId).Deliveries[0].Status == ingestclient.DeliveryStatusDelivered
	})
	// A bulk replay of delivered deliveries, narrowed by search, since and source.
	since := time.Now().Add(-time.Hour)
	status := ingestclient.CreateReplayRequestStatusDelivered
	rep2, err := f.c.CreateReplayWithResponse(ctx, ingestclient.CreateReplayRequest{SourceId: &src.SourceId, Since: &since, Search: ptr("order"),
		Status: &status})
	if err != nil || rep2.JSON202 == nil {
		t.Fatalf("bulk replay: %v %s", err, rep2.Body)
	}
	recv.Wait(t, 2, 10*time.Second)
	bad := ingestclient.CreateReplayRequest{Since: &since, Until: ptr(since.Add(-time.Minute))}
	if r, _ := f.c.CreateReplayWithResponse(ctx, bad); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("until before since: %d", r.StatusCode())
	}
	if r, _ := f.c.CreateReplayWithResponse(ctx, ingestclient.CreateReplayRequest{IssueId: ptr(uuid.New())}); r.StatusCode() != http.StatusNotFound {
		t.Errorf("unknown issue: %d", r.StatusCode())
	}
}
