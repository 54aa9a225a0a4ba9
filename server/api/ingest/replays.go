package ingest

import (
	"context"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// CreateReplay starts a bulk replay.
func (h *Handler) CreateReplay(ctx context.Context, req api.CreateReplayRequestObject) (api.CreateReplayResponseObject, error) {
	b := req.Body
	f := store.IngestReplayFilter{SourceID: b.SourceId, DestinationID: b.DestinationId, Since: b.Since, Until: b.Until,
		Search: deref(b.Search), IssueID: b.IssueId}
	if b.Status != nil {
		f.Status = string(*b.Status)
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		return nil, problem.Invalid("until must be after since", problem.Detail{Field: "until", Message: "must be after since"})
	}
	r, err := h.DB.CreateIngestReplay(ctx, workspace(ctx), f)
	if err != nil {
		return nil, err
	}
	return api.CreateReplay202JSONResponse(toReplay(r)), nil
}

// GetReplay shows a bulk replay's progress.
func (h *Handler) GetReplay(ctx context.Context, req api.GetReplayRequestObject) (api.GetReplayResponseObject, error) {
	r, err := h.DB.GetIngestReplay(ctx, workspace(ctx), req.ReplayId)
	if err != nil {
		return nil, err
	}
	return api.GetReplay200JSONResponse(toReplay(r)), nil
}

func toReplay(r store.IngestReplay) api.Replay {
	f := r.Filter
	status := api.CreateReplayRequestStatus(f.Status)
	filter := api.CreateReplayRequest{SourceId: f.SourceID, DestinationId: f.DestinationID, Status: &status, IssueId: f.IssueID}
	if f.Since != nil {
		s := f.Since.UTC()
		filter.Since = &s
	}
	if f.Until != nil {
		u := f.Until.UTC()
		filter.Until = &u
	}
	if f.Search != "" {
		filter.Search = &f.Search
	}
	return api.Replay{ReplayId: r.ID, Status: api.ReplayStatus(r.Status), Filter: filter, Replayed: r.Replayed,
		CreatedAt: r.CreatedAt.UTC(), CompletedAt: nullTime(r.CompletedAt)}
}
