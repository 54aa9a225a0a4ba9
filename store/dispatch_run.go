package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// The dispatch worker's two statements: claim an activity with the config it goes through,
// then record the attempt and its outcome. They run for every dispatch: the claim is one
// prepared statement (one round trip, no planning); the outcomes of concurrent dispatches are
// written together, one statement and one commit per batch.

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

// finishDispatchesSQL records a batch of attempts, counts each on its activity and applies the
// transitions given, and says, per attempt (n, its place in the batch), whether its activity
// moved. The activities are locked in id order, as every batch locks them (no deadlock between
// two batches), and found by primary key (the id list: joined only with the batch, whose size
// PostgreSQL cannot know, they might be scanned for).
const finishDispatchesSQL = `
	WITH i AS (
		SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n int, id uuid, activity_id uuid, attempt int, dispatch_config_id uuid,
			provider_code text, status_code int, duration_ms int, error text, external_id text, started_at timestamptz,
			to_status text, workspace_id uuid, from_statuses text[], event_id uuid, event_type text, error_code text, error_message text)
	), att AS (
		INSERT INTO activity_dispatch_attempts (id, activity_id, attempt, dispatch_config_id, provider_code, status_code,
			duration_ms, error, external_id, started_at)
		SELECT id, activity_id, attempt, dispatch_config_id, provider_code, status_code, duration_ms, error, external_id, started_at FROM i
	), old AS MATERIALIZED (
		SELECT a.id, a.status FROM activities a
		WHERE a.id = ANY(ARRAY(SELECT activity_id FROM i))
		ORDER BY a.id FOR UPDATE
	), upd AS (
		-- The attempt is counted in any case; the status moves when a transition is given and
		-- the activity is in one of its From statuses. Dispatched, its target user is locked
		-- (at the attempt's start, as the provider was told) and remembered for LAST_CONTACTED.
		UPDATE activities a SET dispatch_attempt_count = greatest(a.dispatch_attempt_count, i.attempt),
			status = CASE WHEN old.status = ANY(i.from_statuses) THEN coalesce(i.to_status, a.status) ELSE a.status END,
			external_id = CASE WHEN i.to_status IS NOT NULL AND old.status = ANY(i.from_statuses) THEN coalesce(i.external_id, a.external_id)
				ELSE a.external_id END,
			target = CASE WHEN i.to_status = 'DISPATCHED' AND old.status = ANY(i.from_statuses) AND a.target->>'commerce_user_id' IS NOT NULL
				THEN (a.target::jsonb || jsonb_build_object('status', 'LOCKED', 'updated_at', i.started_at, 'locked_at',
					coalesce(a.target->'locked_at', to_json(i.started_at))))::json
				ELSE a.target END,
			dispatched_user_id = CASE WHEN i.to_status = 'DISPATCHED' AND old.status = ANY(i.from_statuses)
				THEN (a.target->>'commerce_user_id')::uuid ELSE a.dispatched_user_id END,
			dispatched_at = CASE WHEN i.to_status = 'DISPATCHED' AND old.status = ANY(i.from_statuses) THEN i.started_at ELSE a.dispatched_at END,
			updated_at = now()
		FROM old JOIN i ON i.activity_id = old.id
		WHERE a.id = old.id AND a.workspace_id = i.workspace_id AND a.id = ANY(ARRAY(SELECT activity_id FROM i))
		RETURNING i.n, a.id, old.status AS from_status, i.to_status IS NOT NULL AND old.status = ANY(i.from_statuses) AS moved
	), ev AS (
		INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message)
		SELECT i.event_id, upd.id, i.event_type, upd.from_status, i.to_status, i.error_code, i.error_message
		FROM upd JOIN i ON i.n = upd.n WHERE upd.moved
	)
	SELECT i.n, coalesce(upd.moved, false) AS moved FROM i LEFT JOIN upd ON upd.n = i.n`

// finishItem is one FinishDispatch as finishDispatchesSQL reads it.
type finishItem struct {
	N                int            `json:"n"`
	ID               uuid.UUID      `json:"id"`
	ActivityID       uuid.UUID      `json:"activity_id"`
	Attempt          int            `json:"attempt"`
	DispatchConfigID *uuid.UUID     `json:"dispatch_config_id"`
	ProviderCode     *string        `json:"provider_code"`
	StatusCode       *int           `json:"status_code"`
	DurationMS       int            `json:"duration_ms"`
	Error            *string        `json:"error"`
	ExternalID       *string        `json:"external_id"`
	StartedAt        time.Time      `json:"started_at"`
	To               *string        `json:"to_status"`
	WorkspaceID      uuid.UUID      `json:"workspace_id"`
	From             pq.StringArray `json:"from_statuses"`
	EventID          uuid.UUID      `json:"event_id"`
	EventType        *string        `json:"event_type"`
	ErrorCode        *string        `json:"error_code"`
	ErrorMessage     *string        `json:"error_message"`
}

// finishDispatches writes a batch of FinishDispatch calls. Two attempts of one activity (its one
// job runs in one worker at a time, so never in practice) go in separate statements, in order.
func (s *DB) finishDispatches(ctx context.Context, in []finishItem) ([]batchResult[bool], error) {
	out := make([]batchResult[bool], len(in))
	pending := make([]int, len(in)) // places in `in` still to write
	for i := range in {
		pending[i] = i
	}
	for len(pending) > 0 {
		seen := map[uuid.UUID]bool{}
		var now, later []int
		for _, k := range pending {
			if seen[in[k].ActivityID] {
				later = append(later, k)
				continue
			}
			seen[in[k].ActivityID] = true
			now = append(now, k)
		}
		items := make([]finishItem, len(now))
		for j, k := range now {
			items[j] = in[k]
			items[j].N = j
			if items[j].From == nil {
				items[j].From = pq.StringArray{}
			}
		}
		doc, err := json.Marshal(items)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			N     int  `db:"n"`
			Moved bool `db:"moved"`
		}
		// Not prepared: planned for each batch, on the tables as they are (a plan cached while
		// they were small would scan them once they have grown). Binary parameters would make
		// this one round trip, but the main pool sends []byte as text (see Open).
		if err := s.db.SelectContext(ctx, &rows, finishDispatchesSQL, string(doc)); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[now[r.N]].out = r.Moved
		}
		pending = later
	}
	return out, nil
}

// FinishDispatch records an attempt, counts it on the activity and, when t is not nil,
// applies the transition it leads to (DISPATCHED, FAILED), in one statement. An activity that
// becomes DISPATCHED has its target user LOCKED (LockedAt the attempt's start, unless it was
// locked before) and remembered as the commerce's last contacted user. It says whether the
// activity moved. Concurrent calls (the dispatch workers') are written together, one
// statement and one commit per batch (see batch.go).
func (s *DB) FinishDispatch(ctx context.Context, workspaceID uuid.UUID, a DispatchAttempt, t *Transition) (bool, error) {
	it := finishItem{ID: newID(), ActivityID: a.ActivityID, Attempt: a.Attempt, DispatchConfigID: a.DispatchConfigID, ProviderCode: a.ProviderCode,
		StatusCode: a.StatusCode, DurationMS: a.DurationMS, Error: a.Error, ExternalID: a.ExternalID, StartedAt: a.StartedAt,
		WorkspaceID: workspaceID, EventID: newID()}
	if t != nil {
		it.To, it.EventType, it.ErrorCode, it.ErrorMessage, it.From = &t.To, &t.EventType, t.ErrorCode, t.ErrorMessage, t.From
		if t.ExternalID != nil {
			it.ExternalID = t.ExternalID
		}
	}
	return s.finishes.do(ctx, it)
}
