package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
)

// DefaultSchedule is the wait before each retry, after the immediate first attempt: Svix's
// documented schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), about 27.6 hours in all.
// Attempts past its end wait as long as its last entry.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// DefaultRetention is how long `serve` keeps webhook messages unless configured otherwise:
// 90 days, as Svix keeps payloads.
const DefaultRetention = 90 * 24 * time.Hour

// WebhookOptions tune webhook delivery.
type WebhookOptions struct {
	// Workers is how many deliveries run at once in this process (default 200).
	Workers int
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
	// Retention is how long messages, their deliveries and attempts, and completed bulk
	// replays are kept: a periodic job (retention.go) deletes older ones whose deliveries are
	// all final. 0 = kept forever, no such job (`serve` defaults to DefaultRetention).
	Retention time.Duration
}

func (o *WebhookOptions) defaults() {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.DisableAfter == 0 {
		o.DisableAfter = 5 * 24 * time.Hour
	}
	if o.Workers == 0 {
		o.Workers = 200
	}
}

// MaxRetryAfter caps how long a receiver's Retry-After can push an attempt back.
const MaxRetryAfter = 24 * time.Hour

// responseBodyLimit is how much of a response body an attempt keeps.
const responseBodyLimit = 4 << 10

// maxRateWait is the longest a worker waits for a rate-limited endpoint's slot; a later slot
// is not taken, and the job is snoozed instead of holding a worker.
const maxRateWait = 2 * time.Second

// webhookDelivery makes the attempts of one delivery (one message at one endpoint, a job
// inserted with the message): signed HTTP attempts (Standard Webhooks), each recorded, retried
// on the schedule with jitter (never sooner than the receiver's Retry-After), held while the
// endpoint is paused, failed when it is disabled; an endpoint that answers 410 or keeps
// failing is disabled.
type webhookDelivery struct {
	river.WorkerDefaults[store.WebhookDeliveryArgs]
	db   *store.DB
	http *egress.Client
	opts WebhookOptions
	o    Options
}

func newWebhookDelivery(db *store.DB, o Options) *webhookDelivery {
	return &webhookDelivery{db: db, opts: o.Webhooks, o: o, http: egress.New(egress.Options{
		Timeout: o.Webhooks.Timeout, AllowPrivate: o.AllowPrivate, MaxResponseBytes: responseBodyLimit,
		UserAgent: "Switchboard-Webhooks/1.0",
	})}
}

// Timeout bounds a job: one attempt plus the bookkeeping around it.
func (w *webhookDelivery) Timeout(*river.Job[store.WebhookDeliveryArgs]) time.Duration {
	return w.opts.Timeout + 15*time.Second
}

// Work makes one attempt of a delivery and decides what comes next: nothing (delivered, failed
// for good, held, gone) or the next attempt, by snoozing the job until it is due. Snoozing
// does not spend River's attempts, which are left for failures of the worker itself.
func (w *webhookDelivery) Work(ctx context.Context, job *river.Job[store.WebhookDeliveryArgs]) error {
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
		next := w.o.Now().Add(wait).UTC()
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
		disabled, err := w.db.EndpointFailed(ctx, t.EndpointID, w.o.Now().Add(-w.opts.DisableAfter))
		if err != nil {
			return err
		}
		if disabled {
			w.o.Logger.Warn("webhook endpoint disabled after failing too long", "endpoint_id", t.EndpointID)
		}
	}
	if rec.NextAttemptAt != nil {
		return river.JobSnooze(wait)
	}
	return nil
}

// backoff is the wait before the attempt after attempt n: the schedule's entry with jitter,
// but never sooner than the receiver's Retry-After (itself capped at MaxRetryAfter).
func (w *webhookDelivery) backoff(n int, retryAfter time.Duration) time.Duration {
	base := w.opts.Schedule[min(n-1, len(w.opts.Schedule)-1)]
	wait := base
	if w.opts.Jitter > 0 {
		wait = time.Duration(float64(base) * (1 + w.opts.Jitter*(2*rand.Float64()-1))) //nolint:gosec // jitter needs no cryptographic randomness
	}
	return max(wait, min(retryAfter, MaxRetryAfter))
}

// result is what one attempt produced.
type result struct {
	ok         bool
	status     *int
	body, err  *string
	duration   time.Duration
	retryAfter time.Duration
}

// attempt POSTs the message to the endpoint with the Standard Webhooks headers.
func (w *webhookDelivery) attempt(ctx context.Context, t store.DeliveryTask) result {
	started := time.Now()
	ts := w.o.Now().Unix()
	secrets := []string{t.Secrets.Current}
	for _, o := range t.Secrets.Old {
		secrets = append(secrets, o.Key)
	}
	body := []byte(t.Body)
	sig, err := signature.Signatures(secrets, t.MessageID, ts, body)
	if err != nil {
		return failure(started, "cannot sign: "+err.Error())
	}
	h := make(http.Header, len(t.Headers)+4)
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Switchboard-Webhooks/1.0")
	h.Set("webhook-id", t.MessageID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	resp, err := w.http.Do(ctx, egress.Request{URL: t.URL, Header: h, Body: body})
	if resp == nil {
		return failure(started, egress.Describe(err))
	}
	// An answer whose body broke off still counts by its status.
	res := result{status: &resp.StatusCode, duration: time.Since(started), ok: resp.OK()}
	if len(resp.Body) > 0 {
		s := strings.ToValidUTF8(string(resp.Body), "\uFFFD")
		res.body = &s
	}
	if !res.ok {
		msg := fmt.Sprintf("The endpoint answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		res.err = &msg
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.o.Now())
	}
	return res
}

func failure(started time.Time, msg string) result {
	return result{err: &msg, duration: time.Since(started)}
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
