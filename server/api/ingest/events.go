package ingest

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// ListEvents pages through the ledger, newest first.
func (h *Handler) ListEvents(ctx context.Context, req api.ListEventsRequestObject) (api.ListEventsResponseObject, error) {
	p := req.Params
	before, err := cursorID(p.Cursor)
	if err != nil {
		return nil, err
	}
	f := store.EventFilter{Since: p.Since, Until: p.Until, Before: before, EventType: deref(p.EventType), Search: deref(p.Search)}
	if p.SourceId != nil {
		f.SourceID = *p.SourceId
	}
	if p.Verification != nil {
		f.Verification = string(*p.Verification)
	}
	if p.Status != nil {
		f.Status = string(*p.Status)
	}
	limit := pageSize(p.Limit)
	rows, err := h.DB.ListEvents(ctx, workspace(ctx), f, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(rows, limit, func(e store.Event) uuid.UUID { return e.ID }, toEvent)
	return api.ListEvents200JSONResponse{Data: data, NextCursor: next}, nil
}

// GetEvent fetches an event with its deliveries and their attempts.
func (h *Handler) GetEvent(ctx context.Context, req api.GetEventRequestObject) (api.GetEventResponseObject, error) {
	e, err := h.DB.GetEvent(ctx, workspace(ctx), req.EventId)
	if err != nil {
		return nil, err
	}
	ev := toEvent(e)
	out := api.GetEvent200JSONResponse{EventId: ev.EventId, SourceId: ev.SourceId, Status: ev.Status, RejectionCause: ev.RejectionCause,
		Verification: ev.Verification, EventType: ev.EventType, ProviderEventId: ev.ProviderEventId, DuplicateOf: ev.DuplicateOf,
		Request: ev.Request, ReceivedAt: ev.ReceivedAt, Deliveries: make([]api.Delivery, 0, len(e.Deliveries))}
	for _, d := range e.Deliveries {
		del := api.Delivery{DestinationId: d.DestinationID, Url: d.URL, Status: api.DeliveryStatus(d.Status), Attempts: d.Attempts,
			LastStatusCode: nullOf(d.LastStatusCode), LastError: nullOf(d.LastError), NextAttemptAt: nullTime(d.NextAttemptAt),
			DeliveredAt: nullTime(d.DeliveredAt), AttemptList: make([]api.Attempt, 0, len(d.AttemptList))}
		for _, a := range d.AttemptList {
			del.AttemptList = append(del.AttemptList, api.Attempt{AttemptId: a.ID, DestinationId: a.EndpointID, AttemptNumber: a.AttemptNumber,
				Trigger: api.AttemptTrigger(a.Trigger), Status: api.AttemptStatus(a.Status), ResponseStatusCode: nullOf(a.ResponseStatusCode),
				ResponseBody: nullOf(a.ResponseBody), DurationMs: a.DurationMS, Error: nullOf(a.Error), NextAttemptAt: nullTime(a.NextAttemptAt),
				CreatedAt: a.CreatedAt.UTC()})
		}
		out.Deliveries = append(out.Deliveries, del)
	}
	return out, nil
}

// GetEventRaw returns an event's body byte for byte, with its content type.
func (h *Handler) GetEventRaw(ctx context.Context, req api.GetEventRawRequestObject) (api.GetEventRawResponseObject, error) {
	body, ct, ok, err := h.DB.EventBody(ctx, workspace(ctx), req.EventId)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem.New(http.StatusNotFound, "The event has no body: it was refused for its size")
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return api.GetEventRaw200AsteriskResponse{Body: bytes.NewReader(body), ContentType: ct, ContentLength: int64(len(body))}, nil
}

// ReplayEvent sends an event again to its destinations (matched anew) or to those given.
func (h *Handler) ReplayEvent(ctx context.Context, req api.ReplayEventRequestObject) (api.ReplayEventResponseObject, error) {
	ws := workspace(ctx)
	var dests []uuid.UUID
	if req.Body != nil && req.Body.DestinationIds != nil {
		dests = *req.Body.DestinationIds
	} else {
		e, err := h.DB.EventForReplay(ctx, ws, req.EventId)
		if err != nil {
			return nil, err
		}
		routes, err := h.DB.SourceDestinations(ctx, ws, e.SourceID)
		if err != nil {
			return nil, err
		}
		dests = h.router.Match(routes, deref(e.EventType), e.ContentType, e.Body)
		// Those it was delivered to before, too, if they still exist.
		for _, d := range e.Delivered {
			if id, err := uuid.Parse(d); err == nil && !containsID(dests, id) {
				dests = append(dests, id)
			}
		}
	}
	n, err := h.DB.ReplayEvent(ctx, ws, req.EventId, dests)
	if err != nil {
		return nil, err
	}
	return api.ReplayEvent202JSONResponse{EventId: req.EventId, Destinations: n}, nil
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func toEvent(e store.Event) api.Event {
	headers := map[string]string{}
	for k, vs := range e.HeaderMap() {
		headers[k] = strings.Join(vs, ", ")
	}
	return api.Event{EventId: e.ID, SourceId: e.SourceID, Status: api.EventStatus(e.Status), RejectionCause: nullOf(e.RejectionCause),
		Verification: api.EventVerification{Status: api.VerificationStatus(e.VerificationStatus), Scheme: api.SourceType(e.VerificationScheme),
			FailureReason: nullOf(e.FailureReason)},
		EventType: nullOf(e.EventType), ProviderEventId: nullOf(e.ProviderEventID), DuplicateOf: nullOf(e.DuplicateOf),
		Request:    api.RequestSummary{Method: e.Method, Query: e.Query, Headers: headers, ContentType: e.ContentType, BodySize: e.BodySize},
		ReceivedAt: e.ReceivedAt.UTC()}
}
