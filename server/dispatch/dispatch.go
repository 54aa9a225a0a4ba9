// Package dispatch works the background jobs: at an activity's scheduled time it sends the
// activity to the workspace's active dispatch config for its channel, records every attempt,
// retries with backoff, and moves the activity to DISPATCHED or FAILED. Jobs live in River over
// the same PostgreSQL, so any number of `serve` processes share the work, and River runs each
// job in one worker at a time.
package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchboard-dev/switchboard/server/activities"
	"github.com/switchboard-dev/switchboard/server/delivery"
	"github.com/switchboard-dev/switchboard/store"
)

// Options tune the workers.
type Options struct {
	// Workers is how many jobs run at once in this process (default 100).
	Workers int
	// Backoff is the wait before attempt n+1 after attempt n failed, indexed by n-1
	// (default 5 s, 30 s).
	Backoff []time.Duration
	// Timeout bounds one HTTP call to a provider (default 10 s, as documented).
	Timeout time.Duration
	// Logger receives progress and failures.
	Logger *slog.Logger
	// AllowPrivate lets activities be sent to loopback, private and link-local addresses
	// (local development and tests); off, a config's base URL resolving to one is refused
	// when dialled, as for webhook endpoints (delivery.NewClient).
	AllowPrivate bool
	// Queues are more queues to work besides the dispatch queue, for jobs of other packages
	// (webhook delivery) whose workers Register adds.
	Queues map[string]river.QueueConfig
	// Register adds other packages' workers to the client.
	Register func(*river.Workers)
	// PeriodicJobs are other packages' jobs to insert on a schedule (webhook retention). Only
	// the process River elects leader inserts them, so several processes do not repeat them.
	PeriodicJobs []*river.PeriodicJob
	// RescueAfter is how long a job may stay running before it is taken as lost (its process
	// died) and run again (default River's, 1 hour). It must exceed every worker's timeout.
	RescueAfter time.Duration
}

// Runner is the running job client of one process.
type Runner struct {
	client *river.Client[pgx.Tx]
	pool   *pgxpool.Pool
	stop   chan struct{} // closed by Stop: ends promote
	done   chan struct{} // closed when promote has returned
}

// Start connects a pgx pool to dsn (River needs pgx to LISTEN for new jobs) and starts
// working jobs until Stop.
func Start(ctx context.Context, dsn string, db *store.DB, opts Options) (*Runner, error) {
	if opts.Workers == 0 {
		opts.Workers = 100
	}
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{5 * time.Second, 30 * time.Second}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(min(opts.Workers/4+4, 40))
	queues := map[string]river.QueueConfig{store.DispatchQueue: {MaxWorkers: opts.Workers}}
	for name, q := range opts.Queues {
		queues[name] = q
		cfg.MaxConns = min(cfg.MaxConns+int32(q.MaxWorkers/8), 60)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{db: db, http: delivery.NewClient(opts.Timeout, opts.AllowPrivate), log: opts.Logger})
	if opts.Register != nil {
		opts.Register(workers)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:               queues,
		RescueStuckJobsAfter: opts.RescueAfter,
		Workers:              workers,
		PeriodicJobs:         opts.PeriodicJobs,
		RetryPolicy:          backoff(opts.Backoff),
		Logger:               opts.Logger,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    500 * time.Millisecond,
		JobTimeout:           opts.Timeout + 20*time.Second,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	r := &Runner{client: client, pool: pool, stop: make(chan struct{}), done: make(chan struct{})}
	promoted := []string{store.DispatchQueue}
	for q := range opts.Queues {
		promoted = append(promoted, q)
	}
	go r.promote(db, promoted, opts.Logger)
	return r, nil
}

// promoteEvery is how late a scheduled job (an activity, a retry) can run, at most, beyond its moment.
const promoteEvery = 200 * time.Millisecond

// promote makes the queues' due jobs (scheduled activities, retries, webhook deliveries
// snoozed until their next attempt) available every promoteEvery (see store.PromoteDueJobs).
func (r *Runner) promote(db *store.DB, queues []string, log *slog.Logger) {
	defer close(r.done)
	t := time.NewTicker(promoteEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := db.PromoteDueJobs(ctx, queues); err != nil {
			log.Warn("promote due jobs", "error", err)
		}
		cancel()
	}
}

// Stop lets running jobs finish (until ctx ends) and closes the pool.
func (r *Runner) Stop(ctx context.Context) error {
	close(r.stop)
	<-r.done
	err := r.client.Stop(ctx)
	r.pool.Close()
	return err
}

// backoff is a River retry policy with a fixed schedule.
type backoff []time.Duration

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	i := min(job.Attempt-1, len(b)-1)
	return time.Now().Add(b[max(i, 0)])
}

type worker struct {
	river.WorkerDefaults[store.DispatchActivityArgs]
	db   *store.DB
	http *http.Client
	log  *slog.Logger
}

// outcome is what one attempt produced.
type outcome struct {
	statusCode *int
	externalID *string
	code, msg  string // set on failure
}

func (w *worker) Work(ctx context.Context, job *river.Job[store.DispatchActivityArgs]) error {
	ws, id := job.Args.WorkspaceID, job.Args.ActivityID
	a, target, ok, err := w.db.ClaimDispatch(ctx, ws, id)
	if err != nil {
		return err
	}
	if !ok {
		return nil // canceled (or otherwise moved on) before its time: nothing is sent
	}
	started := time.Now()
	attempt := store.DispatchAttempt{ActivityID: id, Attempt: job.Attempt, StartedAt: started}
	var out outcome
	if !target.Found {
		out = outcome{code: "NO_ACTIVE_DISPATCH_CONFIG", msg: fmt.Sprintf("The workspace has no active dispatch config for channel %s", a.Channel)}
	} else {
		cfg := target.Config
		attempt.DispatchConfigID, attempt.ProviderCode = &cfg.ID, &cfg.ProviderCode
		out = w.send(ctx, a, cfg, target.Credentials, target.ProtocolType)
	}
	attempt.DurationMS = int(time.Since(started).Milliseconds())
	attempt.StatusCode, attempt.ExternalID = out.statusCode, out.externalID
	if out.code != "" {
		attempt.Error = &out.msg
	}
	ready := []string{store.StatusReady}
	switch {
	case out.code == "":
		_, err := w.db.FinishDispatch(ctx, ws, attempt, &store.Transition{From: ready, To: store.StatusDispatched,
			EventType: "DISPATCH_SUCCESS", ExternalID: out.externalID})
		return err
	case !target.Found || job.Attempt >= job.MaxAttempts:
		// No config is not worth retrying: nothing would change by itself.
		moved, err := w.db.FinishDispatch(ctx, ws, attempt, &store.Transition{From: ready, To: store.StatusFailed,
			EventType: "DISPATCH_FAILED", ErrorCode: &out.code, ErrorMessage: &out.msg})
		if moved {
			w.log.Warn("activity dispatch failed", "activity_id", id, "error_code", out.code)
		}
		return err
	default:
		if _, err := w.db.FinishDispatch(ctx, ws, attempt, nil); err != nil {
			return err
		}
		w.log.Info("dispatch attempt failed; will retry", "activity_id", id, "attempt", job.Attempt, "error_code", out.code)
		return fmt.Errorf("%s: %s", out.code, out.msg)
	}
}

func (w *worker) send(ctx context.Context, a store.Activity, cfg store.DispatchConfig, creds map[string]string, protocol string) outcome {
	if protocol == "MOCK" {
		ext := "mock-" + uuid.NewString()
		ok := http.StatusOK
		return outcome{statusCode: &ok, externalID: &ext}
	}
	if cfg.BaseURL == nil || *cfg.BaseURL == "" {
		return outcome{code: "CONFIG_INVALID", msg: "The dispatch config has no base_url"}
	}
	body, err := json.Marshal(activities.ToAPI(a))
	if err != nil {
		return outcome{code: "INTERNAL", msg: err.Error()}
	}
	url := strings.TrimSuffix(*cfg.BaseURL, "/") + "/activities"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{code: "CONFIG_INVALID", msg: "Invalid base_url: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", creds["apiKey"])
	req.Header.Set("Idempotency-Key", a.ID.String())
	resp, err := w.http.Do(req)
	if err != nil {
		code := "NETWORK_ERROR"
		var te interface{ Timeout() bool }
		var refused *delivery.RefusedError
		switch {
		case errors.As(err, &refused):
			code = "DESTINATION_REFUSED"
		case errors.As(err, &te) && te.Timeout():
			code = "TIMEOUT"
		}
		return outcome{code: code, msg: err.Error()}
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	status := resp.StatusCode
	if status < 200 || status > 299 {
		return outcome{statusCode: &status, code: fmt.Sprintf("HTTP_%d", status),
			msg: fmt.Sprintf("Provider answered %d: %s", status, truncate(string(respBody), 500))}
	}
	// A provider may give its own id for the activity; the documented YOM answer is not
	// specified, so look for the usual names.
	var ids struct {
		ID         any `json:"id"`
		ExternalID any `json:"externalId"`
	}
	_ = json.Unmarshal(respBody, &ids)
	var ext *string
	for _, v := range []any{ids.ExternalID, ids.ID} {
		if v != nil {
			s := fmt.Sprint(v)
			ext = &s
			break
		}
	}
	return outcome{statusCode: &status, externalID: ext}
}

// truncate keeps at most n bytes of a provider's answer, cut between characters, with invalid
// UTF-8 replaced: the excerpt is stored in a text column, which refuses invalid UTF-8 (the
// attempt would then never be recorded, nor the activity moved).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
