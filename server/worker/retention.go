package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/store"
)

// RetentionEvery is how often the retention job runs (besides once soon after a process
// becomes River's leader).
const RetentionEvery = time.Hour

// retentionBatch is how many messages one transaction of the retention job deletes at most.
const retentionBatch = 5000

// retentionRunFor is how long one run of the retention job deletes before it hands over to a
// new run of the same job (a snooze), staying well within its timeout: a job still running
// after Options.RescueAfter would be taken for lost and run a second time.
const retentionRunFor = 20 * time.Second

// retentionJobs is the periodic retention job, none when retention is 0 (messages are kept).
func retentionJobs(retention time.Duration) []*river.PeriodicJob {
	if retention <= 0 {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(RetentionEvery),
		func() (river.JobArgs, *river.InsertOpts) { return store.WebhookRetentionArgs{}, nil },
		&river.PeriodicJobOpts{ID: store.WebhookRetentionArgs{}.Kind(), RunOnStart: true})}
}

// webhookRetention drops the time partitions older than the retention that hold nothing still
// needed (store.DropExpiredPartitions), then deletes the remaining messages older than the
// retention whose deliveries are all final, with their deliveries and attempts, and old
// completed bulk replays (store.PruneWebhooks), in every workspace, and the same of the Ingest
// ledger (store.PruneIngest).
type webhookRetention struct {
	river.WorkerDefaults[store.WebhookRetentionArgs]
	db        *store.DB
	retention time.Duration // 0 = keep everything: a job left from a run with retention on does nothing
	now       func() time.Time
	log       *slog.Logger
}

// Timeout leaves the last statement of a run time to end after retentionRunFor.
func (w *webhookRetention) Timeout(*river.Job[store.WebhookRetentionArgs]) time.Duration {
	return retentionRunFor + 15*time.Second
}

func (w *webhookRetention) Work(ctx context.Context, job *river.Job[store.WebhookRetentionArgs]) error {
	if w.retention <= 0 {
		return nil
	}
	started := time.Now()
	cutoff := w.now().Add(-w.retention)
	runCtx, cancel := context.WithTimeout(ctx, retentionRunFor)
	defer cancel()
	// Whole partitions first (time partitioning, migration 0018): what is left, the partition
	// straddling the cutoff and those held back, is deleted row by row below.
	drop, err := w.db.DropExpiredPartitions(runCtx, cutoff)
	if err != nil && runCtx.Err() == nil {
		w.log.Warn("partition retention failed", "error", err, "dropped_partitions", drop.Partitions)
		return err
	}
	if len(drop.Partitions) > 0 || len(drop.HeldBack) > 0 {
		w.log.Info("partition retention", "cutoff", cutoff.UTC(), "dropped_partitions", drop.Partitions, "held_back", drop.HeldBack,
			"dropped_messages", drop.Messages, "dropped_events", drop.Events, "dropped_deliveries", drop.Deliveries,
			"dropped_attempts", drop.Attempts)
	}
	if runCtx.Err() != nil {
		return river.JobSnooze(0) // continue in a new run
	}
	res, err := w.db.PruneWebhooks(runCtx, cutoff, retentionBatch)
	// The run's time is up (or the process is stopping) with rows left: what was deleted is
	// committed, the batch in hand is rolled back, and a new run continues.
	more := err != nil && runCtx.Err() != nil
	if err != nil && !more {
		w.log.Warn("webhook retention failed", "error", err, "deleted_messages", res.Messages, "deleted_deliveries", res.Deliveries,
			"deleted_attempts", res.Attempts, "deleted_replays", res.Replays, "deleted_portal_sessions", res.PortalSessions)
		return err
	}
	if !more {
		// The Ingest ledger follows the same retention.
		ing, err := w.db.PruneIngest(runCtx, cutoff, retentionBatch)
		more = err != nil && runCtx.Err() != nil
		if err != nil && !more {
			w.log.Warn("ingest retention failed", "error", err)
			return err
		}
		w.log.Info("ingest retention", "cutoff", cutoff.UTC(), "deleted_events", ing.Events, "deleted_deliveries", ing.Deliveries,
			"deleted_attempts", ing.Attempts, "deleted_dedup_keys", ing.DedupKeys, "deleted_replays", ing.Replays, "more", more)
	}
	w.log.Info("webhook retention", "cutoff", cutoff.UTC(), "deleted_messages", res.Messages, "deleted_deliveries", res.Deliveries,
		"deleted_attempts", res.Attempts, "deleted_replays", res.Replays, "deleted_portal_sessions", res.PortalSessions, "duration_ms", time.Since(started).Milliseconds(), "more", more)
	if more {
		return river.JobSnooze(0) // continue in a new run
	}
	return nil
}
