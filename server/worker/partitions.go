package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/store"
)

// PartitionsEvery is how often the partition maintenance job runs (besides once soon after a
// process becomes River's leader): well within a day, so a missed run or two leave the
// partitions store.PartitionsAhead days ahead all but untouched.
const PartitionsEvery = time.Hour

// partitionJobs is the periodic partition maintenance job, whatever the retention: the
// partitions are needed to write.
func partitionJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(PartitionsEvery),
		func() (river.JobArgs, *river.InsertOpts) { return store.WebhookPartitionsArgs{}, nil },
		&river.PeriodicJobOpts{ID: store.WebhookPartitionsArgs{}.Kind(), RunOnStart: true})}
}

// webhookPartitions makes the daily partitions of webhook messages, deliveries, attempts and
// the Ingest ledger for today and store.PartitionsAhead days ahead (store.EnsurePartitions).
// It runs on River's leader only (a periodic job); several processes running it at once
// would still take turns.
type webhookPartitions struct {
	river.WorkerDefaults[store.WebhookPartitionsArgs]
	db  *store.DB
	now func() time.Time
	log *slog.Logger
}

func (w *webhookPartitions) Work(ctx context.Context, _ *river.Job[store.WebhookPartitionsArgs]) error {
	created, err := w.db.EnsurePartitions(ctx, w.now(), store.PartitionsAhead)
	if err != nil {
		w.log.Warn("partition maintenance failed", "error", err)
		return err
	}
	if len(created) > 0 {
		w.log.Info("partitions created", "partitions", created)
	}
	return nil
}
