package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

// DispatchQueue is the River queue activity dispatch jobs go to.
const DispatchQueue = "dispatch"

// DispatchAttempts is how many times an activity is sent before it fails.
const DispatchAttempts = 3

// DispatchActivityArgs is the job that sends one activity to its provider. It is inserted in
// the transaction that creates the activity, scheduled at the activity's scheduled_at.
type DispatchActivityArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	ActivityID  uuid.UUID `json:"activity_id"`
}

// Kind names the job type in River's tables.
func (DispatchActivityArgs) Kind() string { return "dispatch_activity" }

// InsertOpts puts the job on the dispatch queue with the documented attempt budget.
func (DispatchActivityArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: DispatchQueue, MaxAttempts: DispatchAttempts}
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
