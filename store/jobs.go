package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// DispatchQueue is the River queue activity dispatch jobs go to.
const DispatchQueue = "dispatch"

// DispatchAttempts is how many times an activity is sent before it fails.
const DispatchAttempts = 3

// DispatchActivityArgs is the job that sends one activity to its provider. It is written, on
// DispatchQueue with DispatchAttempts attempts, by the statement that creates the activity
// (createActivitiesSQL), scheduled at the activity's scheduled_at.
type DispatchActivityArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	ActivityID  uuid.UUID `json:"activity_id"`
}

// Kind names the job type in River's tables.
func (DispatchActivityArgs) Kind() string { return "dispatch_activity" }

// WebhookQueue is the River queue webhook delivery jobs go to.
const WebhookQueue = "webhooks"

// WebhookDeliveryArgs is the job that makes the attempts of one delivery (one message at one
// endpoint). It is inserted in the transaction that creates the delivery (or replays it).
type WebhookDeliveryArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	Trigger    string    `json:"trigger"`
}

// Kind names the job type in River's tables.
func (WebhookDeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts the job on the webhooks queue. Retries on the delivery schedule are the
// worker's (it snoozes the job); River's own attempts only cover failures of the worker itself
// (the database being away), so they are generous.
func (WebhookDeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: 25}
}

// WebhookBulkReplayArgs is the job that works through a bulk replay.
type WebhookBulkReplayArgs struct {
	ReplayID uuid.UUID `json:"replay_id"`
}

// Kind names the job type in River's tables.
func (WebhookBulkReplayArgs) Kind() string { return "webhook_bulk_replay" }

// InsertOpts puts the job on the webhooks queue.
func (WebhookBulkReplayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: 25}
}

// WebhookRetentionArgs is the periodic job that deletes expired webhook messages. Only River's
// elected leader inserts it (a periodic job), at most one at a time.
type WebhookRetentionArgs struct{}

// Kind names the job type in River's tables.
func (WebhookRetentionArgs) Kind() string { return "webhook_retention" }

// InsertOpts puts the job on the webhooks queue, once: while one is waiting or running, the
// next period's insert is skipped.
func (WebhookRetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning,
		rivertype.JobStateScheduled,
	}}}
}

// newJobInserter returns an insert-only River client on the store's lib/pq pool, so jobs are
// inserted with the rows that cause them, in the same *sql.Tx. Working jobs happens in a
// separate client (package dispatch) on a pgx pool, which River needs for LISTEN.
func newJobInserter(db *sqlx.DB) (*river.Client[*sql.Tx], error) {
	// FetchCooldown here bounds how often inserts notify the workers (River drops, rather
	// than delays, notifications inside the cooldown): 20 ms keeps a job's wait for its worker
	// short under a steady stream of inserts, at no more than 50 notifications a second.
	return river.NewClient(riverdatabasesql.New(db.DB), &river.Config{FetchCooldown: 20 * time.Millisecond})
}

// migrateRiver brings River's own tables up to date.
func migrateRiver(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// PromoteDueJobs makes the queues' scheduled and retryable jobs whose time has come available,
// and wakes the workers listening for them. River's own scheduler does the same, but only
// every few seconds (its interval is not configurable); calling this often lets an activity
// scheduled for a moment be sent at that moment. Both may run at once: each job is promoted
// once, the loser's rows being locked or no longer scheduled.
func (s *DB) PromoteDueJobs(ctx context.Context, queues []string) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `
		WITH due AS (
			SELECT id FROM river_job
			WHERE state IN ('scheduled', 'retryable') AND queue = ANY($1) AND scheduled_at <= now()
			ORDER BY priority, scheduled_at, id
			LIMIT 10000
			FOR UPDATE SKIP LOCKED
		), promoted AS (
			UPDATE river_job j SET state = 'available' FROM due WHERE j.id = due.id
			RETURNING j.queue
		), wake AS (
			SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', q)::text)
			FROM (SELECT DISTINCT queue AS q FROM promoted) p
		)
		SELECT (SELECT count(*) FROM promoted) + 0 * (SELECT count(*) FROM wake)`, pq.StringArray(queues))
	return n, err
}

// wakeEvery bounds how often this process's statements that write jobs themselves (not
// through River's InsertTx) notify River's workers: as River's own inserts do, at most once a
// wakeEvery per queue, so a steady stream of inserts costs at most 50 notifications a second
// while a job's wait for a worker stays short. Workers also poll, so nothing waits longer
// than their poll interval even when a notification is skipped.
const wakeEvery = 20 * time.Millisecond

// wakeLimiter decides which inserts notify. It keeps to the real clock, not the store's
// (WithClock): it rate-limits notifications to the workers, which is about the machine's
// load, not a time anything is stamped with.
type wakeLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether an insert into queue now should notify the workers.
func (w *wakeLimiter) due(queue string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if now.Sub(w.last[queue]) < wakeEvery {
		return false
	}
	if w.last == nil {
		w.last = map[string]time.Time{}
	}
	w.last[queue] = now
	return true
}
