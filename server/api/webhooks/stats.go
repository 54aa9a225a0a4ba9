package webhooks

import (
	"context"
	"time"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/store"
)

// GetAppDeliveryStats counts an app's delivery attempts per minute (the dashboard's health chart).
func (h *Handler) GetAppDeliveryStats(ctx context.Context, req api.GetAppDeliveryStatsRequestObject) (api.GetAppDeliveryStatsResponseObject, error) {
	since, until, err := store.StatsWindow(h.now(), req.Params.Since, req.Params.Until)
	if err != nil {
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
