package webhooks

import (
	"context"
	"net/url"
	"time"

	"github.com/google/uuid"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/store"
)

// ListRecipients pages through an app's recipients, oldest first.
func (h *Handler) ListRecipients(ctx context.Context, req api.ListRecipientsRequestObject) (api.ListRecipientsResponseObject, error) {
	after, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.Params.Limit)
	rs, err := h.DB.ListRecipients(ctx, workspace(ctx), req.AppId, after, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(rs, limit, func(r store.Recipient) uuid.UUID { return r.ID }, toRecipient)
	return api.ListRecipients200JSONResponse{Data: data, NextCursor: next}, nil
}

// CreateRecipient creates a recipient.
func (h *Handler) CreateRecipient(ctx context.Context, req api.CreateRecipientRequestObject) (api.CreateRecipientResponseObject, error) {
	b := req.Body
	var meta map[string]string
	if b.Metadata != nil {
		meta = *b.Metadata
	}
	r, err := h.DB.CreateRecipient(ctx, workspace(ctx), req.AppId, b.RecipientId, b.Name, meta)
	if err != nil {
		return nil, err
	}
	return api.CreateRecipient201JSONResponse(toRecipient(r)), nil
}

// GetRecipient fetches a recipient.
func (h *Handler) GetRecipient(ctx context.Context, req api.GetRecipientRequestObject) (api.GetRecipientResponseObject, error) {
	r, err := h.DB.GetRecipient(ctx, workspace(ctx), req.AppId, req.RecipientId)
	if err != nil {
		return nil, err
	}
	return api.GetRecipient200JSONResponse(toRecipient(r)), nil
}

// UpdateRecipient changes a recipient's name or metadata.
func (h *Handler) UpdateRecipient(ctx context.Context, req api.UpdateRecipientRequestObject) (api.UpdateRecipientResponseObject, error) {
	r, err := h.DB.UpdateRecipient(ctx, workspace(ctx), req.AppId, req.RecipientId, func(r *store.Recipient) error {
		if set, name := optional(req.Body.Name); set {
			r.Name = name
		}
		if req.Body.Metadata != nil {
			r.Metadata = store.StringMap(*req.Body.Metadata)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateRecipient200JSONResponse(toRecipient(r)), nil
}

// DeleteRecipient deletes a recipient with its endpoints and messages.
func (h *Handler) DeleteRecipient(ctx context.Context, req api.DeleteRecipientRequestObject) (api.DeleteRecipientResponseObject, error) {
	if err := h.DB.DeleteRecipient(ctx, workspace(ctx), req.AppId, req.RecipientId); err != nil {
		return nil, err
	}
	return api.DeleteRecipient204Response{}, nil
}

// CreatePortalSession creates a short-lived portal session for a recipient.
func (h *Handler) CreatePortalSession(ctx context.Context, req api.CreatePortalSessionRequestObject) (api.CreatePortalSessionResponseObject, error) {
	ttl := time.Hour
	if req.Body != nil && req.Body.ExpiresInSeconds != nil {
		ttl = time.Duration(*req.Body.ExpiresInSeconds) * time.Second
	}
	expires := h.now().Add(ttl).UTC().Truncate(time.Second)
	s, token, err := h.DB.CreatePortalSession(ctx, workspace(ctx), req.AppId, req.RecipientId, expires)
	if err != nil {
		return nil, err
	}
	// On the configured public URL, never the request's Host: a link built from a Host header
	// the caller chose would send the customer, token and all, wherever that names.
	// The token travels in the fragment, which browsers never send to a server or a referrer.
	u := h.PublicURL + "/portal/" + url.PathEscape(s.AppID.String()) + "/" + url.PathEscape(s.RecipientID) + "#token=" + token
	return api.CreatePortalSession201JSONResponse{Url: u, Token: token, ExpiresAt: s.ExpiresAt.UTC()}, nil
}

func toRecipient(r store.Recipient) api.Recipient {
	meta := map[string]string(r.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	return api.Recipient{RecipientId: r.RecipientID, Name: nullOf(r.Name), Metadata: meta,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}
