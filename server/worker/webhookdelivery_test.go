package worker_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestRetryHonoursRetryAfter: a 500 with Retry-After: 1 is retried no sooner than a second
// later (the schedule says 200 ms), and the attempts record the whole story.
func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	recv.SetRespond(func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := f.Endpoint(t, recv.URL)
	m := f.Send(t, "invoice.paid", `{"n":1}`)
	got := recv.Wait(t, 2, 10*time.Second)
	if gap := got[1].At.Sub(got[0].At); gap < time.Second {
		t.Errorf("second attempt %s after the first, want >= 1s (Retry-After)", gap)
	}
	if got[0].Header.Get("webhook-id") != got[1].Header.Get("webhook-id") {
		t.Error("webhook-id changed between attempts")
	}
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusDelivered, 5*time.Second)
	as := f.Attempts(t, m.MessageId)
	if len(as) != 2 {
		t.Fatalf("attempts = %d, want 2", len(as))
	}
	first, second := as[1], as[0]
	if first.AttemptNumber != 1 || first.Status != webhooksclient.AttemptStatusFailed || first.ResponseStatusCode.MustGet() != 500 ||
		len(first.ResponseBody.MustGet()) != 4096 || !first.NextAttemptAt.IsSpecified() || first.NextAttemptAt.IsNull() {
		t.Errorf("first attempt: %+v", first)
	}
	if next := first.NextAttemptAt.MustGet(); next.Sub(first.CreatedAt) < 900*time.Millisecond {
		t.Errorf("first attempt's nextAttemptAt %s is not a second after it", next.Sub(first.CreatedAt))
	}
	if second.AttemptNumber != 2 || second.Status != webhooksclient.AttemptStatusSucceeded || !second.NextAttemptAt.IsNull() || second.EndpointId != ep.EndpointId {
		t.Errorf("second attempt: %+v", second)
	}
	d := (*f.Message(t, m.MessageId).Deliveries)[0]
	if d.Status != webhooksclient.DeliveryStatusDelivered || d.Attempts != 2 || d.DeliveredAt.IsNull() {
		t.Errorf("delivery: %+v", d)
	}
	// Attempts per endpoint, too.
	res, err := f.Client.ListEndpointAttemptsWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, &webhooksclient.ListEndpointAttemptsParams{Status: ptr(webhooksclient.AttemptStatusFailed)})
	if err != nil || res.JSON200 == nil || len(res.JSON200.Data) != 1 || res.JSON200.Data[0].AttemptNumber != 1 {
		t.Errorf("endpoint attempts (failed): %v %s", err, res.Body)
	}
}

func ptr[T any](v T) *T { return &v }

// deliveringApp starts a server with the background workers (opts) and returns a WebhookApp on
// it publishing eventTypes, and a receiver for its endpoints.
func deliveringApp(t *testing.T, opts worker.Options, eventTypes ...string) (*servertest.WebhookApp, *servertest.Receiver) {
	t.Helper()
	env := servertest.New(t, servertest.WithWorkers(opts))
	return servertest.NewWebhookApp(t, env, eventTypes...), servertest.NewReceiver(t)
}

var ctx = context.Background()

// TestGoneDisablesEndpoint: 410 ends the delivery and disables the endpoint, saying why; later
// messages are not sent to it.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	recv.SetRespond(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
	ep := f.Endpoint(t, recv.URL)
	m := f.Send(t, "invoice.paid", `{}`)
	recv.Wait(t, 1, 5*time.Second)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusFailed, 5*time.Second)
	res, _ := f.Client.GetEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId)
	if e := res.JSON200; e.Status != webhooksclient.EndpointStatusDisabled || !strings.Contains(e.DisabledReason.MustGet(), "410") {
		t.Errorf("endpoint after 410: %s", res.Body)
	}
	if next := f.Send(t, "invoice.paid", `{}`); next.Status != webhooksclient.MessageStatusNoEndpoints {
		t.Errorf("message to a disabled endpoint: %+v", next)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(recv.Requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1 (no retry after 410)", n)
	}
}

// TestFailingEndpointDisabled: retries stop at maxAttempts, and an endpoint failing for longer
// than DisableAfter is disabled with the reason.
func TestFailingEndpointDisabled(t *testing.T) {
	t.Parallel()
	opts := servertest.FastWorkers()
	// Long enough for the first message's three attempts (200 ms apart) to fail before it.
	opts.Webhooks.DisableAfter = 2 * time.Second
	f, recv := deliveringApp(t, opts, "invoice.paid")
	recv.SetRespond(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	ep := f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) { b.MaxAttempts = ptr(3) })
	m := f.Send(t, "invoice.paid", `{}`)
	recv.Wait(t, 3, 5*time.Second)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusFailed, 5*time.Second)
	time.Sleep(opts.Webhooks.DisableAfter) // no attempt comes after the last one; and DisableAfter passes
	if n := len(recv.Requests()); n != 3 {
		t.Errorf("receiver got %d requests, want maxAttempts = 3", n)
	}
	if a := f.Attempts(t, m.MessageId)[0]; a.AttemptNumber != 3 || !a.NextAttemptAt.IsNull() {
		t.Errorf("last attempt: %+v", a)
	}
	// Still failing after DisableAfter: the next failure disables it.
	f.Send(t, "invoice.paid", `{}`)
	servertest.Eventually(t, 5*time.Second, "the endpoint to be disabled", func() bool {
		res, _ := f.Client.GetEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId)
		return res.JSON200.Status == webhooksclient.EndpointStatusDisabled && strings.Contains(res.JSON200.DisabledReason.MustGet(), "failed since")
	})
	// Re-enabling clears the reason.
	res, _ := f.Client.UpdateEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, webhooksclient.UpdateEndpointRequest{Status: ptr(webhooksclient.EndpointStatusActive)})
	if res.JSON200 == nil || res.JSON200.Status != webhooksclient.EndpointStatusActive || !res.JSON200.DisabledReason.IsNull() {
		t.Errorf("re-enable: %s", res.Body)
	}
}

// TestPausedEndpointHoldsDeliveries: a paused endpoint gets nothing; resuming delivers every
// held message.
func TestPausedEndpointHoldsDeliveries(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	ep := f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) {
		b.Status = ptr(webhooksclient.CreateEndpointRequestStatusPaused)
	})
	var ids []string
	for i := range 3 {
		m := f.Send(t, "invoice.paid", `{"i":`+strconv.Itoa(i)+`}`)
		if d := (*m.Deliveries)[0]; d.Status != webhooksclient.DeliveryStatusHeld {
			t.Errorf("delivery to a paused endpoint: %+v", d)
		}
		ids = append(ids, m.MessageId)
	}
	// Pausing an active endpoint with a delivery in flight holds it too.
	time.Sleep(500 * time.Millisecond)
	if n := len(recv.Requests()); n != 0 {
		t.Fatalf("a paused endpoint received %d requests", n)
	}
	if m := f.Message(t, ids[0]); m.Status != webhooksclient.MessageStatusPending {
		t.Errorf("held message status = %s, want pending", m.Status)
	}
	res, err := f.Client.UpdateEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, webhooksclient.UpdateEndpointRequest{Status: ptr(webhooksclient.EndpointStatusActive)})
	if err != nil || res.JSON200 == nil {
		t.Fatalf("resume: %v %s", err, res.Body)
	}
	got := recv.Wait(t, 3, 10*time.Second)
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.Header.Get("webhook-id")] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("message %s was not delivered after resume", id)
		}
	}
	for _, id := range ids {
		f.WaitStatus(t, id, webhooksclient.MessageStatusDelivered, 5*time.Second)
	}
}

// TestPrivateDestinationsRefused: without AllowPrivate a loopback endpoint is refused when
// dialled, and the attempt says why.
func TestPrivateDestinationsRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()), servertest.RefusePrivateDestinations())
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	recv := servertest.NewReceiver(t)
	// A name that resolves to loopback is refused as well as a literal address.
	port := recv.URL[strings.LastIndex(recv.URL, ":")+1:]
	f.Endpoint(t, "http://localhost:"+port+"/hook", func(b *webhooksclient.CreateEndpointRequest) { b.MaxAttempts = ptr(1) })
	m := f.Send(t, "invoice.paid", `{}`)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusFailed, 5*time.Second)
	a := f.Attempts(t, m.MessageId)[0]
	if !strings.Contains(a.Error.MustGet(), "refused to connect") || !strings.Contains(a.Error.MustGet(), "loopback") || !a.ResponseStatusCode.IsNull() {
		t.Errorf("attempt: %+v", a)
	}
	if n := len(recv.Requests()); n != 0 {
		t.Errorf("the private receiver got %d requests", n)
	}
}

// TestTimeout: an endpoint slower than the timeout fails the attempt as a timeout.
func TestTimeout(t *testing.T) {
	t.Parallel()
	opts := servertest.FastWorkers()
	opts.Webhooks.Timeout = 300 * time.Millisecond
	f, recv := deliveringApp(t, opts, "invoice.paid")
	recv.SetRespond(func(_ int, w http.ResponseWriter) { time.Sleep(time.Second); w.WriteHeader(200) })
	f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) { b.MaxAttempts = ptr(1) })
	m := f.Send(t, "invoice.paid", `{}`)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusFailed, 5*time.Second)
	if a := f.Attempts(t, m.MessageId)[0]; !strings.Contains(a.Error.MustGet(), "timeout") || a.DurationMs < 250 || a.DurationMs > 2000 {
		t.Errorf("attempt: %+v", a)
	}
}

// TestFanOutFilterAndHeaders: a message goes to every endpoint of its recipient whose filter
// matches (empty = all), with each endpoint's custom headers and its own signature.
func TestFanOutFilterAndHeaders(t *testing.T) {
	t.Parallel()
	f, all := deliveringApp(t, servertest.FastWorkers(), "invoice.paid", "invoice.voided")
	paid, voided := servertest.NewReceiver(t), servertest.NewReceiver(t)
	f.Endpoint(t, all.URL, func(b *webhooksclient.CreateEndpointRequest) {
		b.Headers = &webhooksclient.EndpointHeaders{"X-Tenant": "acme"}
	})
	paidEp := f.Endpoint(t, paid.URL, func(b *webhooksclient.CreateEndpointRequest) { b.EventTypes = &[]string{"invoice.paid"} })
	f.Endpoint(t, voided.URL, func(b *webhooksclient.CreateEndpointRequest) { b.EventTypes = &[]string{"invoice.voided"} })
	m := f.Send(t, "invoice.paid", `{"amount":1}`)
	if len(*m.Deliveries) != 2 {
		t.Fatalf("deliveries = %+v, want 2", *m.Deliveries)
	}
	a := all.Wait(t, 1, 5*time.Second)[0]
	p := paid.Wait(t, 1, 5*time.Second)[0]
	if a.Header.Get("X-Tenant") != "acme" || p.Header.Get("X-Tenant") != "" {
		t.Errorf("custom header: all %q, paid %q", a.Header.Get("X-Tenant"), p.Header.Get("X-Tenant"))
	}
	if a.Header.Get("webhook-signature") == p.Header.Get("webhook-signature") && string(a.Body) == string(p.Body) &&
		a.Header.Get("webhook-timestamp") == p.Header.Get("webhook-timestamp") {
		t.Error("two endpoints got the same signature: their secrets are not distinct")
	}
	sec, _ := f.Client.GetEndpointSecretWithResponse(ctx, f.App, f.Recipient, paidEp.EndpointId)
	ts, _ := strconv.ParseInt(p.Header.Get("webhook-timestamp"), 10, 64)
	if want, _ := signature.Sign(sec.JSON200.Key, m.MessageId, ts, p.Body); p.Header.Get("webhook-signature") != want {
		t.Errorf("signature %q, want %q", p.Header.Get("webhook-signature"), want)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(voided.Requests()); n != 0 {
		t.Errorf("the invoice.voided endpoint got %d requests", n)
	}
}

// TestRotateSecret: after a rotation every delivery is signed with the new and the old secret.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	ep := f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) {
		b.Secret = ptr("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	})
	rot, err := f.Client.RotateEndpointSecretWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, webhooksclient.RotateSecretRequest{})
	if err != nil || rot.JSON200 == nil {
		t.Fatalf("rotate: %v %s", err, rot.Body)
	}
	s := rot.JSON200
	if s.Key == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || len(s.PreviousKeys) != 1 || s.PreviousKeys[0].Key != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" ||
		time.Until(s.PreviousKeys[0].ExpiresAt) < 23*time.Hour {
		t.Fatalf("rotated: %s", rot.Body)
	}
	m := f.Send(t, "invoice.paid", `{}`)
	r := recv.Wait(t, 1, 5*time.Second)[0]
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	newSig, _ := signature.Sign(s.Key, m.MessageId, ts, r.Body)
	oldSig, _ := signature.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", m.MessageId, ts, r.Body)
	if got := r.Header.Get("webhook-signature"); got != newSig+" "+oldSig {
		t.Errorf("webhook-signature = %q, want new then old", got)
	}
	bad, _ := f.Client.RotateEndpointSecretWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, webhooksclient.RotateSecretRequest{Key: ptr("whsec_c2hvcnQ=")})
	if bad.StatusCode() != 400 {
		t.Errorf("rotate to a short key: %d %s", bad.StatusCode(), bad.Body)
	}
}

// TestIdempotentSends: a repeated messageId or idempotencyKey, even concurrent, returns the
// first message and delivers once.
func TestIdempotentSends(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	f.Endpoint(t, recv.URL)
	a := f.Send(t, "invoice.paid", `{"v":1}`, func(b *webhooksclient.SendMessageRequest) { b.MessageId = ptr("evt_42") })
	b := f.Send(t, "invoice.paid", `{"v":2}`, func(b *webhooksclient.SendMessageRequest) { b.MessageId = ptr("evt_42") })
	if a.MessageId != "evt_42" || b.MessageId != "evt_42" || string(b.Data) != `{"v":1}` {
		t.Errorf("repeat by messageId: %+v / %+v", a, b)
	}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = f.Send(t, "invoice.paid", `{"v":3}`, func(b *webhooksclient.SendMessageRequest) { b.IdempotencyKey = ptr("key-1") }).MessageId
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent sends with one key got ids %v", ids)
		}
	}
	recv.Wait(t, 2, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(recv.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2 (one per distinct message)", n)
	}
}

// TestBulkReplay: failed deliveries in a window are replayed in the background; the handle
// reports progress and completion.
func TestBulkReplay(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid", "invoice.voided")
	var mu sync.Mutex
	up := false
	recv.SetRespond(func(_ int, w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		if up {
			w.WriteHeader(200)
		} else {
			w.WriteHeader(503)
		}
	})
	f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) { b.MaxAttempts = ptr(1) })
	since := time.Now().Add(-time.Second)
	var paid []string
	for range 3 {
		paid = append(paid, f.Send(t, "invoice.paid", `{}`).MessageId)
	}
	voided := f.Send(t, "invoice.voided", `{}`).MessageId
	for _, id := range append(paid, voided) {
		f.WaitStatus(t, id, webhooksclient.MessageStatusFailed, 5*time.Second)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	res, err := f.Client.CreateBulkReplayWithResponse(ctx, f.App, webhooksclient.CreateBulkReplayRequest{Since: since, EventType: ptr("invoice.paid")})
	if err != nil || res.JSON202 == nil || res.JSON202.Status != webhooksclient.Running && res.JSON202.Status != webhooksclient.Completed {
		t.Fatalf("bulk replay: %v %s", err, res.Body)
	}
	id := res.JSON202.ReplayId
	servertest.Eventually(t, 10*time.Second, "the replay to complete", func() bool {
		r, _ := f.Client.GetBulkReplayWithResponse(ctx, f.App, id)
		return r.JSON200 != nil && r.JSON200.Status == webhooksclient.Completed && r.JSON200.Replayed == 3
	})
	for _, id := range paid {
		f.WaitStatus(t, id, webhooksclient.MessageStatusDelivered, 5*time.Second)
		if a := f.Attempts(t, id)[0]; a.Trigger != webhooksclient.Replay || a.AttemptNumber != 2 {
			t.Errorf("replay attempt: %+v", a)
		}
	}
	if m := f.Message(t, voided); m.Status != webhooksclient.MessageStatusFailed {
		t.Errorf("the invoice.voided message was replayed: %s", m.Status)
	}
}

// rateLimited sends n messages to an endpoint limited to 120 deliveries a minute and returns
// how long the receiver took to get them all.
func rateLimited(t *testing.T, env *servertest.Env, n int) time.Duration {
	t.Helper()
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	recv := servertest.NewReceiver(t)
	f.Endpoint(t, recv.URL, func(b *webhooksclient.CreateEndpointRequest) { b.RateLimitPerMinute = ptr(120) })
	for range n {
		f.Send(t, "invoice.paid", `{}`)
	}
	got := recv.Wait(t, n, 15*time.Second)
	return got[n-1].At.Sub(got[0].At)
}

// TestRateLimit: an endpoint's per-minute limit spaces its deliveries (after a burst of one
// second's worth: 2 at 120/min).
func TestRateLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	if span := rateLimited(t, env, 5); span < 1400*time.Millisecond {
		t.Errorf("5 deliveries at 120/min took %s, want about 1.5 s", span)
	}
}

// TestRateLimitSharedByProcesses: two processes delivering for one endpoint share its budget:
// 6 deliveries at 120/min (a burst of 2, then one every 0.5 s) span about 2 s whichever
// process makes them, where two budgets of their own would have let them through in about 0.5 s.
func TestRateLimitSharedByProcesses(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	second := storetest.Open(t, env.DSN)
	opts := servertest.FastWorkers()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.AllowPrivate = true // as servertest.New has it for the first process
	servertest.StartWorkers(t, env.DSN, second, opts)
	if span := rateLimited(t, env, 6); span < 1900*time.Millisecond {
		t.Errorf("6 deliveries at 120/min by two processes took %s, want about 2 s", span)
	}
}

// TestEndpointURLSentCanonical: an endpoint URL with a space and raw non-ASCII bytes in its
// path and query is delivered to, percent-encoded (a receiver refuses such a request line).
func TestEndpointURLSentCanonical(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	f.Endpoint(t, recv.URL+"/hooks/año?customer=Acme Inc&city=Zürich")
	m := f.Send(t, "invoice.paid", `{}`)
	got := recv.Wait(t, 1, 5*time.Second)
	if want := "/hooks/a%C3%B1o?customer=Acme%20Inc&city=Z%C3%BCrich"; got[0].RequestURI != want {
		t.Errorf("the receiver was sent %q, want %q", got[0].RequestURI, want)
	}
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusDelivered, 5*time.Second)
}

// TestAnswerWithNULRecorded: an endpoint's answer holding a NUL byte (or bytes that are not
// UTF-8) is recorded with U+FFFD in their place. PostgreSQL's text refuses both: the attempt
// was never recorded and the delivery retried for ever.
func TestAnswerWithNULRecorded(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	recv.SetRespond(func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\x00\xffend")
	})
	f.Endpoint(t, recv.URL)
	m := f.Send(t, "invoice.paid", `{}`)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusDelivered, 10*time.Second)
	as := f.Attempts(t, m.MessageId)
	if len(as) != 1 || as[0].ResponseBody.MustGet() != "ok\uFFFD\uFFFDend" {
		t.Fatalf("attempts = %+v", as)
	}
}

// TestReplayDeliveredMessage: a message already delivered is sent again on replay, with a
// replay attempt recorded beside the first.
func TestReplayDeliveredMessage(t *testing.T) {
	t.Parallel()
	f, recv := deliveringApp(t, servertest.FastWorkers(), "invoice.paid")
	f.Endpoint(t, recv.URL)
	m := f.Send(t, "invoice.paid", `{"n":1}`)
	f.WaitStatus(t, m.MessageId, webhooksclient.MessageStatusDelivered, 10*time.Second)
	recv.Wait(t, 1, 5*time.Second)
	res, err := f.Client.ReplayMessageWithResponse(ctx, f.App, m.MessageId, webhooksclient.ReplayMessageRequest{})
	if err != nil || res.StatusCode() != http.StatusAccepted {
		t.Fatalf("replay: %v %s", err, res.Body)
	}
	recv.Wait(t, 2, 10*time.Second)
	servertest.Eventually(t, 10*time.Second, "the replay attempt to be recorded", func() bool {
		as := f.Attempts(t, m.MessageId)
		return len(as) == 2 && as[0].Trigger == webhooksclient.Replay && as[0].Status == webhooksclient.AttemptStatusSucceeded
	})
}
