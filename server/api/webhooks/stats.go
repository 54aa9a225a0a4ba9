package webhooks

import (
	"context"
	"time"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// GetAppDeliveryStats counts an app's delivery attempts per minute (the dashboard's health chart).
func (h *Handler) GetAppDeliveryStats(ctx context.Context, req api.GetAppDeliveryStatsRequestObject) (api.GetAppDeliveryStatsResponseObject, error) {
	until := h.now()
	if req.Params.Until != nil {
		until = *req.Params.Until
	}
	since := until.Add(-3 * time.Hour)
	if req.Params.Since != nil {
		since = *req.Params.Since
	}
	if err := statsWindow(since, until); err != nil {
		return nil, err
	}
	counts, err := h.DB.AppDeliveryStats(ctx, workspace(ctx), req.AppId, since, until)
	if err != nil {
		return nil, err
	}
	out := api.GetAppDeliveryStats200JSONResponse{Since: since.UTC().Truncate(time.Minute), Until: until.UTC().Truncate(time.Minute),
		Data: make([]api.DeliveryStatsMinute, len(counts))}
	for i, c := range counts {
		out.Data[i] = api.DeliveryStatsMinute{Minute: c.Minute.UTC(), Succeeded: c.Succeeded, Failed: c.Failed}
	}
	return out, nil
}

func statsWindow(since, until time.Time) error {
	switch {
	case since.After(until):
		return problem.Invalid("since is after until", problem.Detail{Field: "query.since", Message: "must not be after until"})
	case until.Sub(since) > store.StatsWindowMax:
		return problem.Invalid("The window is longer than 24 hours", problem.Detail{Field: "query.since", Message: "must be at most 24 hours before until"})
	}
	return nil
}
