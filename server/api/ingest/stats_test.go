package ingest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestDestinationDeliveryStats: a destination's per-minute counts hold its forwarding attempts
// (two failures, then a success), every minute of the window listed; another workspace's
// destination is a 404; since after until is a 400.
func TestDestinationDeliveryStats(t *testing.T) {
	t.Parallel()
	opts := servertest.FastWorkers()
	opts.Webhooks.Schedule = []time.Duration{50 * time.Millisecond}
	env := servertest.New(t, servertest.WithWorkers(opts))
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Generic", Type: ingestclient.SourceTypeNone})
	recv := servertest.NewReceiver(t)
	recv.SetRespond(func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	dest := f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}, MaxAttempts: ptr(3)})
	if status, b := receive(t, env, http.MethodPost, src.Url, "application/json", `{"type":"order.created"}`, nil); status != http.StatusOK {
		t.Fatalf("receive: %d %s", status, b)
	}
	recv.Wait(t, 3, 15*time.Second)
	until := time.Now().Add(time.Minute)
	since := until.Add(-time.Hour)
	var stats *ingestclient.DeliveryStats
	servertest.Eventually(t, 5*time.Second, "three attempts counted", func() bool {
		r, err := f.c.GetDestinationDeliveryStatsWithResponse(ctx, dest.DestinationId, &ingestclient.GetDestinationDeliveryStatsParams{Since: &since, Until: &until})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("stats: %v %s", err, r.Body)
		}
		stats = r.JSON200
		ok, failed := 0, 0
		for _, m := range stats.Data {
			ok, failed = ok+m.Succeeded, failed+m.Failed
		}
		return ok == 1 && failed == 2
	})
	if len(stats.Data) != 61 || !stats.Data[0].Minute.Equal(since.UTC().Truncate(time.Minute)) {
		t.Fatalf("window: %d minutes from %s", len(stats.Data), stats.Data[0].Minute)
	}
	_, otherKey := env.Workspace(t, "ingest:read")
	if r, _ := env.Ingest(t, otherKey).GetDestinationDeliveryStatsWithResponse(ctx, dest.DestinationId, nil); r.StatusCode() != 404 {
		t.Fatalf("another workspace's destination: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := f.c.GetDestinationDeliveryStatsWithResponse(ctx, dest.DestinationId, &ingestclient.GetDestinationDeliveryStatsParams{Since: &until, Until: &since}); r.StatusCode() != 400 {
		t.Fatalf("since after until: %d %s", r.StatusCode(), r.Body)
	}
}
