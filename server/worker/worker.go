// Package worker is where Switchboard's background work runs: it owns the one River client
// that works jobs, over the same PostgreSQL the API writes to, and registers every job kind,
// each in its own file:
//
//   - activitydispatch.go: at an activity's scheduled time, send it through the workspace's
//     dispatch config for its channel, record the attempt, retry, and move it on;
//   - webhookdelivery.go: make the signed attempts of one webhook delivery, on a retry
//     schedule, holding, failing and disabling as the endpoint calls for;
//   - bulkreplay.go: work through a bulk replay of webhook deliveries, batch by batch;
//   - retention.go: delete webhook messages and Ingest events past their retention, periodically;
//   - ingest.go: bulk replays of Ingest events, and the periodic backpressure check that opens
//     and resolves backpressure issues (forwarding an event is a webhook delivery).
//
// The jobs are inserted by the store (package store, jobs.go holds their arguments) in the
// statement or transaction that writes the rows causing them, so an accepted request is never
// without its job. Any number of `serve` processes on one database share the work: River runs
// each job in one worker at a time, and a job whose process died is run again (RescueAfter).
// Every call to a user-given URL goes through package egress. This package imports no API
// surface, and no surface imports it.
package worker

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/switchboard-dev/switchboard/server/metrics"
	"github.com/switchboard-dev/switchboard/store"
)

// Options tune the workers. Zero values take the documented defaults.
type Options struct {
	// Logger receives progress and failures (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for the times jobs decide with: when a retry is due, when an endpoint
	// has failed for too long, which messages are past their retention (default time.Now).
	// Elapsed times (an attempt's duration) are measured on the real clock.
	Now func() time.Time
	// AllowPrivate lets calls to user-given URLs (provider dispatches, webhook deliveries)
	// reach loopback, private and link-local addresses (local development and tests); off,
	// such destinations are refused when dialled (package egress).
	AllowPrivate bool
	// RescueAfter is how long a job may stay running before it is taken as lost (its process
	// died) and run again (default River's, 1 hour). It should exceed every worker's timeout:
	// a job running longer is run a second time beside it. Shorter than activity dispatch's
	// bound (Dispatch.Timeout + 20 s) or a webhook delivery's (Webhooks.Timeout + 15 s), it
	// becomes that bound.
	RescueAfter time.Duration
	// Dispatch tunes activity dispatch.
	Dispatch DispatchOptions
	// Webhooks tunes webhook delivery (of Dispatch messages and Ingest events alike), bulk
	// replays and retention.
	Webhooks WebhookOptions
	// Ingest tunes the Ingest side's own background work (backpressure issues).
	Ingest IngestOptions
}

// Runner is the running job client of one process.
type Runner struct {
	client *river.Client[pgx.Tx]
	pool   *pgxpool.Pool
	stop   chan struct{} // closed by Stop: ends promote
	done   chan struct{} // closed when promote has returned
}

// Start connects a pgx pool to dsn (River needs pgx to LISTEN for new jobs) and works every
// job kind until Stop (ctx ending does not stop them).
func Start(ctx context.Context, dsn string, db *store.DB, o Options) (*Runner, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Dispatch.defaults()
	o.Webhooks.defaults()
	o.Ingest.defaults()

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	// Each worker holds a connection only for its statements, not while it waits on a remote.
	cfg.MaxConns = int32(min(o.Dispatch.Workers/4+4+o.Webhooks.Workers/8, 60))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	jobTimeout := o.Dispatch.Timeout + 20*time.Second
	if o.RescueAfter > 0 {
		jobTimeout = min(jobTimeout, o.RescueAfter)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, newActivityDispatch(db, o))
	river.AddWorker(workers, newWebhookDelivery(db, o))
	river.AddWorker(workers, &bulkReplay{db: db})
	river.AddWorker(workers, &webhookRetention{db: db, retention: o.Webhooks.Retention, now: o.Now, log: o.Logger})
	river.AddWorker(workers, &ingestBulkReplay{db: db})
	river.AddWorker(workers, &ingestBackpressure{db: db, after: o.Ingest.BackpressureAfter, log: o.Logger})
	river.AddWorker(workers, &webhookPartitions{db: db, now: o.Now, log: o.Logger})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			store.DispatchQueue: {MaxWorkers: o.Dispatch.Workers},
			store.WebhookQueue:  {MaxWorkers: o.Webhooks.Workers},
		},
		RescueStuckJobsAfter: o.RescueAfter,
		Workers:              workers,
		PeriodicJobs:         append(append(retentionJobs(o.Webhooks.Retention), backpressureJobs(o.Ingest)...), partitionJobs()...),
		RetryPolicy:          fixedBackoff{schedule: o.Dispatch.Backoff, now: o.Now},
		Logger:               o.Logger,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    500 * time.Millisecond,
		// A bound for jobs without their own Timeout (activity dispatch): one provider call
		// plus the bookkeeping around it, or RescueAfter if that is shorter (River requires
		// it: a job still running then is taken for lost anyway).
		JobTimeout: jobTimeout,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	// Started on ctx's values but not its cancellation: canceling it would cancel the running
	// jobs' contexts too (River's hard stop), cutting attempts off mid-request, to be made
	// again (a duplicate at the receiver). `serve` cancels ctx on SIGINT/SIGTERM and then calls
	// Stop, which lets them finish.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		pool.Close()
		return nil, err
	}
	r := &Runner{client: client, pool: pool, stop: make(chan struct{}), done: make(chan struct{})}
	// Promotion runs until Stop, not until ctx ends (ctx may be only the start's).
	go r.promote(context.WithoutCancel(ctx), db, []string{store.DispatchQueue, store.WebhookQueue}, o.Logger)
	return r, nil
}

// promoteEvery is how late a scheduled job (an activity, a retry) can run, at most, beyond its
// moment.
const promoteEvery = 200 * time.Millisecond

// leaderCheckEvery is how often promote, on the leader, asks whether this process is still
// River's leader: for at most this long after losing it, it may promote beside the new leader,
// which is harmless (each job is promoted once).
const leaderCheckEvery = time.Second

// promote makes the queues' due jobs (scheduled activities, retries, webhook deliveries
// snoozed until their next attempt) available every promoteEvery (see store.PromoteDueJobs):
// River's own scheduler does it only every few seconds. Like River's maintenance and periodic
// jobs, it runs on the elected leader only (one process of all those on the database), and
// moves when the leader goes; each change is logged ("msg":"river leadership").
func (r *Runner) promote(ctx context.Context, db *store.DB, queues []string, log *slog.Logger) {
	defer close(r.done)
	t := time.NewTicker(promoteEvery)
	defer t.Stop()
	var leader bool
	var checked time.Time
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		tick, cancel := context.WithTimeout(ctx, 5*time.Second)
		// A follower asks at every tick (a read of River's one-row table), so that a new
		// leader takes over promptly; the leader every leaderCheckEvery.
		if !leader || time.Since(checked) >= leaderCheckEvery {
			now, err := db.IsRiverLeader(tick, r.client.ID())
			switch {
			case err != nil:
				log.WarnContext(tick, "river leadership check", "error", err)
			case now != leader:
				leader = now
				log.InfoContext(tick, "river leadership", "leader", leader, "worker_id", r.client.ID())
			}
			checked = time.Now()
		}
		if leader {
			if _, err := db.PromoteDueJobs(tick, queues); err != nil {
				log.WarnContext(tick, "promote due jobs", "error", err)
			}
		}
		cancel()
	}
}

// ID is this process's River client id: its leader_id in river_leader when it is the leader.
func (r *Runner) ID() string { return r.client.ID() }

// Metrics returns a collector of the statistics of the workers' pgx pool (db_name="river"),
// for metrics.Registry.
func (r *Runner) Metrics() prometheus.Collector { return metrics.PgxPool(r.pool, "river") }

// Stop lets running jobs finish (until ctx ends) and closes the pool.
func (r *Runner) Stop(ctx context.Context) error {
	close(r.stop)
	<-r.done
	err := r.client.Stop(ctx)
	r.pool.Close()
	return err
}

// textColumn makes an answer's bytes storable in a text column, which refuses invalid UTF-8 and
// NUL: both become U+FFFD (as JSON decoders read invalid bytes). Refused, the attempt would never
// be recorded, and its job would fail the same way at every retry.
func textColumn(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
