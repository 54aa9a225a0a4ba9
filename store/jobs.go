package store

import (
	"cmp"
	"context"
	"database/sql"
	"strconv"
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
// (createActivitiesSQL, through riverJobsSQL), scheduled at the activity's scheduled_at.
type DispatchActivityArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	ActivityID  uuid.UUID `json:"activity_id"`
}

// Kind names the job type in River's tables.
func (DispatchActivityArgs) Kind() string { return "dispatch_activity" }

// InsertOpts puts the job on DispatchQueue with DispatchAttempts attempts: what the statement
// that creates the activity writes (jobColumnsOf reads it), and what River's InsertTx would.
func (DispatchActivityArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: DispatchQueue, MaxAttempts: DispatchAttempts}
}

// WebhookQueue is the River queue webhook delivery jobs go to.
const WebhookQueue = "webhooks"

// WebhookDeliveryArgs is the job that makes the attempts of one delivery (one message at one
// endpoint). It is inserted in the transaction that creates the delivery (or replays it): by
// the send statement itself (sendQuery, through riverJobsSQL), or by InsertManyFastTx
// (insertDeliveryJobs).
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

// WebhookPartitionsArgs is the periodic job that makes the time partitions of the webhook and
// Ingest tables ahead of time (EnsurePartitions). Only River's elected leader inserts it.
type WebhookPartitionsArgs struct{}

// Kind names the job type in River's tables.
func (WebhookPartitionsArgs) Kind() string { return "webhook_partitions" }

// InsertOpts puts the job on the webhooks queue, once, as WebhookRetentionArgs.
func (WebhookPartitionsArgs) InsertOpts() river.InsertOpts {
	return WebhookRetentionArgs{}.InsertOpts()
}

// newJobInserter returns an insert-only River client on the store's lib/pq pool, so jobs are
// inserted with the rows that cause them, in the same *sql.Tx. Working jobs happens in a
// separate client outside this package, on a pgx pool, which River needs for LISTEN.
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

// Two hot statements write their jobs into river_job themselves, as part of the one statement
// that writes the rows the jobs are for (createActivitiesSQL, sendQuery): River's InsertTx
// would be a second statement, planned on every call, which cost as much as the rest of the
// batch. Those rows are written as River's InsertTx writes a job without unique options, which
// TestHandWrittenJobsMatchInsertTx checks column by column; the SQL for them is written once,
// here. Every other job goes through River (s.jobs: InsertTx, InsertManyFastTx).

// riverInsertTopic is the channel River's workers LISTEN on for new available jobs
// ("<schema>.river_insert"); River's own inserts notify it.
const riverInsertTopic = `current_schema() || '.river_insert'`

// riverJobsSQL returns the body of a CTE that writes one River job of job's kind per row of from
// (a FROM clause, with its WHERE if any): args is the SQL building each job's args (a jsonb
// object of the JobArgs' JSON fields); its kind, attempt budget, priority and queue are what
// InsertTx gives job with no options of its own (jobColumnsOf), written as literals. A job is
// due at scheduledAt (SQL; "" = now): one due now or in the past is written as InsertTx writes
// a job without ScheduledAt (available, scheduled_at now), a later one as InsertTx with
// ScheduledAt (scheduled: River's scheduler, or PromoteDueJobs, makes it available then). Tags
// and metadata are InsertTx's defaults (none, {}); created_at, attempt, errors and the unique
// columns are the table's. The CTE returns each job's state.
func riverJobsSQL(job river.JobArgs, args, from, scheduledAt string) string {
	p := jobColumnsOf(job)
	due, state := "now()", "'available'"
	if scheduledAt != "" {
		due = "greatest(" + scheduledAt + ", now())"
		state = "(CASE WHEN " + scheduledAt + " > now() THEN 'scheduled' ELSE 'available' END)::river_job_state"
	}
	return `INSERT INTO river_job (args, kind, max_attempts, priority, queue, scheduled_at, state, tags, metadata)
			SELECT ` + args + `, ` + pq.QuoteLiteral(p.kind) + `, ` + strconv.Itoa(p.maxAttempts) + `, ` + strconv.Itoa(p.priority) +
		`, ` + pq.QuoteLiteral(p.queue) + `, ` + due + `, ` + state + `, '{}', '{}'
			` + from + `
			RETURNING state`
}

// riverWakeSQL returns the body of a CTE that notifies River's workers of job's queue as
// River's own insert does, when notify (a boolean parameter: wakeLimiter.due) is true and the
// CTE jobs (riverJobsSQL) wrote an available job. The notification is sent at commit. Like any
// SELECT CTE it runs only if the statement refers to it.
func riverWakeSQL(job river.JobArgs, jobs, notify string) string {
	return `SELECT pg_notify(` + riverInsertTopic + `, json_build_object('queue', ` + pq.QuoteLiteral(jobColumnsOf(job).queue) + `::text)::text)
			WHERE ` + notify + ` AND EXISTS (SELECT 1 FROM ` + jobs + ` WHERE state = 'available')`
}

// jobColumns are the values River's InsertTx derives from a job's args and their InsertOpts.
type jobColumns struct {
	kind, queue           string
	maxAttempts, priority int
}

// jobColumnsOf returns what River's InsertTx writes for a job of args inserted without options of
// its own: its kind, and its InsertOpts' queue, attempt budget and priority or River's defaults.
func jobColumnsOf(args river.JobArgs) jobColumns {
	var opts river.InsertOpts
	if o, ok := args.(river.JobArgsWithInsertOpts); ok {
		opts = o.InsertOpts()
	}
	return jobColumns{kind: args.Kind(), queue: cmp.Or(opts.Queue, river.QueueDefault),
		maxAttempts: cmp.Or(opts.MaxAttempts, river.MaxAttemptsDefault), priority: cmp.Or(opts.Priority, river.PriorityDefault)}
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
			SELECT pg_notify(`+riverInsertTopic+`, json_build_object('queue', q)::text)
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

// IngestBulkReplayArgs is the job that works through a bulk replay of Ingest events.
type IngestBulkReplayArgs struct {
	ReplayID uuid.UUID `json:"replay_id"`
}

// Kind names the job type in River's tables.
func (IngestBulkReplayArgs) Kind() string { return "ingest_bulk_replay" }

// InsertOpts puts the job on the webhooks queue.
func (IngestBulkReplayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: 25}
}

// IngestBackpressureArgs is the periodic job that opens and resolves backpressure issues. Only
// River's elected leader inserts it, at most one at a time.
type IngestBackpressureArgs struct{}

// Kind names the job type in River's tables.
func (IngestBackpressureArgs) Kind() string { return "ingest_backpressure" }

// InsertOpts puts the job on the webhooks queue, once: while one is waiting or running, the
// next period's insert is skipped.
func (IngestBackpressureArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning,
		rivertype.JobStateScheduled,
	}}}
}

// QueueStat is one River queue's state, for metrics: its jobs that have not ended, by state,
// and how long its oldest due job (available, or scheduled or retryable with its time passed,
// and not running) has waited.
type QueueStat struct {
	Queue     string
	Jobs      map[string]int64
	OldestDue time.Duration
}

// QueueStats reads the queues' statistics, within a statement timeout of timeout (a scrape
// never waits on a slow database for long). Every queue named is in the answer, with zeros
// when it has no job. It reads the index River fetches jobs with (state, queue, priority,
// scheduled_at): the ended states, which hold most rows, are never read.
func (s *DB) QueueStats(ctx context.Context, timeout time.Duration, queues []string) ([]QueueStat, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('statement_timeout', $1, true)`, strconv.FormatInt(timeout.Milliseconds(), 10)); err != nil {
		return nil, err
	}
	var rows []struct {
		Queue  string  `db:"queue"`
		State  string  `db:"state"`
		Jobs   int64   `db:"jobs"`
		Oldest float64 `db:"oldest_due"`
	}
	if err := tx.SelectContext(ctx, &rows, `
		SELECT queue, state::text AS state, count(*) AS jobs,
			coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state <> 'running' AND scheduled_at <= now())), 0)::float8 AS oldest_due
		FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending') AND queue = ANY($1)
		GROUP BY queue, state`, pq.StringArray(queues)); err != nil {
		return nil, err
	}
	out := make([]QueueStat, len(queues))
	at := make(map[string]*QueueStat, len(queues))
	for i, q := range queues {
		out[i] = QueueStat{Queue: q, Jobs: map[string]int64{"available": 0, "running": 0, "retryable": 0, "scheduled": 0, "pending": 0}}
		at[q] = &out[i]
	}
	for _, r := range rows {
		q := at[r.Queue]
		q.Jobs[r.State] = r.Jobs
		q.OldestDue = max(q.OldestDue, time.Duration(r.Oldest*float64(time.Second)))
	}
	return out, nil
}

// IsRiverLeader reports whether the River client clientID is the elected leader now (its term
// in river_leader not expired): the one process that runs River's maintenance and inserts the
// periodic jobs, and the one that promotes due jobs (worker's promote).
func (s *DB) IsRiverLeader(ctx context.Context, clientID string) (bool, error) {
	var leader bool
	err := s.async.GetContext(ctx, &leader, `SELECT EXISTS (SELECT 1 FROM river_leader WHERE leader_id = $1 AND expires_at > now())`, clientID)
	return leader, err
}
