package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Task result statuses, as field systems submit them.
const (
	ResultEffective    = "EFFECTIVE"
	ResultNotEffective = "NOT_EFFECTIVE"
	ResultPending      = "PENDING"
)

// resultActivityStatus is the status a result leaves its activity in.
var resultActivityStatus = map[string]string{
	ResultEffective:    StatusCompleted,
	ResultNotEffective: StatusFailed,
	ResultPending:      StatusDispatched,
}

// TaskResultTypeConfig is a result type a task result may carry.
type TaskResultTypeConfig struct {
	ID                        uuid.UUID `db:"id"`
	WorkspaceID               uuid.UUID `db:"workspace_id"`
	Code                      string    `db:"code"`
	Label                     string    `db:"label"`
	RequiresFutureScheduledAt bool      `db:"requires_future_scheduled_at"`
	IsActive                  bool      `db:"is_active"`
	CreatedAt                 time.Time `db:"created_at"`
	UpdatedAt                 time.Time `db:"updated_at"`
}

const resultTypeColumns = `id, workspace_id, code, label, requires_future_scheduled_at, is_active, created_at, updated_at`

// CreateTaskResultTypeConfig adds a result type. ErrConflict if the workspace has the code.
func (s *DB) CreateTaskResultTypeConfig(ctx context.Context, workspaceID uuid.UUID, in TaskResultTypeConfig) (TaskResultTypeConfig, error) {
	var c TaskResultTypeConfig
	err := s.db.GetContext(ctx, &c, `INSERT INTO task_result_type_configs (id, workspace_id, code, label, requires_future_scheduled_at, is_active)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+resultTypeColumns,
		newID(), workspaceID, in.Code, in.Label, in.RequiresFutureScheduledAt, in.IsActive)
	if isUniqueViolation(err, "") {
		return c, &Error{Kind: ErrConflict, Message: fmt.Sprintf("A task result type with code %q already exists", in.Code)}
	}
	return c, err
}

// ListTaskResultTypeConfigs returns the workspace's active result types, by code.
func (s *DB) ListTaskResultTypeConfigs(ctx context.Context, workspaceID uuid.UUID) ([]TaskResultTypeConfig, error) {
	out := []TaskResultTypeConfig{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+resultTypeColumns+` FROM task_result_type_configs
		WHERE workspace_id = $1 AND is_active ORDER BY code`, workspaceID)
	return out, err
}

// GetTaskResultTypeConfig returns the workspace's active result type with the code, or
// ErrNotFound.
func (s *DB) GetTaskResultTypeConfig(ctx context.Context, workspaceID uuid.UUID, code string) (TaskResultTypeConfig, error) {
	var c TaskResultTypeConfig
	err := s.db.GetContext(ctx, &c, `SELECT `+resultTypeColumns+` FROM task_result_type_configs
		WHERE workspace_id = $1 AND code = $2 AND is_active`, workspaceID, code)
	return c, orNotFound(err, "Task result type")
}

// TaskResult is the result submitted for a task activity. The json tags are the column names:
// the task list reads results as to_jsonb rows.
type TaskResult struct {
	ID                 uuid.UUID       `db:"id" json:"id"`
	ActivityID         uuid.UUID       `db:"activity_id" json:"activity_id"`
	Status             string          `db:"status" json:"status"`
	ExternalStatus     *string         `db:"external_status" json:"external_status"`
	OccurredAt         time.Time       `db:"occurred_at" json:"occurred_at"`
	ResultCode         string          `db:"result_code" json:"result_code"`
	ResultLabel        string          `db:"result_label" json:"result_label"`
	Comment            *string         `db:"comment" json:"comment"`
	ContactType        *string         `db:"contact_type" json:"contact_type"`
	OperatorExternalID *string         `db:"operator_external_id" json:"operator_external_id"`
	FutureScheduledAt  *time.Time      `db:"future_scheduled_at" json:"future_scheduled_at"`
	Payload            json.RawMessage `db:"payload" json:"payload"`
	RawPayload         json.RawMessage `db:"raw_payload" json:"raw_payload"`
	CreatedAt          time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt          time.Time       `db:"updated_at" json:"updated_at"`
	ActivityStatus     string          `db:"-" json:"-"` // the activity's status after the result
}

const taskResultColumns = `id, activity_id, status, external_status, occurred_at, result_code, result_label, comment,
	contact_type, operator_external_id, future_scheduled_at, payload, raw_payload, created_at, updated_at`

// TaskResultSubmit is a result for a task activity, named by ActivityID or else by
// ProviderActivityID (the activity's external id). The result type is already checked.
type TaskResultSubmit struct {
	ActivityID         *uuid.UUID
	ProviderActivityID *string
	CommerceExternalID string
	OccurredAt         time.Time
	Status             string
	ExternalStatus     *string
	HardOverride       bool
	RawPayload         json.RawMessage
	ResultCode         string
	ResultLabel        string
	Comment            *string
	ContactType        *string
	OperatorExternalID *string
	FutureScheduledAt  *time.Time
	Payload            json.RawMessage
}

// SubmitTaskResult records a task activity's result and moves the activity as the result says
// (EFFECTIVE: DISPATCHED → COMPLETED; NOT_EFFECTIVE: DISPATCHED → FAILED; PENDING: no move), in
// one transaction that holds the activity's row, so concurrent submissions take turns and the
// result and the status never disagree. The status change is written here rather than through
// TransitionActivity so that it commits or rolls back with the result; the status machine
// trigger of migration 0002 still guards it.
//
// replayed is true when the same result (status, result code, occurred at) was stored already:
// nothing changes. ErrNotFound if the workspace has no such activity, or no commerce with the
// external id; ErrInvalid if the commerce is not the activity's, the activity is not a TASK,
// or its status does not take the result; ErrConflict if it has a final result already and
// HardOverride is false.
func (s *DB) SubmitTaskResult(ctx context.Context, workspaceID uuid.UUID, in TaskResultSubmit) (r TaskResult, replayed bool, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return r, false, err
	}
	defer tx.Rollback()

	var act struct {
		ID                 uuid.UUID `db:"id"`
		Type               string    `db:"type"`
		Status             string    `db:"status"`
		CommerceExternalID *string   `db:"commerce_external_id"`
	}
	const lock = `SELECT a.id, a.type, a.status, c.external_id AS commerce_external_id
		FROM activities a JOIN commerces c ON c.id = a.commerce_id WHERE a.workspace_id = $1 AND `
	if in.ActivityID != nil {
		err = tx.GetContext(ctx, &act, lock+`a.id = $2 FOR UPDATE OF a`, workspaceID, *in.ActivityID)
	} else {
		// The newest, should a provider have reused an id.
		err = tx.GetContext(ctx, &act, lock+`a.external_id = $2 ORDER BY a.id DESC LIMIT 1 FOR UPDATE OF a`, workspaceID, deref(in.ProviderActivityID))
	}
	if err != nil {
		return r, false, orNotFound(err, "Activity")
	}
	if deref(act.CommerceExternalID) != in.CommerceExternalID || act.CommerceExternalID == nil {
		var known bool
		if err := tx.GetContext(ctx, &known, `SELECT EXISTS (SELECT 1 FROM commerces WHERE workspace_id = $1 AND external_id = $2)`,
			workspaceID, in.CommerceExternalID); err != nil {
			return r, false, err
		}
		if !known {
			return r, false, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("Commerce with external_id %q not found", in.CommerceExternalID)}
		}
		return r, false, &Error{Kind: ErrInvalid, Message: fmt.Sprintf("commerce_external_id %q is not the external id of activity %s's commerce", in.CommerceExternalID, act.ID)}
	}
	if act.Type != "TASK" {
		return r, false, &Error{Kind: ErrInvalid, Message: fmt.Sprintf("Activity %s is a %s activity; task results are for TASK activities", act.ID, act.Type)}
	}

	var prev TaskResult
	err = tx.GetContext(ctx, &prev, `SELECT `+taskResultColumns+` FROM activity_task_results WHERE activity_id = $1`, act.ID)
	hasPrev := err == nil
	if err != nil && !noRows(err) {
		return r, false, err
	}
	if hasPrev && prev.Status == in.Status && prev.ResultCode == in.ResultCode && prev.OccurredAt.Equal(in.OccurredAt) && !in.HardOverride {
		prev.ActivityStatus = act.Status
		return prev, true, nil
	}
	if hasPrev && prev.Status != ResultPending && !in.HardOverride {
		return r, false, &Error{Kind: ErrConflict, Message: fmt.Sprintf(
			"Activity %s already has a result (%s, %s); send hard_override: true to replace it", act.ID, prev.Status, prev.ResultCode)}
	}
	want := resultActivityStatus[in.Status]
	if act.Status != want && act.Status != StatusDispatched {
		msg := fmt.Sprintf("Activity %s is %s: a result can only be submitted for a DISPATCHED activity", act.ID, act.Status)
		if hasPrev {
			msg = fmt.Sprintf("Activity %s is %s, which is final: a %s result would need it %s, and the lifecycle has no such transition",
				act.ID, act.Status, in.Status, want)
		}
		return r, false, &Error{Kind: ErrInvalid, Message: msg}
	}

	err = tx.GetContext(ctx, &r, `
		INSERT INTO activity_task_results (id, activity_id, status, external_status, occurred_at, result_code, result_label, comment,
			contact_type, operator_external_id, future_scheduled_at, payload, raw_payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (activity_id) DO UPDATE SET status = EXCLUDED.status, external_status = EXCLUDED.external_status,
			occurred_at = EXCLUDED.occurred_at, result_code = EXCLUDED.result_code, result_label = EXCLUDED.result_label,
			comment = EXCLUDED.comment, contact_type = EXCLUDED.contact_type, operator_external_id = EXCLUDED.operator_external_id,
			future_scheduled_at = EXCLUDED.future_scheduled_at, payload = EXCLUDED.payload, raw_payload = EXCLUDED.raw_payload,
			updated_at = now()
		RETURNING `+taskResultColumns,
		newID(), act.ID, in.Status, in.ExternalStatus, in.OccurredAt, in.ResultCode, in.ResultLabel, in.Comment,
		in.ContactType, in.OperatorExternalID, in.FutureScheduledAt, jsonOr(in.Payload, "{}"), jsonOr(in.RawPayload, "{}"))
	if err != nil {
		return r, false, err
	}
	if act.Status != want {
		eventType, code, msg := "COMPLETED", (*string)(nil), (*string)(nil)
		if want == StatusFailed {
			c, m := "NOT_EFFECTIVE", fmt.Sprintf("Task result %s (%s) is not effective", in.ResultCode, in.ResultLabel)
			eventType, code, msg = "FAILED", &c, &m
		}
		if _, err := tx.ExecContext(ctx, `
			WITH upd AS (
				UPDATE activities SET status = $2, updated_at = now() WHERE id = $1 AND status = 'DISPATCHED' RETURNING id
			)
			INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message)
			SELECT $3, id, $4, 'DISPATCHED', $2, $5, $6 FROM upd`,
			act.ID, want, newID(), eventType, code, msg); err != nil {
			return r, false, err
		}
	}
	r.ActivityStatus = want
	return r, false, tx.Commit()
}

// IntegrationTask is a TASK activity as the integration API lists it.
type IntegrationTask struct {
	ID                 uuid.UUID   `db:"id"`
	Channel            string      `db:"channel"`
	Status             string      `db:"status"`
	TaskStatus         string      `db:"task_status"`
	ReasonCode         string      `db:"reason_code"`
	ReasonLabel        string      `db:"reason_label"`
	ScheduledAt        time.Time   `db:"scheduled_at"`
	CommerceID         uuid.UUID   `db:"commerce_id"`
	CommerceExternalID *string     `db:"commerce_external_id"`
	CommerceName       string      `db:"commerce_name"`
	ExternalID         *string     `db:"external_id"`
	CreatedAt          time.Time   `db:"created_at"`
	UpdatedAt          time.Time   `db:"updated_at"`
	ResultJSON         []byte      `db:"result"` // null before any result
	Result             *TaskResult `db:"-"`
}

// IntegrationTaskFilter narrows ListIntegrationTasks; nil fields do not filter. TaskStatus is
// the derived task status (see taskStatusSQL).
type IntegrationTaskFilter struct {
	TaskStatus, ResultStatus, Channel    *string
	CommerceExternalID, OperatorExternal *string
	ScheduledFrom, ScheduledTo           *time.Time
}

// taskStatusSQL derives the integration API's task status from an activity's status and its
// result: a FAILED activity with a NOT_EFFECTIVE result was carried out (COMPLETED), one that
// failed to dispatch never will be (CANCELLED).
const taskStatusSQL = `CASE
		WHEN a.status IN ('READY', 'UNRESOLVED') THEN 'PENDING'
		WHEN a.status = 'DISPATCHED' THEN 'IN_PROGRESS'
		WHEN a.status = 'COMPLETED' OR (a.status = 'FAILED' AND r.status = 'NOT_EFFECTIVE') THEN 'COMPLETED'
		ELSE 'CANCELLED' END`

// ListIntegrationTasks returns one page of the workspace's TASK activities, earliest scheduled
// first, with their results, and the total.
func (s *DB) ListIntegrationTasks(ctx context.Context, workspaceID uuid.UUID, f IntegrationTaskFilter, page, limit int) ([]IntegrationTask, int, error) {
	const from = ` FROM activities a JOIN commerces c ON c.id = a.commerce_id
		LEFT JOIN activity_task_results r ON r.activity_id = a.id`
	const where = ` WHERE a.workspace_id = $1 AND a.type = 'TASK'
		AND ($2::text IS NULL OR (` + taskStatusSQL + `) = $2)
		AND ($3::text IS NULL OR r.status = $3) AND ($4::text IS NULL OR a.channel = $4)
		AND ($5::text IS NULL OR c.external_id = $5) AND ($6::text IS NULL OR r.operator_external_id = $6)
		AND ($7::timestamptz IS NULL OR a.scheduled_at >= $7) AND ($8::timestamptz IS NULL OR a.scheduled_at <= $8)`
	args := []any{workspaceID, f.TaskStatus, f.ResultStatus, f.Channel, f.CommerceExternalID, f.OperatorExternal, f.ScheduledFrom, f.ScheduledTo}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*)`+from+where, args...); err != nil {
		return nil, 0, err
	}
	out := []IntegrationTask{}
	err := s.db.SelectContext(ctx, &out, `SELECT a.id, a.channel, a.status, `+taskStatusSQL+` AS task_status,
		a.reason_code, a.reason_label, a.scheduled_at, a.commerce_id, c.external_id AS commerce_external_id, c.name AS commerce_name,
		a.external_id, a.created_at, a.updated_at, to_jsonb(r) AS result`+from+where+`
		ORDER BY a.scheduled_at, a.id LIMIT $9 OFFSET $10`, append(args, limit, (page-1)*limit)...)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		if len(out[i].ResultJSON) == 0 || string(out[i].ResultJSON) == "null" {
			continue
		}
		var tr TaskResult
		if err := json.Unmarshal(out[i].ResultJSON, &tr); err != nil {
			return nil, 0, fmt.Errorf("decode task result: %w", err)
		}
		tr.ActivityStatus = out[i].Status
		out[i].Result = &tr
	}
	return out, total, nil
}
