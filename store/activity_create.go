package store

import (
	"context"
	"encoding/json"
	"fmt"
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

// CreateActivity stores a READY activity and its dispatch job (scheduled at ScheduledAt) in one
// statement, batched with concurrent calls (see batcher, createActivities); its CREATED status
// event is the row itself (see ListStatusEvents). The reason becomes the catalog entry whose
// code is ReasonCode or whose label is Reason (case-insensitive), else {ReasonCode, Reason}.
// ErrNotFound if the workspace has no such commerce; ErrInvalid for an unknown user status;
// ErrConflict if the workspace already used the idempotency key (also when another call with
// the same key is in flight: exactly one of them succeeds).
func (s *DB) CreateActivity(ctx context.Context, in ActivityCreate) (Activity, error) {
	return s.creates.do(ctx, activityCreate{in: in, id: newID()})
}

// createItem is one activity of a batch, as the batch statement reads it.
type createItem struct {
	I                      int             `json:"i"`
	ID                     uuid.UUID       `json:"id"`
	WorkspaceID            uuid.UUID       `json:"workspace_id"`
	CommerceID             uuid.UUID       `json:"commerce_id"`
	Type                   string          `json:"type"`
	Channel                string          `json:"channel"`
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
}

// createActivities writes a batch with one statement: it resolves the commerces, reasons and
// user statuses, inserts the activities that can be created and their dispatch jobs, and
// returns them. Requests that were not inserted are then told why.
//
// The jobs are written into River's table by this statement rather than by River's InsertTx
// (see riverJobsSQL in jobs.go): DispatchActivityArgs jobs, on DispatchQueue with
// DispatchAttempts attempts.
func (s *DB) createActivities(ctx context.Context, batch []activityCreate) ([]batchResult[Activity], error) {
	items := make([]createItem, len(batch))
	for i, r := range batch {
		in := r.in
		items[i] = createItem{I: i, ID: r.id, WorkspaceID: in.WorkspaceID, CommerceID: in.CommerceID,
			Type: in.Type, Channel: in.Channel, ReasonCode: in.ReasonCode, Reason: in.Reason, UserStatus: in.UserStatus,
			IdempotencyKey: in.IdempotencyKey, ScheduledAt: pgTime(in.ScheduledAt), SuggestedExecutionTime: pgTimePtr(in.SuggestedExecutionTime),
			Score: in.Score, AssignmentReason: in.AssignmentReason, TargetCriteria: json.RawMessage(jsonOr(in.TargetCriteria, "[]")),
			AttributeKeys: nonNilStrings(in.AttributeKeys), Attributes: json.RawMessage(jsonOr(in.Attributes, "[]"))}
	}
	payload := appendItems(make([]byte, 0, 512*len(items)), items)
	// One statement, in autocommit: it is atomic by itself, and a BEGIN and a COMMIT would be
	// two more round trips per batch. ON CONFLICT DO NOTHING: a key used before, or twice in this batch, or by a concurrent
	// batch (which this one waits for) leaves the row out instead of failing the batch.
	stmt, err := s.prepared(ctx, s.db, createActivitiesSQL)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, string(payload), s.wake.due(DispatchQueue))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]batchResult[Activity], len(batch))
	// The statement returns what the database decided (catalog matches, the commerce's name,
	// normalised JSON, timestamps); the rest is the input, as stored.
	for rows.Next() {
		var i int
		var a Activity
		if err := rows.Scan(&i, &a.ID, &a.CommerceName, &a.ReasonCode, &a.ReasonLabel, &a.UserStatusCode,
			&a.UserStatusLabel, &a.TargetCriteria, &a.Attributes, &a.CreatedAt); err != nil {
			return nil, err
		}
		in := batch[i].in
		a.WorkspaceID, a.CommerceID, a.Type, a.Channel, a.Status = in.WorkspaceID, in.CommerceID, in.Type, in.Channel, StatusReady
		// The times as written (microseconds, as PostgreSQL keeps them).
		a.IdempotencyKey, a.ScheduledAt, a.SuggestedExecutionTime = in.IdempotencyKey, items[i].ScheduledAt, items[i].SuggestedExecutionTime
		a.Score, a.AssignmentReason, a.AttributeKeys, a.UpdatedAt = in.Score, in.AssignmentReason, nonNilStrings(in.AttributeKeys), a.CreatedAt
		results[i] = batchResult[Activity]{out: a}
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
		if results[i].out.ID == uuid.Nil { // not inserted
			results[i] = batchResult[Activity]{err: s.createRefusal(ctx, r.in)}
		}
	}
	return results, nil
}

// createActivitiesSQL is the batch statement. It is prepared (DB.prepared): planning it costs
// more than running it for a small batch.
var createActivitiesSQL = `
		WITH item AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, workspace_id uuid,
				commerce_id uuid, type text, channel text, reason_code text, reason text, user_status text,
				idempotency_key text, scheduled_at timestamptz, suggested_execution_time timestamptz, score int,
				assignment_reason text, target_criteria jsonb, attribute_keys text[], attributes jsonb)
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
				assignment_reason, target_criteria, attribute_keys, attributes)
			SELECT id, workspace_id, commerce_id, type, channel, 'READY', coalesce(r_code, reason_code), coalesce(r_label, reason),
				us_code, us_label, idempotency_key, scheduled_at, suggested_execution_time, score,
				assignment_reason, target_criteria, attribute_keys, attributes
			FROM resolved ORDER BY workspace_id, idempotency_key -- one lock order for every batch: no deadlocks
			ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
			RETURNING *
		), job AS (
			-- The dispatch jobs: due now = available, later = scheduled.
			` + riverJobsSQL(DispatchActivityArgs{}, `jsonb_build_object('workspace_id', ins.workspace_id, 'activity_id', ins.id)`,
	`FROM ins`, `ins.scheduled_at`) + `
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
		return &Error{Kind: ErrInvalid, Message: fmt.Sprintf("Unknown user_status %q", deref(in.UserStatus))}
	default:
		return &Error{Kind: ErrConflict, Message: "Idempotency key already exists"}
	}
}
