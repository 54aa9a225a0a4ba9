package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/resolve"
	"github.com/switchboard-dev/switchboard/store"
)

// DispatchOptions tune activity dispatch.
type DispatchOptions struct {
	// Workers is how many activities are dispatched at once in this process (default 100).
	Workers int
	// Backoff is the wait before attempt n+1 after attempt n failed, indexed by n-1
	// (default 5 s, 30 s); store.DispatchAttempts bounds the attempts.
	Backoff []time.Duration
	// Timeout bounds one HTTP call to a provider (default 10 s, as documented).
	Timeout time.Duration
}

func (o *DispatchOptions) defaults() {
	if o.Workers == 0 {
		o.Workers = 100
	}
	if o.Backoff == nil {
		o.Backoff = []time.Duration{5 * time.Second, 30 * time.Second}
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
}

// fixedBackoff is a River retry policy with a fixed schedule.
type fixedBackoff struct {
	schedule []time.Duration
	now      func() time.Time
}

// NextRetry is when a job that failed its attempt is tried again.
func (b fixedBackoff) NextRetry(job *rivertype.JobRow) time.Time {
	i := min(job.Attempt-1, len(b.schedule)-1)
	return b.now().Add(b.schedule[max(i, 0)])
}

// activityDispatch sends an activity, at its scheduled time, to the workspace's active
// dispatch config for its channel: MOCK answers success itself; a REST provider gets
// POST {baseUrl}/activities with x-api-key and the activity as the API shows it, its target
// user (locked) and resolved attributes included. What resolves on dispatch (an ON_DISPATCH
// target user, ON_DISPATCH attributes) is resolved first; when that fails the activity becomes
// UNRESOLVED and nothing is sent. It records every attempt, retries (River's attempts, on the
// Backoff schedule) and moves the activity to DISPATCHED or FAILED.
type activityDispatch struct {
	river.WorkerDefaults[store.DispatchActivityArgs]
	db    *store.DB
	http  *egress.Client
	hooks *resolve.Hooks
	log   *slog.Logger
}

func newActivityDispatch(db *store.DB, o Options) *activityDispatch {
	return &activityDispatch{db: db, log: o.Logger, http: egress.New(egress.Options{
		Timeout: o.Dispatch.Timeout, AllowPrivate: o.AllowPrivate, MaxResponseBytes: 64 << 10,
	}), hooks: resolve.New(resolve.Options{AllowPrivate: o.AllowPrivate, Now: o.Now})}
}

// outcome is what one attempt produced.
type outcome struct {
	statusCode *int
	externalID *string
	code, msg  string // set on failure
}

// Work makes one attempt.
func (w *activityDispatch) Work(ctx context.Context, job *river.Job[store.DispatchActivityArgs]) error {
	ws, id := job.Args.WorkspaceID, job.Args.ActivityID
	a, target, ok, err := w.db.ClaimDispatch(ctx, ws, id)
	if err != nil {
		return err
	}
	if !ok {
		return nil // canceled (or otherwise moved on) before its time: nothing is sent
	}
	if a.NeedsResolutionAtDispatch() {
		// Resolved and stored before the provider call, so a retried attempt sends the same.
		if a, ok, err = w.db.ResolveActivity(ctx, ws, id, store.ResolveAtDispatch, w.hooks.Call); err != nil {
			return err
		}
		if !ok {
			w.log.Info("activity unresolved at dispatch; not sent", "activity_id", id, "status", a.Status)
			return nil // UNRESOLVED now (retry-resolution schedules it again), or moved on meanwhile
		}
	}
	started := time.Now()
	if t := a.Target; t != nil && t.CommerceUserID != nil {
		// The provider is told the target user as FinishDispatch locks it on success.
		locked := *t
		locked.Status, locked.UpdatedAt = store.ResolutionLocked, started
		if locked.LockedAt == nil {
			locked.LockedAt = &started
		}
		a.Target = &locked
	}
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

func (w *activityDispatch) send(ctx context.Context, a store.Activity, cfg store.DispatchConfig, creds map[string]string, protocol string) outcome {
	if protocol == "MOCK" {
		ext := "mock-" + uuid.NewString()
		ok := http.StatusOK
		return outcome{statusCode: &ok, externalID: &ext}
	}
	if cfg.BaseURL == nil || *cfg.BaseURL == "" {
		return outcome{code: "CONFIG_INVALID", msg: "The dispatch config has no base_url"}
	}
	resp, err := w.http.Do(ctx, egress.Request{
		URL: strings.TrimSuffix(*cfg.BaseURL, "/") + "/activities",
		Header: http.Header{
			"Content-Type":    {"application/json"},
			"X-Api-Key":       {creds["apiKey"]},
			"Idempotency-Key": {a.ID.String()},
		},
		Body: activityjson.Append(make([]byte, 0, 1024), a),
	})
	var invalid *egress.InvalidURLError
	var broken *egress.ReadError
	switch {
	case err == nil, errors.As(err, &broken): // an answer whose body broke off still has its status
	case errors.As(err, &invalid):
		return outcome{code: "CONFIG_INVALID", msg: "Invalid base_url: " + invalid.Why}
	case egress.Refused(err):
		return outcome{code: "DESTINATION_REFUSED", msg: err.Error()}
	case egress.Timeout(err):
		return outcome{code: "TIMEOUT", msg: err.Error()}
	default:
		return outcome{code: "NETWORK_ERROR", msg: err.Error()}
	}
	status := resp.StatusCode
	if !resp.OK() {
		return outcome{statusCode: &status, code: fmt.Sprintf("HTTP_%d", status),
			msg: fmt.Sprintf("Provider answered %d: %s", status, truncate(string(resp.Body), 500))}
	}
	// A provider may give its own id for the activity; the documented YOM answer is not
	// specified, so look for the usual names.
	var ids struct {
		ID         any `json:"id"`
		ExternalID any `json:"externalId"`
	}
	_ = json.Unmarshal(resp.Body, &ids)
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
