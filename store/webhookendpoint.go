package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Endpoint statuses.
const (
	EndpointActive   = "active"
	EndpointPaused   = "paused"
	EndpointDisabled = "disabled"
)

// SecretRotationGrace is how long a rotated-out secret keeps signing deliveries.
const SecretRotationGrace = 24 * time.Hour

// maxOldSecrets bounds the previous secrets kept (and signed with) after rotations.
const maxOldSecrets = 10

// Endpoint is a URL of a recipient that messages are delivered to.
type Endpoint struct {
	ID                 uuid.UUID      `db:"id"`
	AppID              uuid.UUID      `db:"app_id"`
	RecipientID        string         `db:"recipient_id"`
	URL                string         `db:"url"`
	Description        string         `db:"description"`
	EventTypes         pq.StringArray `db:"event_types"`
	Status             string         `db:"status"`
	DisabledReason     *string        `db:"disabled_reason"`
	Headers            StringMap      `db:"headers"`
	MaxAttempts        int            `db:"max_attempts"`
	RateLimitPerMinute *int           `db:"rate_limit_per_minute"`
	// FailingSince is when the endpoint's first failed attempt since its last success was
	// (nil after a success); one failing for long enough is disabled (EndpointFailed).
	FailingSince *time.Time `db:"failing_since"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
}

const endpointColumns = `e.id, e.app_id, r.recipient_id, e.url, e.description, e.event_types, e.status, e.disabled_reason,
	e.headers, e.max_attempts, e.rate_limit_per_minute, e.failing_since, e.created_at, e.updated_at`

// EndpointCreate is a new endpoint.
type EndpointCreate struct {
	URL, Description   string
	EventTypes         []string
	Paused             bool
	Headers            map[string]string
	MaxAttempts        int
	RateLimitPerMinute *int
	Secret             string // "" = generate one
}

// NewWebhookSecret returns a new Standard Webhooks secret: whsec_ and 24 random bytes in base64.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func endpointAAD(id uuid.UUID) []byte { return []byte("webhook_endpoint:" + id.String()) }

// CreateEndpoint adds an endpoint to a recipient. ErrNotFound if there is no such app or
// recipient; a *LimitError if the workspace has its maxEndpoints already.
func (s *DB) CreateEndpoint(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, in EndpointCreate) (Endpoint, error) {
	r, err := s.GetRecipient(ctx, workspaceID, appID, recipientID)
	if err != nil {
		return Endpoint{}, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Endpoint{}, err
	}
	defer tx.Rollback()
	if err := checkCountLimit(ctx, tx, workspaceID, "maxEndpoints"); err != nil {
		return Endpoint{}, err
	}
	if in.Secret == "" {
		in.Secret = NewWebhookSecret()
	}
	status := EndpointActive
	if in.Paused {
		status = EndpointPaused
	}
	id := newID()
	var e Endpoint
	err = tx.GetContext(ctx, &e, `
		WITH e AS (
			INSERT INTO webhook_endpoints (id, workspace_id, app_id, recipient_pk, url, description, event_types, status, headers,
				max_attempts, rate_limit_per_minute, secret)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *
		) SELECT `+endpointColumns+` FROM e JOIN webhook_recipients r ON r.id = e.recipient_pk`,
		id, workspaceID, appID, r.ID, in.URL, in.Description, pq.StringArray(nonNilStrings(in.EventTypes)), status,
		jsonMap(in.Headers), in.MaxAttempts, in.RateLimitPerMinute, s.box.Seal([]byte(in.Secret), endpointAAD(id)))
	if err != nil {
		return Endpoint{}, err
	}
	return e, tx.Commit()
}

// endpointWhere selects a workspace's endpoint by app, recipient id and endpoint id ($1..$4).
const endpointWhere = ` FROM webhook_endpoints e JOIN webhook_recipients r ON r.id = e.recipient_pk JOIN webhook_apps a ON a.id = e.app_id
	WHERE a.workspace_id = $1 AND a.id = $2 AND r.recipient_id = $3 AND e.id = $4`

// GetEndpoint returns an endpoint, or ErrNotFound naming what is missing.
func (s *DB) GetEndpoint(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, id uuid.UUID) (Endpoint, error) {
	var e Endpoint
	err := s.db.GetContext(ctx, &e, `SELECT `+endpointColumns+endpointWhere, workspaceID, appID, recipientID, id)
	if noRows(err) {
		return e, s.endpointNotFound(ctx, workspaceID, appID, recipientID)
	}
	return e, err
}

// endpointNotFound is the error for a statement scoped by endpointWhere that found no row: it
// names the app or recipient when that is what is missing.
func (s *DB) endpointNotFound(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string) error {
	if _, err := s.GetRecipient(ctx, workspaceID, appID, recipientID); err != nil {
		return err
	}
	return notFound("Endpoint")
}

// ListEndpoints returns a recipient's endpoints, oldest first.
func (s *DB) ListEndpoints(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string) ([]Endpoint, error) {
	r, err := s.GetRecipient(ctx, workspaceID, appID, recipientID)
	if err != nil {
		return nil, err
	}
	out := []Endpoint{}
	err = s.db.SelectContext(ctx, &out, `SELECT `+endpointColumns+` FROM webhook_endpoints e JOIN webhook_recipients r ON r.id = e.recipient_pk
		WHERE e.recipient_pk = $1 ORDER BY e.id`, r.ID)
	return out, err
}

// UpdateEndpoint changes an endpoint with change, which gets it as stored, locked until the
// update commits, and may refuse by returning an error; its URL, description, event types,
// status, disabled reason, headers, attempt budget, rate limit and failure record are written
// back. The store keeps the status's companions right: a disabled endpoint always has a reason
// ("Disabled through the API" unless it has one) and any other none; moving to active from
// another status clears the failure record, so a re-enabled endpoint is not disabled again at
// its next failure (change may clear it itself as well). An endpoint left active has the
// deliveries it held released: they become pending and get their delivery jobs, in the same
// transaction.
func (s *DB) UpdateEndpoint(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, id uuid.UUID, change func(*Endpoint) error) (Endpoint, error) {
	var was string // the status as stored
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Endpoint, error) {
		var e Endpoint
		err := tx.GetContext(ctx, &e, `SELECT `+endpointColumns+endpointWhere+` FOR NO KEY UPDATE OF e`, workspaceID, appID, recipientID, id)
		if noRows(err) {
			return e, s.endpointNotFound(ctx, workspaceID, appID, recipientID)
		}
		was = e.Status
		return e, err
	}, change, func(tx *sqlx.Tx, e *Endpoint) (Endpoint, error) {
		reason := e.DisabledReason
		switch {
		case e.Status != EndpointDisabled:
			reason = nil
		case reason == nil:
			r := "Disabled through the API"
			reason = &r
		}
		if e.Status == EndpointActive && was != EndpointActive {
			e.FailingSince = nil
		}
		var out Endpoint
		err := tx.GetContext(ctx, &out, `
			WITH e AS (
				UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, status = $5, disabled_reason = $6,
					failing_since = $7, headers = $8, max_attempts = $9, rate_limit_per_minute = $10, updated_at = now()
				WHERE id = $1 RETURNING *
			) SELECT `+endpointColumns+` FROM e JOIN webhook_recipients r ON r.id = e.recipient_pk`,
			id, e.URL, e.Description, pq.StringArray(nonNilStrings(e.EventTypes)), e.Status, reason, e.FailingSince,
			jsonMap(e.Headers), e.MaxAttempts, e.RateLimitPerMinute)
		if err != nil {
			return Endpoint{}, err
		}
		if out.Status == EndpointActive {
			if err := s.releaseHeld(ctx, tx, id); err != nil {
				return Endpoint{}, err
			}
		}
		return out, nil
	})
}

// releaseHeld makes an endpoint's held deliveries pending and inserts their jobs, in tx (which
// holds the endpoint's row lock, so a worker cannot hold a delivery at the same moment).
func (s *DB) releaseHeld(ctx context.Context, tx *sqlx.Tx, endpointID uuid.UUID) error {
	var ids []uuid.UUID
	if err := tx.SelectContext(ctx, &ids, `UPDATE webhook_deliveries SET status = 'pending', updated_at = now()
		WHERE endpoint_id = $1 AND status = 'held' RETURNING id`, endpointID); err != nil {
		return err
	}
	return s.insertDeliveryJobs(ctx, tx, ids, TriggerScheduled)
}

// DeleteEndpoint deletes an endpoint with its deliveries and attempts.
func (s *DB) DeleteEndpoint(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = (SELECT e.id`+endpointWhere+`)`,
		workspaceID, appID, recipientID, id)
	return changedRow(res, err, func() error { return s.endpointNotFound(ctx, workspaceID, appID, recipientID) })
}

// OldSecret is a rotated-out secret that still signs until ExpiresAt.
type OldSecret struct {
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// EndpointSecrets are an endpoint's current secret and the previous ones still valid at now.
type EndpointSecrets struct {
	Current string
	Old     []OldSecret
}

// openSecrets decrypts a target's signing secrets (sealed with aad: endpointAAD or
// destinationAAD), dropping old ones expired at now.
func (s *DB) openSecrets(aad, sealed, sealedOld []byte, now time.Time) (EndpointSecrets, error) {
	cur, err := s.box.Open(sealed, aad)
	if err != nil {
		return EndpointSecrets{}, fmt.Errorf("open endpoint secret: %w", err)
	}
	out := EndpointSecrets{Current: string(cur), Old: []OldSecret{}}
	if len(sealedOld) == 0 {
		return out, nil
	}
	plain, err := s.box.Open(sealedOld, aad)
	if err != nil {
		return EndpointSecrets{}, fmt.Errorf("open endpoint secrets: %w", err)
	}
	var old []OldSecret
	if err := json.Unmarshal(plain, &old); err != nil {
		return EndpointSecrets{}, err
	}
	for _, o := range old {
		if now.Before(o.ExpiresAt) {
			out.Old = append(out.Old, o)
		}
	}
	return out, nil
}

// GetEndpointSecrets returns an endpoint's secrets.
func (s *DB) GetEndpointSecrets(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, id uuid.UUID) (EndpointSecrets, error) {
	var row struct {
		Secret []byte `db:"secret"`
		Old    []byte `db:"old_secrets"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT e.secret, e.old_secrets`+endpointWhere, workspaceID, appID, recipientID, id)
	if noRows(err) {
		return EndpointSecrets{}, s.endpointNotFound(ctx, workspaceID, appID, recipientID)
	}
	if err != nil {
		return EndpointSecrets{}, err
	}
	return s.openSecrets(endpointAAD(id), row.Secret, row.Old, s.now())
}

// RotateEndpointSecret makes key (or a new secret when "") the endpoint's secret; the previous
// one keeps signing for SecretRotationGrace. At most maxOldSecrets previous ones are kept.
func (s *DB) RotateEndpointSecret(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, id uuid.UUID, key string) (EndpointSecrets, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return EndpointSecrets{}, err
	}
	defer tx.Rollback()
	var row struct {
		Secret []byte `db:"secret"`
		Old    []byte `db:"old_secrets"`
	}
	err = tx.GetContext(ctx, &row, `SELECT e.secret, e.old_secrets`+endpointWhere+` FOR UPDATE OF e`, workspaceID, appID, recipientID, id)
	if noRows(err) {
		return EndpointSecrets{}, s.endpointNotFound(ctx, workspaceID, appID, recipientID)
	}
	if err != nil {
		return EndpointSecrets{}, err
	}
	now := s.now()
	cur, err := s.openSecrets(endpointAAD(id), row.Secret, row.Old, now)
	if err != nil {
		return EndpointSecrets{}, err
	}
	if key == "" {
		key = NewWebhookSecret()
	}
	old := append([]OldSecret{{Key: cur.Current, ExpiresAt: now.Add(SecretRotationGrace).UTC()}}, cur.Old...)
	if len(old) > maxOldSecrets {
		old = old[:maxOldSecrets]
	}
	plainOld, _ := json.Marshal(old)
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = $2, old_secrets = $3, updated_at = now() WHERE id = $1`,
		id, s.box.Seal([]byte(key), endpointAAD(id)), s.box.Seal(plainOld, endpointAAD(id))); err != nil {
		return EndpointSecrets{}, err
	}
	return EndpointSecrets{Current: key, Old: old}, tx.Commit()
}

// ReserveEndpointSlot is ReserveSlot for an endpoint.
func (s *DB) ReserveEndpointSlot(ctx context.Context, endpointID uuid.UUID, perMinute int, maxWait time.Duration) (wait time.Duration, reserved bool, err error) {
	return s.ReserveSlot(ctx, Target{Kind: TargetEndpoint, ID: endpointID}, perMinute, maxWait)
}

// ReserveSlot takes the next delivery slot of a target (an endpoint or a destination) limited
// to perMinute deliveries, shared by every process (the generic cell rate algorithm, its state
// on the target's row): slots are 60s/perMinute apart, with a burst of perMinute/60 (at least
// 1). It returns how long to wait for the slot. A slot further away than maxWait is not taken
// (reserved=false): the caller comes back for it later rather than holding it idle.
func (s *DB) ReserveSlot(ctx context.Context, target Target, perMinute int, maxWait time.Duration) (wait time.Duration, reserved bool, err error) {
	if perMinute < 1 {
		return 0, true, nil
	}
	interval := time.Minute / time.Duration(perMinute)
	tolerance := time.Duration(max(1, perMinute/60)-1) * interval
	var row struct {
		WaitUS   int64 `db:"wait_us"`
		Reserved bool  `db:"reserved"`
	}
	st, err := s.prepared(ctx, s.async, reserveSlotQueries[target.Kind])
	if err != nil {
		return 0, false, err
	}
	err = st.GetContext(ctx, &row, target.ID, interval.Microseconds(), tolerance.Microseconds(), maxWait.Microseconds())
	if noRows(err) { // the target was deleted: nothing to wait for
		return 0, true, nil
	}
	return time.Duration(row.WaitUS) * time.Microsecond, row.Reserved, err
}

// reserveSlotQueries are reserveSlotQuery for each target kind's table.
var reserveSlotQueries = map[string]string{TargetEndpoint: reserveSlotQuery("webhook_endpoints"),
	TargetDestination: reserveSlotQuery("ingest_destinations")}

// reserveSlotQuery: tat is the target's next slot (now at the earliest); the wait for it, less
// the burst tolerance, is taken (tat moves one interval on) when it is within the limit.
func reserveSlotQuery(table string) string {
	return `
		WITH p AS (
			SELECT id, greatest(coalesce(rate_tat, now()), now()) AS tat FROM ` + table + ` WHERE id = $1 FOR UPDATE
		), w AS (
			SELECT id, tat, greatest(tat - now() - $3 * interval '1 microsecond', interval '0') AS wait FROM p
		), u AS (
			UPDATE ` + table + ` e SET rate_tat = w.tat + $2 * interval '1 microsecond' FROM w
			WHERE e.id = w.id AND w.wait <= $4 * interval '1 microsecond'
			RETURNING e.id
		)
		SELECT (extract(epoch FROM w.wait) * 1000000)::bigint AS wait_us, EXISTS (SELECT 1 FROM u) AS reserved FROM w`
}

// EndpointSucceeded clears an endpoint's failure record.
func (s *DB) EndpointSucceeded(ctx context.Context, endpointID uuid.UUID) error {
	return s.TargetSucceeded(ctx, Target{Kind: TargetEndpoint, ID: endpointID})
}

// TargetSucceeded clears a target's failure record after a successful attempt. A destination's
// open delivery issues resolve themselves with it (auto_resolved_at).
func (s *DB) TargetSucceeded(ctx context.Context, target Target) error {
	table, _ := targetTable(target.Kind)
	query := `UPDATE ` + table + ` SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`
	if target.Kind == TargetDestination {
		query = `WITH t AS (` + query + ` RETURNING id) ` + resolveDeliveryIssuesSQL
	}
	_, err := s.async.ExecContext(ctx, query, target.ID)
	return err
}

// EndpointFailed is TargetFailed for an endpoint.
func (s *DB) EndpointFailed(ctx context.Context, endpointID uuid.UUID, disableBefore time.Time) (bool, error) {
	return s.TargetFailed(ctx, Target{Kind: TargetEndpoint, ID: endpointID}, disableBefore, Failure{})
}

// Failure is what an attempt's failure was, for the issue it counts in (destinations only).
type Failure struct {
	// DeliveryID is the failed delivery; its latest attempt is the issue's reference.
	DeliveryID uuid.UUID
	// Kind groups failures into one issue: "http_503", or an error code ("timeout", ...).
	Kind string
}

// TargetFailed records a failed attempt at a target: the first failure since its last success
// starts its failure record, and a target failing since before disableBefore is disabled,
// saying since when. It reports whether it disabled the target. At a destination, the failure
// also counts in the delivery issue of its kind (opened, or re-opened when it was resolved).
func (s *DB) TargetFailed(ctx context.Context, target Target, disableBefore time.Time, f Failure) (bool, error) {
	table, _ := targetTable(target.Kind)
	var disabled bool
	args := []any{target.ID, disableBefore}
	issue := ""
	if target.Kind == TargetDestination && f.Kind != "" {
		issue = `, i AS (` + deliveryIssueSQL + `)`
		args = append(args, f.DeliveryID, f.Kind, newID())
	}
	err := s.async.GetContext(ctx, &disabled, `
		WITH e AS (
			UPDATE `+table+` SET failing_since = coalesce(failing_since, now()),
				status = CASE WHEN failing_since < $2 AND status <> 'disabled' THEN 'disabled' ELSE status END,
				disabled_reason = CASE WHEN failing_since < $2 AND status <> 'disabled'
					THEN 'Every delivery failed since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
					ELSE disabled_reason END,
				updated_at = CASE WHEN failing_since < $2 AND status <> 'disabled' THEN now() ELSE updated_at END
			WHERE id = $1 RETURNING status, disabled_reason
		)`+issue+` SELECT coalesce((SELECT status = 'disabled' FROM e), false)`, args...)
	return disabled, err
}

// DisableEndpoint disables an endpoint, saying why.
func (s *DB) DisableEndpoint(ctx context.Context, endpointID uuid.UUID, reason string) error {
	return s.DisableTarget(ctx, Target{Kind: TargetEndpoint, ID: endpointID}, reason)
}

// DisableTarget disables an endpoint or a destination, saying why.
func (s *DB) DisableTarget(ctx context.Context, target Target, reason string) error {
	table, _ := targetTable(target.Kind)
	_, err := s.async.ExecContext(ctx, `UPDATE `+table+` SET status = 'disabled', disabled_reason = $2, updated_at = now()
		WHERE id = $1`, target.ID, reason)
	return err
}
