package webhooks

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
)

// ListEndpoints lists a recipient's endpoints.
func (h *Handler) ListEndpoints(ctx context.Context, req api.ListEndpointsRequestObject) (api.ListEndpointsResponseObject, error) {
	es, err := h.DB.ListEndpoints(ctx, workspace(ctx), req.AppId, req.RecipientId)
	if err != nil {
		return nil, err
	}
	out := api.ListEndpoints200JSONResponse{Data: make([]api.Endpoint, 0, len(es))}
	for _, e := range es {
		out.Data = append(out.Data, toEndpoint(e))
	}
	return out, nil
}

// CreateEndpoint adds an endpoint to a recipient.
func (h *Handler) CreateEndpoint(ctx context.Context, req api.CreateEndpointRequestObject) (api.CreateEndpointResponseObject, error) {
	b := req.Body
	in := store.EndpointCreate{URL: b.Url, MaxAttempts: 8, RateLimitPerMinute: b.RateLimitPerMinute}
	var details []problem.Detail
	details = append(details, checkURL(b.Url)...)
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.EventTypes != nil {
		in.EventTypes = *b.EventTypes
	}
	if b.Status != nil {
		in.Paused = *b.Status == api.CreateEndpointRequestStatusPaused
	}
	if b.Headers != nil {
		in.Headers = *b.Headers
		details = append(details, checkHeaders(in.Headers)...)
	}
	if b.MaxAttempts != nil {
		in.MaxAttempts = *b.MaxAttempts
	}
	if b.Secret != nil {
		in.Secret = *b.Secret
		details = append(details, checkSecret(in.Secret, "secret")...)
	}
	if len(details) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, details...)
	}
	e, err := h.DB.CreateEndpoint(ctx, workspace(ctx), req.AppId, req.RecipientId, in)
	if err != nil {
		return nil, err
	}
	return api.CreateEndpoint201JSONResponse(toEndpoint(e)), nil
}

// GetEndpoint fetches an endpoint.
func (h *Handler) GetEndpoint(ctx context.Context, req api.GetEndpointRequestObject) (api.GetEndpointResponseObject, error) {
	e, err := h.DB.GetEndpoint(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId)
	if err != nil {
		return nil, err
	}
	return api.GetEndpoint200JSONResponse(toEndpoint(e)), nil
}

// UpdateEndpoint changes an endpoint; resuming it delivers what it held.
func (h *Handler) UpdateEndpoint(ctx context.Context, req api.UpdateEndpointRequestObject) (api.UpdateEndpointResponseObject, error) {
	b := req.Body
	var details []problem.Detail
	if b.Url != nil {
		details = append(details, checkURL(*b.Url)...)
	}
	if b.Headers != nil {
		details = append(details, checkHeaders(map[string]string(*b.Headers))...)
	}
	if len(details) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, details...)
	}
	e, err := h.DB.UpdateEndpoint(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId, func(e *store.Endpoint) error {
		if b.Url != nil {
			e.URL = *b.Url
		}
		if b.Description != nil {
			e.Description = *b.Description
		}
		if b.EventTypes != nil {
			e.EventTypes = *b.EventTypes
		}
		if b.Status != nil {
			e.Status = string(*b.Status)
			if e.Status == store.EndpointActive {
				e.FailingSince = nil // setting active starts the failure record afresh, even on an active endpoint
			}
		}
		if b.Headers != nil {
			e.Headers = store.StringMap(*b.Headers)
		}
		if b.MaxAttempts != nil {
			e.MaxAttempts = *b.MaxAttempts
		}
		if set, v := optional(b.RateLimitPerMinute); set {
			e.RateLimitPerMinute = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateEndpoint200JSONResponse(toEndpoint(e)), nil
}

// DeleteEndpoint deletes an endpoint.
func (h *Handler) DeleteEndpoint(ctx context.Context, req api.DeleteEndpointRequestObject) (api.DeleteEndpointResponseObject, error) {
	if err := h.DB.DeleteEndpoint(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId); err != nil {
		return nil, err
	}
	return api.DeleteEndpoint204Response{}, nil
}

// GetEndpointSecret returns an endpoint's secrets.
func (h *Handler) GetEndpointSecret(ctx context.Context, req api.GetEndpointSecretRequestObject) (api.GetEndpointSecretResponseObject, error) {
	s, err := h.DB.GetEndpointSecrets(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId)
	if err != nil {
		return nil, err
	}
	return api.GetEndpointSecret200JSONResponse(toSecret(s)), nil
}

// RotateEndpointSecret replaces an endpoint's secret; the old one keeps signing for 24 h.
func (h *Handler) RotateEndpointSecret(ctx context.Context, req api.RotateEndpointSecretRequestObject) (api.RotateEndpointSecretResponseObject, error) {
	var key string
	if req.Body != nil && req.Body.Key != nil {
		key = *req.Body.Key
		if d := checkSecret(key, "key"); len(d) > 0 {
			return nil, problem.Invalid(problem.ValidationFailed, d...)
		}
	}
	s, err := h.DB.RotateEndpointSecret(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId, key)
	if err != nil {
		return nil, err
	}
	return api.RotateEndpointSecret200JSONResponse(toSecret(s)), nil
}

// ListEndpointAttempts pages through an endpoint's attempts, newest first.
func (h *Handler) ListEndpointAttempts(ctx context.Context, req api.ListEndpointAttemptsRequestObject) (api.ListEndpointAttemptsResponseObject, error) {
	before, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var status string
	if req.Params.Status != nil {
		status = string(*req.Params.Status)
	}
	limit := pageSize(req.Params.Limit)
	as, err := h.DB.ListEndpointAttempts(ctx, workspace(ctx), req.AppId, req.RecipientId, req.EndpointId, status, before, limit+1)
	if err != nil {
		return nil, err
	}
	return api.ListEndpointAttempts200JSONResponse(attemptPage(as, limit)), nil
}

func toSecret(s store.EndpointSecrets) api.EndpointSecret {
	out := api.EndpointSecret{Key: s.Current, PreviousKeys: []api.PreviousSecret{}}
	for _, o := range s.Old {
		out.PreviousKeys = append(out.PreviousKeys, api.PreviousSecret{Key: o.Key, ExpiresAt: o.ExpiresAt.UTC()})
	}
	return out
}

func toEndpoint(e store.Endpoint) api.Endpoint {
	headers := map[string]string(e.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	types := []string(e.EventTypes)
	if types == nil {
		types = []string{}
	}
	return api.Endpoint{EndpointId: e.ID, RecipientId: e.RecipientID, Url: e.URL, Description: e.Description, EventTypes: types,
		Status: api.EndpointStatus(e.Status), DisabledReason: nullOf(e.DisabledReason), Headers: headers,
		MaxAttempts: e.MaxAttempts, RateLimitPerMinute: nullOf(e.RateLimitPerMinute),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
}

// checkURL accepts an absolute http(s) URL without a fragment that deliveries can send
// (egress.CanonicalURL; it is sent in that form).
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

// reservedHeaders are set by every delivery (or by HTTP itself) and cannot be overridden.
var reservedHeaders = map[string]bool{
	"content-type": true, "content-length": true, "host": true, "user-agent": true, "connection": true,
	"keep-alive": true, "proxy-authenticate": true, "proxy-authorization": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "expect": true,
}

func checkHeaders(h map[string]string) []problem.Detail {
	var out []problem.Detail
	for name, v := range h {
		lower := strings.ToLower(name)
		switch {
		case !validHeaderName(name):
			out = append(out, problem.Detail{Field: "headers." + name, Message: "is not a valid header name"})
		case reservedHeaders[lower] || strings.HasPrefix(lower, "webhook-"):
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
	return http.CanonicalHeaderKey(s) != ""
}

// checkSecret accepts a whsec_ secret of 24 to 64 bytes.
func checkSecret(s, field string) []problem.Detail {
	k, err := signature.DecodeSecret(s)
	if err != nil || len(k) < 24 || len(k) > 64 {
		return []problem.Detail{{Field: field, Message: "must be whsec_ followed by 24 to 64 bytes in base64"}}
	}
	return nil
}
