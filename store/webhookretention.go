package store

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PruneResult counts what PruneWebhooks deleted.
type PruneResult struct {
	Messages, Deliveries, Attempts, Replays, PortalSessions int64
}

func (r *PruneResult) add(o PruneResult) {
	r.PortalSessions += o.PortalSessions
	r.Messages += o.Messages
	r.Deliveries += o.Deliveries
	r.Attempts += o.Attempts
	r.Replays += o.Replays
}

// PruneWebhooks applies the Webhooks API's retention, in every workspace: it deletes the bulk
// replays completed before cutoff, and the messages created before cutoff whose deliveries are
// all final (delivered or failed: none pending, retrying or held), with their deliveries and
// attempts. A message inside the time window of a running bulk replay of its app is kept until
// the replay completes. Apps, recipients, endpoints and event types are not touched. Portal
// sessions are deleted a day after they expire, whatever the retention (until then their
// token is still answered as expired rather than unknown).
//
// It works in transactions of at most batch messages (or replays) each, so no statement holds
// its locks for long, until nothing older is left, and returns what it deleted; when ctx ends
// first, what it deleted until then, with ctx's error (the batch being deleted is rolled back).
func (s *DB) PruneWebhooks(ctx context.Context, cutoff time.Time, batch int) (PruneResult, error) {
	var res PruneResult
	for {
		n, err := s.prunePortalSessions(ctx, batch)
		res.PortalSessions += n
		if err != nil {
			return res, err
		}
		if n < int64(batch) {
			break
		}
	}
	for {
		n, err := s.pruneReplays(ctx, cutoff, batch)
		res.Replays += n
		if err != nil {
			return res, err
		}
		if n < int64(batch) {
			break
		}
	}
	// Message ids are version 7 UUIDs made when the message is accepted (newID), so the
	// messages created before cutoff are a range of the primary key: the scan for them stops
	// at its end instead of reading every newer message.
	bound, after := idAfter(cutoff), uuid.Nil.String()
	for {
		r, last, more, err := s.pruneMessages(ctx, cutoff, bound, after, batch)
		res.add(r)
		if err != nil || !more {
			return res, err
		}
		after = last
	}
}

// idAfter returns the least version 7 UUID of the millisecond after t's: every id newID made
// at t or before is less.
func idAfter(t time.Time) string { return idAt(t.Add(time.Millisecond)) }

// idAt returns the least version 7 UUID of t's millisecond: every id newID made before t is
// less, every one made at t or after is not.
func idAt(t time.Time) string {
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(u[:6], ms[2:])
	return u.String()
}

// pruneReplays deletes up to n bulk replays completed before cutoff.
// portalSessionGrace is how long an expired portal session is kept.
const portalSessionGrace = 24 * time.Hour

func (s *DB) prunePortalSessions(ctx context.Context, n int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_portal_sessions WHERE id IN (
		SELECT id FROM webhook_portal_sessions WHERE expires_at < now() - $1 * interval '1 second' ORDER BY id LIMIT $2)`,
		portalSessionGrace.Seconds(), n)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *DB) pruneReplays(ctx context.Context, cutoff time.Time, n int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_replays WHERE id IN (
		SELECT id FROM webhook_replays WHERE status = 'completed' AND completed_at < $1 ORDER BY id LIMIT $2)`, cutoff, n)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneMessages deletes, in one transaction, the expired messages among the next n candidates
// with ids after after (and below bound), with their deliveries and attempts. It returns the
// last candidate's id, from which the next batch continues, and whether there may be more.
func (s *DB) pruneMessages(ctx context.Context, cutoff time.Time, bound, after string, n int) (PruneResult, string, bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return PruneResult{}, after, false, err
	}
	defer tx.Rollback()
	var ids []string
	if err := tx.SelectContext(ctx, &ids, pruneCandidatesQuery, after, bound, cutoff, n); err != nil {
		return PruneResult{}, after, false, err
	}
	if len(ids) == 0 {
		return PruneResult{}, after, false, nil
	}
	var keep []string
	if err := tx.SelectContext(ctx, &keep, pruneRecheckQuery, pq.StringArray(ids)); err != nil {
		return PruneResult{}, after, false, err
	}
	r, err := deleteMessages(ctx, tx, without(ids, keep))
	if err != nil {
		return PruneResult{}, after, false, err
	}
	if err := tx.Commit(); err != nil {
		return PruneResult{}, after, false, err
	}
	return r, ids[len(ids)-1], len(ids) == n, nil
}

// pruneCandidatesQuery selects, in id order, up to $4 messages with ids between $1 and $2
// created before $3 that no delivery still waits on and no running bulk replay covers, and
// locks them; a message locked by another transaction (a replay inserting a delivery for it)
// is left for the next run. Messages without deliveries (no endpoint matched) expire too.
const pruneCandidatesQuery = `SELECT m.id FROM webhook_messages m
		WHERE m.id > $1 AND m.id < $2 AND m.created_at < $3
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE ` + deliveriesOfMessage + ` AND d.status NOT IN ('delivered', 'failed'))
			AND NOT EXISTS (SELECT 1 FROM webhook_replays r WHERE ` + replayCovers + `)
		ORDER BY m.id LIMIT $4
		FOR UPDATE OF m SKIP LOCKED`

// replayCovers says whether the running bulk replay r may still replay message m (see
// RunBulkReplayBatch's selection; until is always set when a replay is created).
const replayCovers = `r.app_id = m.app_id AND r.status = 'running'
	AND m.created_at >= (r.filter->>'since')::timestamptz
	AND (r.filter->>'until' IS NULL OR m.created_at < (r.filter->>'until')::timestamptz)`

// pruneRecheckQuery locks the deliveries of the candidate messages $1 and returns, read anew,
// the candidates to keep after all: a delivery a replay made pending, or a bulk replay
// started, since the candidates were chosen. Once the deliveries are locked, a replay waits
// for the deletion to commit and then finds nothing to replay.
const pruneRecheckQuery = `
		WITH d AS MATERIALIZED (
			SELECT message_pk, status FROM webhook_deliveries WHERE message_pk = ANY($1::uuid[]) FOR UPDATE
		)
		SELECT DISTINCT message_pk::text FROM d WHERE status NOT IN ('delivered', 'failed')
		UNION
		SELECT m.id::text FROM webhook_messages m
		WHERE m.id = ANY($1::uuid[]) AND EXISTS (SELECT 1 FROM webhook_replays r WHERE ` + replayCovers + `)`

// deleteMessages deletes messages with their attempts and deliveries, in that order, in tx.
func deleteMessages(ctx context.Context, tx *sqlx.Tx, ids []string) (PruneResult, error) {
	var r PruneResult
	if len(ids) == 0 {
		return r, nil
	}
	arg := pq.StringArray(ids)
	for _, step := range []struct {
		query string
		n     *int64
	}{
		{`DELETE FROM webhook_attempts WHERE message_pk = ANY($1::uuid[])`, &r.Attempts},
		{`DELETE FROM webhook_deliveries WHERE message_pk = ANY($1::uuid[])`, &r.Deliveries},
		{`DELETE FROM webhook_message_keys k USING webhook_messages m
			WHERE m.id = ANY($1::uuid[]) AND k.app_id = m.app_id AND k.message_id = m.message_id AND k.message_pk = m.id`, new(int64)},
		{`DELETE FROM webhook_messages WHERE id = ANY($1::uuid[])`, &r.Messages},
	} {
		res, err := tx.ExecContext(ctx, step.query, arg)
		if err != nil {
			return PruneResult{}, err
		}
		if *step.n, err = res.RowsAffected(); err != nil {
			return PruneResult{}, err
		}
	}
	return r, nil
}

// without returns the ids not in drop.
func without(ids, drop []string) []string {
	if len(drop) == 0 {
		return ids
	}
	skip := make(map[string]bool, len(drop))
	for _, id := range drop {
		skip[id] = true
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !skip[id] {
			out = append(out, id)
		}
	}
	return out
}
