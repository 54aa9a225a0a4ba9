package ingest

import (
	"context"
	"fmt"
	"mime"
	"net/url"
	"slices"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
)

// sourceType is what a vendor preset is: how it verifies, which verification fields it reads,
// and where its event type and provider event id come from.
type sourceType struct {
	api.SourceTypeInfo
}

func ns(s string) nullable.Nullable[string] {
	if s == "" {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(s)
}

func preset(t, name, secret string, headers []string, signed string, timestamp bool, eventType, eventID string, config ...string) sourceType {
	return sourceType{api.SourceTypeInfo{Type: api.SourceType(t), Name: name, Secret: api.SourceTypeInfoSecret(secret),
		SignatureHeaders: headers, SignedContent: signed, Timestamp: timestamp, EventType: ns(eventType), ProviderEventId: ns(eventID),
		Config: append(config, "onFailure")}}
}

// sourceTypes are the presets, in the order listSourceTypes shows them.
var sourceTypes = []sourceType{
	preset(signature.Stripe, "Stripe", "required", []string{"Stripe-Signature"},
		`HMAC-SHA256, hex, of "{t}.{body}" keyed with the endpoint's whsec_ secret; every v1 of the header is tried`, true,
		"body type", "body id", "toleranceSeconds"),
	preset(signature.GitHub, "GitHub", "required", []string{"X-Hub-Signature-256", "X-Hub-Signature"},
		"HMAC-SHA256 of the body, hex, after sha256= (the legacy X-Hub-Signature, sha1=, when it is the only one)", false,
		"X-GitHub-Event header, and .action of the body when it has one", "X-GitHub-Delivery header"),
	preset(signature.Shopify, "Shopify", "required", []string{"X-Shopify-Hmac-Sha256"},
		"HMAC-SHA256 of the body, base64, keyed with the app's client secret", false, "X-Shopify-Topic header", "X-Shopify-Webhook-Id header"),
	preset(signature.Slack, "Slack", "required", []string{"X-Slack-Signature", "X-Slack-Request-Timestamp"},
		`HMAC-SHA256, hex, of "v0:{timestamp}:{body}", after v0=; a verified url_verification request is answered with its challenge`, true,
		"body event.type, else type", "body event_id", "toleranceSeconds"),
	preset(signature.Twilio, "Twilio", "required", []string{"X-Twilio-Signature"},
		"HMAC-SHA1, base64, keyed with the auth token, of the URL Twilio called (rebuilt from SWITCHBOARD_PUBLIC_URL or the forwarded "+
			"headers, with and without its default port) and each form parameter, sorted by name; a JSON body through the URL's bodySHA256", false,
		"", "I-Twilio-Idempotency-Token header"),
	preset(signature.StandardWebhooks, "Standard Webhooks (and Svix)", "generated",
		[]string{"webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"},
		`HMAC-SHA256, base64, of "{id}.{timestamp}.{body}" keyed with the whsec_ secret's bytes; any v1 entry of the list`, true,
		"body type", "webhook-id (svix-id) header", "toleranceSeconds"),
	preset(signature.HMAC, "Generic HMAC", "required", []string{"header (default X-Signature)", "timestampHeader"},
		`HMAC with algorithm (sha1, sha256, sha512) in encoding (hex, base64, base64url) after prefix, of the body, or of "{timestamp}.{body}" with timestampHeader`,
		false, "body type", "", "algorithm", "encoding", "header", "prefix", "timestampHeader", "toleranceSeconds"),
	preset(signature.BasicAuth, "HTTP basic authentication", "required", []string{"Authorization"},
		"username and the secret as password", false, "body type", "", "username"),
	preset(signature.APIKey, "API key", "required", []string{"header (default X-Api-Key)"},
		"the secret, in header (with Authorization, as Bearer <key> too)", false, "body type", "", "header"),
	preset(signature.None, "No verification", "none", []string{}, "nothing: events are unchecked", false, "body type", ""),
}

func typeInfo(t string) sourceType {
	for _, st := range sourceTypes {
		if string(st.Type) == t {
			return st
		}
	}
	return sourceTypes[len(sourceTypes)-1]
}

// ListSourceTypes lists the vendor presets.
func (h *Handler) ListSourceTypes(context.Context, api.ListSourceTypesRequestObject) (api.ListSourceTypesResponseObject, error) {
	out := api.ListSourceTypes200JSONResponse{Data: make([]api.SourceTypeInfo, len(sourceTypes))}
	for i, st := range sourceTypes {
		out.Data[i] = st.SourceTypeInfo
	}
	return out, nil
}

// defaultMethods are the methods a source accepts unless told otherwise (Hookdeck's default).
var defaultMethods = []string{"POST", "PUT", "PATCH", "DELETE"}

// verificationIn converts and checks a source's verification settings for its type: a field the
// type does not read is refused, and a basic_auth source needs its username.
func verificationIn(typ string, v *api.Verification, field string) (store.SourceVerification, []problem.Detail) {
	var out store.SourceVerification
	if v == nil {
		v = &api.Verification{}
	}
	used := typeInfo(typ).Config
	var details []problem.Detail
	set := func(name string, present bool) bool {
		if present && !slices.Contains(used, name) {
			details = append(details, problem.Detail{Field: field + "." + name, Message: "is not used by a " + typ + " source"})
			return false
		}
		return present
	}
	if set("toleranceSeconds", v.ToleranceSeconds != nil) {
		out.ToleranceSeconds = v.ToleranceSeconds
	}
	if set("algorithm", v.Algorithm != nil) {
		out.Algorithm = string(*v.Algorithm)
	}
	if set("encoding", v.Encoding != nil) {
		out.Encoding = string(*v.Encoding)
	}
	if set("header", v.Header != nil) {
		out.Header = *v.Header
	}
	if set("prefix", v.Prefix != nil) {
		out.Prefix = *v.Prefix
	}
	if set("timestampHeader", v.TimestampHeader != nil) {
		out.TimestampHeader = *v.TimestampHeader
	}
	if set("username", v.Username != nil) {
		out.Username = *v.Username
	}
	if set("onFailure", v.OnFailure != nil && typ != signature.None) {
		out.OnFailure = string(*v.OnFailure)
	}
	if typ == signature.BasicAuth && out.Username == "" {
		details = append(details, problem.Detail{Field: field + ".username", Message: "is required for a basic_auth source"})
	}
	return out, details
}

// checkSecret checks a source's secret for its type.
func checkSecret(typ string, secret *string, field string) []problem.Detail {
	switch {
	case typ == signature.None && secret != nil:
		return []problem.Detail{{Field: field, Message: "is not used by a none source (its events are unchecked)"}}
	case secret == nil && typeInfo(typ).Secret == "required":
		return []problem.Detail{{Field: field, Message: "is required for a " + typ + " source"}}
	case secret != nil && typ == signature.StandardWebhooks:
		if k, err := signature.DecodeSecret(*secret); err != nil || len(k) < 16 {
			return []problem.Detail{{Field: field, Message: "must be whsec_ followed by at least 16 bytes in base64"}}
		}
	}
	return nil
}

func customIn(c *api.CustomResponse, field string) (*store.CustomResponse, []problem.Detail) {
	if c == nil {
		return nil, nil
	}
	out := &store.CustomResponse{StatusCode: 200, ContentType: "application/json", Body: c.Body}
	if c.StatusCode != nil {
		out.StatusCode = *c.StatusCode
	}
	if c.ContentType != nil {
		out.ContentType = *c.ContentType
		if _, _, err := mime.ParseMediaType(out.ContentType); err != nil {
			return nil, []problem.Detail{{Field: field + ".contentType", Message: "is not a media type"}}
		}
	}
	return out, nil
}

func methodsIn(m *[]api.HttpMethod) []string {
	if m == nil {
		return defaultMethods
	}
	out := make([]string, len(*m))
	for i, x := range *m {
		out[i] = string(x)
	}
	return out
}

// ListSources pages through the workspace's sources, oldest first.
func (h *Handler) ListSources(ctx context.Context, req api.ListSourcesRequestObject) (api.ListSourcesResponseObject, error) {
	after, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var typ, status string
	if req.Params.Type != nil {
		typ = string(*req.Params.Type)
	}
	if req.Params.Status != nil {
		status = string(*req.Params.Status)
	}
	limit := pageSize(req.Params.Limit)
	rows, err := h.DB.ListSources(ctx, workspace(ctx), after, typ, status, limit+1)
	if err != nil {
		return nil, err
	}
	base := h.publicBase(requestOf(ctx))
	data, next := page(rows, limit, func(s store.Source) uuid.UUID { return s.ID }, func(s store.Source) api.Source { return toSource(s, base) })
	return api.ListSources200JSONResponse{Data: data, NextCursor: next}, nil
}

// CreateSource creates a source and its URL.
func (h *Handler) CreateSource(ctx context.Context, req api.CreateSourceRequestObject) (api.CreateSourceResponseObject, error) {
	b := req.Body
	typ := string(b.Type)
	in := store.SourceCreate{Name: b.Name, Type: typ, Status: store.SourceActive, DedupWindowSeconds: 86400, AllowedMethods: methodsIn(b.AllowedMethods)}
	v, details := verificationIn(typ, b.Verification, "verification")
	in.Verification = v
	details = append(details, checkSecret(typ, b.Secret, "secret")...)
	// customResponse: null on create is the default answer, as when it is left out.
	_, custom := optional(b.CustomResponse)
	c, d := customIn(custom, "customResponse")
	in.CustomResponse, details = c, append(details, d...)
	if len(details) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, details...)
	}
	if b.Secret != nil {
		in.Secret = *b.Secret
	} else if typ == signature.StandardWebhooks {
		in.GenerateSecret = true
	}
	if b.Status != nil {
		in.Status = string(*b.Status)
	}
	if b.DedupWindowSeconds != nil {
		in.DedupWindowSeconds = *b.DedupWindowSeconds
	}
	s, err := h.DB.CreateSource(ctx, workspace(ctx), in)
	if err != nil {
		return nil, err
	}
	return api.CreateSource201JSONResponse(toSource(s, h.publicBase(requestOf(ctx)))), nil
}

// GetSource fetches a source.
func (h *Handler) GetSource(ctx context.Context, req api.GetSourceRequestObject) (api.GetSourceResponseObject, error) {
	s, err := h.DB.GetSource(ctx, workspace(ctx), req.SourceId)
	if err != nil {
		return nil, err
	}
	return api.GetSource200JSONResponse(toSource(s, h.publicBase(requestOf(ctx)))), nil
}

// UpdateSource changes a source.
func (h *Handler) UpdateSource(ctx context.Context, req api.UpdateSourceRequestObject) (api.UpdateSourceResponseObject, error) {
	defer h.receivers.forget(req.SourceId)
	b := req.Body
	s, err := h.DB.UpdateSource(ctx, workspace(ctx), req.SourceId, func(s *store.Source) error {
		var details []problem.Detail
		if b.Name != nil {
			s.Name = *b.Name
		}
		if b.Status != nil {
			s.Status = string(*b.Status)
		}
		if b.Verification != nil {
			v, d := verificationIn(s.Type, b.Verification, "verification")
			s.Verification, details = v, append(details, d...)
		}
		if b.DedupWindowSeconds != nil {
			s.DedupWindowSeconds = *b.DedupWindowSeconds
		}
		if b.AllowedMethods != nil {
			s.AllowedMethods = methodsIn(b.AllowedMethods)
		}
		if set, v := optional(b.CustomResponse); set {
			c, d := customIn(v, "customResponse")
			s.CustomResponse, details = c, append(details, d...)
		}
		if len(details) > 0 {
			return problem.Invalid(problem.ValidationFailed, details...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateSource200JSONResponse(toSource(s, h.publicBase(requestOf(ctx)))), nil
}

// DeleteSource deletes a source with its events.
func (h *Handler) DeleteSource(ctx context.Context, req api.DeleteSourceRequestObject) (api.DeleteSourceResponseObject, error) {
	defer h.receivers.forget(req.SourceId)
	if err := h.DB.DeleteSource(ctx, workspace(ctx), req.SourceId); err != nil {
		return nil, err
	}
	return api.DeleteSource204Response{}, nil
}

// RotateSourceUrl gives a source a new URL; the old one works for 48 hours more.
func (h *Handler) RotateSourceUrl(ctx context.Context, req api.RotateSourceUrlRequestObject) (api.RotateSourceUrlResponseObject, error) {
	defer h.receivers.forget(req.SourceId)
	s, err := h.DB.RotateSourceURL(ctx, workspace(ctx), req.SourceId)
	if err != nil {
		return nil, err
	}
	return api.RotateSourceUrl200JSONResponse(toSource(s, h.publicBase(requestOf(ctx)))), nil
}

// RotateSourceSecret replaces a source's secret; the old one verifies for 24 hours more.
func (h *Handler) RotateSourceSecret(ctx context.Context, req api.RotateSourceSecretRequestObject) (api.RotateSourceSecretResponseObject, error) {
	defer h.receivers.forget(req.SourceId)
	ws := workspace(ctx)
	s, err := h.DB.GetSource(ctx, ws, req.SourceId)
	if err != nil {
		return nil, err
	}
	var secret *string
	if req.Body != nil {
		secret = req.Body.Secret
	}
	if s.Type == signature.None {
		return nil, problem.Invalid("A none source has no secret", problem.Detail{Field: "secret", Message: "is not used by a none source"})
	}
	if secret == nil && s.Type != signature.StandardWebhooks {
		return nil, problem.Invalid(problem.ValidationFailed, problem.Detail{Field: "secret", Message: "is required for a " + s.Type + " source"})
	}
	if d := checkSecret(s.Type, secret, "secret"); len(d) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, d...)
	}
	s, err = h.DB.RotateSourceSecret(ctx, ws, req.SourceId, deref(secret), secret == nil)
	if err != nil {
		return nil, err
	}
	return api.RotateSourceSecret200JSONResponse(toSource(s, h.publicBase(requestOf(ctx)))), nil
}

// sourceURL is a source's receiving URL.
func sourceURL(base string, s store.Source) string {
	return fmt.Sprintf("%s/ingest/%s/%s", base, s.ID, url.PathEscape(s.URLToken))
}

func toSource(s store.Source, base string) api.Source {
	v := s.Verification
	out := api.Source{SourceId: s.ID, Name: s.Name, Type: api.SourceType(s.Type), Url: sourceURL(base, s),
		PreviousUrlExpiresAt: nullTime(s.OldTokenExpiresAt), HasSecret: s.HasSecret, Status: api.SourceStatus(s.Status),
		DedupWindowSeconds: s.DedupWindowSeconds, AllowedMethods: make([]api.HttpMethod, len(s.AllowedMethods)),
		CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(), CustomResponse: nullable.NewNullNullable[api.CustomResponse]()}
	for i, m := range s.AllowedMethods {
		out.AllowedMethods[i] = api.HttpMethod(m)
	}
	str := func(x string) *string {
		if x == "" {
			return nil
		}
		return &x
	}
	out.Verification = api.Verification{ToleranceSeconds: v.ToleranceSeconds, Header: str(v.Header), Prefix: str(v.Prefix),
		TimestampHeader: str(v.TimestampHeader), Username: str(v.Username)}
	if v.Algorithm != "" {
		a := api.VerificationAlgorithm(v.Algorithm)
		out.Verification.Algorithm = &a
	}
	if v.Encoding != "" {
		e := api.VerificationEncoding(v.Encoding)
		out.Verification.Encoding = &e
	}
	if v.OnFailure != "" {
		o := api.VerificationOnFailure(v.OnFailure)
		out.Verification.OnFailure = &o
	}
	if c := s.CustomResponse; c != nil {
		status, ct := c.StatusCode, c.ContentType
		out.CustomResponse = nullable.NewNullableWithValue(api.CustomResponse{StatusCode: &status, ContentType: &ct, Body: c.Body})
	}
	if s.GeneratedSecret != "" {
		out.Secret = &s.GeneratedSecret
	}
	return out
}
