package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ReplayMessage sends a message again, once, to every endpoint it was sent to, or with
// endpointID to that endpoint of its recipient (which gets a delivery if it had none). It
// returns how many endpoints the replay goes to. ErrNotFound for an unknown message or endpoint.
func (s *DB) ReplayMessage(ctx context.Context, workspaceID, appID uuid.UUID, messageID string, endpointID *uuid.UUID) (int, error) {
	m, err := s.findMessage(ctx, workspaceID, appID, messageID, "")
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The message stays while this replays it: retention's delete waits for this lock, and a
	// message it deleted in between is a 404.
	var kept bool
	if err := tx.GetContext(ctx, &kept, `SELECT true FROM webhook_messages WHERE id = $1 FOR KEY SHARE`, m.ID); err != nil {
		return 0, orNotFound(err, "Message")
	}
	var ids []uuid.UUID
	if endpointID != nil {
		// The delivery the message has at the endpoint, made pending again; a delivery made
		// before migration 0018 has a random id, so it is looked up by (message, endpoint).
		err = tx.SelectContext(ctx, &ids, `UPDATE webhook_deliveries SET
			status = CASE WHEN status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			WHERE message_pk = $1 AND endpoint_id = $2 AND id BETWEEN webhook_owner_lo($1) AND webhook_owner_hi($1) RETURNING id`, m.ID, *endpointID)
		if err == nil && len(ids) == 0 {
			// None yet: a new one, under the id the pair always has, so that a concurrent
			// replay to the same endpoint meets it (ON CONFLICT on the primary key).
			err = tx.SelectContext(ctx, &ids, `
				INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status)
				SELECT webhook_delivery_id(m.id, e.id), m.id, e.id, 'pending' FROM webhook_messages m
				JOIN webhook_endpoints e ON e.recipient_pk = m.recipient_pk AND e.id = $2 WHERE m.id = $1
				ON CONFLICT (id) DO UPDATE SET
					status = CASE WHEN webhook_deliveries.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
				RETURNING id`, m.ID, *endpointID)
		}
		if err == nil && len(ids) == 0 {
			return 0, notFound("Endpoint")
		}
	} else {
		err = tx.SelectContext(ctx, &ids, `UPDATE webhook_deliveries SET
			status = CASE WHEN status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			WHERE message_pk = $1 AND id BETWEEN webhook_owner_lo($1) AND webhook_owner_hi($1) RETURNING id`, m.ID)
	}
	if err != nil {
		return 0, err
	}
	if err := s.insertDeliveryJobs(ctx, tx, ids, TriggerReplay); err != nil {
		return 0, err
	}
	return len(ids), tx.Commit()
}

// ReplayFilter selects the deliveries a bulk replay sends again.
type ReplayFilter struct {
	Since       time.Time  `json:"since"`
	Until       *time.Time `json:"until,omitempty"`
	EventType   string     `json:"eventType,omitempty"`
	RecipientID string     `json:"recipientId,omitempty"`
	EndpointID  *uuid.UUID `json:"endpointId,omitempty"`
	FailedOnly  bool       `json:"failedOnly"`
}

// Scan reads the jsonb column.
func (f *ReplayFilter) Scan(src any) error { return scanJSON(src, f) }

// BulkReplay is a replay of many deliveries, worked through in the background.
type BulkReplay struct {
	ID          uuid.UUID    `db:"id"`
	AppID       uuid.UUID    `db:"app_id"`
	Filter      ReplayFilter `db:"filter"`
	Status      string       `db:"status"`
	Replayed    int          `db:"replayed"`
	CreatedAt   time.Time    `db:"created_at"`
	CompletedAt *time.Time   `db:"completed_at"`
}

const replayColumns = `id, app_id, filter, status, replayed, created_at, completed_at`

// CreateBulkReplay stores a bulk replay and its job, in one transaction.
func (s *DB) CreateBulkReplay(ctx context.Context, workspaceID, appID uuid.UUID, f ReplayFilter) (BulkReplay, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return BulkReplay{}, err
	}
	if f.Until == nil {
		now := s.now().UTC()
		f.Until = &now
	}
	filter, _ := json.Marshal(f)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return BulkReplay{}, err
	}
	defer tx.Rollback()
	var r BulkReplay
	if err := tx.GetContext(ctx, &r, `INSERT INTO webhook_replays (id, app_id, filter) VALUES ($1, $2, $3) RETURNING `+replayColumns,
		newID(), appID, string(filter)); err != nil {
		return BulkReplay{}, err
	}
	if _, err := s.jobs.InsertTx(ctx, tx.Tx, WebhookBulkReplayArgs{ReplayID: r.ID}, nil); err != nil {
		return BulkReplay{}, fmt.Errorf("insert replay job: %w", err)
	}
	return r, tx.Commit()
}

// GetBulkReplay returns a bulk replay of a workspace's app, or ErrNotFound.
func (s *DB) GetBulkReplay(ctx context.Context, workspaceID, appID, id uuid.UUID) (BulkReplay, error) {
	var r BulkReplay
	err := s.db.GetContext(ctx, &r, `SELECT `+replayColumns+` FROM webhook_replays
		WHERE id = $3 AND app_id = (SELECT id FROM webhook_apps WHERE workspace_id = $1 AND id = $2)`, workspaceID, appID, id)
	if noRows(err) {
		if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
			return r, err
		}
		return r, notFound("Replay")
	}
	return r, err
}

// RunBulkReplayBatch replays the next batch (up to n) of a bulk replay's deliveries, in one
// transaction that also records the progress, and reports whether the replay is complete.
// Run it until it is; a crash between batches loses nothing and repeats nothing.
func (s *DB) RunBulkReplayBatch(ctx context.Context, replayID uuid.UUID, n int) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var r struct {
		BulkReplay
		AfterID *uuid.UUID `db:"after_id"`
	}
	if err := tx.GetContext(ctx, &r, `SELECT `+replayColumns+`, after_id FROM webhook_replays WHERE id = $1 FOR UPDATE`, replayID); err != nil {
		if noRows(err) {
			return true, nil // its app was deleted
		}
		return false, err
	}
	if r.Status == "completed" {
		return true, nil
	}
	f := r.Filter
	var ids []uuid.UUID
	if err := tx.SelectContext(ctx, &ids, `
		WITH sel AS (
			SELECT d.id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_pk
			WHERE m.app_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ($4 = '' OR m.event_type = $4)
				AND ($5 = '' OR m.recipient_id = $5) AND ($6::uuid IS NULL OR d.endpoint_id = $6)
				AND (NOT $7 OR d.status = 'failed') AND ($8::uuid IS NULL OR d.id > $8)
			ORDER BY d.id LIMIT $9
		)
		UPDATE webhook_deliveries d SET status = CASE WHEN d.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
		FROM sel WHERE d.id = sel.id RETURNING d.id`,
		r.AppID, f.Since, f.Until, f.EventType, f.RecipientID, f.EndpointID, f.FailedOnly, r.AfterID, n); err != nil {
		return false, err
	}
	if err := s.insertDeliveryJobs(ctx, tx, ids, TriggerReplay); err != nil {
		return false, err
	}
	done := len(ids) < n
	var last *uuid.UUID
	for i := range ids {
		if last == nil || ids[i].String() > last.String() {
			last = &ids[i]
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_replays SET replayed = replayed + $2, after_id = coalesce($3, after_id),
		status = CASE WHEN $4 THEN 'completed' ELSE status END, completed_at = CASE WHEN $4 THEN now() END WHERE id = $1`,
		replayID, len(ids), last, done); err != nil {
		return false, err
	}
	return done, tx.Commit()
}
