package store

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // G501: not a security use; the same hash as webhook_delivery_id in SQL, to spread ids
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Time partitioning (migration 0018): webhook_messages, webhook_deliveries, webhook_attempts
// and ingest_events are range-partitioned on their id, a version 7 UUID, one partition per UTC
// day (PartitionWidth), each named <table>_pYYYYMMDD, plus a DEFAULT partition <table>_default
// for rows outside every partition. EnsurePartitions makes them ahead of time (the leader's
// webhook_partitions job), DropExpiredPartitions drops those retention no longer keeps.

// PartitionWidth is the span of time of one partition.
const PartitionWidth = 24 * time.Hour

// PartitionsAhead is how many days after today's EnsurePartitions makes partitions for, so a
// week without the maintenance job (a stopped deployment, no leader) still finds them ready.
const PartitionsAhead = 7

// partitionedTables are the tables partitioned by time, in the order DropExpiredPartitions
// looks at a day's partitions: owners first, then their deliveries, then attempts.
var partitionedTables = []string{"webhook_messages", "ingest_events", "webhook_deliveries", "webhook_attempts"}

// DeliveryID is the id of the delivery of owner (a message's or an event's primary key) to
// target (an endpoint or a destination), as webhook_delivery_id makes it in SQL: owner's first
// 48 bits (its millisecond), then 74 bits of MD5(owner, target), with the version 7 and variant
// bits. A delivery so lands in its owner's partition, and a pair has one delivery id, which
// the primary key holds unique.
func DeliveryID(owner, target uuid.UUID) uuid.UUID {
	h := md5.Sum([]byte(owner.String() + target.String())) //nolint:gosec // G401: see the import
	var u uuid.UUID
	copy(u[:6], owner[:6])
	copy(u[6:], h[:10])
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u
}

// EnsurePartitions makes sure each partitioned table has its partitions for the UTC days from
// from's to days later, and returns the names of those it created. It is idempotent, and safe
// with concurrent callers (they take turns on an advisory lock). Rows of a new partition's
// range found in the DEFAULT partition move into it.
func (s *DB) EnsurePartitions(ctx context.Context, from time.Time, days int) ([]string, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Attaching waits for the DEFAULT partition's readers; a long wait would queue every
	// statement on it behind this one. The next run tries again.
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('switchboard.partitions'))`); err != nil {
		return nil, err
	}
	day := from.UTC().Truncate(PartitionWidth)
	var created []string
	for i := 0; i <= days; i++ {
		d := day.Add(time.Duration(i) * PartitionWidth)
		for _, table := range partitionedTables {
			var made bool
			if err := tx.GetContext(ctx, &made, `SELECT switchboard_ensure_partition($1::regclass, $2::date)`, table, d.Format(time.DateOnly)); err != nil {
				return nil, fmt.Errorf("partition of %s for %s: %w", table, d.Format(time.DateOnly), err)
			}
			if made {
				created = append(created, partitionName(table, d))
			}
		}
	}
	return created, tx.Commit()
}

// recentSplit is where a newest-first list splits its two steps (ListMessages,
// ListEndpointAttempts): the least id of the day before the cursor before, or before now when
// there is none. The first step reads the ids from it on, which the planner prunes to that
// day's partitions; only a page it leaves short reads the older ones.
func (s *DB) recentSplit(before uuid.UUID) string {
	top := s.now()
	if before != uuid.Nil {
		top = idTime(before)
	}
	return idAt(top.Add(-PartitionWidth))
}

// idSpan returns the least and the greatest of ids (not empty).
func idSpan(ids []uuid.UUID) (lo, hi uuid.UUID) {
	lo, hi = ids[0], ids[0]
	for _, id := range ids[1:] {
		if bytes.Compare(id[:], lo[:]) < 0 {
			lo = id
		}
		if bytes.Compare(id[:], hi[:]) > 0 {
			hi = id
		}
	}
	return lo, hi
}

func partitionName(table string, day time.Time) string { return table + "_p" + day.Format("20060102") }

// partition is one day's partition of a table.
type partition struct {
	table, name string
	day         time.Time
}

// lo and hi are the partition's range of ids: lo included, hi not.
func (p partition) lo() string { return idAt(p.day) }
func (p partition) hi() string { return idAt(p.day.Add(PartitionWidth)) }

// partitions lists the day partitions of the partitioned tables, oldest first.
func (s *DB) partitions(ctx context.Context) ([]partition, error) {
	var rows []struct {
		Table string `db:"parent"`
		Name  string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT p.relname AS parent, c.relname AS name FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ANY($1) AND c.relname LIKE p.relname || '\_p%'`, pq.StringArray(partitionedTables)); err != nil {
		return nil, err
	}
	var out []partition
	for _, r := range rows {
		day, err := time.Parse("20060102", strings.TrimPrefix(r.Name, r.Table+"_p"))
		if err != nil {
			continue // not one of ours
		}
		out = append(out, partition{table: r.Table, name: r.Name, day: day})
	}
	order := map[string]int{}
	for i, t := range partitionedTables {
		order[t] = i
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].day.Equal(out[j].day) {
			return out[i].day.Before(out[j].day)
		}
		return order[out[i].table] < order[out[j].table]
	})
	return out, nil
}

// PartitionDrop is what DropExpiredPartitions dropped: the partitions, by name, and the rows
// they held (with the rows of their messages and events kept elsewhere, deleted with them).
type PartitionDrop struct {
	Partitions                             []string
	Messages, Events, Deliveries, Attempts int64
	// HeldBack are the expired partitions kept: something in them is still needed (a pending
	// or held delivery, a running bulk replay's window, a retained older message's attempts),
	// or a lock was not had in time. Retention deletes their expired rows one by one.
	HeldBack []string
}

// DropExpiredPartitions drops the partitions retention no longer keeps, whole, with what
// PruneWebhooks and PruneIngest would have deleted row by row, and leaves them the rest: the
// partition straddling cutoff, and those it holds back. A day's partition whose range ends
// before cutoff goes when:
//   - webhook_messages: none of its messages has a pending or held delivery, and no running
//     bulk replay's window overlaps its day (the replay may still reach its messages);
//   - ingest_events: the same, with Ingest's bulk replays;
//   - webhook_deliveries: the day's messages and events partitions are gone, and it holds no
//     delivery of an owner of another day (made before migration 0018, with a random id);
//   - webhook_attempts: no message or event older than its end is left (attempts are made after
//     their message, so none of a retained message is in it).
//
// Each drop is its own transaction, which first takes the partition's lock, so that a replay
// cannot make one of its deliveries pending between the check and the drop. It returns what it
// dropped; on an error, what it dropped until then.
func (s *DB) DropExpiredPartitions(ctx context.Context, cutoff time.Time) (PartitionDrop, error) {
	var res PartitionDrop
	parts, err := s.partitions(ctx)
	if err != nil {
		return res, err
	}
	for _, p := range parts {
		if p.day.Add(PartitionWidth).After(cutoff) {
			continue
		}
		dropped, err := s.dropPartition(ctx, p, &res)
		if err != nil {
			return res, fmt.Errorf("drop %s: %w", p.name, err)
		}
		if dropped {
			res.Partitions = append(res.Partitions, p.name)
		} else {
			res.HeldBack = append(res.HeldBack, p.name)
		}
	}
	return res, nil
}

// dropPartition drops p if nothing in it is still needed, counting its rows into res, and
// reports whether it did.
func (s *DB) dropPartition(ctx context.Context, p partition, res *PartitionDrop) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// The DROP takes an ACCESS EXCLUSIVE lock on the partitioned table, which queues every
	// statement on it behind this one while it waits: wait briefly, and leave the partition to
	// the next run rather than stall sends.
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '500ms'`); err != nil {
		return false, err
	}
	rows, ok, err := dropPartitionTx(ctx, tx, p)
	if isLockTimeout(err) {
		return false, nil
	}
	if err != nil || !ok {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	res.Messages += rows.Messages
	res.Events += rows.Events
	res.Deliveries += rows.Deliveries
	res.Attempts += rows.Attempts
	return true, nil
}

func isLockTimeout(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "55P03"
}

// rowStep is a statement of a partition's drop, whose deleted rows count as n. ranged: it
// takes the partition's range of ids as $1 and $2.
type rowStep struct {
	query  string
	ranged bool
	n      *int64
}

// dropPartitionTx is dropPartition in tx: it locks p, checks that nothing in it is needed,
// deletes its owners' rows kept in other partitions, and drops it. ok=false: it is kept.
func dropPartitionTx(ctx context.Context, tx *sqlx.Tx, p partition) (rows PartitionDrop, ok bool, err error) {
	name := pq.QuoteIdentifier(p.name)
	if _, err := tx.ExecContext(ctx, `LOCK TABLE `+name+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return rows, false, err
	}
	// $1, $2: its range of ids; $3, $4: its day, with a minute's slack for the clocks of ids and
	// timestamps.
	args := []any{p.lo(), p.hi(), p.day.Add(-time.Minute), p.day.Add(PartitionWidth + time.Minute)}
	var keep string
	keepArgs := args
	var steps []rowStep
	var own *int64 // counts the rows of the partition itself
	switch p.table {
	case "webhook_messages":
		keep = `SELECT EXISTS (SELECT 1 FROM webhook_deliveries
				WHERE message_pk >= $1 AND message_pk < $2 AND status IN ('pending', 'held'))
			OR EXISTS (SELECT 1 FROM webhook_replays r WHERE r.status = 'running' AND (r.filter->>'since')::timestamptz < $4
				AND (r.filter->>'until' IS NULL OR (r.filter->>'until')::timestamptz > $3))`
		// Its messages' attempts of later days, and their deliveries in other partitions (made
		// before migration 0018, or aged by a test), go with them; so do their keys.
		steps = []rowStep{
			{`DELETE FROM webhook_attempts WHERE message_pk >= $1 AND message_pk < $2 AND id >= $2`, true, &rows.Attempts},
			{`DELETE FROM webhook_deliveries WHERE message_pk >= $1 AND message_pk < $2 AND (id < $1 OR id >= $2)`, true, &rows.Deliveries},
			{`DELETE FROM webhook_message_keys k USING ` + name + ` m
				WHERE k.app_id = m.app_id AND k.message_id = m.message_id AND k.message_pk = m.id`, false, new(int64)},
		}
		own = &rows.Messages
	case "ingest_events":
		keep = `SELECT EXISTS (SELECT 1 FROM webhook_deliveries
				WHERE event_pk >= $1 AND event_pk < $2 AND status IN ('pending', 'held'))
			OR EXISTS (SELECT 1 FROM ingest_replays r WHERE r.status = 'running'
				AND (r.filter->>'since' IS NULL OR (r.filter->>'since')::timestamptz < $4)
				AND (r.filter->>'until' IS NULL OR (r.filter->>'until')::timestamptz > $3))`
		steps = []rowStep{
			{`DELETE FROM webhook_attempts WHERE event_pk >= $1 AND event_pk < $2 AND id >= $2`, true, &rows.Attempts},
			{`DELETE FROM webhook_deliveries WHERE event_pk >= $1 AND event_pk < $2 AND (id < $1 OR id >= $2)`, true, &rows.Deliveries},
		}
		own = &rows.Events
	case "webhook_deliveries":
		keep = `SELECT to_regclass('` + partitionName("webhook_messages", p.day) + `') IS NOT NULL
			OR to_regclass('` + partitionName("ingest_events", p.day) + `') IS NOT NULL
			OR EXISTS (SELECT 1 FROM ` + name + ` WHERE coalesce(message_pk, event_pk) < $1 OR coalesce(message_pk, event_pk) >= $2)`
		keepArgs = args[:2]
		own = &rows.Deliveries
	case "webhook_attempts":
		keep = `SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE id < $1) OR EXISTS (SELECT 1 FROM ingest_events WHERE id < $1)`
		keepArgs = args[1:2]
		own = &rows.Attempts
	default:
		return rows, false, fmt.Errorf("%s is not partitioned by time", p.table)
	}
	var kept bool
	if err := tx.GetContext(ctx, &kept, keep, keepArgs...); err != nil || kept {
		return rows, false, err
	}
	for _, st := range steps {
		var argsUsed []any
		if st.ranged {
			argsUsed = args[:2]
		}
		r, err := tx.ExecContext(ctx, st.query, argsUsed...)
		if err != nil {
			return rows, false, err
		}
		if *st.n, err = r.RowsAffected(); err != nil {
			return rows, false, err
		}
	}
	var n int64
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+name); err != nil {
		return rows, false, err
	}
	*own += n
	if _, err := tx.ExecContext(ctx, `DROP TABLE `+name); err != nil {
		return rows, false, err
	}
	return rows, true, nil
}
