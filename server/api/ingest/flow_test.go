package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/servertest/vendorsign"
	"github.com/switchboard-dev/switchboard/server/signature"
)

// fixture is a workspace with an Ingest client.
type fixture struct {
	env *servertest.Env
	c   *ingestclient.ClientWithResponses
	key string
}

func newFixture(t *testing.T, env *servertest.Env) *fixture {
	t.Helper()
	_, key := env.Workspace(t, "ingest:read", "ingest:write")
	return &fixture{env: env, c: env.Ingest(t, key), key: key}
}

func (f *fixture) source(t *testing.T, body ingestclient.CreateSourceRequest) ingestclient.Source {
	t.Helper()
	res, err := f.c.CreateSourceWithResponse(context.Background(), body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create source: %v %s", err, res.Body)
	}
	return *res.JSON201
}

func (f *fixture) destination(t *testing.T, body ingestclient.CreateDestinationRequest) ingestclient.Destination {
	t.Helper()
	res, err := f.c.CreateDestinationWithResponse(context.Background(), body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create destination: %v %s", err, res.Body)
	}
	return *res.JSON201
}

func (f *fixture) event(t *testing.T, id uuid.UUID) ingestclient.EventDetail {
	t.Helper()
	res, err := f.c.GetEventWithResponse(context.Background(), id)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("get event: %v %s", err, res.Body)
	}
	return *res.JSON200
}

func (f *fixture) issues(t *testing.T, params ingestclient.ListIssuesParams) []ingestclient.Issue {
	t.Helper()
	res, err := f.c.ListIssuesWithResponse(context.Background(), &params)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list issues: %v %s", err, res.Body)
	}
	return res.JSON200.Data
}

// receive sends a request to a source's URL, as the vendor would, through the checking client.
func receive(t *testing.T, env *servertest.Env, method, url, contentType, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type received struct {
	EventID string `json:"eventId"`
	Status  string `json:"status"`
}

func stripeSecret() string { return "whsec_ingest_flow_test_secret" }

func stripeBody(id, typ string, amount int) string {
	return `{"id":"` + id + `","object":"event","type":"` + typ + `","data":{"object":{"amount_paid":` + strconv.Itoa(amount) + `}}}`
}

func stripeHeaders(t *testing.T, body string) map[string]string {
	t.Helper()
	s := vendorsign.Sign(t, vendorsign.Request{Scheme: "stripe", Secret: stripeSecret(), Body: body, Timestamp: time.Now().Unix()})
	return s[0].Header
}

// TestStripeFlow: the README's walk-through. A Stripe source verifies requests signed by
// stripe's own library; an accepted event is answered at once and forwarded byte for byte with
// its vendor headers, Standard Webhooks headers signed with the destination's secret and its
// verification status; a tampered request is rejected (401), recorded, not forwarded, and opens
// a verification issue, which the next verified request resolves.
func TestStripeFlow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := newFixture(t, env)
	ctx := context.Background()
	secret := stripeSecret()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Stripe production", Type: ingestclient.SourceTypeStripe, Secret: &secret})
	if src.HasSecret != true || src.Secret != nil || !strings.HasPrefix(src.Url, env.URL+"/ingest/"+src.SourceId.String()+"/") {
		t.Fatalf("source %+v", src)
	}
	recv := servertest.NewReceiver(t)
	dest := f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL + "/stripe", SourceIds: []uuid.UUID{src.SourceId},
		Headers: &ingestclient.DestinationHeaders{"X-Team": "billing"}})

	body := stripeBody("evt_1", "invoice.paid", 1200)
	status, b := receive(t, env, http.MethodPost, src.Url, "application/json; charset=utf-8", body, stripeHeaders(t, body))
	if status != http.StatusOK {
		t.Fatalf("receive: %d %s", status, b)
	}
	r := servertest.Decode[received](t, b)
	if r.Status != "accepted" {
		t.Fatalf("answer %s", b)
	}
	got := recv.Wait(t, 1, 10*time.Second)[0]
	if string(got.Body) != body {
		t.Errorf("forwarded body %q, want the original bytes %q", got.Body, body)
	}
	h := got.Header
	if h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Stripe-Signature") == "" || h.Get("X-Team") != "billing" ||
		h.Get("X-Switchboard-Verification") != "verified" || h.Get("X-Switchboard-Source-Id") != src.SourceId.String() || h.Get("webhook-id") != r.EventID {
		t.Errorf("forwarded headers %v", h)
	}
	sec, err := f.c.GetDestinationSecretWithResponse(ctx, dest.DestinationId)
	if err != nil || sec.JSON200 == nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	want, _ := signature.Sign(sec.JSON200.Key, r.EventID, ts, []byte(body))
	if h.Get("webhook-signature") != want {
		t.Errorf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
	}
	ev := f.event(t, uuid.MustParse(r.EventID))
	if ev.Verification.Status != ingestclient.VerificationStatusVerified || ev.EventType.MustGet() != "invoice.paid" || ev.ProviderEventId.MustGet() != "evt_1" ||
		len(ev.Deliveries) != 1 {
		t.Fatalf("event %+v", ev)
	}
	servertest.Eventually(t, 5*time.Second, "delivered", func() bool {
		d := f.event(t, ev.EventId).Deliveries[0]
		return d.Status == ingestclient.DeliveryStatusDelivered && len(d.AttemptList) == 1
	})
	raw, err := f.c.GetEventRawWithResponse(ctx, ev.EventId)
	if err != nil || string(raw.Body) != body || raw.HTTPResponse.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("raw %v %q %v", err, raw.Body, raw.HTTPResponse.Header)
	}

	// Tampered: rejected, recorded, not forwarded; a verification issue opens.
	tampered := stripeBody("evt_2", "invoice.paid", 999999)
	status, b = receive(t, env, http.MethodPost, src.Url, "application/json", tampered, stripeHeaders(t, stripeBody("evt_2", "invoice.paid", 1)))
	if status != http.StatusUnauthorized {
		t.Fatalf("tampered: %d %s", status, b)
	}
	failed := ingestclient.VerificationStatusFailed
	list, err := f.c.ListEventsWithResponse(ctx, &ingestclient.ListEventsParams{Verification: &failed})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 1 {
		t.Fatalf("failed events: %v %s", err, list.Body)
	}
	rej := list.JSON200.Data[0]
	if rej.Status != ingestclient.EventStatusRejected || rej.RejectionCause.MustGet() != "verification_failed" ||
		rej.Verification.FailureReason.MustGet() != signature.ReasonSignatureMismatch {
		t.Errorf("rejected event %+v", rej)
	}
	vi := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeVerification)})
	if len(vi) != 1 || vi[0].Status != ingestclient.Open || vi[0].Kind != signature.ReasonSignatureMismatch ||
		vi[0].Reference.EventId.MustGet() != rej.EventId || vi[0].SourceId.MustGet() != src.SourceId {
		t.Fatalf("verification issue %+v", vi)
	}
	// Expired: the signature is right, the timestamp too old.
	old := vendorsign.Sign(t, vendorsign.Request{Scheme: "stripe", Secret: secret, Body: body, Timestamp: time.Now().Add(-time.Hour).Unix()})
	if status, b := receive(t, env, http.MethodPost, src.Url, "application/json", body, old[0].Header); status != http.StatusUnauthorized ||
		!strings.Contains(string(b), signature.ReasonTimestampOutOfTolerance) {
		t.Errorf("expired: %d %s", status, b)
	}
	// The next verified request resolves the verification issue by itself.
	body3 := stripeBody("evt_3", "customer.created", 0)
	if status, b := receive(t, env, http.MethodPost, src.Url, "application/json", body3, stripeHeaders(t, body3)); status != http.StatusOK {
		t.Fatalf("receive: %d %s", status, b)
	}
	// Two issues by then, one per failure reason; both resolve.
	iss := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeVerification)})
	kinds := map[string]bool{}
	for _, i := range iss {
		kinds[i.Kind] = true
		if i.Status != ingestclient.Resolved || i.AutoResolvedAt.IsNull() || i.Occurrences != 1 {
			t.Errorf("after a verified request: %+v", i)
		}
	}
	if len(iss) != 2 || !kinds[signature.ReasonSignatureMismatch] || !kinds[signature.ReasonTimestampOutOfTolerance] {
		t.Errorf("verification issues %v", kinds)
	}
	recv.Wait(t, 2, 10*time.Second)
	if n := len(recv.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2 (the rejected ones are not forwarded)", n)
	}
}

func ptr[T any](v T) *T { return &v }

// TestFailingDestination: a destination answering 503 opens a delivery issue (destination ×
// http_503) referring to the first failing event and attempt; once it answers 2xx again, the
// issue's replay delivers the failed events and the issue resolves itself.
func TestFailingDestination(t *testing.T) {
	t.Parallel()
	opts := servertest.FastWorkers()
	opts.Webhooks.Schedule = []time.Duration{50 * time.Millisecond}
	env := servertest.New(t, servertest.WithWorkers(opts))
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Generic", Type: ingestclient.SourceTypeNone})
	recv := servertest.NewReceiver(t)
	recv.SetRespond(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	dest := f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}, MaxAttempts: ptr(2)})
	var ids []string
	for i := range 3 {
		status, b := receive(t, env, http.MethodPost, src.Url, "application/json", `{"type":"order.created","n":`+strconv.Itoa(i)+`}`, nil)
		if status != http.StatusOK {
			t.Fatalf("receive: %d %s", status, b)
		}
		ids = append(ids, servertest.Decode[received](t, b).EventID)
	}
	recv.Wait(t, 6, 15*time.Second) // 2 attempts each
	servertest.Eventually(t, 10*time.Second, "deliveries failed", func() bool {
		for _, id := range ids {
			if f.event(t, uuid.MustParse(id)).Deliveries[0].Status != ingestclient.DeliveryStatusFailed {
				return false
			}
		}
		return true
	})
	// The issue counts a failed attempt just after the attempt is recorded (its own statement):
	// the last one may not be counted yet when the delivery reads failed.
	var di []ingestclient.Issue
	servertest.Eventually(t, 5*time.Second, "the delivery issue to count every failed attempt", func() bool {
		di = f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeDelivery)})
		return len(di) == 1 && di[0].Occurrences >= 6
	})
	if len(di) != 1 || di[0].Kind != "http_503" || di[0].DestinationId.MustGet() != dest.DestinationId || di[0].Occurrences != 6 ||
		di[0].Status != ingestclient.Open || di[0].Reference.AttemptId.IsNull() {
		t.Fatalf("delivery issue %+v", di)
	}
	first := f.event(t, di[0].Reference.EventId.MustGet())
	if first.Deliveries[0].AttemptList[len(first.Deliveries[0].AttemptList)-1].AttemptId != di[0].Reference.AttemptId.MustGet() {
		t.Errorf("the issue's reference is not the event's first failing attempt")
	}
	count, err := f.c.CountIssuesWithResponse(ctx, &ingestclient.CountIssuesParams{Status: ptr(ingestclient.Open)})
	if err != nil || count.JSON200 == nil || count.JSON200.Count != 1 {
		t.Fatalf("count: %v %s", err, count.Body)
	}

	recv.SetRespond(nil) // back online
	rep, err := f.c.ReplayIssueWithResponse(ctx, di[0].IssueId)
	if err != nil || rep.JSON202 == nil {
		t.Fatalf("replay issue: %v %s", err, rep.Body)
	}
	servertest.Eventually(t, 10*time.Second, "replay completed", func() bool {
		r, err := f.c.GetReplayWithResponse(ctx, rep.JSON202.ReplayId)
		if err == nil && r.JSON200 != nil && r.JSON200.Status == ingestclient.Completed {
			if r.JSON200.Replayed != 3 {
				t.Fatalf("replayed %d, want 3", r.JSON200.Replayed)
			}
			return true
		}
		return false
	})
	recv.Wait(t, 9, 10*time.Second)
	servertest.Eventually(t, 10*time.Second, "issue resolved", func() bool {
		i := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeDelivery)})[0]
		return i.Status == ingestclient.Resolved && !i.AutoResolvedAt.IsNull()
	})
	for _, id := range ids {
		servertest.Eventually(t, 5*time.Second, "event "+id+" delivered by the replay", func() bool {
			return f.event(t, uuid.MustParse(id)).Deliveries[0].Status == ingestclient.DeliveryStatusDelivered
		})
	}

	// Recurrence re-opens a resolved issue; an ignored one stays ignored, but counts.
	recv.SetRespond(func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	receive(t, env, http.MethodPost, src.Url, "application/json", `{"type":"order.created"}`, nil)
	servertest.Eventually(t, 10*time.Second, "issue re-opened", func() bool {
		return f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeDelivery)})[0].Status == ingestclient.Open
	})
	up, err := f.c.UpdateIssueWithResponse(ctx, di[0].IssueId, ingestclient.UpdateIssueRequest{Status: ingestclient.Ignored})
	if err != nil || up.JSON200 == nil || up.JSON200.IgnoredAt.IsNull() {
		t.Fatalf("ignore: %v %s", err, up.Body)
	}
	before := up.JSON200.Occurrences
	receive(t, env, http.MethodPost, src.Url, "application/json", `{"type":"order.created"}`, nil)
	servertest.Eventually(t, 10*time.Second, "counted", func() bool {
		return f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeDelivery)})[0].Occurrences > before
	})
	if i := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeDelivery)})[0]; i.Status != ingestclient.Ignored {
		t.Errorf("an ignored issue re-opened: %+v", i)
	}
}

// TestDeduplication: a provider event id seen again within the window is recorded as a
// duplicate, answered 200 and not forwarded again; concurrent repeats are one accepted event.
func TestDeduplication(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := newFixture(t, env)
	secret := stripeSecret()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Stripe", Type: ingestclient.SourceTypeStripe, Secret: &secret})
	recv := servertest.NewReceiver(t)
	f.destination(t, ingestclient.CreateDestinationRequest{Url: recv.URL, SourceIds: []uuid.UUID{src.SourceId}})
	body := stripeBody("evt_dup", "invoice.paid", 5)
	h := stripeHeaders(t, body)
	results := make(chan received, 8)
	for range 8 {
		go func() {
			_, b := receive(t, env, http.MethodPost, src.Url, "application/json", body, h)
			var r received
			_ = json.Unmarshal(b, &r)
			results <- r
		}()
	}
	accepted, dups := 0, 0
	var first string
	for range 8 {
		switch r := <-results; r.Status {
		case "accepted":
			accepted++
			first = r.EventID
		case "duplicate":
			dups++
		}
	}
	if accepted != 1 || dups != 7 {
		t.Fatalf("%d accepted, %d duplicates", accepted, dups)
	}
	recv.Wait(t, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(recv.Requests()); n != 1 {
		t.Errorf("forwarded %d times", n)
	}
	dup := ingestclient.EventStatusDuplicate
	list, err := f.c.ListEventsWithResponse(context.Background(), &ingestclient.ListEventsParams{Status: &dup})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 7 {
		t.Fatalf("duplicates: %v %s", err, list.Body)
	}
	for _, e := range list.JSON200.Data {
		if e.DuplicateOf.IsNull() {
			continue // a repeat racing the first one's commit names none
		}
		if e.DuplicateOf.MustGet().String() != first {
			t.Errorf("duplicate of %s, want %s", e.DuplicateOf.MustGet(), first)
		}
	}
}

// TestReceiveRefusals: an unknown source or token is a 404 and not recorded; a method the
// source does not allow (405), a body over 1 MiB (413) and a disabled source (403) are recorded
// as rejected events; the first two open request issues, the disabled source none.
func TestReceiveRefusals(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "Open", Type: ingestclient.SourceTypeNone,
		AllowedMethods: &[]ingestclient.HttpMethod{ingestclient.POST}})
	base := src.Url[:strings.LastIndex(src.Url, "/")]
	for _, u := range []string{base + "/wrong-token", env.URL + "/ingest/" + uuid.NewString() + "/x", env.URL + "/ingest/not-a-uuid/x"} {
		if status, b := receive(t, env, http.MethodPost, u, "text/plain", "hi", nil); status != http.StatusNotFound {
			t.Errorf("%s: %d %s", u, status, b)
		}
	}
	status, b := receive(t, env, http.MethodPut, src.Url, "text/plain", "hi", nil)
	if status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d %s", status, b)
	}
	big := strings.Repeat("x", 1<<20+1)
	if status, b := receive(t, env, http.MethodPost, src.Url, "text/plain", big, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("big: %d %.200s", status, b)
	}
	disabled := ingestclient.SourceStatusDisabled
	if res, err := f.c.UpdateSourceWithResponse(ctx, src.SourceId, ingestclient.UpdateSourceRequest{Status: &disabled}); err != nil || res.JSON200 == nil {
		t.Fatalf("disable: %v %s", err, res.Body)
	}
	if status, b := receive(t, env, http.MethodPost, src.Url, "text/plain", "hi", nil); status != http.StatusForbidden {
		t.Errorf("disabled: %d %s", status, b)
	}
	rejected := ingestclient.EventStatusRejected
	list, err := f.c.ListEventsWithResponse(ctx, &ingestclient.ListEventsParams{Status: &rejected})
	if err != nil || list.JSON200 == nil {
		t.Fatal(err)
	}
	causes := map[string]int{}
	for _, e := range list.JSON200.Data {
		causes[e.RejectionCause.MustGet()]++
	}
	if len(list.JSON200.Data) != 3 || causes["method_not_allowed"] != 1 || causes["payload_too_large"] != 1 || causes["source_disabled"] != 1 {
		t.Errorf("rejected events %v", causes)
	}
	if n := env.Count(t, "ingest_events"); n != 3 {
		t.Errorf("%d events recorded, want 3 (unknown sources and tokens are not)", n)
	}
	ri := f.issues(t, ingestclient.ListIssuesParams{Type: ptr(ingestclient.IssueTypeRequest)})
	if len(ri) != 2 {
		t.Errorf("request issues %+v", ri)
	}
}

// TestRotation: a rotated URL keeps the old one working for its overlap; a rotated secret
// keeps verifying requests signed with the old one.
func TestRotation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	ctx := context.Background()
	src := f.source(t, ingestclient.CreateSourceRequest{Name: "SW", Type: ingestclient.SourceTypeStandardWebhooks})
	if src.Secret == nil || !strings.HasPrefix(*src.Secret, "whsec_") {
		t.Fatalf("generated secret not shown once: %+v", src)
	}
	got, err := f.c.GetSourceWithResponse(ctx, src.SourceId)
	if err != nil || got.JSON200 == nil || got.JSON200.Secret != nil || strings.Contains(string(got.Body), *src.Secret) {
		t.Fatalf("the secret is shown again: %s", got.Body)
	}
	rot, err := f.c.RotateSourceUrlWithResponse(ctx, src.SourceId)
	if err != nil || rot.JSON200 == nil || rot.JSON200.Url == src.Url || rot.JSON200.PreviousUrlExpiresAt.IsNull() {
		t.Fatalf("rotate url: %v %s", err, rot.Body)
	}
	body := `{"type":"user.created"}`
	sign := func(secret string) map[string]string {
		return vendorsign.Sign(t, vendorsign.Request{Scheme: "standard_webhooks", Secret: secret, Body: body, Timestamp: time.Now().Unix(),
			ID: "msg_" + uuid.NewString()})[0].Header
	}
	for _, u := range []string{src.Url, rot.JSON200.Url} {
		if status, b := receive(t, env, http.MethodPost, u, "application/json", body, sign(*src.Secret)); status != http.StatusOK {
			t.Errorf("%s: %d %s", u, status, b)
		}
	}
	rs, err := f.c.RotateSourceSecretWithResponse(ctx, src.SourceId, ingestclient.RotateSourceSecretRequest{})
	if err != nil || rs.JSON200 == nil || rs.JSON200.Secret == nil {
		t.Fatalf("rotate secret: %v %s", err, rs.Body)
	}
	for _, s := range []string{*src.Secret, *rs.JSON200.Secret} {
		if status, b := receive(t, env, http.MethodPost, rot.JSON200.Url, "application/json", body, sign(s)); status != http.StatusOK {
			t.Errorf("secret %s: %d %s", s[:10], status, b)
		}
	}
	other := "whsec_" + strings.Repeat("A", 43) + "="
	if status, _ := receive(t, env, http.MethodPost, rot.JSON200.Url, "application/json", body, sign(other)); status != http.StatusUnauthorized {
		t.Errorf("another secret: %d", status)
	}
}

// TestVendorRouting: GitHub, Shopify, Twilio and svix-* Standard Webhooks requests signed by the
// vendors' libraries verify through the server, get their event types and provider ids, and
// reach only the destinations whose event-type patterns and body filters match.
func TestVendorRouting(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := newFixture(t, env)
	gh := f.source(t, ingestclient.CreateSourceRequest{Name: "GitHub", Type: ingestclient.SourceTypeGithub, Secret: ptr("gh-secret")})
	shop := f.source(t, ingestclient.CreateSourceRequest{Name: "Shopify", Type: ingestclient.SourceTypeShopify, Secret: ptr("shop-secret")})
	tw := f.source(t, ingestclient.CreateSourceRequest{Name: "Twilio", Type: ingestclient.SourceTypeTwilio, Secret: ptr("twilio-token")})
	all := servertest.NewReceiver(t)
	prs := servertest.NewReceiver(t)
	stops := servertest.NewReceiver(t)
	f.destination(t, ingestclient.CreateDestinationRequest{Url: all.URL, SourceIds: []uuid.UUID{gh.SourceId, shop.SourceId, tw.SourceId}})
	patterns := ingestclient.EventTypePatterns{"pull_request.*"}
	f.destination(t, ingestclient.CreateDestinationRequest{Url: prs.URL, SourceIds: []uuid.UUID{gh.SourceId}, EventTypes: &patterns})
	filter := ingestclient.BodyFilter(`{"Body":{"$in":["STOP","UNSUBSCRIBE"]}}`)
	f.destination(t, ingestclient.CreateDestinationRequest{Url: stops.URL, SourceIds: []uuid.UUID{tw.SourceId}, BodyFilter: &filter})

	prBody := `{"action":"opened","number":7}`
	pushBody := `{"ref":"refs/heads/main"}`
	shopBody := `{"id":820982911946154500,"email":"jon@example.com"}`
	stopBody := "From=%2B14155550100&Body=STOP"
	helloBody := "From=%2B14155550100&Body=Hello"
	signed := vendorsign.Sign(t,
		vendorsign.Request{Scheme: "github", Secret: "gh-secret", Body: prBody},
		vendorsign.Request{Scheme: "github", Secret: "gh-secret", Body: pushBody},
		vendorsign.Request{Scheme: "shopify", Secret: "shop-secret", Body: shopBody},
		vendorsign.Request{Scheme: "twilio", Secret: "twilio-token", Body: stopBody, URL: tw.Url},
		vendorsign.Request{Scheme: "twilio", Secret: "twilio-token", Body: helloBody, URL: tw.Url},
	)
	with := func(h map[string]string, kv ...string) map[string]string {
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	for _, c := range []struct {
		name, url, ct, body string
		h                   map[string]string
		eventType, id       string
	}{
		{"github pull_request", gh.Url, "application/json", prBody,
			with(signed[0].Header, "X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
			"pull_request.opened", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{"github push", gh.Url, "application/json", pushBody, with(signed[1].Header, "X-GitHub-Event", "push", "X-GitHub-Delivery", "d-2"), "push", "d-2"},
		{"shopify", shop.Url, "application/json", shopBody,
			with(signed[2].Header, "X-Shopify-Topic", "orders/create", "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
			"orders/create", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
		{"twilio stop", tw.Url, "application/x-www-form-urlencoded", stopBody, signed[3].Header, "", ""},
		{"twilio hello", tw.Url, "application/x-www-form-urlencoded", helloBody, signed[4].Header, "", ""},
	} {
		status, b := receive(t, env, http.MethodPost, c.url, c.ct, c.body, c.h)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.name, status, b)
		}
		ev := f.event(t, uuid.MustParse(servertest.Decode[received](t, b).EventID))
		if ev.Verification.Status != ingestclient.VerificationStatusVerified || deref(ev.EventType) != c.eventType || deref(ev.ProviderEventId) != c.id {
			t.Errorf("%s: %+v", c.name, ev)
		}
	}
	all.Wait(t, 5, 10*time.Second)
	prs.Wait(t, 1, 10*time.Second)
	stops.Wait(t, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if len(prs.Requests()) != 1 || !bytes.Equal(prs.Requests()[0].Body, []byte(prBody)) {
		t.Errorf("pull_request.* destination got %d requests", len(prs.Requests()))
	}
	if len(stops.Requests()) != 1 || string(stops.Requests()[0].Body) != stopBody {
		t.Errorf("body-filtered destination got %v", stops.Requests())
	}
	// A tampered Twilio request fails.
	if status, _ := receive(t, env, http.MethodPost, tw.Url, "application/x-www-form-urlencoded", stopBody+"&x=1", signed[3].Header); status != http.StatusUnauthorized {
		t.Errorf("tampered twilio: %d", status)
	}
}

func deref(n interface {
	IsNull() bool
	Get() (string, error)
}) string {
	if n.IsNull() {
		return ""
	}
	v, _ := n.Get()
	return v
}
