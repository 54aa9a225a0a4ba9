package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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
		WHERE d.message_pk = $1 AND d.id BETWEEN webhook_owner_lo($1) AND webhook_owner_hi($1) ORDER BY d.endpoint_id`, messagePK)
	return out, err
}

// Target kinds: what a delivery is made to. The one delivery engine (the webhook_delivery job,
// server/worker/webhookdelivery.go) delivers both: a Dispatch message to an endpoint, and an
// Ingest event to a destination. Both targets keep the same state on their rows (status,
// signing secrets, attempt budget, rate-limit slot, failure record), which the methods below
// read and write through the target's table.
const (
	// TargetEndpoint is a recipient's endpoint (webhook_endpoints): a message's delivery.
	TargetEndpoint = "endpoint"
	// TargetDestination is an Ingest destination (ingest_destinations): an event's delivery.
	TargetDestination = "destination"
)

// Target is where a delivery goes.
type Target struct {
	Kind string
	ID   uuid.UUID
}

// targetTable is the table of a target kind's rows and the column of webhook_deliveries (and
// webhook_attempts) that refers to them.
func targetTable(kind string) (table, column string) {
	if kind == TargetDestination {
		return "ingest_destinations", "destination_id"
	}
	return "webhook_endpoints", "endpoint_id"
}

// DeliveryTask is everything one attempt of a delivery needs: what to send, and where.
type DeliveryTask struct {
	DeliveryID uuid.UUID
	Status     string
	Attempts   int
	Target     Target

	// WebhookID is the webhook-id of every attempt: the message id, or the event id.
	WebhookID string
	// Method is POST for a message; an event is forwarded with the method it was received with.
	Method string
	// Body is sent byte for byte, with ContentType.
	Body        []byte
	ContentType string
	// Forward are an event's request headers to pass on (vendor headers; credentials were never
	// stored); nil for a message.
	Forward map[string][]string
	// Verification is an event's inbound signature status (verified, failed, unchecked); ""
	// for a message.
	Verification string
	// SourceID is an event's source.
	SourceID *uuid.UUID

	URL            string
	TargetStatus   string
	DisabledReason *string
	Headers        StringMap
	MaxAttempts    int
	RateLimit      *int
	FailingSince   *time.Time
	Secrets        EndpointSecrets
	// Auth is a destination's authentication, opened; nil when it has none.
	Auth *DestinationAuth
	// OpenIssues says the destination has open (or acknowledged) delivery issues, which its
	// next success resolves (TargetSucceeded).
	OpenIssues bool
}

// deliveryRow is a delivery as loadDeliveriesQuery reads it, its secrets still sealed.
type deliveryRow struct {
	DeliveryID     uuid.UUID  `db:"delivery_id"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	EndpointID     *uuid.UUID `db:"endpoint_id"`
	DestinationID  *uuid.UUID `db:"destination_id"`
	MessageID      *string    `db:"message_id"`
	MessageBody    *string    `db:"message_body"`
	EventID        *uuid.UUID `db:"event_id"`
	EventBody      []byte     `db:"event_body"`
	Method         *string    `db:"method"`
	ContentType    *string    `db:"content_type"`
	Headers        JSONDoc    `db:"event_headers"`
	Verification   *string    `db:"verification_status"`
	SourceID       *uuid.UUID `db:"source_id"`
	URL            string     `db:"url"`
	TargetStatus   string     `db:"target_status"`
	DisabledReason *string    `db:"disabled_reason"`
	TargetHeaders  StringMap  `db:"headers"`
	MaxAttempts    int        `db:"max_attempts"`
	RateLimit      *int       `db:"rate_limit_per_minute"`
	FailingSince   *time.Time `db:"failing_since"`
	Secret         []byte     `db:"secret"`
	OldSecrets     []byte     `db:"old_secrets"`
	AuthType       *string    `db:"auth_type"`
	AuthConfig     JSONDoc    `db:"auth_config"`
	AuthSecret     []byte     `db:"auth_secret"`
	OpenIssues     bool       `db:"open_issues"`
}

// LoadDelivery returns a delivery's task; ok=false when the delivery no longer exists (its
// endpoint, recipient, app, destination or event was deleted). Concurrent calls (the delivery
// workers') are read together, one statement per batch (see batch.go); secrets are opened in
// the caller's goroutine.
func (s *DB) LoadDelivery(ctx context.Context, id uuid.UUID) (DeliveryTask, bool, error) {
	r, err := s.loads.do(ctx, id)
	if err != nil || r == nil {
		return DeliveryTask{}, false, err
	}
	row := *r
	t := DeliveryTask{DeliveryID: row.DeliveryID, Status: row.Status, Attempts: row.Attempts, URL: row.URL,
		TargetStatus: row.TargetStatus, DisabledReason: row.DisabledReason, Headers: row.TargetHeaders, MaxAttempts: row.MaxAttempts,
		RateLimit: row.RateLimit, FailingSince: row.FailingSince, OpenIssues: row.OpenIssues}
	switch {
	case row.EndpointID != nil && row.MessageID != nil:
		t.Target = Target{Kind: TargetEndpoint, ID: *row.EndpointID}
		t.WebhookID, t.Method, t.ContentType = *row.MessageID, "POST", "application/json"
		t.Body = []byte(deref(row.MessageBody))
		t.Secrets, err = s.openSecrets(endpointAAD(t.Target.ID), row.Secret, row.OldSecrets, s.now())
	case row.DestinationID != nil && row.EventID != nil:
		t.Target = Target{Kind: TargetDestination, ID: *row.DestinationID}
		t.WebhookID, t.Method, t.ContentType = row.EventID.String(), deref(row.Method), deref(row.ContentType)
		t.Body, t.Verification, t.SourceID = row.EventBody, deref(row.Verification), row.SourceID
		if len(row.Headers) > 0 {
			if err := json.Unmarshal(row.Headers, &t.Forward); err != nil {
				return DeliveryTask{}, false, err
			}
		}
		if t.Secrets, err = s.openSecrets(destinationAAD(t.Target.ID), row.Secret, row.OldSecrets, s.now()); err != nil {
			return DeliveryTask{}, false, err
		}
		t.Auth, err = s.openAuth(t.Target.ID, row.AuthType, row.AuthConfig, row.AuthSecret)
	default:
		return DeliveryTask{}, false, nil // its message or event is being deleted
	}
	if err != nil {
		return DeliveryTask{}, false, err
	}
	return t, true, nil
}

// loadDeliveries reads a batch of deliveries: for each id its row, or nil when it is gone.
func (s *DB) loadDeliveries(ctx context.Context, ids []uuid.UUID) ([]batchResult[*deliveryRow], error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	var rows []deliveryRow
	lo, hi := ownerRange(ids)
	// Not prepared: planned for each batch, on the tables as they are (a plan cached while they
	// were small would scan them once they have grown).
	if err := s.async.SelectContext(ctx, &rows, loadDeliveriesQuery, pq.Array(keys), lo, hi); err != nil {
		return nil, err
	}
	by := make(map[uuid.UUID]*deliveryRow, len(rows))
	for i := range rows {
		by[rows[i].DeliveryID] = &rows[i]
	}
	out := make([]batchResult[*deliveryRow], len(ids))
	for i, id := range ids {
		out[i].out = by[id]
	}
	return out, nil
}

// loadDeliveriesQuery reads deliveries with what each delivers (a message or an event) and its
// target (an endpoint or a destination).
const loadDeliveriesQuery = `SELECT d.id AS delivery_id, d.status, d.attempts, d.endpoint_id, d.destination_id,
		m.message_id, m.body AS message_body, v.id AS event_id, v.body AS event_body, v.method, v.content_type,
		v.headers AS event_headers, v.verification_status, v.source_id,
		coalesce(e.url, t.url) AS url, coalesce(e.status, t.status) AS target_status,
		coalesce(e.disabled_reason, t.disabled_reason) AS disabled_reason, coalesce(e.headers, t.headers) AS headers,
		coalesce(e.max_attempts, t.max_attempts) AS max_attempts, coalesce(e.rate_limit_per_minute, t.rate_limit_per_minute) AS rate_limit_per_minute,
		coalesce(e.failing_since, t.failing_since) AS failing_since, coalesce(e.secret, t.secret) AS secret,
		coalesce(e.old_secrets, t.old_secrets) AS old_secrets, t.auth_type, t.auth_config, t.auth_secret,
		EXISTS (SELECT 1 FROM ingest_issues i WHERE i.destination_id = t.id AND i.status IN ('open', 'acknowledged')
			AND i.type = 'delivery') AS open_issues
		FROM webhook_deliveries d
		LEFT JOIN webhook_messages m ON m.id = d.message_pk AND m.id BETWEEN $2 AND $3 LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
		LEFT JOIN ingest_events v ON v.id = d.event_pk AND v.id BETWEEN $2 AND $3 LEFT JOIN ingest_destinations t ON t.id = d.destination_id
		WHERE d.id = ANY($1::uuid[]) AND (e.id IS NOT NULL OR t.id IS NOT NULL)`

// ownerRange returns the range of ids the owners (messages, events) of the deliveries ids are
// in: a delivery's id starts with its owner's millisecond (webhook_delivery_id, migration
// 0018), so the planner prunes the owners' tables to their partitions. A delivery made before
// that migration has a random (version 4) id: then the range is every id.
func ownerRange(ids []uuid.UUID) (lo, hi string) {
	for _, id := range ids {
		if id.Version() != 7 {
			return uuid.Nil.String(), "ffffffff-ffff-ffff-ffff-ffffffffffff"
		}
	}
	first, last := idSpan(ids)
	for i := 6; i < 16; i++ {
		first[i], last[i] = 0, 0xff
	}
	return first.String(), last.String()
}

// HoldDelivery marks a delivery held if its target is (still) paused, and reports whether it
// did. It takes a share lock on the target's row, so it cannot interleave with a resume (which
// releases held deliveries under the row's update lock): a delivery is either held before the
// resume and released by it, or seen active after it.
func (s *DB) HoldDelivery(ctx context.Context, deliveryID uuid.UUID, target Target) (bool, error) {
	table, column := targetTable(target.Kind)
	var ids []uuid.UUID
	err := s.async.SelectContext(ctx, &ids, `
		WITH e AS (SELECT id FROM `+table+` WHERE id = $2 AND status = 'paused' FOR SHARE)
		UPDATE webhook_deliveries d SET status = 'held', updated_at = now() FROM e
		WHERE d.id = $1 AND d.`+column+` = e.id RETURNING d.id`, deliveryID, target.ID)
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
