package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/eventfilter"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
)

// ListDestinations pages through the workspace's destinations, oldest first.
func (h *Handler) ListDestinations(ctx context.Context, req api.ListDestinationsRequestObject) (api.ListDestinationsResponseObject, error) {
	after, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var source uuid.UUID
	if req.Params.SourceId != nil {
		source = *req.Params.SourceId
	}
	limit := pageSize(req.Params.Limit)
	rows, err := h.DB.ListDestinations(ctx, workspace(ctx), after, source, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(rows, limit, func(d store.Destination) uuid.UUID { return d.ID }, toDestination)
	return api.ListDestinations200JSONResponse{Data: data, NextCursor: next}, nil
}

// CreateDestination creates a destination.
func (h *Handler) CreateDestination(ctx context.Context, req api.CreateDestinationRequestObject) (api.CreateDestinationResponseObject, error) {
	defer h.receivers.forgetAll()
	b := req.Body
	in := store.DestinationCreate{URL: b.Url, SourceIDs: b.SourceIds, MaxAttempts: 8, RateLimitPerMinute: b.RateLimitPerMinute}
	details := checkURL(b.Url)
	if b.Name != nil {
		in.Name = *b.Name
	} else if u, err := url.Parse(b.Url); err == nil {
		in.Name = u.Host
	}
	if b.EventTypes != nil {
		in.EventTypes = *b.EventTypes
	}
	if b.BodyFilter != nil {
		in.BodyFilter = json.RawMessage(*b.BodyFilter)
		details = append(details, checkFilter(in.BodyFilter, "bodyFilter")...)
	}
	// auth: null on create is no authentication, as when it is left out.
	if _, auth := optional(b.Auth); auth != nil {
		a, d := authIn(*auth)
		in.Auth, details = a, append(details, d...)
	}
	if b.Headers != nil {
		in.Headers = *b.Headers
		details = append(details, checkHeaders(in.Headers, in.Auth != nil)...)
	}
	if b.Status != nil {
		in.Paused = *b.Status == api.CreateDestinationRequestStatusPaused
	}
	if b.MaxAttempts != nil {
		in.MaxAttempts = *b.MaxAttempts
	}
	if b.Secret != nil {
		in.Secret = *b.Secret
		details = append(details, checkSigningSecret(in.Secret, "secret")...)
	}
	if len(details) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, details...)
	}
	d, err := h.DB.CreateDestination(ctx, workspace(ctx), in)
	if err != nil {
		return nil, err
	}
	return api.CreateDestination201JSONResponse(toDestination(d)), nil
}

// GetDestination fetches a destination.
func (h *Handler) GetDestination(ctx context.Context, req api.GetDestinationRequestObject) (api.GetDestinationResponseObject, error) {
	d, err := h.DB.GetDestination(ctx, workspace(ctx), req.DestinationId)
	if err != nil {
		return nil, err
	}
	return api.GetDestination200JSONResponse(toDestination(d)), nil
}

// UpdateDestination changes a destination; resuming it delivers what it held.
func (h *Handler) UpdateDestination(ctx context.Context, req api.UpdateDestinationRequestObject) (api.UpdateDestinationResponseObject, error) {
	defer h.receivers.forgetAll()
	b := req.Body
	d, err := h.DB.UpdateDestination(ctx, workspace(ctx), req.DestinationId, func(d *store.Destination) error {
		var details []problem.Detail
		if b.Name != nil {
			d.Name = *b.Name
		}
		if b.Url != nil {
			d.URL = *b.Url
			details = append(details, checkURL(d.URL)...)
		}
		if b.SourceIds != nil {
			d.SourceIDs = d.SourceIDs[:0]
			for _, id := range *b.SourceIds {
				d.SourceIDs = append(d.SourceIDs, id.String())
			}
		}
		if b.EventTypes != nil {
			d.EventTypes = *b.EventTypes
		}
		if set, v := optional(b.BodyFilter); set {
			d.BodyFilter = nil
			if v != nil && string(*v) != "null" {
				d.BodyFilter = store.JSONDoc(*v)
				details = append(details, checkFilter(*v, "bodyFilter")...)
			}
		}
		if set, v := optional(b.Auth); set {
			if v == nil {
				d.ClearAuth = true
				d.AuthType = nil
			} else {
				a, dd := authIn(*v)
				d.Auth, details = a, append(details, dd...)
				t := v.Type
				d.AuthType = (*string)(&t)
			}
		}
		if b.Headers != nil {
			d.Headers = store.StringMap(*b.Headers)
		}
		if b.Headers != nil || (b.Auth.IsSpecified() && !b.Auth.IsNull()) {
			details = append(details, checkHeaders(d.Headers, d.AuthType != nil)...)
		}
		if b.Status != nil {
			d.Status = string(*b.Status)
			if d.Status == store.EndpointActive {
				d.FailingSince = nil // setting active starts the failure record afresh
			}
		}
		if b.MaxAttempts != nil {
			d.MaxAttempts = *b.MaxAttempts
		}
		if set, v := optional(b.RateLimitPerMinute); set {
			d.RateLimitPerMinute = v
		}
		if len(details) > 0 {
			return problem.Invalid(problem.ValidationFailed, details...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateDestination200JSONResponse(toDestination(d)), nil
}

// DeleteDestination deletes a destination.
func (h *Handler) DeleteDestination(ctx context.Context, req api.DeleteDestinationRequestObject) (api.DeleteDestinationResponseObject, error) {
	defer h.receivers.forgetAll()
	if err := h.DB.DeleteDestination(ctx, workspace(ctx), req.DestinationId); err != nil {
		return nil, err
	}
	return api.DeleteDestination204Response{}, nil
}

// GetDestinationSecret returns a destination's signing secrets.
func (h *Handler) GetDestinationSecret(ctx context.Context, req api.GetDestinationSecretRequestObject) (api.GetDestinationSecretResponseObject, error) {
	s, err := h.DB.GetDestinationSecrets(ctx, workspace(ctx), req.DestinationId)
	if err != nil {
		return nil, err
	}
	return api.GetDestinationSecret200JSONResponse(toSecret(s)), nil
}

// RotateDestinationSecret replaces a destination's signing secret; the old one signs for 24 h more.
func (h *Handler) RotateDestinationSecret(ctx context.Context, req api.RotateDestinationSecretRequestObject) (api.RotateDestinationSecretResponseObject, error) {
	var key string
	if req.Body != nil && req.Body.Key != nil {
		key = *req.Body.Key
		if d := checkSigningSecret(key, "key"); len(d) > 0 {
			return nil, problem.Invalid(problem.ValidationFailed, d...)
		}
	}
	s, err := h.DB.RotateDestinationSecret(ctx, workspace(ctx), req.DestinationId, key)
	if err != nil {
		return nil, err
	}
	return api.RotateDestinationSecret200JSONResponse(toSecret(s)), nil
}

// TestDestinationFilter answers whether a filter matches an event.
func (h *Handler) TestDestinationFilter(ctx context.Context, req api.TestDestinationFilterRequestObject) (api.TestDestinationFilterResponseObject, error) {
	b := req.Body
	ws := workspace(ctx)
	var details []problem.Detail
	if (b.Filter == nil) == (b.DestinationId == nil) {
		details = append(details, problem.Detail{Field: "filter", Message: "give exactly one of filter and destinationId"})
	}
	if (b.EventId == nil) == (b.Event == nil) {
		details = append(details, problem.Detail{Field: "event", Message: "give exactly one of eventId and event"})
	}
	var types []string
	var filter json.RawMessage
	if b.Filter != nil {
		if b.Filter.EventTypes != nil {
			types = *b.Filter.EventTypes
		}
		if b.Filter.BodyFilter != nil {
			filter = json.RawMessage(*b.Filter.BodyFilter)
			details = append(details, checkFilter(filter, "filter.bodyFilter")...)
		}
	}
	if len(details) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, details...)
	}
	if b.DestinationId != nil {
		d, err := h.DB.GetDestination(ctx, ws, *b.DestinationId)
		if err != nil {
			return nil, err
		}
		types, filter = d.EventTypes, json.RawMessage(d.BodyFilter)
	}
	var eventType, contentType string
	var body []byte
	if b.EventId != nil {
		e, err := h.DB.EventForReplay(ctx, ws, *b.EventId)
		if err != nil {
			return nil, err
		}
		eventType, contentType, body = deref(e.EventType), e.ContentType, e.Body
	} else {
		eventType, contentType = deref(b.Event.EventType), "application/json"
		if b.Event.Body != nil {
			body = *b.Event.Body
		}
	}
	compiled, _ := eventfilter.Compile(filter)
	value, parsed := eventfilter.ParseBody(contentType, body)
	typeOK, bodyOK := eventfilter.TypeMatches(types, eventType), compiled.Matches(value, parsed)
	return api.TestDestinationFilter200JSONResponse{Matches: typeOK && bodyOK, EventTypeMatches: typeOK, BodyMatches: bodyOK}, nil
}

func checkFilter(f json.RawMessage, field string) []problem.Detail {
	_, problems := eventfilter.Compile(f)
	out := make([]problem.Detail, 0, len(problems))
	for _, p := range problems {
		out = append(out, problem.Detail{Field: strings.TrimSuffix(field+"."+p.Path, "."), Message: p.Message})
	}
	return out
}

func authIn(a api.DestinationAuthInput) (*store.DestinationAuth, []problem.Detail) {
	out := &store.DestinationAuth{Type: string(a.Type)}
	want := map[string]bool{}
	switch a.Type {
	case api.DestinationAuthInputTypeBearer:
		want["token"] = true
		out.Secret = deref(a.Token)
	case api.DestinationAuthInputTypeBasic:
		want["username"], want["password"] = true, true
		out.Username, out.Secret = deref(a.Username), deref(a.Password)
	case api.DestinationAuthInputTypeApiKey:
		want["header"], want["key"] = true, true
		out.Header, out.Secret = http.CanonicalHeaderKey(deref(a.Header)), deref(a.Key)
	}
	var details []problem.Detail
	for name, given := range map[string]bool{"token": a.Token != nil, "username": a.Username != nil, "password": a.Password != nil,
		"header": a.Header != nil, "key": a.Key != nil} {
		switch {
		case want[name] && !given:
			details = append(details, problem.Detail{Field: "auth." + name, Message: "is required for " + string(a.Type) + " authentication"})
		case !want[name] && given:
			details = append(details, problem.Detail{Field: "auth." + name, Message: "is not used by " + string(a.Type) + " authentication"})
		}
	}
	if a.Type == api.DestinationAuthInputTypeApiKey && a.Header != nil && reservedHeader(*a.Header) {
		details = append(details, problem.Detail{Field: "auth.header", Message: "is set by the delivery and cannot be used"})
	}
	return out, details
}

// checkURL accepts an absolute http(s) URL without a fragment that deliveries can send.
func checkURL(raw string) []problem.Detail {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return []problem.Detail{{Field: "url", Message: "must be an absolute http or https URL"}}
	}
	if u.Fragment != "" {
		return []problem.Detail{{Field: "url", Message: "must not have a fragment"}}
	}
	if _, err := egress.CanonicalURL(raw); err != nil {
		return []problem.Detail{{Field: "url", Message: "cannot be sent: " + err.Error()}}
	}
	return nil
}

// reservedHeader reports whether forwarding sets a header itself.
func reservedHeader(name string) bool {
	l := strings.ToLower(name)
	switch l {
	case "content-type", "content-length", "host", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
		"te", "trailer", "transfer-encoding", "upgrade", "expect":
		return true
	}
	return strings.HasPrefix(l, "webhook-") || strings.HasPrefix(l, "x-switchboard-")
}

func checkHeaders(h map[string]string, hasAuth bool) []problem.Detail {
	var out []problem.Detail
	for name, v := range h {
		switch {
		case !validHeaderName(name):
			out = append(out, problem.Detail{Field: "headers." + name, Message: "is not a valid header name"})
		case reservedHeader(name) || (hasAuth && strings.EqualFold(name, "authorization")):
			out = append(out, problem.Detail{Field: "headers." + name, Message: "is set by the delivery and cannot be overridden"})
		case strings.ContainsAny(v, "\r\n\x00"):
			out = append(out, problem.Detail{Field: "headers." + name, Message: "must not contain line breaks"})
		}
	}
	return out
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// checkSigningSecret accepts a whsec_ secret of 24 to 64 bytes.
func checkSigningSecret(s, field string) []problem.Detail {
	k, err := signature.DecodeSecret(s)
	if err != nil || len(k) < 24 || len(k) > 64 {
		return []problem.Detail{{Field: field, Message: "must be whsec_ followed by 24 to 64 bytes in base64"}}
	}
	return nil
}

func toSecret(s store.EndpointSecrets) api.DestinationSecret {
	out := api.DestinationSecret{Key: s.Current, PreviousKeys: []api.PreviousSecret{}}
	for _, o := range s.Old {
		out.PreviousKeys = append(out.PreviousKeys, api.PreviousSecret{Key: o.Key, ExpiresAt: o.ExpiresAt.UTC()})
	}
	return out
}

func toDestination(d store.Destination) api.Destination {
	headers := map[string]string(d.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	types := []string(d.EventTypes)
	if types == nil {
		types = []string{}
	}
	out := api.Destination{DestinationId: d.ID, Name: d.Name, Url: d.URL, SourceIds: make([]uuid.UUID, 0, len(d.SourceIDs)), EventTypes: types,
		Headers: headers, Status: api.DestinationStatus(d.Status), DisabledReason: nullOf(d.DisabledReason), MaxAttempts: d.MaxAttempts,
		RateLimitPerMinute: nullOf(d.RateLimitPerMinute), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		BodyFilter: nullable.NewNullNullable[json.RawMessage](), Auth: nullable.NewNullNullable[api.DestinationAuth]()}
	for _, s := range d.SourceIDs {
		if id, err := uuid.Parse(s); err == nil {
			out.SourceIds = append(out.SourceIds, id)
		}
	}
	if len(d.BodyFilter) > 0 && string(d.BodyFilter) != "null" {
		out.BodyFilter = nullable.NewNullableWithValue(json.RawMessage(d.BodyFilter))
	}
	if d.AuthType != nil {
		a := api.DestinationAuth{Type: api.DestinationAuthType(*d.AuthType)}
		if u := d.AuthUsername(); u != "" {
			a.Username = &u
		}
		if hd := d.AuthHeader(); hd != "" {
			a.Header = &hd
		}
		out.Auth = nullable.NewNullableWithValue(a)
	}
	return out
}
