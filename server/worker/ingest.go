package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/server/eventfilter"
	"github.com/switchboard-dev/switchboard/server/metrics"
	"github.com/switchboard-dev/switchboard/store"
)

// IngestOptions tune the Ingest side's background work. Forwarding itself is webhook delivery
// (webhookdelivery.go, WebhookOptions): one engine for both sides.
type IngestOptions struct {
	// BackpressureAfter is how long a destination's oldest due delivery may wait before a
	// backpressure issue opens (default metrics.BackpressureAfter, 10 minutes: the threshold
	// of the documented `backpressure` alert on the queues' oldest due job, the same signal
	// seen per destination).
	BackpressureAfter time.Duration
	// BackpressureEvery is how often that is checked (default 1 minute).
	BackpressureEvery time.Duration
}

func (o *IngestOptions) defaults() {
	if o.BackpressureAfter == 0 {
		o.BackpressureAfter = metrics.BackpressureAfter
	}
	if o.BackpressureEvery == 0 {
		o.BackpressureEvery = time.Minute
	}
}

// ingestReplayBatch is how many events one transaction of a bulk replay handles.
const ingestReplayBatch = 200

// ingestBulkReplay works through a bulk replay of Ingest events (POST /replays, or an issue's
// replay) in batches, each committed with its progress and its deliveries' jobs
// (store.RunIngestReplayBatch). Rejected events are routed here, with the destinations' filters.
type ingestBulkReplay struct {
	river.WorkerDefaults[store.IngestBulkReplayArgs]
	db     *store.DB
	router eventfilter.Router
}

// Work replays batches until the replay is complete.
func (w *ingestBulkReplay) Work(ctx context.Context, job *river.Job[store.IngestBulkReplayArgs]) error {
	route := func(events []store.EventToRoute, dests map[uuid.UUID][]store.RouteDestination) [][]uuid.UUID {
		out := make([][]uuid.UUID, len(events))
		for i, e := range events {
			t := ""
			if e.EventType != nil {
				t = *e.EventType
			}
			out[i] = w.router.Match(dests[e.SourceID], t, e.ContentType, e.Body)
		}
		return out
	}
	for {
		done, err := w.db.RunIngestReplayBatch(ctx, job.Args.ReplayID, ingestReplayBatch, route)
		if err != nil || done {
			return err
		}
	}
}

// Timeout bounds one run; a large replay that runs out of time continues from its last batch.
func (w *ingestBulkReplay) Timeout(*river.Job[store.IngestBulkReplayArgs]) time.Duration {
	return 30 * time.Second
}

// backpressureJobs is the periodic backpressure check.
func backpressureJobs(o IngestOptions) []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(o.BackpressureEvery),
		func() (river.JobArgs, *river.InsertOpts) { return store.IngestBackpressureArgs{}, nil },
		&river.PeriodicJobOpts{ID: store.IngestBackpressureArgs{}.Kind(), RunOnStart: true})}
}

// ingestBackpressure opens a backpressure issue for each destination whose oldest due delivery
// has waited longer than BackpressureAfter (a destination that cannot keep up, or deliveries
// that stopped being worked), and resolves those whose backlog is gone.
type ingestBackpressure struct {
	river.WorkerDefaults[store.IngestBackpressureArgs]
	db    *store.DB
	after time.Duration
	log   *slog.Logger
}

func (w *ingestBackpressure) Work(ctx context.Context, _ *river.Job[store.IngestBackpressureArgs]) error {
	opened, resolved, err := w.db.CheckBackpressure(ctx, w.after)
	if err != nil {
		return err
	}
	if opened > 0 || resolved > 0 {
		w.log.Info("ingest backpressure", "issues_seen", opened, "issues_resolved", resolved)
	}
	return nil
}
