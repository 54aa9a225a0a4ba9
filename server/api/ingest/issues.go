package ingest

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/store"
)

func issueFilter(status *api.IssueStatus, typ *api.IssueType, source, dest *uuid.UUID) store.IssueFilter {
	var f store.IssueFilter
	if status != nil {
		f.Status = string(*status)
	}
	if typ != nil {
		f.Type = string(*typ)
	}
	if source != nil {
		f.SourceID = *source
	}
	if dest != nil {
		f.DestinationID = *dest
	}
	return f
}

// ListIssues pages through the workspace's issues, newest first.
func (h *Handler) ListIssues(ctx context.Context, req api.ListIssuesRequestObject) (api.ListIssuesResponseObject, error) {
	p := req.Params
	before, err := cursorID(p.Cursor)
	if err != nil {
		return nil, err
	}
	f := issueFilter(p.Status, p.Type, p.SourceId, p.DestinationId)
	f.Before = before
	limit := pageSize(p.Limit)
	rows, err := h.DB.ListIssues(ctx, workspace(ctx), f, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(rows, limit, func(i store.Issue) uuid.UUID { return i.ID }, toIssue)
	return api.ListIssues200JSONResponse{Data: data, NextCursor: next}, nil
}

// CountIssues counts the workspace's issues.
func (h *Handler) CountIssues(ctx context.Context, req api.CountIssuesRequestObject) (api.CountIssuesResponseObject, error) {
	p := req.Params
	n, err := h.DB.CountIssues(ctx, workspace(ctx), issueFilter(p.Status, p.Type, p.SourceId, p.DestinationId))
	if err != nil {
		return nil, err
	}
	return api.CountIssues200JSONResponse{Count: n}, nil
}

// GetIssue fetches an issue.
func (h *Handler) GetIssue(ctx context.Context, req api.GetIssueRequestObject) (api.GetIssueResponseObject, error) {
	i, err := h.DB.GetIssue(ctx, workspace(ctx), req.IssueId)
	if err != nil {
		return nil, err
	}
	return api.GetIssue200JSONResponse(toIssue(i)), nil
}

// UpdateIssue changes an issue's status.
func (h *Handler) UpdateIssue(ctx context.Context, req api.UpdateIssueRequestObject) (api.UpdateIssueResponseObject, error) {
	i, err := h.DB.SetIssueStatus(ctx, workspace(ctx), req.IssueId, string(req.Body.Status))
	if err != nil {
		return nil, err
	}
	return api.UpdateIssue200JSONResponse(toIssue(i)), nil
}

// ReplayIssue starts a bulk replay of an issue's events.
func (h *Handler) ReplayIssue(ctx context.Context, req api.ReplayIssueRequestObject) (api.ReplayIssueResponseObject, error) {
	id := req.IssueId
	r, err := h.DB.CreateIngestReplay(ctx, workspace(ctx), store.IngestReplayFilter{IssueID: &id})
	if err != nil {
		return nil, err
	}
	return api.ReplayIssue202JSONResponse(toReplay(r)), nil
}

// issueTitle sums an issue up in words.
func issueTitle(i store.Issue) string {
	name := i.TargetName
	if name == "" {
		name = "a deleted " + map[bool]string{true: "source", false: "destination"}[i.SourceID != nil]
	}
	kind := strings.ReplaceAll(i.Kind, "_", " ")
	switch i.Type {
	case store.IssueDelivery:
		if code, ok := strings.CutPrefix(i.Kind, "http_"); ok {
			return fmt.Sprintf("%s answers %s", name, code)
		}
		return fmt.Sprintf("Deliveries to %s fail: %s", name, kind)
	case store.IssueVerification:
		return fmt.Sprintf("Requests to %s fail verification: %s", name, kind)
	case store.IssueRequest:
		return fmt.Sprintf("Requests to %s are refused: %s", name, kind)
	}
	return fmt.Sprintf("Deliveries to %s are backing up", name)
}

func toIssue(i store.Issue) api.Issue {
	return api.Issue{IssueId: i.ID, Type: api.IssueType(i.Type), Status: api.IssueStatus(i.Status), Title: issueTitle(i),
		SourceId: nullOf(i.SourceID), DestinationId: nullOf(i.DestinationID), Kind: i.Kind,
		Reference:   api.IssueReference{EventId: nullOf(i.RefEventID), AttemptId: nullOf(i.RefAttemptID)},
		Occurrences: i.Occurrences, FirstSeenAt: i.FirstSeenAt.UTC(), LastSeenAt: i.LastSeenAt.UTC(), OpenedAt: i.OpenedAt.UTC(),
		AcknowledgedAt: nullTime(i.AcknowledgedAt), ResolvedAt: nullTime(i.ResolvedAt), AutoResolvedAt: nullTime(i.AutoResolvedAt),
		IgnoredAt: nullTime(i.IgnoredAt)}
}
