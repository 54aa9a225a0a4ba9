package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/riverqueue/river"
)

// Activity statuses. The allowed transitions are enforced by a trigger (migration 0002).
const (
	StatusReady      = "READY"
	StatusUnresolved = "UNRESOLVED"
	StatusDispatched = "DISPATCHED"
	StatusCompleted  = "COMPLETED"
	StatusCanceled   = "CANCELED"
	StatusFailed     = "FAILED"
)

// Activity is a TASK or MESSAGE scheduled for a commerce.
type Activity struct {
	ID                     uuid.UUID       `db:"id"`
	WorkspaceID            uuid.UUID       `db:"workspace_id"`
	CommerceID             uuid.UUID       `db:"commerce_id"`
	CommerceName           string          `db:"commerce_name"`
	Type                   string          `db:"type"`
	Channel                string          `db:"channel"`
	Status                 string          `db:"status"`
	ReasonCode             string          `db:"reason_code"`
	ReasonLabel            string          `db:"reason_label"`
	UserStatusCode         *string         `db:"user_status_code"`
	UserStatusLabel        *string         `db:"user_status_label"`
	IdempotencyKey         string          `db:"idempotency_key"`
	ScheduledAt            time.Time       `db:"scheduled_at"`
	SuggestedExecutionTime *time.Time      `db:"suggested_execution_time"`
	Score                  *int            `db:"score"`
	AssignmentReason       *string         `db:"assignment_reason"`
	TargetCriteria         json.RawMessage `db:"target_criteria"`
	AttributeKeys          pq.StringArray  `db:"attribute_keys"`
	Attributes             json.RawMessage `db:"attributes"`
	DispatchAttemptCount   int             `db:"dispatch_attempt_count"`
	ExternalID             *string         `db:"external_id"`
	CreatedAt              time.Time       `db:"created_at"`
	UpdatedAt              time.Time       `db:"updated_at"`
}

const activitySelect = `SELECT a.id, a.workspace_id, a.commerce_id, c.name AS commerce_name, a.type, a.channel, a.status,
	a.reason_code, a.reason_label, a.user_status_code, a.user_status_label, a.idempotency_key, a.scheduled_at,
	a.suggested_execution_time, a.score, a.assignment_reason, a.target_criteria, a.attribute_keys, a.attributes,
	a.dispatch_attempt_count, a.external_id, a.created_at, a.updated_at
	FROM activities a JOIN commerces c ON c.id = a.commerce_id`

// ActivityCreate is a new activity.
type ActivityCreate struct {
	WorkspaceID            uuid.UUID
	CommerceID             uuid.UUID
	Type, Channel          string
	Reason                 string // free text, matched against the reason catalog
	ReasonCode             string // the slug of Reason
	UserStatus             *string
	IdempotencyKey         string
	ScheduledAt            time.Time
	SuggestedExecutionTime *time.Time
	Score                  *int
	AssignmentReason       *string
	TargetCriteria         json.RawMessage
	AttributeKeys          []string
	Attributes             json.RawMessage
}

// CreateActivity stores a READY activity, its CREATED status event and its dispatch job
// (scheduled at ScheduledAt) in one transaction. The reason becomes the catalog entry whose
// code is ReasonCode or whose label is Reason (case-insensitive), else {ReasonCode, Reason}.
// ErrNotFound if the workspace has no such commerce; ErrInvalid for an unknown user status;
// ErrConflict if the workspace already used the idempotency key.
func (s *DB) CreateActivity(ctx context.Context, in ActivityCreate) (Activity, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Activity{}, err
	}
	defer tx.Rollback()
	id := newID()
	// One statement does the look-ups, the insert and its event, and returns the new row, so
	// the common path costs one query; only a refusal asks again, to say why.
	var act Activity
	err = tx.GetContext(ctx, &act, `
		WITH com AS (
			SELECT id, name FROM commerces WHERE workspace_id = $2 AND id = $3
		), reason AS (
			SELECT code, label FROM activity_reasons
			WHERE workspace_id = $2 AND is_active AND (code = $6 OR lower(label) = lower($7))
			ORDER BY (code = $6) DESC LIMIT 1
		), ustatus AS (
			SELECT code, label FROM user_retention_statuses WHERE workspace_id = $2 AND code = $8 AND is_active
		), ins AS (
			INSERT INTO activities (id, workspace_id, commerce_id, type, channel, status, reason_code, reason_label,
				user_status_code, user_status_label, idempotency_key, scheduled_at, suggested_execution_time, score,
				assignment_reason, target_criteria, attribute_keys, attributes)
			SELECT $1, $2, com.id, $4, $5, 'READY', coalesce((SELECT code FROM reason), $6), coalesce((SELECT label FROM reason), $7),
				(SELECT code FROM ustatus), (SELECT label FROM ustatus), $9, $10, $11, $12, $13, $14, $15, $16
			FROM com
			WHERE $8::text IS NULL OR EXISTS (SELECT 1 FROM ustatus)
			RETURNING *
		), ev AS (
			INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status)
			SELECT $17, id, 'CREATED', NULL, 'READY' FROM ins
		)
		SELECT ins.id, ins.workspace_id, ins.commerce_id, (SELECT name FROM com) AS commerce_name, ins.type, ins.channel,
			ins.status, ins.reason_code, ins.reason_label, ins.user_status_code, ins.user_status_label, ins.idempotency_key,
			ins.scheduled_at, ins.suggested_execution_time, ins.score, ins.assignment_reason, ins.target_criteria,
			ins.attribute_keys, ins.attributes, ins.dispatch_attempt_count, ins.external_id, ins.created_at, ins.updated_at
		FROM ins`,
		id, in.WorkspaceID, in.CommerceID, in.Type, in.Channel, in.ReasonCode, in.Reason, in.UserStatus,
		in.IdempotencyKey, in.ScheduledAt, in.SuggestedExecutionTime, in.Score, in.AssignmentReason,
		jsonOr(in.TargetCriteria, "[]"), pq.StringArray(nonNilStrings(in.AttributeKeys)), jsonOr(in.Attributes, "[]"), newID())
	if isUniqueViolation(err, "activities_workspace_id_idempotency_key_key") {
		return Activity{}, &Error{Kind: ErrConflict, Message: "Idempotency key already exists"}
	}
	if errors.Is(err, sql.ErrNoRows) {
		var commerceFound bool
		if err := tx.GetContext(ctx, &commerceFound, `SELECT EXISTS (SELECT 1 FROM commerces WHERE workspace_id = $1 AND id = $2)`,
			in.WorkspaceID, in.CommerceID); err != nil {
			return Activity{}, err
		}
		if !commerceFound {
			return Activity{}, notFound("Commerce")
		}
		return Activity{}, &Error{Kind: ErrInvalid, Message: fmt.Sprintf("Unknown user_status %q", deref(in.UserStatus))}
	}
	if err != nil {
		return Activity{}, err
	}
	// A due activity's job is available at once; a later one waits in River's scheduled state,
	// which River's leader promotes when it comes due (within its 5 s scheduler interval).
	var opts river.InsertOpts
	if in.ScheduledAt.After(time.Now()) {
		opts.ScheduledAt = in.ScheduledAt
	}
	if _, err := s.jobs.InsertTx(ctx, tx.Tx, DispatchActivityArgs{WorkspaceID: in.WorkspaceID, ActivityID: id}, &opts); err != nil {
		return Activity{}, fmt.Errorf("insert dispatch job: %w", err)
	}
	return act, tx.Commit()
}

// GetActivity returns a workspace's activity, or ErrNotFound.
func (s *DB) GetActivity(ctx context.Context, workspaceID, id uuid.UUID) (Activity, error) {
	var a Activity
	err := s.db.GetContext(ctx, &a, activitySelect+` WHERE a.workspace_id = $1 AND a.id = $2`, workspaceID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("Activity")
	}
	return a, err
}

// ActivityFilter narrows ListActivities; nil fields do not filter.
type ActivityFilter struct {
	Search, Status, Type, Channel *string
	CommerceID                    *uuid.UUID
	ScheduledFrom, ScheduledTo    *time.Time
}

// ListActivities returns one page of a workspace's activities, newest first, and the total.
func (s *DB) ListActivities(ctx context.Context, workspaceID uuid.UUID, f ActivityFilter, page, limit int) ([]Activity, int, error) {
	const where = ` WHERE a.workspace_id = $1
		AND ($2::text IS NULL OR a.reason_label ILIKE '%' || $2 || '%' OR a.reason_code ILIKE '%' || $2 || '%'
			OR a.idempotency_key ILIKE '%' || $2 || '%' OR c.name ILIKE '%' || $2 || '%')
		AND ($3::text IS NULL OR a.status = $3) AND ($4::text IS NULL OR a.type = $4)
		AND ($5::text IS NULL OR a.channel = $5) AND ($6::uuid IS NULL OR a.commerce_id = $6)
		AND ($7::timestamptz IS NULL OR a.scheduled_at >= $7) AND ($8::timestamptz IS NULL OR a.scheduled_at <= $8)`
	args := []any{workspaceID, f.Search, f.Status, f.Type, f.Channel, f.CommerceID, f.ScheduledFrom, f.ScheduledTo}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM activities a JOIN commerces c ON c.id = a.commerce_id`+where, args...); err != nil {
		return nil, 0, err
	}
	out := []Activity{}
	err := s.db.SelectContext(ctx, &out, activitySelect+where+` ORDER BY a.id DESC LIMIT $9 OFFSET $10`,
		append(args, limit, (page-1)*limit)...)
	return out, total, err
}

// StatusEvent is one transition in an activity's audit trail.
type StatusEvent struct {
	ID           uuid.UUID `db:"id"`
	ActivityID   uuid.UUID `db:"activity_id"`
	EventType    string    `db:"event_type"`
	FromStatus   *string   `db:"from_status"`
	ToStatus     string    `db:"to_status"`
	ErrorCode    *string   `db:"error_code"`
	ErrorMessage *string   `db:"error_message"`
	OccurredAt   time.Time `db:"occurred_at"`
}

// ListStatusEvents returns an activity's audit trail, oldest first. ErrNotFound if the
// workspace has no such activity.
func (s *DB) ListStatusEvents(ctx context.Context, workspaceID, id uuid.UUID) ([]StatusEvent, error) {
	if _, err := s.GetActivity(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	out := []StatusEvent{}
	err := s.db.SelectContext(ctx, &out, `SELECT id, activity_id, event_type, from_status, to_status, error_code, error_message, occurred_at
		FROM activity_status_events WHERE activity_id = $1 ORDER BY id`, id)
	return out, err
}

// Transition is a status change with the event that records it.
type Transition struct {
	From         []string // the statuses the change is allowed from
	To           string
	EventType    string
	ErrorCode    *string
	ErrorMessage *string
	ExternalID   *string // set on the activity when non-nil
}

// TransitionActivity moves a workspace's activity to t.To if its status is one of t.From, and
// records the event, in one statement. It returns the activity and whether it moved; an
// activity in another status is returned unchanged. ErrNotFound if there is none.
func (s *DB) TransitionActivity(ctx context.Context, workspaceID, id uuid.UUID, t Transition) (Activity, bool, error) {
	var moved bool
	err := s.db.GetContext(ctx, &moved, `
		WITH old AS (
			SELECT status FROM activities WHERE workspace_id = $1 AND id = $2 AND status = ANY($3) FOR UPDATE
		), upd AS (
			UPDATE activities a SET status = $4, external_id = coalesce($8, a.external_id), updated_at = now()
			FROM old WHERE a.workspace_id = $1 AND a.id = $2
			RETURNING a.id
		), ev AS (
			INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message)
			SELECT $5, upd.id, $6, (SELECT status FROM old), $4, $7, $9 FROM upd
		)
		SELECT EXISTS (SELECT 1 FROM upd)`,
		workspaceID, id, pq.StringArray(t.From), t.To, newID(), t.EventType, t.ErrorCode, t.ExternalID, t.ErrorMessage)
	if err != nil {
		return Activity{}, false, err
	}
	a, err := s.GetActivity(ctx, workspaceID, id)
	return a, moved, err
}

// DispatchAttempt is one try at sending an activity to its provider.
type DispatchAttempt struct {
	ID               uuid.UUID  `db:"id"`
	ActivityID       uuid.UUID  `db:"activity_id"`
	Attempt          int        `db:"attempt"`
	DispatchConfigID *uuid.UUID `db:"dispatch_config_id"`
	ProviderCode     *string    `db:"provider_code"`
	StatusCode       *int       `db:"status_code"`
	DurationMS       int        `db:"duration_ms"`
	Error            *string    `db:"error"`
	ExternalID       *string    `db:"external_id"`
	StartedAt        time.Time  `db:"started_at"`
}

// RecordDispatchAttempt stores an attempt.
func (s *DB) RecordDispatchAttempt(ctx context.Context, a DispatchAttempt) error {
	a.ID = newID()
	_, err := s.db.NamedExecContext(ctx, `
		INSERT INTO activity_dispatch_attempts (id, activity_id, attempt, dispatch_config_id, provider_code, status_code, duration_ms, error, external_id, started_at)
		VALUES (:id, :activity_id, :attempt, :dispatch_config_id, :provider_code, :status_code, :duration_ms, :error, :external_id, :started_at)`, a)
	return err
}

// ListDispatchAttempts returns an activity's attempts, oldest first. ErrNotFound if the
// workspace has no such activity.
func (s *DB) ListDispatchAttempts(ctx context.Context, workspaceID, id uuid.UUID) ([]DispatchAttempt, error) {
	if _, err := s.GetActivity(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	out := []DispatchAttempt{}
	err := s.db.SelectContext(ctx, &out, `SELECT id, activity_id, attempt, dispatch_config_id, provider_code, status_code,
		duration_ms, error, external_id, started_at FROM activity_dispatch_attempts WHERE activity_id = $1 ORDER BY id`, id)
	return out, err
}

// ClaimDispatch counts a dispatch attempt on a READY activity and returns the activity, in
// one statement, or ok=false when it is no longer READY (canceled meanwhile, already
// dispatched): then nothing must be sent.
func (s *DB) ClaimDispatch(ctx context.Context, workspaceID, id uuid.UUID) (Activity, bool, error) {
	var a Activity
	err := s.db.GetContext(ctx, &a, `
		WITH a AS (
			UPDATE activities SET dispatch_attempt_count = dispatch_attempt_count + 1
			WHERE workspace_id = $1 AND id = $2 AND status = 'READY'
			RETURNING *
		)
		SELECT a.id, a.workspace_id, a.commerce_id, c.name AS commerce_name, a.type, a.channel, a.status,
			a.reason_code, a.reason_label, a.user_status_code, a.user_status_label, a.idempotency_key, a.scheduled_at,
			a.suggested_execution_time, a.score, a.assignment_reason, a.target_criteria, a.attribute_keys, a.attributes,
			a.dispatch_attempt_count, a.external_id, a.created_at, a.updated_at
		FROM a JOIN commerces c ON c.id = a.commerce_id`, workspaceID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Activity{}, false, nil
	}
	return a, err == nil, err
}

// ActiveDispatchConfig returns the workspace's active config for a channel (the most recently
// created when several providers have one) with its decrypted credentials, or ErrNotFound.
func (s *DB) ActiveDispatchConfig(ctx context.Context, workspaceID uuid.UUID, channel string) (DispatchConfig, map[string]string, string, error) {
	var c struct {
		DispatchConfig
		ProtocolType string `db:"protocol_type"`
		Sealed       []byte `db:"credentials"`
	}
	err := s.db.GetContext(ctx, &c, `SELECT c.id, c.workspace_id, c.dispatch_provider_id, c.channel, c.base_url, c.settings,
		c.is_active, c.created_at, c.updated_at, p.code AS provider_code, p.name AS provider_name, p.protocol_type, c.credentials
		FROM dispatch_configs c JOIN dispatch_providers p ON p.id = c.dispatch_provider_id
		WHERE c.workspace_id = $1 AND c.channel = $2 AND c.is_active AND p.is_active
		ORDER BY c.id DESC LIMIT 1`, workspaceID, channel)
	if errors.Is(err, sql.ErrNoRows) {
		return DispatchConfig{}, nil, "", notFound("Active dispatch config")
	}
	if err != nil {
		return DispatchConfig{}, nil, "", err
	}
	creds, err := s.openCredentials(c.ID, c.Sealed)
	return c.DispatchConfig, creds, c.ProtocolType, err
}

func jsonOr(b json.RawMessage, dflt string) string {
	if len(b) == 0 {
		return dflt
	}
	return string(b)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
