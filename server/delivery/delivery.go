// Package delivery makes webhook deliveries: one River job per (message, endpoint), inserted
// with the message, makes the signed HTTP attempts (Standard Webhooks), records each one,
// retries failures on a schedule with jitter (honouring Retry-After), holds deliveries of
// paused endpoints, disables endpoints that answer 410 or keep failing, and refuses internal
// destinations at dial time unless allowed, and deletes messages past their retention on a
// schedule (retention.go). Its jobs run in the River client package dispatch starts, on their
// own queue.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/store"
)

// DefaultSchedule is the wait before each retry, after the immediate first attempt: Svix's
// documented schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), about 27.6 hours in all.
// Attempts past its end wait as long as its last entry.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Options tune delivery.
type Options struct {
	// Schedule is the wait before attempt n+1 after attempt n failed, indexed by n-1
	// (default DefaultSchedule).
	Schedule []time.Duration
	// Jitter spreads each wait by up to this fraction either way (default 0.2; negative = none).
	Jitter float64
	// Timeout bounds one attempt, connection to last byte (default 15 s).
	Timeout time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed for this long
	// (default 5 days).
	DisableAfter time.Duration
	// AllowPrivate lets deliveries reach loopback, private and link-local addresses (local
	// development and tests); off, such destinations are refused when dialled.
	AllowPrivate bool
	// Workers is how many deliveries run at once in this process (default 200).
	Workers int
	// Logger receives failures of the engine itself, and the retention job's progress.
	Logger *slog.Logger
	// Retention is how long messages, their deliveries and attempts, and completed bulk
	// replays are kept: a periodic job (Jobs.PeriodicJobs) deletes older ones whose deliveries
	// are all final. 0 = kept forever, no such job (`serve` defaults to DefaultRetention).
	Retention time.Duration
}

// MaxRetryAfter caps how long a receiver's Retry-After can push an attempt back.
const MaxRetryAfter = 24 * time.Hour

// responseBodyLimit is how much of a response body an attempt keeps.
const responseBodyLimit = 4 << 10

// Jobs is webhook delivery's share of a River client: its queue, its workers and its periodic
// jobs (see dispatch.Options).
type Jobs struct {
	Queues       map[string]river.QueueConfig
	Register     func(*river.Workers)
	PeriodicJobs []*river.PeriodicJob
}

// NewClient returns the HTTP client every outbound call to a user-given URL goes through
// (webhook deliveries, activity dispatch to a provider): each attempt bounded by timeout,
// redirects not followed, no proxy, and loopback, private and link-local destinations refused
// when dialled unless allowPrivate.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guard
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would be dialled instead of the endpoint, bypassing the guard
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect is an answer, not a delivery (3xx counts as a failure, as Standard
		// Webhooks advises), and following it could lead anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// New returns the delivery jobs for a River client (see dispatch.Options).
func New(db *store.DB, opts Options) Jobs {
	if opts.Schedule == nil {
		opts.Schedule = DefaultSchedule
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.2
	}
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.DisableAfter == 0 {
		opts.DisableAfter = 5 * 24 * time.Hour
	}
	if opts.Workers == 0 {
		opts.Workers = 200
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	client := NewClient(opts.Timeout, opts.AllowPrivate)
	w := &worker{db: db, http: client, opts: opts}
	return Jobs{
		Queues: map[string]river.QueueConfig{store.WebhookQueue: {MaxWorkers: opts.Workers}},
		Register: func(ws *river.Workers) {
			river.AddWorker(ws, w)
			river.AddWorker(ws, &replayWorker{db: db})
			river.AddWorker(ws, &retentionWorker{db: db, retention: opts.Retention, log: opts.Logger})
		},
		PeriodicJobs: retentionJobs(opts.Retention),
	}
}

type worker struct {
	river.WorkerDefaults[store.WebhookDeliveryArgs]
	db   *store.DB
	http *http.Client
	opts Options
}

// Timeout bounds a job: one attempt plus the bookkeeping around it.
func (w *worker) Timeout(*river.Job[store.WebhookDeliveryArgs]) time.Duration {
	return w.opts.Timeout + 15*time.Second
}

// Work makes one attempt of a delivery and decides what comes next: nothing (delivered, failed
// for good, held, gone) or the next attempt, by snoozing the job until it is due. Snoozing
// does not spend River's attempts, which are left for failures of the worker itself.
func (w *worker) Work(ctx context.Context, job *river.Job[store.WebhookDeliveryArgs]) error {
	t, ok, err := w.db.LoadDelivery(ctx, job.Args.DeliveryID)
	if err != nil || !ok {
		return err
	}
	if t.Status != store.DeliveryPending {
		return nil // delivered by a replay meanwhile, held, or failed for good: nothing to do
	}
	switch t.EndpointStatus {
	case store.EndpointDisabled:
		reason := "The endpoint is disabled"
		if t.DisabledReason != nil {
			reason += ": " + *t.DisabledReason
		}
		return w.db.FailDelivery(ctx, t.DeliveryID, reason)
	case store.EndpointPaused:
		held, err := w.db.HoldDelivery(ctx, t.DeliveryID, t.EndpointID)
		if err != nil || held {
			return err
		}
		// Resumed between the two reads: deliver.
	}
	if t.RateLimit != nil {
		// The endpoint's budget is shared by every process (see store.ReserveEndpointSlot).
		wait, reserved, err := w.db.ReserveEndpointSlot(ctx, t.EndpointID, *t.RateLimit, maxRateWait)
		if err != nil {
			return err
		}
		if !reserved {
			return river.JobSnooze(wait - maxRateWait/2) // back a little before the slot comes within reach
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return river.JobSnooze(0)
			}
		}
	}

	number := t.Attempts + 1
	res := w.attempt(ctx, t)
	rec := store.AttemptRecord{DeliveryID: t.DeliveryID, Number: number, Trigger: job.Args.Trigger, Succeeded: res.ok,
		ResponseStatusCode: res.status, ResponseBody: res.body, Duration: res.duration, Error: res.err}
	if res.ok {
		if err := w.db.RecordAttempt(ctx, rec); err != nil {
			return err
		}
		if t.FailingSince != nil {
			return w.db.EndpointSucceeded(ctx, t.EndpointID)
		}
		return nil
	}
	gone := res.status != nil && *res.status == http.StatusGone
	var wait time.Duration
	if job.Args.Trigger == store.TriggerScheduled && !gone && number < t.MaxAttempts {
		wait = w.backoff(number, res.retryAfter)
		next := time.Now().Add(wait).UTC()
		rec.NextAttemptAt = &next
	}
	if err := w.db.RecordAttempt(ctx, rec); err != nil {
		return err
	}
	if gone {
		if err := w.db.DisableEndpoint(ctx, t.EndpointID, "The endpoint answered 410 Gone"); err != nil {
			return err
		}
	} else {
		disabled, err := w.db.EndpointFailed(ctx, t.EndpointID, time.Now().Add(-w.opts.DisableAfter))
		if err != nil {
			return err
		}
		if disabled {
			w.opts.Logger.Warn("webhook endpoint disabled after failing too long", "endpoint_id", t.EndpointID)
		}
	}
	if rec.NextAttemptAt != nil {
		return river.JobSnooze(wait)
	}
	return nil
}

// backoff is the wait before the attempt after attempt n: the schedule's entry with jitter,
// but never sooner than the receiver's Retry-After (itself capped at MaxRetryAfter).
func (w *worker) backoff(n int, retryAfter time.Duration) time.Duration {
	base := w.opts.Schedule[min(n-1, len(w.opts.Schedule)-1)]
	wait := base
	if w.opts.Jitter > 0 {
		wait = time.Duration(float64(base) * (1 + w.opts.Jitter*(2*rand.Float64()-1)))
	}
	return max(wait, min(retryAfter, MaxRetryAfter))
}

// maxRateWait is the longest a worker waits for a rate-limited endpoint's slot; a later slot
// is not taken, and the job is snoozed instead of holding a worker.
const maxRateWait = 2 * time.Second

// result is what one attempt produced.
type result struct {
	ok         bool
	status     *int
	body, err  *string
	duration   time.Duration
	retryAfter time.Duration
}

// attempt POSTs the message to the endpoint with the Standard Webhooks headers.
func (w *worker) attempt(ctx context.Context, t store.DeliveryTask) result {
	started := time.Now()
	ts := started.Unix()
	secrets := []string{t.Secrets.Current}
	for _, o := range t.Secrets.Old {
		secrets = append(secrets, o.Key)
	}
	body := []byte(t.Body)
	sig, err := Signatures(secrets, t.MessageID, ts, body)
	if err != nil {
		return failure(started, "cannot sign: "+err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return failure(started, "invalid endpoint URL: "+err.Error())
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Webhooks/1.0")
	req.Header.Set("webhook-id", t.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.http.Do(req)
	if err != nil {
		return failure(started, describe(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, responseBodyLimit))
	// Drain a little more so the connection can be reused; a huge body is not worth it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := result{status: &resp.StatusCode, duration: time.Since(started), ok: resp.StatusCode >= 200 && resp.StatusCode <= 299}
	if len(b) > 0 {
		s := strings.ToValidUTF8(string(b), "\uFFFD")
		res.body = &s
	}
	if !res.ok {
		msg := fmt.Sprintf("The endpoint answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		res.err = &msg
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

func failure(started time.Time, msg string) result {
	return result{err: &msg, duration: time.Since(started)}
}

// describe says in a few words why a request got no answer.
func describe(err error) string {
	var refused *RefusedError
	var te interface{ Timeout() bool }
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &te) && te.Timeout():
		return "timeout: no answer within the delivery timeout"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "DNS lookup failed: " + dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "connection failed: " + opErr.Err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date); 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// replayWorker works through a bulk replay in batches, each committed with its progress.
type replayWorker struct {
	river.WorkerDefaults[store.WebhookBulkReplayArgs]
	db *store.DB
}

func (w *replayWorker) Work(ctx context.Context, job *river.Job[store.WebhookBulkReplayArgs]) error {
	for {
		done, err := w.db.RunBulkReplayBatch(ctx, job.Args.ReplayID, 500)
		if err != nil || done {
			return err
		}
	}
}

// Timeout bounds one run of a bulk replay; a large one that runs out of time is retried and
// continues from its last committed batch, as it does after a crash.
func (w *replayWorker) Timeout(*river.Job[store.WebhookBulkReplayArgs]) time.Duration {
	return 30 * time.Second
}
