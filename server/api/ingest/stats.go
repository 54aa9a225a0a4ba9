package ingest

import (
	"context"
	"time"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/store"
)

// GetDestinationDeliveryStats counts a destination's delivery attempts per minute (the dashboard's health chart).
func (h *Handler) GetDestinationDeliveryStats(ctx context.Context, req api.GetDestinationDeliveryStatsRequestObject) (api.GetDestinationDeliveryStatsResponseObject, error) {
	since, until, err := store.StatsWindow(h.now(), req.Params.Since, req.Params.Until)
	if err != nil {
		return nil, err
	}
	counts, err := h.DB.DestinationDeliveryStats(ctx, workspace(ctx), req.DestinationId, since, until)
	if err != nil {
		return nil, err
	}
	out := api.GetDestinationDeliveryStats200JSONResponse{Since: since.UTC().Truncate(time.Minute), Until: until.UTC().Truncate(time.Minute),
		Data: make([]api.DeliveryStatsMinute, len(counts))}
	for i, c := range counts {
		out.Data[i] = api.DeliveryStatsMinute{Minute: c.Minute.UTC(), Succeeded: c.Succeeded, Failed: c.Failed}
	}
	return out, nil
}
