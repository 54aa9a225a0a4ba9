package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// activityCreate is one CreateActivity call as its batch reads it: the input and the id
// given to the activity.
type activityCreate struct {
	in ActivityCreate
	id uuid.UUID
}

// CreateActivity stores an activity and its dispatch job (scheduled at ScheduledAt) in one
// statement, batched with concurrent calls (see batcher, createActivities); its CREATED status
// event is the row itself (see ListStatusEvents). The reason becomes the catalog entry whose
// code is ReasonCode or whose label is Reason (case-insensitive), else {ReasonCode, Reason}.
//
// Its target user and attributes are resolved first (resolveCreate): when an ON_CREATION target
// or an UPFRONT attribute fails, the activity is stored UNRESOLVED, with a RESOLUTION_FAILED
// event naming what failed, and without a dispatch job (retry-resolution schedules one).
// An activity whose UPFRONT CLIENT_HOOK attributes need their calls is not stored: the answer is
// a *HooksNeeded, and the caller creates again with the results.
//
// ErrNotFound if the workspace has no such commerce; ErrInvalid for an unknown user status or
// attribute key; ErrConflict if the workspace already used the idempotency key (also when
// another call with the same key is in flight: exactly one of them succeeds).
func (s *DB) CreateActivity(ctx context.Context, in ActivityCreate) (Activity, error) {
	id := in.ID
	if id == uuid.Nil {
		id = newID()
	}
	return s.creates.do(ctx, activityCreate{in: in, id: id})
}

// createItem is one activity of a batch, as the batch statement reads it.
type createItem struct {
	I                      int             `json:"i"`
	ID                     uuid.UUID       `json:"id"`
	WorkspaceID            uuid.UUID       `json:"workspace_id"`
	CommerceID             uuid.UUID       `json:"commerce_id"`
	Type                   string          `json:"type"`
	Channel                string          `json:"channel"`
	Status                 string          `json:"status"`
	ReasonCode             string          `json:"reason_code"`
	Reason                 string          `json:"reason"`
	UserStatus             *string         `json:"user_status"`
	IdempotencyKey         string          `json:"idempotency_key"`
	ScheduledAt            time.Time       `json:"scheduled_at"`
	SuggestedExecutionTime *time.Time      `json:"suggested_execution_time"`
	Score                  *int            `json:"score"`
	AssignmentReason       *string         `json:"assignment_reason"`
	TargetCriteria         json.RawMessage `json:"target_criteria"`
	AttributeKeys          []string        `json:"attribute_keys"`
	Attributes             json.RawMessage `json:"attributes"`
	Target                 json.RawMessage `json:"target"`              // null: no target user
	ResolvedAttributes     json.RawMessage `json:"resolved_attributes"` // a JSON array
	EventID                *uuid.UUID      `json:"event_id"`            // the RESOLUTION_FAILED event of an UNRESOLVED one
	ErrorCode              *string         `json:"error_code"`
	ErrorMessage           *string         `json:"error_message"`
}

// createActivities writes a batch. One statement reads what the batch's resolutions need
// (loadPlan), each activity is resolved in Go, and one statement resolves the commerces,
// reasons and user statuses, inserts the activities that can be created and the dispatch jobs
// of the READY ones, and returns them. Requests that were not inserted are then told why.
//
// The jobs are written into River's table by this statement rather than by River's InsertTx
// (see riverJobsSQL in jobs.go): DispatchActivityArgs jobs, on DispatchQueue with
// DispatchAttempts attempts.
func (s *DB) createActivities(ctx context.Context, batch []activityCreate) ([]batchResult[Activity], error) {
	plan, err := s.createPlan(ctx, batch)
	if err != nil {
		return nil, err
	}
	now := pgTime(s.now())
	results := make([]batchResult[Activity], len(batch))
	decided := make([]creation, len(batch))
	sent := make([]bool, len(batch))
	items := make([]createItem, 0, len(batch))
	for i, r := range batch {
		in := r.in
		c, calls, err := s.resolveCreate(plan, in, provisional(r, plan), now)
		switch {
		case err != nil:
			results[i] = batchResult[Activity]{err: err}
			continue
		case len(calls) > 0:
			results[i] = batchResult[Activity]{err: &HooksNeeded{ActivityID: r.id, Calls: calls}}
			continue
		}
		target, attrs := []byte("null"), appendResolvedAttributes(make([]byte, 0, 512), c.attrs)
		if c.target != nil {
			target = appendTargetUser(make([]byte, 0, 512), *c.target)
		}
		it := createItem{I: i, ID: r.id, WorkspaceID: in.WorkspaceID, CommerceID: in.CommerceID,
			Type: in.Type, Channel: in.Channel, Status: c.status, ReasonCode: in.ReasonCode, Reason: in.Reason, UserStatus: in.UserStatus,
			IdempotencyKey: in.IdempotencyKey, ScheduledAt: pgTime(in.ScheduledAt), SuggestedExecutionTime: pgTimePtr(in.SuggestedExecutionTime),
			Score: in.Score, AssignmentReason: in.AssignmentReason, TargetCriteria: json.RawMessage(jsonOr(in.TargetCriteria, "[]")),
			AttributeKeys: nonNilStrings(in.AttributeKeys), Attributes: json.RawMessage(jsonOr(in.Attributes, "[]")),
			Target: target, ResolvedAttributes: attrs}
		if c.status == StatusUnresolved {
			it.EventID, it.ErrorCode, it.ErrorMessage = &c.eventID, &c.code, &c.reason
		}
		decided[i], sent[i] = c, true
		items = append(items, it)
	}
	if len(items) == 0 {
		return results, nil
	}
	payload := appendItems(make([]byte, 0, 1024*len(items)), items)
	// One statement, in autocommit: it is atomic by itself, and a BEGIN and a COMMIT would be
	// two more round trips per batch. ON CONFLICT DO NOTHING: a key used before, or twice in this batch, or by a concurrent
	// batch (which this one waits for) leaves the row out instead of failing the batch.
	stmt, err := s.prepared(ctx, s.generic, createActivitiesSQL)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, string(payload), s.wake.due(DispatchQueue))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	inserted := make([]bool, len(batch))
	// The statement returns what the database decided (catalog matches, the commerce's name,
	// normalised JSON, timestamps); the rest is the input, as stored.
	for rows.Next() {
		var i int
		var a Activity
		if err := rows.Scan(&i, &a.ID, &a.CommerceName, &a.ReasonCode, &a.ReasonLabel, &a.UserStatusCode,
			&a.UserStatusLabel, &a.TargetCriteria, &a.Attributes, &a.CreatedAt); err != nil {
			return nil, err
		}
		in, c := batch[i].in, decided[i]
		a.WorkspaceID, a.CommerceID, a.Type, a.Channel, a.Status = in.WorkspaceID, in.CommerceID, in.Type, in.Channel, c.status
		// The times as written (microseconds, as PostgreSQL keeps them).
		a.IdempotencyKey, a.ScheduledAt, a.SuggestedExecutionTime = in.IdempotencyKey, pgTime(in.ScheduledAt), pgTimePtr(in.SuggestedExecutionTime)
		a.Score, a.AssignmentReason, a.AttributeKeys, a.UpdatedAt = in.Score, in.AssignmentReason, nonNilStrings(in.AttributeKeys), a.CreatedAt
		a.Target, a.ResolvedAttributes = c.target, c.attrs
		results[i], inserted[i] = batchResult[Activity]{out: a}, true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close reads to the end of the statement, its commit included: only then is a created
	// activity answered.
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i, r := range batch {
		if sent[i] && !inserted[i] {
			results[i] = batchResult[Activity]{err: s.createRefusal(ctx, r.in)}
		}
	}
	return results, nil
}

// createPlan returns what resolving a batch reads, from the plan cache where it can (planCache:
// what was read for an earlier batch in the last planCacheTTL and has not changed since), else
// with one statement; the last contacted users, when a criterion may ask for them, with another.
func (s *DB) createPlan(ctx context.Context, batch []activityCreate) (*resolutionPlan, error) {
	var workspaces, commerces []uuid.UUID
	var needs []planNeed
	withLast := false
	for _, r := range batch {
		if !slices.Contains(workspaces, r.in.WorkspaceID) {
			workspaces = append(workspaces, r.in.WorkspaceID)
		}
		if !slices.Contains(commerces, r.in.CommerceID) {
			commerces = append(commerces, r.in.CommerceID)
		}
		n := planNeed{WorkspaceID: r.in.WorkspaceID, CommerceID: r.in.CommerceID, Channel: r.in.Channel}
		if !slices.Contains(needs, n) {
			needs = append(needs, n)
		}
		withLast = withLast || asksLastContacted(r.in.TargetCriteria)
	}
	now := s.now()
	plan := newResolutionPlan()
	missingW, missingC, gen := s.plans.get(now, plan, workspaces, commerces)
	if len(missingW) > 0 || len(missingC) > 0 || plan.builtin == nil {
		read, err := s.loadPlan(ctx, s.generic, missingW, missingC)
		if err != nil {
			return nil, err
		}
		s.plans.put(now, gen, read)
		plan.merge(read)
	}
	if withLast || plan.asksLastContacted() {
		if err := s.loadLastContacted(ctx, s.generic, plan, needs); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// provisional is the activity a create will store, as far as resolution knows it: what a hook
// call shows of an activity being created (the reason as given: the catalog is matched when it
// is stored).
func provisional(r activityCreate, p *resolutionPlan) Activity {
	in := r.in
	a := Activity{ID: r.id, WorkspaceID: in.WorkspaceID, CommerceID: in.CommerceID, Type: in.Type, Channel: in.Channel,
		Status: StatusReady, ReasonCode: in.ReasonCode, ReasonLabel: in.Reason, IdempotencyKey: in.IdempotencyKey,
		ScheduledAt: pgTime(in.ScheduledAt), SuggestedExecutionTime: pgTimePtr(in.SuggestedExecutionTime), Score: in.Score,
		AssignmentReason: in.AssignmentReason, TargetCriteria: json.RawMessage(jsonOr(in.TargetCriteria, "[]")),
		AttributeKeys: nonNilStrings(in.AttributeKeys), Attributes: json.RawMessage(jsonOr(in.Attributes, "[]")),
		ResolvedAttributes: ResolvedAttributes{}}
	if c := p.commerce(in.WorkspaceID, in.CommerceID); c != nil {
		a.CommerceName = c.Name
	}
	return a
}

// createActivitiesSQL is the batch statement. It is prepared (DB.prepared): planning it costs
// more than running it for a small batch.
var createActivitiesSQL = `
		WITH item AS (
			SELECT * FROM json_to_recordset($1::json) AS x(i int, id uuid, workspace_id uuid,
				commerce_id uuid, type text, channel text, reason_code text, reason text, user_status text,
				idempotency_key text, scheduled_at timestamptz, suggested_execution_time timestamptz, score int,
				assignment_reason text, target_criteria jsonb, attribute_keys text[], attributes jsonb, status text,
				target json, resolved_attributes json, event_id uuid, error_code text, error_message text)
		), resolved AS (
			SELECT item.*, com.name AS commerce_name, r.code AS r_code, r.label AS r_label, us.code AS us_code, us.label AS us_label
			FROM item
			JOIN commerces com ON com.workspace_id = item.workspace_id AND com.id = item.commerce_id
			LEFT JOIN LATERAL (
				SELECT code, label FROM activity_reasons ar
				WHERE ar.workspace_id = item.workspace_id AND ar.is_active
					AND (ar.code = item.reason_code OR lower(ar.label) = lower(item.reason))
				ORDER BY (ar.code = item.reason_code) DESC LIMIT 1
			) r ON true
			LEFT JOIN user_retention_statuses us
				ON us.workspace_id = item.workspace_id AND us.code = item.user_status AND us.is_active
			WHERE item.user_status IS NULL OR us.code IS NOT NULL
		), ins AS (
			INSERT INTO activities (id, workspace_id, commerce_id, type, channel, status, reason_code, reason_label,
				user_status_code, user_status_label, idempotency_key, scheduled_at, suggested_execution_time, score,
				assignment_reason, target_criteria, attribute_keys, attributes, target, resolved_attributes)
			SELECT id, workspace_id, commerce_id, type, channel, status, coalesce(r_code, reason_code), coalesce(r_label, reason),
				us_code, us_label, idempotency_key, scheduled_at, suggested_execution_time, score,
				assignment_reason, target_criteria, attribute_keys, attributes, target, resolved_attributes
			FROM resolved ORDER BY workspace_id, idempotency_key -- one lock order for every batch: no deadlocks
			ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
			-- Not RETURNING *: the resolution columns would be copied for nothing.
			RETURNING id, workspace_id, status, scheduled_at, reason_code, reason_label, user_status_code, user_status_label,
				target_criteria, attributes, created_at
		), ev AS (
			-- An activity created UNRESOLVED moved READY -> UNRESOLVED as it was created: its
			-- RESOLUTION_FAILED event is at its creation, after CREATED (a later id).
			INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message, occurred_at)
			SELECT resolved.event_id, ins.id, 'RESOLUTION_FAILED', 'READY', 'UNRESOLVED', resolved.error_code, resolved.error_message,
				ins.created_at
			FROM ins JOIN resolved ON resolved.id = ins.id WHERE ins.status = 'UNRESOLVED'
		), job AS (
			-- The dispatch jobs of the READY ones: due now = available, later = scheduled.
			` + riverJobsSQL(DispatchActivityArgs{}, `jsonb_build_object('workspace_id', ins.workspace_id, 'activity_id', ins.id)`,
	`FROM ins WHERE ins.status = 'READY'`, `ins.scheduled_at`) + `
		), wake AS (
			-- River's workers LISTEN for this to fetch available jobs at once instead of at their
			-- next poll.
			` + riverWakeSQL(DispatchActivityArgs{}, "job", "$2") + `
		)
		SELECT resolved.i, ins.id, resolved.commerce_name, ins.reason_code, ins.reason_label, ins.user_status_code,
			ins.user_status_label, ins.target_criteria, ins.attributes, ins.created_at
		FROM ins JOIN resolved ON resolved.id = ins.id
		WHERE (SELECT count(*) FROM wake) >= 0 -- a SELECT CTE runs only when referenced`

// appendItems writes items as the JSON array the batch statement reads. By hand: it is
// several times faster than encoding/json's reflection, on a path every created activity takes.
func appendItems(b []byte, items []createItem) []byte {
	b = append(b, '[')
	for n, it := range items {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"i":`...)
		b = strconv.AppendInt(b, int64(it.I), 10)
		for _, f := range []struct {
			name string
			id   uuid.UUID
		}{{"id", it.ID}, {"workspace_id", it.WorkspaceID}, {"commerce_id", it.CommerceID}} {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":"`...)
			b = append(b, f.id.String()...)
			b = append(b, '"')
		}
		b = appendField(b, "type", &it.Type)
		b = appendField(b, "channel", &it.Channel)
		b = appendField(b, "status", &it.Status)
		b = appendField(b, "reason_code", &it.ReasonCode)
		b = appendField(b, "reason", &it.Reason)
		b = appendField(b, "user_status", it.UserStatus)
		b = appendField(b, "idempotency_key", &it.IdempotencyKey)
		b = append(b, `,"scheduled_at":`...)
		b = jsonappend.Time(b, it.ScheduledAt)
		if it.SuggestedExecutionTime != nil {
			b = append(b, `,"suggested_execution_time":`...)
			b = jsonappend.Time(b, *it.SuggestedExecutionTime)
		}
		if it.Score != nil {
			b = append(b, `,"score":`...)
			b = strconv.AppendInt(b, int64(*it.Score), 10)
		}
		b = appendField(b, "assignment_reason", it.AssignmentReason)
		b = append(b, `,"target_criteria":`...)
		b = append(b, it.TargetCriteria...)
		b = append(b, `,"attributes":`...)
		b = append(b, it.Attributes...)
		b = append(b, `,"target":`...)
		b = append(b, it.Target...)
		b = append(b, `,"resolved_attributes":`...)
		b = append(b, it.ResolvedAttributes...)
		if it.EventID != nil {
			b = append(b, `,"event_id":"`...)
			b = append(b, it.EventID.String()...)
			b = append(b, '"')
		}
		b = appendField(b, "error_code", it.ErrorCode)
		b = appendField(b, "error_message", it.ErrorMessage)
		b = append(b, `,"attribute_keys":[`...)
		for k, key := range it.AttributeKeys {
			if k > 0 {
				b = append(b, ',')
			}
			b = jsonappend.String(b, key)
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

// appendTargetUser writes t as encoding/json writes a TargetUser (on the create path, where
// reflection cost more than the rest of the resolution).
func appendTargetUser(b []byte, t TargetUser) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, t.ID.String()...)
	b = append(b, '"')
	if t.CommerceUserID != nil {
		b = append(b, `,"commerce_user_id":"`...)
		b = append(b, t.CommerceUserID.String()...)
		b = append(b, '"')
	}
	b = appendField(b, "first_name", t.FirstName)
	b = appendField(b, "last_name", t.LastName)
	if c := t.Contact; c != nil {
		b = append(b, `,"contact":{"id":"`...)
		b = append(b, c.ID.String()...)
		b = append(b, `","type":`...)
		b = jsonappend.String(b, c.Type)
		b = append(b, `,"value":`...)
		b = jsonappend.String(b, c.Value)
		b = append(b, '}')
	}
	b = appendField(b, "status", &t.Status)
	b = appendField(b, "strategy", &t.Strategy)
	b = appendField(b, "lock_reason", t.LockReason)
	b = appendTime(b, "resolved_at", t.ResolvedAt)
	b = appendTime(b, "locked_at", t.LockedAt)
	b = appendField(b, "error_message", t.ErrorMessage)
	b = appendTime(b, "created_at", &t.CreatedAt)
	b = appendTime(b, "updated_at", &t.UpdatedAt)
	return append(b, '}')
}

// appendResolvedAttributes writes as as encoding/json writes ResolvedAttributes.
func appendResolvedAttributes(b []byte, as ResolvedAttributes) []byte {
	b = append(b, '[')
	for i, e := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, e.ID.String()...)
		b = append(b, `","attribute_key_id":"`...)
		b = append(b, e.AttributeKeyID.String()...)
		b = append(b, '"')
		b = appendField(b, "key", &e.Key)
		if len(e.Value) > 0 {
			b = append(b, `,"value":`...)
			b = append(b, e.Value...) // a JSON document (runAttribute)
		}
		b = appendField(b, "status", &e.Status)
		b = appendField(b, "strategy", &e.Strategy)
		b = appendField(b, "resolver_type", e.ResolverType)
		b = appendTime(b, "resolved_at", e.ResolvedAt)
		b = appendField(b, "error_message", e.ErrorMessage)
		b = appendTime(b, "created_at", &e.CreatedAt)
		b = appendTime(b, "updated_at", &e.UpdatedAt)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTime writes ,"name":"time" (nothing for a nil time).
func appendTime(b []byte, name string, t *time.Time) []byte {
	if t == nil {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return jsonappend.Time(b, *t)
}

// appendField writes ,"name":"value" (nothing for a nil value: the column reads NULL).
func appendField(b []byte, name string, v *string) []byte {
	if v == nil {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return jsonappend.String(b, *v)
}

// createRefusal says why an activity was left out of its batch: its commerce is not the
// workspace's, its user status is unknown, or its idempotency key was taken.
func (s *DB) createRefusal(ctx context.Context, in ActivityCreate) error {
	var why struct {
		Commerce   bool `db:"commerce"`
		UserStatus bool `db:"user_status"`
	}
	if err := s.db.GetContext(ctx, &why, `SELECT
		EXISTS (SELECT 1 FROM commerces WHERE workspace_id = $1 AND id = $2) AS commerce,
		($3::text IS NULL OR EXISTS (SELECT 1 FROM user_retention_statuses WHERE workspace_id = $1 AND code = $3 AND is_active)) AS user_status`,
		in.WorkspaceID, in.CommerceID, in.UserStatus); err != nil {
		return err
	}
	switch {
	case !why.Commerce:
		return notFound("Commerce")
	case !why.UserStatus:
		return &Error{Kind: ErrInvalid, Field: "user_status", Message: fmt.Sprintf("Unknown user_status %q", deref(in.UserStatus))}
	default:
		return &Error{Kind: ErrConflict, Message: "Idempotency key already exists"}
	}
}
