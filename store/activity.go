package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
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
	// Target is who the activity is for (nil when nothing resolves one), ResolvedAttributes its
	// attribute values, one per key (resolution.go).
	Target             *TargetUser        `db:"target"`
	ResolvedAttributes ResolvedAttributes `db:"resolved_attributes"`
}

// NeedsResolutionAtDispatch reports whether something of the activity is still to be resolved
// when it is dispatched: a PENDING target user (ON_DISPATCH, or MANUAL not yet assigned) or a
// PENDING attribute (ON_DISPATCH).
func (a Activity) NeedsResolutionAtDispatch() bool {
	if a.Target != nil && a.Target.Status == ResolutionPending {
		return true
	}
	for _, e := range a.ResolvedAttributes {
		if e.Status == ResolutionPending {
			return true
		}
	}
	return false
}

// activityColumns are an Activity's columns, read from activities a joined to commerces c.
const activityColumns = `a.id, a.workspace_id, a.commerce_id, c.name AS commerce_name, a.type, a.channel, a.status,
	a.reason_code, a.reason_label, a.user_status_code, a.user_status_label, a.idempotency_key, a.scheduled_at,
	a.suggested_execution_time, a.score, a.assignment_reason, a.target_criteria, a.attribute_keys, a.attributes,
	a.dispatch_attempt_count, a.external_id, a.created_at, a.updated_at, a.target, a.resolved_attributes`

const activitySelect = `SELECT ` + activityColumns + ` FROM activities a JOIN commerces c ON c.id = a.commerce_id`

// ActivityCreate is a new activity.
type ActivityCreate struct {
	ID                     uuid.UUID // uuid.Nil: a new one (set it to a HooksNeeded's ActivityID to create that activity)
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
	TargetCriteria         json.RawMessage // the request's target_criteria, as TargetCriterion values
	AttributeKeys          []string
	Attributes             json.RawMessage // the request's attributes: [{key, value, fallback}]
	// HookResults are the results of the hook calls a HooksNeeded asked for, by attribute key id.
	HookResults map[uuid.UUID]HookResult
	// FinalRound fails UPFRONT CLIENT_HOOK attributes without a result instead of asking for
	// their calls (their policy changed between rounds).
	FinalRound bool
}

// GetActivity returns a workspace's activity, or ErrNotFound.
func (s *DB) GetActivity(ctx context.Context, workspaceID, id uuid.UUID) (Activity, error) {
	var a Activity
	err := s.db.GetContext(ctx, &a, activitySelect+` WHERE a.workspace_id = $1 AND a.id = $2`, workspaceID, id)
	return a, orNotFound(err, "Activity")
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
//
// The first event, CREATED (→ READY), is the activity row itself (its id and created_at), not
// a stored event: every activity has exactly one, and not writing it is a third fewer rows per
// create. Every later event is stored by the change that makes it.
func (s *DB) ListStatusEvents(ctx context.Context, workspaceID, id uuid.UUID) ([]StatusEvent, error) {
	out := []StatusEvent{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT id, id AS activity_id, 'CREATED' AS event_type, NULL AS from_status, 'READY' AS to_status,
			NULL AS error_code, NULL AS error_message, created_at AS occurred_at
		FROM activities WHERE workspace_id = $1 AND id = $2
		UNION ALL
		SELECT e.id, e.activity_id, e.event_type, e.from_status, e.to_status, e.error_code, e.error_message, e.occurred_at
		FROM activity_status_events e JOIN activities a ON a.id = e.activity_id
		WHERE a.workspace_id = $1 AND e.activity_id = $2
		ORDER BY occurred_at, id`, workspaceID, id)
	if err == nil && len(out) == 0 {
		return nil, notFound("Activity")
	}
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
