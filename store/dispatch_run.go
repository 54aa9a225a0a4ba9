package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// The dispatch worker's two statements: claim an activity with the config it goes through,
// then record the attempt and its outcome. They run for every dispatch, so each is one
// prepared statement (one round trip, no planning).

// DispatchTarget is where a claimed activity is sent: the workspace's active dispatch config
// for its channel, with its decrypted credentials. Found is false when there is none.
type DispatchTarget struct {
	Found        bool
	Config       DispatchConfig
	ProtocolType string
	Credentials  map[string]string
}

const claimDispatchSQL = `
	WITH one AS MATERIALIZED (
		-- By primary key alone: with the other conditions the planner may prefer the
		-- (workspace_id, status) index and walk every READY activity of the workspace.
		SELECT * FROM activities WHERE id = $2
	), a AS (
		SELECT * FROM one WHERE workspace_id = $1 AND status = 'READY'
	)
	SELECT ` + activityColumns + `,
		cfg.id AS cfg_id, cfg.dispatch_provider_id AS cfg_provider_id, cfg.base_url AS cfg_base_url,
		cfg.settings AS cfg_settings, cfg.created_at AS cfg_created_at, cfg.updated_at AS cfg_updated_at,
		cfg.provider_code AS cfg_provider_code, cfg.provider_name AS cfg_provider_name,
		cfg.protocol_type AS cfg_protocol_type, cfg.credentials AS cfg_credentials
	FROM a JOIN commerces c ON c.id = a.commerce_id
	LEFT JOIN LATERAL (
		-- The most recently created active config for the channel, read at this attempt:
		-- a changed base URL or credential applies to the next attempt.
		SELECT dc.id, dc.dispatch_provider_id, dc.base_url, dc.settings, dc.created_at, dc.updated_at,
			p.code AS provider_code, p.name AS provider_name, p.protocol_type, dc.credentials
		FROM dispatch_configs dc JOIN dispatch_providers p ON p.id = dc.dispatch_provider_id
		WHERE dc.workspace_id = a.workspace_id AND dc.channel = a.channel AND dc.is_active AND p.is_active
		ORDER BY dc.id DESC LIMIT 1
	) cfg ON true`

// ClaimDispatch returns a READY activity with its target, in one statement, or ok=false when
// it is no longer READY (canceled meanwhile, already dispatched): then nothing must be sent.
// It only reads: the activity's one dispatch job is worked by one worker at a time (River
// locks it), so no row lock is needed to keep two processes from sending it at once, and
// the attempt is counted by FinishDispatch, which also only moves a READY activity.
func (s *DB) ClaimDispatch(ctx context.Context, workspaceID, id uuid.UUID) (Activity, DispatchTarget, bool, error) {
	var row struct {
		Activity
		CfgID         *uuid.UUID `db:"cfg_id"`
		CfgProviderID *uuid.UUID `db:"cfg_provider_id"`
		CfgBaseURL    *string    `db:"cfg_base_url"`
		CfgSettings   []byte     `db:"cfg_settings"`
		CfgCreatedAt  *time.Time `db:"cfg_created_at"`
		CfgUpdatedAt  *time.Time `db:"cfg_updated_at"`
		CfgCode       *string    `db:"cfg_provider_code"`
		CfgName       *string    `db:"cfg_provider_name"`
		CfgProtocol   *string    `db:"cfg_protocol_type"`
		CfgSealed     []byte     `db:"cfg_credentials"`
	}
	stmt, err := s.prepared(ctx, s.db, claimDispatchSQL)
	if err != nil {
		return Activity{}, DispatchTarget{}, false, err
	}
	err = stmt.GetContext(ctx, &row, workspaceID, id)
	if noRows(err) {
		return Activity{}, DispatchTarget{}, false, nil
	}
	if err != nil {
		return Activity{}, DispatchTarget{}, false, err
	}
	var t DispatchTarget
	if row.CfgID != nil {
		creds, err := s.openCredentials(*row.CfgID, row.CfgSealed)
		if err != nil {
			return Activity{}, DispatchTarget{}, false, err
		}
		t = DispatchTarget{Found: true, ProtocolType: *row.CfgProtocol, Credentials: creds, Config: DispatchConfig{
			ID: *row.CfgID, WorkspaceID: workspaceID, DispatchProviderID: *row.CfgProviderID, Channel: row.Channel,
			BaseURL: row.CfgBaseURL, Settings: row.CfgSettings, IsActive: true, CreatedAt: *row.CfgCreatedAt,
			UpdatedAt: *row.CfgUpdatedAt, ProviderCode: *row.CfgCode, ProviderName: *row.CfgName}}
	}
	return row.Activity, t, true, nil
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

const finishDispatchSQL = `
	WITH att AS (
		INSERT INTO activity_dispatch_attempts (id, activity_id, attempt, dispatch_config_id, provider_code, status_code,
			duration_ms, error, external_id, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	), old AS (
		SELECT status FROM activities WHERE workspace_id = $12 AND id = $2 FOR UPDATE
	), upd AS (
		-- The attempt is counted in any case; the status moves when a transition is given and
		-- the activity is in one of its From statuses. Dispatched, its target user is locked
		-- (at the attempt's start, as the provider was told) and remembered for LAST_CONTACTED.
		UPDATE activities a SET dispatch_attempt_count = greatest(a.dispatch_attempt_count, $3),
			status = CASE WHEN old.status = ANY($13) THEN coalesce($11, a.status) ELSE a.status END,
			external_id = CASE WHEN $11::text IS NOT NULL AND old.status = ANY($13) THEN coalesce($9, a.external_id) ELSE a.external_id END,
			target = CASE WHEN $11::text = 'DISPATCHED' AND old.status = ANY($13) AND a.target->>'commerce_user_id' IS NOT NULL
				THEN (a.target::jsonb || jsonb_build_object('status', 'LOCKED', 'updated_at', $10::timestamptz, 'locked_at',
					coalesce(a.target->'locked_at', to_json($10::timestamptz))))::json
				ELSE a.target END,
			dispatched_user_id = CASE WHEN $11::text = 'DISPATCHED' AND old.status = ANY($13)
				THEN (a.target->>'commerce_user_id')::uuid ELSE a.dispatched_user_id END,
			dispatched_at = CASE WHEN $11::text = 'DISPATCHED' AND old.status = ANY($13) THEN $10::timestamptz ELSE a.dispatched_at END,
			updated_at = now()
		FROM old WHERE a.workspace_id = $12 AND a.id = $2
		RETURNING a.id, $11::text IS NOT NULL AND old.status = ANY($13) AS moved
	), ev AS (
		INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message)
		SELECT $14, upd.id, $15, (SELECT status FROM old), $11, $16, $17 FROM upd WHERE upd.moved
	)
	SELECT coalesce((SELECT moved FROM upd), false)`

// FinishDispatch records an attempt, counts it on the activity and, when t is not nil,
// applies the transition it leads to (DISPATCHED, FAILED), in one statement. An activity that
// becomes DISPATCHED has its target user LOCKED (LockedAt the attempt's start, unless it was
// locked before) and remembered as the commerce's last contacted user. It says whether the
// activity moved.
func (s *DB) FinishDispatch(ctx context.Context, workspaceID uuid.UUID, a DispatchAttempt, t *Transition) (bool, error) {
	a.ID = newID()
	var to, eventType, code, msg *string
	var from pq.StringArray
	if t != nil {
		to, eventType, code, msg, from = &t.To, &t.EventType, t.ErrorCode, t.ErrorMessage, t.From
		if t.ExternalID != nil {
			a.ExternalID = t.ExternalID
		}
	}
	stmt, err := s.prepared(ctx, s.db, finishDispatchSQL)
	if err != nil {
		return false, err
	}
	var moved bool
	err = stmt.GetContext(ctx, &moved, a.ID, a.ActivityID, a.Attempt, a.DispatchConfigID, a.ProviderCode, a.StatusCode,
		a.DurationMS, a.Error, a.ExternalID, a.StartedAt, to, workspaceID, from, newID(), eventType, code, msg)
	return moved, err
}
