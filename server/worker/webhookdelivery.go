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
	"github.com/switchboard-dev/switchboard/server/metrics"
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

// webhookDelivery makes the attempts of one delivery: a message at an endpoint (Dispatch) or an
// event at a destination (Ingest), one engine for both (the delivery's store.Target says
// which): signed HTTP attempts (Standard Webhooks), each recorded, retried on the schedule with
// jitter (never sooner than the receiver's Retry-After), held while the target is paused,
// failed when it is disabled; a target that answers 410 or keeps failing is disabled. A
// destination's failures also count in its delivery issues, which its next success resolves.
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

// Timeout bounds a job: one attempt plus the bookkeeping around it, or RescueAfter if that is
// shorter: River's rescuer leaves a job alone until its timeout has passed, so a longer one
// would hold a dead process's deliveries back beyond RescueAfter.
func (w *webhookDelivery) Timeout(*river.Job[store.WebhookDeliveryArgs]) time.Duration {
	d := w.opts.Timeout + 15*time.Second
	if w.o.RescueAfter > 0 {
		d = min(d, w.o.RescueAfter)
	}
	return d
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
	switch t.TargetStatus {
	case store.EndpointDisabled:
		reason := "The " + t.Target.Kind + " is disabled"
		if t.DisabledReason != nil {
			reason += ": " + *t.DisabledReason
		}
		if err := w.db.FailDelivery(ctx, t.DeliveryID, reason); err != nil {
			return err
		}
		metrics.ObserveDeliveryFailed(sideOf(t.Target))
		return nil
	case store.EndpointPaused:
		held, err := w.db.HoldDelivery(ctx, t.DeliveryID, t.Target)
		if err != nil || held {
			return err
		}
		// Resumed between the two reads: deliver.
	}
	if t.RateLimit != nil {
		// The target's budget is shared by every process (see store.ReserveSlot).
		wait, reserved, err := w.db.ReserveSlot(ctx, t.Target, *t.RateLimit, maxRateWait)
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
	side := sideOf(t.Target)
	if res.ok {
		if err := w.db.RecordAttempt(ctx, rec); err != nil {
			return err
		}
		metrics.ObserveAttempt(side, true)
		// Accepted → delivered: the job was inserted with the message or event it delivers
		// (a replay's job was not, and is counted without a latency).
		var since time.Duration
		if job.Args.Trigger == store.TriggerScheduled {
			since = time.Since(job.CreatedAt)
		}
		metrics.ObserveDelivered(side, since)
		if t.FailingSince != nil || t.OpenIssues {
			return w.db.TargetSucceeded(ctx, t.Target)
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
	metrics.ObserveAttempt(side, false)
	if rec.NextAttemptAt == nil {
		metrics.ObserveDeliveryFailed(side)
	}
	if gone {
		if err := w.db.DisableTarget(ctx, t.Target, "The "+t.Target.Kind+" answered 410 Gone"); err != nil {
			return err
		}
	}
	// A disabled endpoint's failure record stays as it was; a destination's failure still
	// counts in its delivery issue.
	if !gone || t.Target.Kind == store.TargetDestination {
		disabled, err := w.db.TargetFailed(ctx, t.Target, w.o.Now().Add(-w.opts.DisableAfter),
			store.Failure{DeliveryID: t.DeliveryID, Kind: res.kind})
		if err != nil {
			return err
		}
		if disabled && !gone {
			w.o.Logger.Warn("webhook "+t.Target.Kind+" disabled after failing too long", t.Target.Kind+"_id", t.Target.ID)
		}
	}
	if rec.NextAttemptAt != nil {
		return river.JobSnooze(wait)
	}
	return nil
}

// sideOf is the metrics side of a target: a Dispatch endpoint or an Ingest destination.
func sideOf(t store.Target) string {
	if t.Kind == store.TargetDestination {
		return metrics.SideIngest
	}
	return metrics.SideDispatch
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
	// kind names a failure for the issue it counts in: "http_503", or egress.Code's word.
	kind string
}

// attempt sends the delivery to its target with the Standard Webhooks headers: a message as
// the JSON envelope it was stored as; an event byte for byte, with the method, content type and
// vendor headers it was received with, and the inbound verification status.
func (w *webhookDelivery) attempt(ctx context.Context, t store.DeliveryTask) result {
	started := time.Now()
	ts := w.o.Now().Unix()
	secrets := []string{t.Secrets.Current}
	for _, o := range t.Secrets.Old {
		secrets = append(secrets, o.Key)
	}
	sig, err := signature.Signatures(secrets, t.WebhookID, ts, t.Body)
	if err != nil {
		return failure(started, "cannot sign: "+err.Error(), "signing_failed")
	}
	h := make(http.Header, len(t.Forward)+len(t.Headers)+8)
	for k, vs := range t.Forward {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	if t.ContentType != "" {
		h.Set("Content-Type", t.ContentType)
	} else {
		h.Del("Content-Type")
	}
	if t.Forward == nil {
		h.Set("User-Agent", "Switchboard-Webhooks/1.0")
	}
	h.Set("webhook-id", t.WebhookID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	req := egress.Request{Method: t.Method, URL: t.URL, Header: h, Body: t.Body}
	if t.Target.Kind == store.TargetDestination {
		h.Set(VerificationHeader, t.Verification)
		if t.SourceID != nil {
			h.Set(SourceHeader, t.SourceID.String())
		}
		if a := t.Auth; a != nil {
			switch a.Type {
			case store.AuthBearer:
				h.Set("Authorization", "Bearer "+a.Secret)
			case store.AuthBasic:
				req.Username, req.Password = a.Username, a.Secret
			case store.AuthAPIKey:
				h.Set(a.Header, a.Secret)
			}
		}
	}
	resp, err := w.http.Do(ctx, req)
	if resp == nil {
		return failure(started, egress.Describe(err), egress.Code(err))
	}
	// An answer whose body broke off still counts by its status.
	res := result{status: &resp.StatusCode, duration: time.Since(started), ok: resp.OK()}
	if len(resp.Body) > 0 {
		s := strings.ToValidUTF8(string(resp.Body), "\uFFFD")
		res.body = &s
	}
	if !res.ok {
		msg := fmt.Sprintf("The %s answered %d %s", t.Target.Kind, resp.StatusCode, http.StatusText(resp.StatusCode))
		res.err = &msg
		res.kind = "http_" + strconv.Itoa(resp.StatusCode)
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.o.Now())
	}
	return res
}

// VerificationHeader carries an event's inbound signature status (verified, failed or
// unchecked) to its destinations, as Hookdeck's x-hookdeck-verified does.
const VerificationHeader = "X-Switchboard-Verification"

// SourceHeader carries the id of the source an event was received at.
const SourceHeader = "X-Switchboard-Source-Id"

func failure(started time.Time, msg, kind string) result {
	return result{err: &msg, duration: time.Since(started), kind: kind}
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
