package ingest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/metrics"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
)

// MaxBodyBytes is the largest body a source's URL keeps; a larger one is refused (413) and
// recorded without its body.
const MaxBodyBytes = 1 << 20

// ReceivePath is where sources' URLs are served, outside the API's prefix.
const ReceivePath = "/ingest/:sourceId/:token"

// Register serves the sources' receiving URLs on e (documented in openapi/ingest.yaml under its
// own server URL, tag Receiving). They are not routed through the spec's validation: they take
// any content type and any body, which the source's own rules judge (methods, size,
// verification), and they are the hot path, answered as soon as the event is committed.
func (h *Handler) Register(e *echo.Echo) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		e.Add(m, ReceivePath, h.Receive)
	}
}

// Receive records one request a source's URL received: refused (method, size, disabled
// source, failed verification) or accepted and routed to the destinations it matches, all in
// the ledger, and answers once that is committed.
func (h *Handler) Receive(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	id, err := uuid.Parse(c.Param("sourceId"))
	if err != nil {
		return problem.New(http.StatusNotFound, "No such source")
	}
	src, ok, err := h.receivers.load(ctx, h.DB, id)
	if err != nil {
		return err
	}
	now := h.now()
	if !ok || !src.TokenValid(c.Param("token"), now) {
		return problem.New(http.StatusNotFound, "No such source")
	}
	in := store.EventReceive{WorkspaceID: src.WorkspaceID, SourceID: src.ID, Status: store.EventRejected, Method: req.Method,
		Query: req.URL.RawQuery, ContentType: req.Header.Get("Content-Type"), Headers: redact(req.Header, src),
		VerificationStatus: signature.Unchecked, VerificationScheme: src.Type}
	refuse := func(status int, cause string, msg string) error {
		in.RejectionCause = cause
		if cause == store.CauseMethodNotAllowed || cause == store.CausePayloadTooLarge {
			in.IssueType, in.IssueKind = store.IssueRequest, cause
		}
		rec, err := h.DB.ReceiveEvent(ctx, in)
		if err != nil {
			return err
		}
		metrics.ObserveReceive(in.VerificationStatus, false)
		p := problem.New(status, "%s (recorded as event %s)", msg, rec.ID)
		if status == http.StatusMethodNotAllowed {
			p.Header = http.Header{"Allow": {strings.Join(src.AllowedMethods, ", ")}}
		}
		return p
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		return problem.New(http.StatusBadRequest, "Could not read the request body")
	}
	in.BodySize = len(body)
	switch {
	case src.Status == store.SourceDisabled:
		in.Body = body
		if len(body) > MaxBodyBytes {
			in.Body = nil
		}
		return refuse(http.StatusForbidden, store.CauseSourceDisabled, "The source is disabled")
	case !slices.Contains(src.AllowedMethods, req.Method):
		return refuse(http.StatusMethodNotAllowed, store.CauseMethodNotAllowed, "Method "+req.Method+" is not allowed by the source")
	case len(body) > MaxBodyBytes:
		if req.ContentLength > 0 {
			in.BodySize = int(min(req.ContentLength, 1<<31-1))
		}
		return refuse(http.StatusRequestEntityTooLarge, store.CausePayloadTooLarge, "The body is larger than 1 MiB")
	}
	in.Body = body
	res := h.verifier(src).Verify(signature.Request{Method: req.Method, URLs: h.calledURLs(req), Header: req.Header, Body: body}, now)
	in.VerificationStatus, in.FailReason = res.Status, res.Reason
	d := derive(src.Type, req.Header, in.ContentType, body)
	in.EventType, in.ProviderEventID = d.eventType, d.providerID
	if res.Status == signature.Failed {
		in.IssueType, in.IssueKind = store.IssueVerification, res.Reason
		h.receivers.forget(src.ID) // it has an open verification issue now, for the next verified request to resolve
		if src.Verification.OnFailure != "accept" {
			return refuse(http.StatusUnauthorized, store.CauseVerificationFailed, "Verification failed: "+res.Reason)
		}
	}
	in.Status = store.EventAccepted
	in.ResolveVerificationIssues = res.Status == signature.Verified && src.OpenVerificationIssues
	if in.ResolveVerificationIssues {
		defer h.receivers.forget(src.ID)
	}
	in.DedupWindow = time.Duration(src.DedupWindowSeconds) * time.Second
	in.DestinationIDs = h.router.Match(src.Destinations, d.eventType, in.ContentType, body)
	rec, err := h.DB.ReceiveEvent(ctx, in)
	if err != nil {
		return err
	}
	metrics.ObserveReceive(in.VerificationStatus, true)
	if d.challenge != "" && res.Status == signature.Verified {
		// Slack's URL verification handshake: answered with its challenge, as Slack requires.
		return c.String(http.StatusOK, d.challenge)
	}
	if cr := src.CustomResponse; cr != nil {
		return c.Blob(cr.StatusCode, cr.ContentType, []byte(cr.Body))
	}
	return c.JSON(http.StatusOK, map[string]string{"eventId": rec.ID.String(), "status": rec.Status})
}

// verifier is the source's verification as package signature runs it.
func (h *Handler) verifier(src *store.Receiver) signature.Verifier {
	v := src.Verification
	out := signature.Verifier{Scheme: src.Type, Secrets: src.Secrets, Algorithm: v.Algorithm, Encoding: v.Encoding, Header: v.Header,
		Prefix: v.Prefix, TimestampHeader: v.TimestampHeader, Username: v.Username}
	if v.ToleranceSeconds != nil {
		out.Tolerance = time.Duration(*v.ToleranceSeconds) * time.Second
	}
	return out
}

// calledURLs are the URLs the sender may have called, for schemes that sign the URL (Twilio):
// rebuilt on the public base URL, on the host a proxy in front forwarded, and on the host as
// received.
func (h *Handler) calledURLs(r *http.Request) []string {
	path := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	var out []string
	for _, base := range []string{h.PublicURL, requestBase(r, true), requestBase(r, false)} {
		if base == "" {
			continue
		}
		u := strings.TrimSuffix(base, "/") + path
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// Redacted stands in for a credential's value in an event's headers.
const Redacted = "[redacted]"

// hopHeaders are not the vendor's but the connection's: not kept.
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true}

// redact returns the headers to keep in the ledger (and forward): credentials never are —
// Authorization, cookies, API keys (the source's own header among them), and any header whose
// name says token, secret, password or key — their values show as [redacted]. Signatures are
// kept: they prove nothing to anyone without the secret.
func redact(h http.Header, src *store.Receiver) map[string][]string {
	out := make(map[string][]string, len(h))
	own := ""
	if src.Type == signature.APIKey {
		own = http.CanonicalHeaderKey(src.Verification.Header)
		if own == "" {
			own = "X-Api-Key"
		}
	}
	for k, vs := range h {
		if hopHeaders[k] {
			continue
		}
		if credentialHeader(k) || k == own {
			out[k] = []string{Redacted}
			continue
		}
		out[k] = vs
	}
	return out
}

func credentialHeader(name string) bool {
	l := strings.ToLower(name)
	switch l {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	if strings.Contains(l, "signature") || strings.Contains(l, "hmac") || l == "x-hub-signature-256" {
		return false
	}
	for _, w := range []string{"token", "secret", "password", "api-key", "apikey", "api_key", "auth"} {
		if strings.Contains(l, w) {
			return !strings.HasPrefix(l, "i-twilio-idempotency")
		}
	}
	return false
}

// derived is what a vendor's request says about itself.
type derived struct {
	eventType, providerID string
	challenge             string // Slack's url_verification
}

// derive reads an event's type and the provider's event id, per vendor (see listSourceTypes).
func derive(typ string, h http.Header, contentType string, body []byte) derived {
	var d derived
	var b struct {
		ID        any    `json:"id"`
		Type      any    `json:"type"`
		Action    any    `json:"action"`
		EventID   any    `json:"event_id"`
		Challenge string `json:"challenge"`
		Event     struct {
			Type any `json:"type"`
		} `json:"event"`
	}
	if len(body) > 0 && (body[0] == '{' || strings.Contains(contentType, "json")) {
		_ = json.Unmarshal(body, &b) // a body that is not JSON says nothing about itself
	}
	str := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		return ""
	}
	switch typ {
	case signature.Stripe:
		d.eventType, d.providerID = str(b.Type), str(b.ID)
	case signature.GitHub:
		d.eventType, d.providerID = h.Get("X-GitHub-Event"), h.Get("X-GitHub-Delivery")
		if a := str(b.Action); a != "" && d.eventType != "" {
			d.eventType += "." + a
		}
	case signature.Shopify:
		d.eventType, d.providerID = h.Get("X-Shopify-Topic"), h.Get("X-Shopify-Webhook-Id")
	case signature.Slack:
		d.eventType, d.providerID = str(b.Event.Type), str(b.EventID)
		if d.eventType == "" {
			d.eventType = str(b.Type)
		}
		if str(b.Type) == "url_verification" {
			d.challenge = b.Challenge
		}
	case signature.Twilio:
		d.providerID = h.Get("I-Twilio-Idempotency-Token")
	case signature.StandardWebhooks:
		d.eventType, d.providerID = str(b.Type), h.Get("webhook-id")
		if d.providerID == "" {
			d.providerID = h.Get("svix-id")
		}
	default:
		d.eventType = str(b.Type)
	}
	if len(d.eventType) > 200 {
		d.eventType = d.eventType[:200]
	}
	if len(d.providerID) > 200 {
		d.providerID = d.providerID[:200]
	}
	return d
}
