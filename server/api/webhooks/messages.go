package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// SendMessage accepts a message for delivery (202), or returns the one a repeated id or
// idempotency key names.
func (h *Handler) SendMessage(ctx context.Context, req api.SendMessageRequestObject) (api.SendMessageResponseObject, error) {
	b := req.Body
	ws := workspace(ctx)
	plan, err := h.DB.PlanSend(ctx, ws, req.AppId, b.EventType)
	if err != nil {
		return nil, err
	}
	recipient, err := routeRecipient(ctx, plan.App, b)
	if err != nil {
		return nil, err
	}
	et := plan.EventType
	switch {
	case et == nil:
		return nil, problem.Invalid(fmt.Sprintf("Event type %s is not published in this app", b.EventType),
			problem.Detail{Field: "eventType", Message: "is not a published event type of the app"})
	case et.ArchivedAt != nil:
		return nil, problem.Invalid(fmt.Sprintf("Event type %s is archived and accepts no new messages", b.EventType),
			problem.Detail{Field: "eventType", Message: "is archived"})
	case len(et.Schema) > 0:
		s, err := h.schemas.compiled(req.AppId, et.Name, et.UpdatedAt, json.RawMessage(et.Schema))
		if err != nil {
			return nil, problem.Invalid("data does not match the event type's schema",
				problem.Detail{Field: "eventType", Message: "the event type's schema does not compile: " + err.Error()})
		}
		if details := validate(s, b.Data, "data"); len(details) > 0 {
			return nil, problem.Invalid("data does not match the event type's schema", details...)
		}
	}
	in := store.MessageSend{WorkspaceID: ws, AppID: req.AppId, RecipientID: recipient, EventType: b.EventType, Data: b.Data,
		IdempotencyKey: b.IdempotencyKey, MessagesPerMinute: plan.MessagesPerMinute}
	if b.MessageId != nil {
		in.MessageID = *b.MessageId
	}
	m, _, err := h.DB.SendMessage(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.SendMessage202JSONResponse(toMessage(m)), nil
}

// routeRecipient finds a send's recipient: the body's recipientId, else the app's routing-key
// header, else the value at the app's routing-key path in data.
func routeRecipient(ctx context.Context, app store.WebhookApp, b *api.SendMessageRequest) (string, error) {
	if b.RecipientId != nil {
		return *b.RecipientId, nil
	}
	if app.RoutingKeyHeader != nil {
		if r := requestOf(ctx); r != nil {
			if v := strings.TrimSpace(r.Header.Get(*app.RoutingKeyHeader)); v != "" {
				return v, nil
			}
		}
	}
	if app.RoutingKeyBodyPath != nil {
		var cur any
		_ = json.Unmarshal(b.Data, &cur)
		for _, part := range strings.Split(*app.RoutingKeyBodyPath, ".") {
			obj, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = obj[part]
		}
		switch v := cur.(type) {
		case string:
			if v != "" {
				return v, nil
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		}
	}
	var how []string
	if app.RoutingKeyHeader != nil {
		how = append(how, "the "+*app.RoutingKeyHeader+" header")
	}
	if app.RoutingKeyBodyPath != nil {
		how = append(how, "data."+*app.RoutingKeyBodyPath)
	}
	msg := "is required (the app has no routing key)"
	if len(how) > 0 {
		msg = "is required when " + strings.Join(how, " and ") + " give none"
	}
	return "", problem.Invalid("No recipient for the message", problem.Detail{Field: "recipientId", Message: msg})
}

// GetMessage fetches a message with its per-endpoint delivery status.
func (h *Handler) GetMessage(ctx context.Context, req api.GetMessageRequestObject) (api.GetMessageResponseObject, error) {
	m, err := h.DB.GetMessage(ctx, workspace(ctx), req.AppId, req.MessageId, onlyRecipient(ctx))
	if err != nil {
		return nil, err
	}
	return api.GetMessage200JSONResponse(toMessage(m)), nil
}

// ListMessages pages through an app's messages, newest first.
func (h *Handler) ListMessages(ctx context.Context, req api.ListMessagesRequestObject) (api.ListMessagesResponseObject, error) {
	p := req.Params
	before, err := cursorID(p.Cursor)
	if err != nil {
		return nil, err
	}
	f := store.MessageFilter{Since: p.Since, Until: p.Until, Before: before}
	if p.RecipientId != nil {
		f.RecipientID = *p.RecipientId
	}
	if only := onlyRecipient(ctx); only != "" {
		if f.RecipientID != "" && f.RecipientID != only {
			return nil, problem.New(http.StatusForbidden, "The portal session is not for this recipientId")
		}
		f.RecipientID = only
	}
	if p.EventType != nil {
		f.EventType = *p.EventType
	}
	if p.Status != nil {
		f.Status = string(*p.Status)
	}
	limit := pageSize(p.Limit)
	ms, err := h.DB.ListMessages(ctx, workspace(ctx), req.AppId, f, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(ms, limit, func(m store.Message) uuid.UUID { return m.ID }, toMessage)
	return api.ListMessages200JSONResponse{Data: data, NextCursor: next}, nil
}

// ListMessageAttempts pages through a message's attempts, newest first.
func (h *Handler) ListMessageAttempts(ctx context.Context, req api.ListMessageAttemptsRequestObject) (api.ListMessageAttemptsResponseObject, error) {
	before, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.Params.Limit)
	as, err := h.DB.ListMessageAttempts(ctx, workspace(ctx), req.AppId, req.MessageId, onlyRecipient(ctx),
		req.Params.EndpointId, before, limit+1)
	if err != nil {
		return nil, err
	}
	return api.ListMessageAttempts200JSONResponse(attemptPage(as, limit)), nil
}

// ReplayMessage sends a message again to its endpoints, or one endpoint.
func (h *Handler) ReplayMessage(ctx context.Context, req api.ReplayMessageRequestObject) (api.ReplayMessageResponseObject, error) {
	var endpoint *uuid.UUID
	if req.Body != nil {
		endpoint = req.Body.EndpointId
	}
	n, err := h.DB.ReplayMessage(ctx, workspace(ctx), req.AppId, req.MessageId, endpoint)
	if err != nil {
		return nil, err
	}
	return api.ReplayMessage202JSONResponse{MessageId: req.MessageId, Endpoints: n}, nil
}

// CreateBulkReplay starts a bulk replay.
func (h *Handler) CreateBulkReplay(ctx context.Context, req api.CreateBulkReplayRequestObject) (api.CreateBulkReplayResponseObject, error) {
	b := req.Body
	f := store.ReplayFilter{Since: b.Since.UTC(), Until: b.Until, EndpointID: b.EndpointId, FailedOnly: b.FailedOnly == nil || *b.FailedOnly}
	if b.EventType != nil {
		f.EventType = *b.EventType
	}
	if b.RecipientId != nil {
		f.RecipientID = *b.RecipientId
	}
	if f.Until != nil && !f.Until.After(f.Since) {
		return nil, problem.Invalid("until must be after since", problem.Detail{Field: "until", Message: "must be after since"})
	}
	r, err := h.DB.CreateBulkReplay(ctx, workspace(ctx), req.AppId, f)
	if err != nil {
		return nil, err
	}
	return api.CreateBulkReplay202JSONResponse(toReplay(r)), nil
}

// GetBulkReplay shows a bulk replay's progress.
func (h *Handler) GetBulkReplay(ctx context.Context, req api.GetBulkReplayRequestObject) (api.GetBulkReplayResponseObject, error) {
	r, err := h.DB.GetBulkReplay(ctx, workspace(ctx), req.AppId, req.ReplayId)
	if err != nil {
		return nil, err
	}
	return api.GetBulkReplay200JSONResponse(toReplay(r)), nil
}

func toReplay(r store.BulkReplay) api.BulkReplay {
	f := r.Filter
	failed := f.FailedOnly
	out := api.BulkReplay{ReplayId: r.ID, Status: api.BulkReplayStatus(r.Status), Replayed: r.Replayed,
		CreatedAt: r.CreatedAt.UTC(), CompletedAt: nullTime(r.CompletedAt),
		Filter: api.CreateBulkReplayRequest{Since: f.Since.UTC(), Until: f.Until, EndpointId: f.EndpointID, FailedOnly: &failed}}
	if f.EventType != "" {
		out.Filter.EventType = &f.EventType
	}
	if f.RecipientID != "" {
		out.Filter.RecipientId = &f.RecipientID
	}
	return out
}

func toMessage(m store.Message) api.Message {
	out := api.Message{MessageId: m.MessageID, RecipientId: m.RecipientID, EventType: m.EventType,
		IdempotencyKey: nullOf(m.IdempotencyKey), Data: m.Data(), Status: api.MessageStatus(m.Status), CreatedAt: m.CreatedAt.UTC()}
	if m.Deliveries != nil {
		ds := make([]api.Delivery, 0, len(m.Deliveries))
		for _, d := range m.Deliveries {
			ds = append(ds, api.Delivery{EndpointId: d.EndpointID, Url: d.URL, Status: api.DeliveryStatus(d.Status), Attempts: d.Attempts,
				LastStatusCode: nullOf(d.LastStatusCode), LastError: nullOf(d.LastError),
				NextAttemptAt: nullTime(d.NextAttemptAt), DeliveredAt: nullTime(d.DeliveredAt)})
		}
		out.Deliveries = &ds
	}
	return out
}

func attemptPage(as []store.Attempt, limit int) api.AttemptPage {
	data, next := page(as, limit, func(a store.Attempt) uuid.UUID { return a.ID }, toAttempt)
	return api.AttemptPage{Data: data, NextCursor: next}
}

func toAttempt(a store.Attempt) api.Attempt {
	return api.Attempt{AttemptId: a.ID, MessageId: a.MessageID, EndpointId: a.EndpointID,
		AttemptNumber: a.AttemptNumber, Trigger: api.AttemptTrigger(a.Trigger), Status: api.AttemptStatus(a.Status),
		ResponseStatusCode: nullOf(a.ResponseStatusCode), ResponseBody: nullOf(a.ResponseBody), DurationMs: a.DurationMS,
		Error: nullOf(a.Error), NextAttemptAt: nullTime(a.NextAttemptAt), CreatedAt: a.CreatedAt.UTC()}
}
