package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"

	"github.com/switchboard-dev/switchboard/store/seal"
)

// DB is the store. It is safe for concurrent use.
type DB struct {
	db *sqlx.DB
	// async is a second pool whose commits do not wait for the WAL flush
	// (synchronous_commit=off), for the delivery worker's reads and bookkeeping: each such write is
	// followed by River's synchronous commit of the job's outcome, which flushes the WAL
	// past it, so a database crash can lose it only together with the job's outcome, and the
	// job then runs again.
	async *sqlx.DB
	// generic is a small pool, durable like db, whose sessions always use the generic plan of a
	// prepared statement (plan_cache_mode=force_generic_plan), for the batch writers' statements:
	// the activity create batch's two (activity_create.go), where PostgreSQL kept planning the
	// resolution plan statement anew for each batch, which cost twice what running it did; and
	// the Ingest receive batch's one (ingestevent.go), where planning cost a sixth of running it.
	// Their inputs are a jsonb document and arrays, whose contents no custom plan could see
	// better anyway.
	generic   *sqlx.DB
	box       *seal.Box
	jobs      *river.Client[*sql.Tx]
	creates   *batcher[activityCreate, Activity] // CreateActivity's batches (activity_create.go)
	sends     *batcher[messageSend, sendOutcome] // SendMessage's batches (webhookmessage.go)
	attempts  *batcher[AttemptRecord, struct{}]  // RecordAttempt's batches (webhookattempt.go)
	sendPlans *batcher[sendPlanKey, *SendPlan]   // PlanSend's batches (webhookmessage.go)
	finishes  *batcher[finishItem, bool]         // FinishDispatch's batches (dispatch_run.go)
	loads     *batcher[uuid.UUID, *deliveryRow]  // LoadDelivery's batches (webhookdelivery.go)
	// receives are ReceiveEvent's batches (ingestevent.go)
	receives *batcher[eventReceive, Received]
	keys     *keyCache        // FindAPIKey's recent answers (apikey.go)
	plans    *planCache       // what the create batch's resolution read recently (resolution_cache.go)
	now      func() time.Time // the business clock (WithClock)
	stop     chan struct{}    // closed by Close: stops the batch writers
	wake     wakeLimiter      // which job-writing statements notify River's workers (jobs.go)
	// stmts holds the prepared statements of the hottest queries (see prepared).
	stmts sync.Map
}

type stmtKey struct {
	pool  *sqlx.DB
	query string
}

// prepared returns query prepared on pool, preparing it on first use. A prepared statement
// is one round trip per execution instead of lib/pq's two, and PostgreSQL can reuse its plan:
// worth it on the paths that run once per message, delivery or activity.
func (s *DB) prepared(ctx context.Context, pool *sqlx.DB, query string) (*sqlx.Stmt, error) {
	key := stmtKey{pool, query}
	if st, ok := s.stmts.Load(key); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := pool.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(key, st); loaded {
		st.Close() //nolint:sqlclosecheck // another caller prepared it first: this copy is closed at once, the cached one lives with the DB

		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// Option changes how Open sets up a store.
type Option func(*DB)

// WithClock makes now the store's clock for the times it computes itself: a message's
// timestamp and created_at and the minute its per-minute limit counts it in, a bulk replay's
// default end, which rotated secrets are still valid, how long a found API key is trusted.
// Times the database stamps (now() in SQL: updated_at, failing_since, rate-limit slots,
// delivered_at, River's scheduled_at) stay on the database's clock, the one every process
// shares. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *DB) { s.now = now } }

// Open connects to PostgreSQL at dsn (a lib/pq URL or key=value string). Secrets are sealed
// with box.
func Open(ctx context.Context, dsn string, box *seal.Box, opts ...Option) (*DB, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	jobs, err := newJobInserter(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Background bookkeeping whose loss in a database crash is harmless commits without
	// waiting for the disk (see DB.async). binary_parameters makes lib/pq send a query with
	// arguments in one round trip instead of two; it also sends []byte arguments in binary,
	// which only suits bytea columns, so it is used only here, where no other kind is passed.
	// Its statements are the worker's, each a few primary-key lookups prepared once. They used
	// to run on generic plans (planning the delivery's five-table read cost more than running
	// it), but since the tables are partitioned by day (migration 0018) a generic plan holds
	// every partition, and PostgreSQL 15 locks each of them at every execution, before run-time
	// pruning: with 90 days of partitions (the default retention) a delivery cost 1.65 times
	// as much CPU as with 8 (bench -webhooks-stored 100000 -stored-days 90: 1,757 against
	// 1,062 µs). PostgreSQL's own choice (plan_cache_mode=auto) keeps custom plans where the
	// generic one would hold every partition, and there the cost stays flat (1,101 against
	// 1,269 µs in the same comparison).
	async, err := sqlx.Open("postgres", withParams(dsn, "binary_parameters", "yes", "synchronous_commit", "off"))
	if err != nil {
		db.Close()
		return nil, err
	}
	async.SetMaxOpenConns(20)
	async.SetMaxIdleConns(20)
	async.SetConnMaxIdleTime(5 * time.Minute)
	// The batch writers' pool (see DB.generic).
	generic, err := sqlx.Open("postgres", withParams(dsn, "plan_cache_mode", "force_generic_plan"))
	if err != nil {
		db.Close()
		async.Close()
		return nil, err
	}
	// The create and receive batchers (batchWriters writers each) run one statement at a time
	// per writer; the create writer's resolution reads (loadPlan, loadLastContacted) come first.
	generic.SetMaxOpenConns(2*batchWriters + 2)
	generic.SetMaxIdleConns(2*batchWriters + 2)
	generic.SetConnMaxIdleTime(5 * time.Minute)
	s := &DB{db: db, async: async, generic: generic, box: box, jobs: jobs, now: time.Now, stop: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.keys = newKeyCache(s.now)
	s.plans = newPlanCache()
	s.creates = newBatcher(s.stop, s.createActivities, nil, 0)
	// A batch of sends stops growing at 1 MiB of bodies (one body may be 256 KiB).
	s.sends = newBatcher(s.stop, s.sendMessages, func(m messageSend) int { return len(m.body) }, 1<<20)
	// Attempts by count: a response body is kept to 4 KiB.
	s.attempts = newBatcher(s.stop, s.recordAttempts, nil, 0)
	s.loads = newBatcher(s.stop, s.loadDeliveries, nil, 0)
	s.sendPlans = newBatcher(s.stop, s.planSends, nil, 0)
	s.finishes = newBatcher(s.stop, s.finishDispatches, nil, 0)
	// Received events the same way, by their raw bodies (one may be 1 MiB).
	s.receives = newBatcher(s.stop, s.receiveEvents, func(r eventReceive) int { return len(r.in.Body) }, 1<<20)
	return s, nil
}

// withParams adds connection parameters to a lib/pq URL or key=value DSN.
func withParams(dsn string, kv ...string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for i := 0; i+1 < len(kv); i += 2 {
		dsn += " " + kv[i] + "=" + kv[i+1]
	}
	return dsn
}

// Pools returns the store's database/sql connection pools by name (for their statistics):
// "main" (requests), "async" (the delivery worker's bookkeeping), "batch" (the batch writers: activity creates, webhook sends, Ingest receives).
func (s *DB) Pools() map[string]*sql.DB {
	return map[string]*sql.DB{"main": s.db.DB, "async": s.async.DB, "batch": s.generic.DB}
}

// Close stops the batch writers and closes the connection pools.
func (s *DB) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.async.Close()
	s.generic.Close()
	return s.db.Close()
}

// DeriveKey returns a key for one purpose derived from the key the store seals secrets with
// (see seal.Box.Derive), for secrets such as page-token signing keys that must survive
// restarts and be shared by every server of a deployment without configuration of their own.
func (s *DB) DeriveKey(purpose string) []byte { return s.box.Derive(purpose) }

// SQL returns the underlying pool, for tests and tools that inspect the database.
func (s *DB) SQL() *sqlx.DB { return s.db }

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate brings River's tables and then Switchboard's up to date: every embedded migration
// not applied yet, in name order, in one transaction. A session advisory lock serialises
// processes starting at once, so each migration is applied once.
func (s *DB) Migrate(ctx context.Context) error { return s.migrate(ctx, "") }

// migrate is Migrate, up to and including the migration named upTo ("" = all of them).
func (s *DB) migrate(ctx context.Context, upTo string) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('switchboard.migrate'))`); err != nil {
		return err
	}
	defer func() {
		// A session lock: should the unlock fail, the connection is broken and its session,
		// which holds the lock, ends with it.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('switchboard.migrate'))`)
	}()
	// River's migrations commit one by one (one adds an enum value a later one uses), so they
	// cannot share a transaction with ours.
	if err := migrateRiver(ctx, s.db.DB); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	var applied []string
	if err := tx.SelectContext(ctx, &applied, `SELECT version FROM schema_migrations`); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, v := range applied {
		done[v] = true
	}
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		if upTo != "" && version > upTo {
			break
		}
		if done[version] {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
			return err
		}
	}
	// What SQL cannot migrate, needing the sealing key.
	if err := s.sealPlainPreCheckSecrets(ctx, tx); err != nil {
		return fmt.Errorf("seal pre-check credentials: %w", err)
	}
	return tx.Commit()
}

// Ready reports whether the database answers and every embedded migration is applied.
func (s *DB) Ready(ctx context.Context) error {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations`); err != nil {
		return err
	}
	if n < len(names) {
		return fmt.Errorf("%d of %d migrations applied", n, len(names))
	}
	return nil
}

// newID returns a time-ordered (version 7) UUID, so ordering by id is ordering by creation and
// keyset pagination needs one column.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
