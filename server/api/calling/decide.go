package calling

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/calling"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// defaultBlockMessage is played to blocked inbound callers when the configuration has no
// message of its own (the vendor documents "a default message" without its words).
const defaultBlockMessage = "We are not taking calls right now. Please call again later."

// The moments a decision may be asked for. The times it computes from one (the rate-limit
// window, from time.Duration since the epoch, good for 292 years; the deferral and the next
// attempt, up to a year and a day later) stay within what the arithmetic and JSON can hold;
// 9999-12-31 overflowed them into a 500.
var (
	earliestAt = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	latestAt   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// DecideCall answers what a configuration decides for one call at one moment, and why. The
// rules and their order are documented on the operation in openapi/calling.yaml.
func (h *Handler) DecideCall(ctx context.Context, req api.DecideCallRequestObject) (api.DecideCallResponseObject, error) {
	b := req.Body
	if b.At != nil && (b.At.Before(earliestAt) || !b.At.Before(latestAt)) {
		return nil, problem.Invalid(problem.ValidationFailed, problem.Detail{Field: "at", Type: "value_error",
			Message: "must be from 1970-01-01T00:00:00Z to 2199-12-31T23:59:59Z"})
	}
	ws := auth.FromContext(ctx).WorkspaceID
	c, err := h.DB.GetCallingConfig(ctx, ws, req.Id)
	if err != nil {
		return nil, err
	}
	at := h.Now()
	if b.At != nil {
		at = *b.At
	}
	at = at.UTC()
	d := api.Decision{
		Decision: "allow", Direction: api.DecisionDirection(b.Direction), Number: b.Number, At: at,
		Reason: nullable.NewNullNullable[string](), DeferUntil: nullable.NewNullNullable[time.Time](),
		BlockAction: nullable.NewNullNullable[api.InboundBlockAction](), RedirectNumber: nullable.NewNullNullable[string](),
		BlockMessage: nullable.NewNullNullable[string](), RateLimit: nullable.NewNullNullable[api.RateLimitState](),
		Retry: nullable.NewNullNullable[api.RetryGuidance](), PreChecks: []api.PreCheckOutcome{},
		Whitelisted: slices.Contains(c.RateLimitWhitelist, b.Number),
	}
	if b.Direction == api.DecisionRequestDirectionInbound {
		err = h.inbound(ctx, ws, c, &d)
	} else {
		err = h.outbound(ctx, ws, c, b, &d)
	}
	if err != nil {
		return nil, err
	}
	return api.DecideCall200JSONResponse(d), nil
}

// Why a call is deferred or blocked: the values of Decision.reason. The spec's enum lists null
// too, so the generated field is a plain string (see openapi/calling.yaml).
const (
	reasonCallingDisabled         = "calling_disabled"
	reasonMaxAttemptsExceeded     = "max_attempts_exceeded"
	reasonBlacklisted             = "blacklisted"
	reasonInternationalNotAllowed = "international_not_allowed"
	reasonOutsideCallingHours     = "outside_calling_hours"
	reasonPreCheckFailed          = "pre_check_failed"
	reasonRateLimited             = "rate_limited"
	reasonInboundDisabled         = "inbound_disabled"
	reasonOutsideInboundHours     = "outside_inbound_hours"
)

// What a pre-check decided: the values of PreCheckOutcome.action (a plain string, as above).
const (
	actionProceed = "proceed"
	actionSkip    = "skip"
)

func block(d *api.Decision, reason string, format string, args ...any) {
	d.Decision, d.Reason, d.Message = "block", nullable.NewNullableWithValue(reason), fmt.Sprintf(format, args...)
}

func deferUntil(d *api.Decision, reason string, until time.Time, format string, args ...any) {
	d.Decision, d.Reason, d.Message = "defer", nullable.NewNullableWithValue(reason), fmt.Sprintf(format, args...)
	d.DeferUntil = nullable.NewNullableWithValue(until.UTC())
}

func (h *Handler) outbound(ctx context.Context, ws uuid.UUID, c store.CallingConfig, b *api.DecisionRequest, d *api.Decision) error {
	loc := location(c.CallTimezone)
	d.Timezone, d.LocalTime = c.CallTimezone, d.At.In(loc).Format("15:04:05")
	window := daily{start: minutes(c.CallStartTime), end: minutes(c.CallEndTime)}
	defer h.retryGuidance(c, b.Attempt, window, loc, d)

	decided, err := h.beforePreChecks(ctx, ws, c, b, window, loc, d)
	if err != nil {
		return err
	}
	if decided {
		// An earlier rule decided the call: its pre-checks did not run.
		for _, pc := range c.PreChecks {
			outcome := api.NotRun
			if !pc.Enabled {
				outcome = api.Disabled
			}
			d.PreChecks = append(d.PreChecks, skipped(pc.Name, outcome))
		}
		return nil
	}
	results := h.runPreChecks(ctx, c, b)
	for _, r := range results {
		d.PreChecks = append(d.PreChecks, r.outcome)
	}
	for _, r := range results {
		if a, _ := r.outcome.Action.Get(); a == actionSkip {
			block(d, reasonPreCheckFailed, "Pre-check %s decided skip: %s", r.outcome.Name, r.why)
			return nil
		}
	}
	if c.RateLimitEnabled && !d.Whitelisted && c.RateLimitMaxCalls != nil {
		size := time.Duration(c.RateLimitWindowSeconds) * time.Second
		start := time.Unix(0, 0).UTC().Add(d.At.Sub(time.Unix(0, 0)).Truncate(size))
		count, counted, err := h.DB.CountCall(ctx, c.ID, start, *c.RateLimitMaxCalls)
		if err != nil {
			return err
		}
		d.RateLimit = nullable.NewNullableWithValue(api.RateLimitState{MaxCalls: *c.RateLimitMaxCalls,
			WindowSeconds: c.RateLimitWindowSeconds, WindowStart: start, WindowEnd: start.Add(size), Count: count})
		if !counted {
			deferUntil(d, reasonRateLimited, start.Add(size), "The rate limit of %d calls per %d s is reached; the next window starts at %s",
				*c.RateLimitMaxCalls, c.RateLimitWindowSeconds, start.Add(size).Format(time.RFC3339))
			return nil
		}
	}
	d.Message = "The call may be made"
	return nil
}

// beforePreChecks applies the outbound rules that come before the pre-checks (1 to 5 of the
// operation's list) and reports whether one of them decided the call.
func (h *Handler) beforePreChecks(ctx context.Context, ws uuid.UUID, c store.CallingConfig, b *api.DecisionRequest,
	window daily, loc *time.Location, d *api.Decision) (bool, error) {
	if !c.EnableCalling {
		block(d, reasonCallingDisabled, "Calling is disabled for this configuration (enable_calling is false)")
		return true, nil
	}
	if maxAttempts := c.MaxRetry + 1; b.Attempt != nil && *b.Attempt > maxAttempts {
		block(d, reasonMaxAttemptsExceeded, "Attempt %d is beyond the %d allowed (max_retry %d)", *b.Attempt, maxAttempts, c.MaxRetry)
		return true, nil
	}
	if c.EnforceBlacklist {
		listed, err := h.DB.IsBlacklisted(ctx, ws, b.Number)
		if err != nil {
			return false, err
		}
		if listed {
			block(d, reasonBlacklisted, "%s is on the workspace blacklist", b.Number)
			return true, nil
		}
	}
	if !c.EnableInternationalCall && !strings.HasPrefix(b.Number, "+"+c.DomesticCountryCode) {
		block(d, reasonInternationalNotAllowed, "%s is an international number (not +%s) and enable_international_call is false",
			b.Number, c.DomesticCountryCode)
		return true, nil
	}
	if !window.contains(d.At.In(loc)) {
		next := window.nextStart(d.At, loc)
		deferUntil(d, reasonOutsideCallingHours, next, "%s is outside calling hours %s–%s (%s); the window opens at %s",
			d.LocalTime, c.CallStartTime, c.CallEndTime, c.CallTimezone, next.In(loc).Format(time.RFC3339))
		return true, nil
	}
	return false, nil
}

// retryGuidance says, for a numbered attempt, when the next one may be made if this one fails:
// retry_offset after this call (after its deferral, if deferred), moved into the calling window.
// A blocked call is not retried.
func (h *Handler) retryGuidance(c store.CallingConfig, attempt *int, window daily, loc *time.Location, d *api.Decision) {
	if attempt == nil {
		return
	}
	n, maxAttempts := *attempt, c.MaxRetry+1
	g := api.RetryGuidance{Attempt: n, MaxAttempts: maxAttempts, RetriesLeft: max(0, maxAttempts-n),
		OffsetSeconds: c.RetryOffset, NextAttemptAt: nullable.NewNullNullable[time.Time]()}
	if n == 1 {
		g.OffsetSeconds = c.InitialOffset
	}
	if g.RetriesLeft > 0 && d.Decision != "block" {
		base := d.At
		if until, err := d.DeferUntil.Get(); err == nil {
			base = until
		}
		next := base.Add(time.Duration(c.RetryOffset) * time.Second)
		if !window.contains(next.In(loc)) {
			next = window.nextStart(next, loc)
		}
		g.NextAttemptAt = nullable.NewNullableWithValue(next.UTC())
	}
	d.Retry = nullable.NewNullableWithValue(g)
}

func (h *Handler) inbound(ctx context.Context, ws uuid.UUID, c store.CallingConfig, d *api.Decision) error {
	loc := location(c.InboundCallTimezone)
	d.Timezone, d.LocalTime = c.InboundCallTimezone, d.At.In(loc).Format("15:04:05")
	// blockWith answers a blocked inbound call with the configured action and message.
	blockWith := func(reason string, format string, args ...any) {
		block(d, reason, format, args...)
		d.BlockAction = nullable.NewNullableWithValue(api.InboundBlockAction(c.InboundBlockAction))
		if c.InboundBlockAction == "REDIRECT" && c.InboundRedirectNumber != nil {
			d.RedirectNumber = nullable.NewNullableWithValue(*c.InboundRedirectNumber)
		}
		msg := defaultBlockMessage
		if c.InboundBlockMessage != nil {
			msg = *c.InboundBlockMessage
		}
		d.BlockMessage = nullable.NewNullableWithValue(msg)
	}
	if c.EnforceBlacklist {
		listed, err := h.DB.IsBlacklisted(ctx, ws, d.Number)
		if err != nil {
			return err
		}
		if listed {
			// A blacklisted caller is hung up on, never forwarded to support.
			block(d, reasonBlacklisted, "%s is on the workspace blacklist", d.Number)
			d.BlockAction = nullable.NewNullableWithValue(api.REJECT)
			return nil
		}
	}
	if !c.EnableInbound {
		blockWith(reasonInboundDisabled, "Inbound calls are disabled for this configuration (enable_inbound is false)")
		return nil
	}
	if c.InboundCallStartTime != nil && c.InboundCallEndTime != nil {
		window := daily{start: minutes(*c.InboundCallStartTime), end: minutes(*c.InboundCallEndTime)}
		if !window.contains(d.At.In(loc)) {
			blockWith(reasonOutsideInboundHours, "%s is outside inbound hours %s–%s (%s)",
				d.LocalTime, *c.InboundCallStartTime, *c.InboundCallEndTime, c.InboundCallTimezone)
			return nil
		}
	}
	d.Message = "The call may be answered"
	return nil
}

// location loads a zone the spec already validated; Asia/Kolkata if it somehow no longer loads.
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	loc, _ := time.LoadLocation(defaultTimezone)
	return loc
}

// minutes turns a validated "HH:MM" into minutes after midnight.
func minutes(hhmm string) int {
	h, _ := strconv.Atoi(hhmm[:2])
	m, _ := strconv.Atoi(hhmm[3:])
	return h*60 + m
}

// daily is a time-of-day window, both edges inclusive; an end before the start spans midnight.
// Times are compared to the second, so 21:00 admits 21:00:00 and not 21:00:01.
type daily struct{ start, end int }

func (w daily) contains(local time.Time) bool {
	sec := local.Hour()*3600 + local.Minute()*60 + local.Second()
	s, e := w.start*60, w.end*60
	if s <= e {
		return sec >= s && sec <= e
	}
	return sec >= s || sec <= e
}

// nextStart is the first moment after t at which the window opens, in loc (so across DST
// changes the wall-clock start is kept).
func (w daily) nextStart(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	next := time.Date(lt.Year(), lt.Month(), lt.Day(), w.start/60, w.start%60, 0, 0, loc)
	if !next.After(t) {
		next = time.Date(lt.Year(), lt.Month(), lt.Day()+1, w.start/60, w.start%60, 0, 0, loc)
	}
	return next
}

func skipped(name string, outcome api.PreCheckOutcomeOutcome) api.PreCheckOutcome {
	return api.PreCheckOutcome{Name: name, Outcome: outcome, Action: nullable.NewNullNullable[string](),
		StatusCode: nullable.NewNullNullable[int](), Error: nullable.NewNullNullable[string]()}
}
