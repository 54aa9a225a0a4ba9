package calling_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/gen/callingclient"
	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func decide(t *testing.T, c *callingclient.ClientWithResponses, id, direction, number string, at time.Time, attempt *int) *callingclient.Decision {
	t.Helper()
	return decideWith(t, c, id, callingclient.DecisionRequest{Direction: callingclient.DecisionRequestDirection(direction),
		Number: number, At: &at, Attempt: attempt})
}

func decideWith(t *testing.T, c *callingclient.ClientWithResponses, id string, req callingclient.DecisionRequest) *callingclient.Decision {
	t.Helper()
	res, err := c.DecideCallWithResponse(ctx, id, req)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("decide: %v %s", err, res.Body)
	}
	return res.JSON200
}

func create(t *testing.T, c *callingclient.ClientWithResponses, b callingclient.CreateConfigurationRequest) string {
	t.Helper()
	res, err := c.CreateConfigurationWithResponse(ctx, b)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create: %v %s", err, res.Body)
	}
	return res.JSON201.Id
}

func reason(d *callingclient.Decision) string {
	if r, err := d.Reason.Get(); err == nil {
		return string(r)
	}
	return ""
}

func deferredUntil(d *callingclient.Decision) time.Time {
	u, _ := d.DeferUntil.Get()
	return u
}

// TestWindowEdges: call_start_time and call_end_time are both inclusive, to the second, read
// in the configuration's zone; outside, the call is deferred until the window next opens.
func TestWindowEdges(t *testing.T) {
	t.Parallel()
	c := newCalling(t, "calling:write")
	id := create(t, c, minimal("r", "t")) // 09:00–21:00 Asia/Kolkata
	cases := []struct {
		at, decision, until string
	}{
		{"2025-01-15T09:00:00+05:30", "allow", ""},
		{"2025-01-15T08:59:59+05:30", "defer", "2025-01-15T09:00:00+05:30"},
		{"2025-01-15T21:00:00+05:30", "allow", ""},
		{"2025-01-15T21:00:01+05:30", "defer", "2025-01-16T09:00:00+05:30"},
		{"2025-01-15T03:29:59Z", "defer", "2025-01-15T09:00:00+05:30"}, // 08:59:59 IST, sent in UTC
		{"2025-01-15T15:30:00Z", "allow", ""},                          // 21:00:00 IST
	}
	for _, tc := range cases {
		d := decide(t, c, id, "outbound", "+919812345678", mustTime(t, tc.at), nil)
		if string(d.Decision) != tc.decision {
			t.Errorf("%s: %s (%s), want %s", tc.at, d.Decision, d.Message, tc.decision)
			continue
		}
		if tc.until != "" && (!deferredUntil(d).Equal(mustTime(t, tc.until)) || reason(d) != "outside_calling_hours") {
			t.Errorf("%s: deferred until %v (%s), want %s", tc.at, deferredUntil(d), reason(d), tc.until)
		}
		if tc.decision == "allow" && (reason(d) != "" || !d.DeferUntil.IsNull()) {
			t.Errorf("%s: allowed with a reason: %+v", tc.at, d)
		}
	}
}

// TestTimezones: one instant decided by configurations in different zones, an overnight
// window, a DST day, and inbound hours in their own zone.
func TestTimezones(t *testing.T) {
	t.Parallel()
	c := newCalling(t, "calling:write")
	kolkata := create(t, c, minimal("r", "kolkata"))
	ny := minimal("r", "ny")
	ny.CallTimezone = ptr("America/New_York")
	newYork := create(t, c, ny)
	night := minimal("r", "night")
	night.CallStartTime, night.CallEndTime, night.CallTimezone = "22:00", "06:00", ptr("Europe/London")
	overnight := create(t, c, night)

	// 2025-07-01 14:00 UTC = 19:30 in Kolkata (inside), 10:00 EDT in New York (inside).
	at := mustTime(t, "2025-07-01T14:00:00Z")
	for _, id := range []string{kolkata, newYork} {
		if d := decide(t, c, id, "outbound", "+919812345678", at, nil); d.Decision != "allow" {
			t.Errorf("%s at %s: %s", id, at, d.Message)
		}
	}
	// 2025-07-01 12:30 UTC = 18:00 IST (inside) but 08:30 EDT (before 09:00 EDT = 13:00 UTC).
	at = mustTime(t, "2025-07-01T12:30:00Z")
	if d := decide(t, c, kolkata, "outbound", "+919812345678", at, nil); d.Decision != "allow" || d.LocalTime != "18:00:00" || d.Timezone != "Asia/Kolkata" {
		t.Errorf("kolkata: %+v", d)
	}
	d := decide(t, c, newYork, "outbound", "+919812345678", at, nil)
	if d.Decision != "defer" || !deferredUntil(d).Equal(mustTime(t, "2025-07-01T13:00:00Z")) || d.LocalTime != "08:30:00" {
		t.Errorf("new york (EDT): %+v", d)
	}
	// In winter New York is UTC-5: 09:00 EST is 14:00 UTC.
	d = decide(t, c, newYork, "outbound", "+919812345678", mustTime(t, "2025-01-15T13:30:00Z"), nil)
	if d.Decision != "defer" || !deferredUntil(d).Equal(mustTime(t, "2025-01-15T14:00:00Z")) {
		t.Errorf("new york (EST): %+v", d)
	}
	// The day DST starts (2025-03-09, 02:00 → 03:00): deferred from 23:00 EST the day before
	// to 09:00 EDT, 13:00 UTC.
	d = decide(t, c, newYork, "outbound", "+919812345678", mustTime(t, "2025-03-09T04:00:00Z"), nil)
	if d.Decision != "defer" || !deferredUntil(d).Equal(mustTime(t, "2025-03-09T13:00:00Z")) {
		t.Errorf("new york (DST day): %v", deferredUntil(d))
	}
	// Overnight window 22:00–06:00 London (BST in July, UTC+1).
	for at, want := range map[string]string{
		"2025-07-01T21:00:00Z": "allow", // 22:00 BST
		"2025-07-01T04:59:59Z": "allow", // 05:59:59 BST
		"2025-07-01T05:00:00Z": "allow", // 06:00:00 BST, inclusive
		"2025-07-01T05:00:01Z": "defer",
		"2025-07-01T20:59:59Z": "defer",
	} {
		if d := decide(t, c, overnight, "outbound", "+919812345678", mustTime(t, at), nil); string(d.Decision) != want {
			t.Errorf("overnight at %s: %s, want %s", at, d.Decision, want)
		}
	}
	if d := decide(t, c, overnight, "outbound", "+919812345678", mustTime(t, "2025-07-01T12:00:00Z"), nil); !deferredUntil(d).Equal(mustTime(t, "2025-07-01T21:00:00Z")) {
		t.Errorf("overnight opens at %v", deferredUntil(d))
	}

	// Inbound hours 09:00–22:00 in New York with REDIRECT; a default message when none is set.
	in := minimal("r", "inbound")
	in.InboundCallStartTime, in.InboundCallEndTime = nullableOf("09:00"), nullableOf("22:00")
	in.InboundCallTimezone = nullableOf("America/New_York")
	in.InboundBlockAction = ptr(callingclient.REDIRECT)
	in.InboundRedirectNumber = nullableOf("+919999999999")
	inbound := create(t, c, in)
	d = decide(t, c, inbound, "inbound", "+14155550100", mustTime(t, "2025-07-02T02:00:01Z"), nil) // 22:00:01 EDT
	if d.Decision != "block" || reason(d) != "outside_inbound_hours" || d.BlockAction.MustGet() != "REDIRECT" ||
		d.RedirectNumber.MustGet() != "+919999999999" || d.BlockMessage.MustGet() == "" || d.Timezone != "America/New_York" {
		t.Errorf("inbound after hours: %+v", d)
	}
	if d := decide(t, c, inbound, "inbound", "+14155550100", mustTime(t, "2025-07-02T02:00:00Z"), nil); d.Decision != "allow" {
		t.Errorf("inbound at 22:00:00 EDT: %s", d.Message)
	}
	if d := decide(t, c, inbound, "inbound", "+14155550100", mustTime(t, "2025-07-01T13:00:00Z"), nil); d.Decision != "allow" {
		t.Errorf("inbound at 09:00:00 EDT: %s", d.Message)
	}
}

// TestDecisionRules: each outbound and inbound block rule, and that a rule not applying lets
// the call through.
func TestDecisionRules(t *testing.T) {
	t.Parallel()
	c := newCalling(t, "calling:write")
	at := mustTime(t, "2025-01-15T12:00:00+05:30")

	off := minimal("r", "off")
	off.EnableCalling = ptr(false)
	d := decide(t, c, create(t, c, off), "outbound", "+919812345678", at, nil)
	if d.Decision != "block" || reason(d) != "calling_disabled" {
		t.Errorf("calling disabled: %+v", d)
	}

	domestic := minimal("r", "domestic")
	domestic.EnableInternationalCall = ptr(false)
	id := create(t, c, domestic)
	if d := decide(t, c, id, "outbound", "+14155550100", at, nil); d.Decision != "block" || reason(d) != "international_not_allowed" {
		t.Errorf("international: %+v", d)
	}
	if d := decide(t, c, id, "outbound", "+919812345678", at, nil); d.Decision != "allow" {
		t.Errorf("domestic: %+v", d)
	}
	us := minimal("r", "us")
	us.EnableInternationalCall, us.DomesticCountryCode = ptr(false), ptr("1")
	if d := decide(t, c, create(t, c, us), "outbound", "+14155550100", at, nil); d.Decision != "allow" {
		t.Errorf("domestic for country code 1: %+v", d)
	}
	if d := decide(t, c, create(t, c, minimal("r", "intl")), "outbound", "+14155550100", at, nil); d.Decision != "allow" {
		t.Errorf("international allowed by default: %+v", d)
	}

	closed := minimal("r", "closed")
	closed.EnableInbound = ptr(false)
	closed.InboundBlockMessage = nullableOf("Closed.")
	d = decide(t, c, create(t, c, closed), "inbound", "+919812345678", at, nil)
	if d.Decision != "block" || reason(d) != "inbound_disabled" || d.BlockAction.MustGet() != "REJECT" || d.BlockMessage.MustGet() != "Closed." || !d.RedirectNumber.IsNull() {
		t.Errorf("inbound disabled: %+v", d)
	}
	// enable_calling only stops outbound calls.
	if d := decide(t, c, create(t, c, func() callingclient.CreateConfigurationRequest { b := off; b.Template = "off-in"; return b }()), "inbound", "+919812345678", at, nil); d.Decision != "allow" {
		t.Errorf("inbound with calling disabled: %+v", d)
	}
	if res, _ := c.DecideCallWithResponse(ctx, "cfg_nope", callingclient.DecisionRequest{Direction: "outbound", Number: "+919812345678"}); res.StatusCode() != 404 {
		t.Errorf("unknown configuration: %d", res.StatusCode())
	}
	if res, _ := c.DecideCallWithResponse(ctx, "cfg_nope", callingclient.DecisionRequest{Direction: "sideways", Number: "0"}); res.StatusCode() != 400 {
		t.Errorf("invalid request: %d %s", res.StatusCode(), res.Body)
	}
}

// TestRetryGuidance: attempts are numbered from 1; max_retry retries follow the first; the
// next attempt is retry_offset later, moved into the calling window.
func TestRetryGuidance(t *testing.T) {
	t.Parallel()
	c := newCalling(t, "calling:write")
	b := minimal("r", "t") // 09:00–21:00 IST, max_retry 2, retry_offset 3600
	b.InitialOffset = 120
	id := create(t, c, b)
	at := mustTime(t, "2025-01-15T10:00:00+05:30")

	g := decide(t, c, id, "outbound", "+919812345678", at, ptr(1)).Retry.MustGet()
	if g.Attempt != 1 || g.MaxAttempts != 3 || g.RetriesLeft != 2 || g.OffsetSeconds != 120 ||
		!g.NextAttemptAt.MustGet().Equal(mustTime(t, "2025-01-15T11:00:00+05:30")) {
		t.Errorf("attempt 1: %+v", g)
	}
	g = decide(t, c, id, "outbound", "+919812345678", mustTime(t, "2025-01-15T20:30:00+05:30"), ptr(2)).Retry.MustGet()
	if g.RetriesLeft != 1 || g.OffsetSeconds != 3600 || !g.NextAttemptAt.MustGet().Equal(mustTime(t, "2025-01-16T09:00:00+05:30")) {
		t.Errorf("attempt 2 late in the day: %+v (next %v)", g, g.NextAttemptAt)
	}
	// Deferred: the retry counts from when the call may be made.
	g = decide(t, c, id, "outbound", "+919812345678", mustTime(t, "2025-01-15T07:00:00+05:30"), ptr(2)).Retry.MustGet()
	if !g.NextAttemptAt.MustGet().Equal(mustTime(t, "2025-01-15T10:00:00+05:30")) {
		t.Errorf("attempt 2 deferred: next %v", g.NextAttemptAt)
	}
	d := decide(t, c, id, "outbound", "+919812345678", at, ptr(3))
	if g := d.Retry.MustGet(); d.Decision != "allow" || g.RetriesLeft != 0 || !g.NextAttemptAt.IsNull() {
		t.Errorf("last attempt: %+v %+v", d, g)
	}
	if d := decide(t, c, id, "outbound", "+919812345678", at, ptr(4)); d.Decision != "block" || reason(d) != "max_attempts_exceeded" {
		t.Errorf("attempt 4 of 3: %+v", d)
	}
	if d := decide(t, c, id, "outbound", "+919812345678", at, nil); !d.Retry.IsNull() {
		t.Errorf("no attempt, no guidance: %+v", d.Retry)
	}
}

// TestRateLimit: a fixed window counted in PostgreSQL — max calls per window, then deferred to
// the window's end; whitelisted numbers are neither limited nor counted; two server processes
// share the count.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:write")
	c := env.Calling(t, key)
	b := minimal("r", "t")
	b.RateLimitEnabled, b.RateLimitMaxCalls, b.RateLimitWindowSeconds = ptr(true), nullableOf(3), nullableOf(60)
	b.RateLimitWhitelist = nullableOf([]string{"+911234567890"})
	id := create(t, c, b)
	base := mustTime(t, "2025-01-15T12:00:00+05:30") // 06:30:00 UTC, a minute boundary
	for i := range 3 {
		d := decide(t, c, id, "outbound", "+919812345678", base.Add(time.Duration(i*10)*time.Second), nil)
		if d.Decision != "allow" || d.RateLimit.MustGet().Count != i+1 {
			t.Fatalf("call %d: %+v", i+1, d)
		}
	}
	d := decide(t, c, id, "outbound", "+919812345678", base.Add(59*time.Second), nil)
	if d.Decision != "defer" || reason(d) != "rate_limited" || !deferredUntil(d).Equal(base.Add(time.Minute)) {
		t.Fatalf("4th call in the window: %+v", d)
	}
	if rl := d.RateLimit.MustGet(); rl.Count != 3 || !rl.WindowStart.Equal(base) || !rl.WindowEnd.Equal(base.Add(time.Minute)) {
		t.Errorf("window: %+v", rl)
	}
	d = decide(t, c, id, "outbound", "+911234567890", base.Add(59*time.Second), nil)
	if d.Decision != "allow" || !d.Whitelisted || !d.RateLimit.IsNull() {
		t.Errorf("whitelisted: %+v", d)
	}
	if d := decide(t, c, id, "outbound", "+919812345678", base.Add(time.Minute), nil); d.Decision != "allow" || d.RateLimit.MustGet().Count != 1 {
		t.Errorf("next window: %+v", d)
	}
	// A call deferred for other reasons is not counted.
	if d := decide(t, c, id, "outbound", "+919812345678", mustTime(t, "2025-01-15T23:00:00+05:30"), nil); reason(d) != "outside_calling_hours" || !d.RateLimit.IsNull() {
		t.Errorf("outside hours: %+v", d)
	}

	// A second server process on the same database: 20 concurrent calls, split between the
	// two, in one fresh window — exactly 3 allowed.
	db2, err := store.Open(context.Background(), env.DSN, storetest.Box)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	e2, err := server.New(db2, server.Config{AdminToken: "x", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(e2)
	defer ts2.Close()
	second := *env
	second.URL = ts2.URL
	clients := []*callingclient.ClientWithResponses{c, second.Calling(t, key)}
	window := base.Add(10 * time.Minute)
	var allowed, deferred atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := window.Add(time.Duration(i) * time.Second)
			res, err := clients[i%2].DecideCallWithResponse(ctx, id, callingclient.DecisionRequest{Direction: "outbound", Number: "+919812345678", At: &at})
			if err != nil || res.JSON200 == nil {
				t.Errorf("decide: %v", err)
				return
			}
			switch res.JSON200.Decision {
			case "allow":
				allowed.Add(1)
			case "defer":
				deferred.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 3 || deferred.Load() != 17 {
		t.Fatalf("two processes: %d allowed, %d deferred", allowed.Load(), deferred.Load())
	}
	if rows := env.Count(t, `calling_rate_windows WHERE config_id = $1`, id); rows != 1 {
		t.Errorf("%d window rows kept, want only the current one", rows)
	}
}

// dnd is a local pre-check API: /dnd/{number} answers {"data":{"is_dnd":…}} (true for numbers
// ending in 0), /slow answers after two seconds, /flaky fails once with 503 then answers, and
// every request is recorded.
type dnd struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	flaky    atomic.Int32
}

func newDND(t *testing.T) *dnd {
	d := &dnd{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.requests = append(d.requests, r)
		d.bodies = append(d.bodies, string(body))
		d.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/dnd/"):
			isDND := strings.HasSuffix(r.URL.Path, "0")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"is_dnd": isDND}})
		case r.URL.Path == "/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
				return
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		case r.URL.Path == "/flaky":
			if d.flaky.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		case r.URL.Path == "/echo":
			_, _ = w.Write([]byte(`{"ok":true}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *dnd) count(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.requests {
		if r.URL.Path == path || strings.HasPrefix(r.URL.Path, path+"/") {
			n++
		}
	}
	return n
}

func checks(t *testing.T, c *callingclient.ClientWithResponses, template string, pcs ...callingclient.PreCheckConfig) string {
	t.Helper()
	b := minimal("r", template)
	b.PreChecks = nullableOf(pcs)
	return create(t, c, b)
}

func httpCheck(name, url string, timeout, retries int, onFailure callingclient.PreCheckConfigDefaultOnFailure, field string, value any) callingclient.PreCheckConfig {
	pc := callingclient.PreCheckConfig{Name: name, DefaultOnFailure: &onFailure,
		HttpRequest: &callingclient.PreCheckHttpRequest{Url: url, Timeout: &timeout, MaxRetries: &retries}}
	if field != "" {
		pc.ResponseConfig = &callingclient.PreCheckResponseConfig{ResponseField: field, ResponseFieldValue: value}
	}
	return pc
}

// TestPreChecks runs pre-checks against a real local HTTP server: match, no match, timeout
// with proceed and with skip, a retried 503, placeholders, a disabled check.
func TestPreChecks(t *testing.T) {
	t.Parallel()
	c := newCalling(t, "calling:write")
	api := newDND(t)
	at := mustTime(t, "2025-01-15T12:00:00+05:30")
	proceed, skip := callingclient.Proceed, callingclient.Skip
	dndCheck := httpCheck("DND Check", api.URL+"/dnd/{number}", 5, 2, proceed, "data.is_dnd", false)

	id := checks(t, c, "dnd", dndCheck)
	d := decide(t, c, id, "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "allow" || o.Outcome != "matched" || o.Action.MustGet() != "proceed" || o.Attempts != 1 || o.StatusCode.MustGet() != 200 {
		t.Errorf("match: %+v %+v", d, o)
	}
	d = decide(t, c, id, "outbound", "+919812345670", at, nil)
	if o := d.PreChecks[0]; d.Decision != "block" || reason(d) != "pre_check_failed" || o.Outcome != "not_matched" || o.Action.MustGet() != "skip" ||
		!strings.Contains(d.Message, "DND Check returned data.is_dnd=true") {
		t.Errorf("no match: %+v %+v", d, o)
	}

	// Timeouts (1 s, one try): proceed fails open, skip fails closed.
	d = decide(t, c, checks(t, c, "slow-proceed", httpCheck("slow", api.URL+"/slow", 1, 1, proceed, "ok", true)), "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "allow" || o.Outcome != "failed" || o.Action.MustGet() != "proceed" || !strings.Contains(o.Error.MustGet(), "timed out") || o.DurationMs < 900 || o.DurationMs > 1900 {
		t.Errorf("timeout, proceed: %+v %+v", d, o)
	}
	d = decide(t, c, checks(t, c, "slow-skip", httpCheck("slow", api.URL+"/slow", 1, 2, skip, "ok", true)), "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "block" || reason(d) != "pre_check_failed" || o.Outcome != "failed" || o.Action.MustGet() != "skip" || o.Attempts != 2 {
		t.Errorf("timeout, skip: %+v %+v", d, o)
	}
	// A 503 is tried again (max_retries 2 = two tries).
	d = decide(t, c, checks(t, c, "flaky", httpCheck("flaky", api.URL+"/flaky", 5, 2, skip, "ok", true)), "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "allow" || o.Outcome != "matched" || o.Attempts != 2 {
		t.Errorf("flaky: %+v %+v", d, o)
	}
	// A 404 is not tried again, and fails with default_on_failure.
	d = decide(t, c, checks(t, c, "missing", httpCheck("missing", api.URL+"/nothing-here", 5, 3, skip, "ok", true)), "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "block" || o.Outcome != "failed" || o.Attempts != 1 || o.StatusCode.MustGet() != 404 {
		t.Errorf("404: %+v %+v", d, o)
	}
	// No response_config: fetched, never blocks.
	d = decide(t, c, checks(t, c, "fetch", httpCheck("fetch", api.URL+"/echo", 5, 1, skip, "", nil)), "outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "allow" || o.Outcome != "fetched" {
		t.Errorf("fetch only: %+v", o)
	}

	// Placeholders in URL, query, headers and body; payload values; POST with bearer auth.
	post := callingclient.POST
	full := httpCheck("full", api.URL+"/echo?merchant={merchant_id}", 5, 1, skip, "ok", true)
	full.HttpRequest.Method = &post
	full.HttpRequest.QueryParams = &map[string]string{"n": "{number}", "order": "{order_id}"}
	full.HttpRequest.Headers = &map[string]string{"X-Template": "{template}"}
	full.HttpRequest.Body = &map[string]any{"phone": "{number}", "nested": []any{"{order_id}"}, "n": 1}
	full.HttpRequest.Auth = &struct {
		Password *string                                   `json:"password,omitempty"`
		Token    *string                                   `json:"token,omitempty"`
		Type     callingclient.PreCheckHttpRequestAuthType `json:"type"`
		Username *string                                   `json:"username,omitempty"`
	}{Type: callingclient.Bearer, Token: ptr("tok-{order_id}")}
	disabled := dndCheck
	disabled.Name, disabled.Enabled = "off", ptr(false)
	fb := minimal("r", "full")
	fb.MerchantId = nullableOf("mer 1")
	fb.PreChecks = nullableOf([]callingclient.PreCheckConfig{full, disabled})
	before := api.count("/dnd")
	d = decideWith(t, c, create(t, c, fb), callingclient.DecisionRequest{Direction: "outbound", Number: "+919812345671", At: &at,
		Payload: &map[string]any{"order_id": 42.0}})
	if d.Decision != "allow" || d.PreChecks[0].Outcome != "matched" || d.PreChecks[1].Outcome != "disabled" || !d.PreChecks[1].Action.IsNull() {
		t.Fatalf("placeholders: %+v", d)
	}
	if api.count("/dnd") != before {
		t.Errorf("the disabled check was called")
	}
	api.mu.Lock()
	r, body := api.requests[len(api.requests)-1], api.bodies[len(api.bodies)-1]
	api.mu.Unlock()
	q := r.URL.Query()
	if r.Method != "POST" || q.Get("merchant") != "mer 1" || q.Get("n") != "+919812345671" || q.Get("order") != "42" ||
		r.Header.Get("X-Template") != "full" || r.Header.Get("Authorization") != "Bearer tok-42" {
		t.Errorf("request: %s %s %v", r.Method, r.URL, r.Header)
	}
	var sent map[string]any
	_ = json.Unmarshal([]byte(body), &sent)
	if sent["phone"] != "+919812345671" || sent["nested"].([]any)[0] != "42" || sent["n"] != 1.0 {
		t.Errorf("body: %s", body)
	}

	// Pre-checks do not run when an earlier rule decides.
	before = api.count("/dnd")
	if d := decide(t, c, id, "outbound", "+919812345671", mustTime(t, "2025-01-15T23:00:00+05:30"), nil); d.PreChecks[0].Outcome != "not_run" || api.count("/dnd") != before {
		t.Errorf("outside hours: %+v", d.PreChecks)
	}
}

// TestPreCheckRefusesPrivateDestinations: with the guard on (serve's default), a pre-check to
// a loopback address is never called; it fails, saying why, and default_on_failure decides.
func TestPreCheckRefusesPrivateDestinations(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.RefusePrivateDestinations())
	_, key := env.Workspace(t, "calling:write")
	c := env.Calling(t, key)
	api := newDND(t)
	at := mustTime(t, "2025-01-15T12:00:00+05:30")
	skip := callingclient.Skip
	d := decide(t, c, checks(t, c, "guarded", httpCheck("DND Check", api.URL+"/dnd/{number}", 5, 1, skip, "data.is_dnd", false)),
		"outbound", "+919812345671", at, nil)
	if o := d.PreChecks[0]; d.Decision != "block" || o.Outcome != "failed" || !strings.Contains(o.Error.MustGet(), "loopback address") {
		t.Errorf("guarded: %+v %+v", d, o)
	}
}
