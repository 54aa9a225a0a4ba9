package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
)

// Delivery triggers: the scheduled attempts of a send (and its retries), or a replay.
const (
	TriggerScheduled = "scheduled"
	TriggerReplay    = "replay"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryHeld      = "held"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is where a message stands at one endpoint.
type Delivery struct {
	ID             uuid.UUID  `db:"id"`
	EndpointID     uuid.UUID  `db:"endpoint_id"`
	URL            string     `db:"url"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	LastStatusCode *int       `db:"last_status_code"`
	LastError      *string    `db:"last_error"`
	NextAttemptAt  *time.Time `db:"next_attempt_at"`
	DeliveredAt    *time.Time `db:"delivered_at"`
}

func (s *DB) messageDeliveries(ctx context.Context, messagePK uuid.UUID) ([]Delivery, error) {
	out := []Delivery{}
	err := s.db.SelectContext(ctx, &out, `SELECT d.id, d.endpoint_id, e.url, d.status, d.attempts, d.last_status_code, d.last_error,
		d.next_attempt_at, d.delivered_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.message_pk = $1 ORDER BY d.endpoint_id`, messagePK)
	return out, err
}

// DeliveryTask is everything one attempt of a delivery needs.
type DeliveryTask struct {
	DeliveryID     uuid.UUID       `db:"delivery_id"`
	Status         string          `db:"status"`
	Attempts       int             `db:"attempts"`
	MessageID      string          `db:"message_id"`
	Body           string          `db:"body"`
	EndpointID     uuid.UUID       `db:"endpoint_id"`
	URL            string          `db:"url"`
	EndpointStatus string          `db:"endpoint_status"`
	DisabledReason *string         `db:"disabled_reason"`
	Headers        StringMap       `db:"headers"`
	MaxAttempts    int             `db:"max_attempts"`
	RateLimit      *int            `db:"rate_limit_per_minute"`
	FailingSince   *time.Time      `db:"failing_since"`
	Secrets        EndpointSecrets `db:"-"`
}

// LoadDelivery returns a delivery's task; ok=false when the delivery no longer exists (its
// endpoint, recipient or app was deleted).
func (s *DB) LoadDelivery(ctx context.Context, id uuid.UUID) (DeliveryTask, bool, error) {
	var row struct {
		DeliveryTask
		Secret     []byte `db:"secret"`
		OldSecrets []byte `db:"old_secrets"`
	}
	st, err := s.prepared(ctx, s.async, loadDeliveryQuery)
	if err != nil {
		return DeliveryTask{}, false, err
	}
	err = st.GetContext(ctx, &row, id)
	if noRows(err) {
		return DeliveryTask{}, false, nil
	}
	if err != nil {
		return DeliveryTask{}, false, err
	}
	if row.Secrets, err = s.openSecrets(row.EndpointID, row.Secret, row.OldSecrets, s.now()); err != nil {
		return DeliveryTask{}, false, err
	}
	return row.DeliveryTask, true, nil
}

// loadDeliveryQuery reads a delivery with its message and endpoint.
const loadDeliveryQuery = `SELECT d.id AS delivery_id, d.status, d.attempts, m.message_id, m.body,
		e.id AS endpoint_id, e.url, e.status AS endpoint_status, e.disabled_reason, e.headers, e.max_attempts, e.rate_limit_per_minute,
		e.failing_since, e.secret, e.old_secrets
		FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_pk JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.id = $1`

// HoldDelivery marks a delivery held if its endpoint is (still) paused, and reports whether it
// did. It takes a share lock on the endpoint row, so it cannot interleave with a resume (which
// releases held deliveries under the row's update lock): a delivery is either held before the
// resume and released by it, or seen active after it.
func (s *DB) HoldDelivery(ctx context.Context, deliveryID, endpointID uuid.UUID) (bool, error) {
	var ids []uuid.UUID
	err := s.async.SelectContext(ctx, &ids, `
		WITH e AS (SELECT id FROM webhook_endpoints WHERE id = $2 AND status = 'paused' FOR SHARE)
		UPDATE webhook_deliveries d SET status = 'held', updated_at = now() FROM e
		WHERE d.id = $1 AND d.endpoint_id = e.id RETURNING d.id`, deliveryID, endpointID)
	return len(ids) > 0, err
}

// FailDelivery ends a delivery without an attempt (its endpoint is disabled), saying why.
func (s *DB) FailDelivery(ctx context.Context, deliveryID uuid.UUID, reason string) error {
	_, err := s.async.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL,
		updated_at = now() WHERE id = $1`, deliveryID, reason)
	return err
}

// insertDeliveryJobs inserts one delivery job per id, in tx.
func (s *DB) insertDeliveryJobs(ctx context.Context, tx *sqlx.Tx, ids []uuid.UUID, trigger string) error {
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: WebhookDeliveryArgs{DeliveryID: id, Trigger: trigger}}
	}
	if _, err := s.jobs.InsertManyFastTx(ctx, tx.Tx, params); err != nil {
		return fmt.Errorf("insert delivery jobs: %w", err)
	}
	return nil
}
