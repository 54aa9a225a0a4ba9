package worker

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/store"
)

// bulkReplayBatch is how many deliveries one transaction of a bulk replay sends again.
const bulkReplayBatch = 500

// bulkReplay works through a bulk replay (POST /apps/{appId}/replays) in batches, each
// committed with its progress and its deliveries' jobs (store.RunBulkReplayBatch).
type bulkReplay struct {
	river.WorkerDefaults[store.WebhookBulkReplayArgs]
	db *store.DB
}

// Work replays batches until the replay is complete.
func (w *bulkReplay) Work(ctx context.Context, job *river.Job[store.WebhookBulkReplayArgs]) error {
	for {
		done, err := w.db.RunBulkReplayBatch(ctx, job.Args.ReplayID, bulkReplayBatch)
		if err != nil || done {
			return err
		}
	}
}

// Timeout bounds one run of a bulk replay; a large one that runs out of time is retried and
// continues from its last committed batch, as it does after a crash.
func (w *bulkReplay) Timeout(*river.Job[store.WebhookBulkReplayArgs]) time.Duration {
	return 30 * time.Second
}
