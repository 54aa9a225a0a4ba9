package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// LimitError says a plan limit of the workspace refuses the write: Name is the limit
// (maxApps, maxEndpoints, messagesPerMinute), Limit its value, RetryAfter when trying again may
// succeed (zero when only removing something or raising the limit helps).
type LimitError struct {
	Name       string
	Limit      int
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("plan limit reached: %s (%d)", e.Name, e.Limit)
}

// Explain says what the limit allows, in words.
func (e *LimitError) Explain() string {
	what := map[string]string{
		"maxApps":           "the workspace may have %d apps",
		"maxEndpoints":      "the workspace may have %d endpoints",
		"messagesPerMinute": "the workspace may send %d messages per minute",
	}[e.Name]
	if what == "" {
		what = e.Name + " is %d"
	}
	return fmt.Sprintf(what, e.Limit)
}

// lockWorkspaceLimits serialises, within tx, the writes of one workspace that a count limit
// applies to, so two concurrent creates cannot both take the last slot.
func lockWorkspaceLimits(ctx context.Context, tx execer, workspaceID uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('workspace_limits:' || $1::text))`, workspaceID)
	return err
}

// countLimits are the plan limits on how many rows of a kind a workspace may have: the
// limit's name (as the API shows it), its workspace_limits column, and the table counted.
var countLimits = map[string][2]string{
	"maxApps":      {"max_apps", "webhook_apps"},
	"maxEndpoints": {"max_endpoints", "webhook_endpoints"},
}

// checkCountLimit locks the workspace's count-limited writes for tx (lockWorkspaceLimits) and
// returns a *LimitError if the workspace already has as many rows as the named limit allows.
func checkCountLimit(ctx context.Context, tx *sqlx.Tx, workspaceID uuid.UUID, name string) error {
	if err := lockWorkspaceLimits(ctx, tx, workspaceID); err != nil {
		return err
	}
	l := countLimits[name]
	var over struct {
		Max *int `db:"max"`
		N   int  `db:"n"`
	}
	if err := tx.GetContext(ctx, &over, `SELECT (SELECT `+l[0]+` FROM workspace_limits WHERE workspace_id = $1) AS max,
		(SELECT count(*) FROM `+l[1]+` WHERE workspace_id = $1) AS n`, workspaceID); err != nil {
		return err
	}
	if over.Max != nil && over.N >= *over.Max {
		return &LimitError{Name: name, Limit: *over.Max}
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// WorkspaceLimits are a workspace's plan limits; nil = unlimited.
type WorkspaceLimits struct {
	MaxApps           *int `db:"max_apps"`
	MaxEndpoints      *int `db:"max_endpoints"`
	MessagesPerMinute *int `db:"messages_per_minute"`
}

// GetWorkspaceLimits returns a workspace's limits. ErrNotFound if there is no such workspace.
func (s *DB) GetWorkspaceLimits(ctx context.Context, workspaceID uuid.UUID) (WorkspaceLimits, error) {
	if _, err := s.GetWorkspace(ctx, workspaceID); err != nil {
		return WorkspaceLimits{}, err
	}
	var l WorkspaceLimits
	err := s.db.GetContext(ctx, &l, `SELECT max_apps, max_endpoints, messages_per_minute FROM workspace_limits WHERE workspace_id = $1`, workspaceID)
	if noRows(err) {
		return WorkspaceLimits{}, nil
	}
	return l, err
}

// SetWorkspaceLimits replaces a workspace's limits. ErrNotFound if there is no such workspace.
func (s *DB) SetWorkspaceLimits(ctx context.Context, workspaceID uuid.UUID, l WorkspaceLimits) (WorkspaceLimits, error) {
	var out WorkspaceLimits
	err := s.db.GetContext(ctx, &out, `
		INSERT INTO workspace_limits (workspace_id, max_apps, max_endpoints, messages_per_minute)
		SELECT id, $2, $3, $4 FROM workspaces WHERE id = $1
		ON CONFLICT (workspace_id) DO UPDATE SET max_apps = EXCLUDED.max_apps, max_endpoints = EXCLUDED.max_endpoints,
			messages_per_minute = EXCLUDED.messages_per_minute, updated_at = now()
		RETURNING max_apps, max_endpoints, messages_per_minute`, workspaceID, l.MaxApps, l.MaxEndpoints, l.MessagesPerMinute)
	return out, orNotFound(err, "Workspace")
}

// countMessage counts one message against a per-minute limit, in its own short statement so
// the counter row is never locked for the length of a send. A *LimitError when the minute's
// budget is spent.
func (s *DB) countMessage(ctx context.Context, workspaceID uuid.UUID, limit int, now time.Time) error {
	minute := now.UTC().Truncate(time.Minute)
	var n int
	err := s.db.GetContext(ctx, &n, `
		INSERT INTO workspace_message_counts (workspace_id, minute, n) VALUES ($1, $2, 1)
		ON CONFLICT (workspace_id, minute) DO UPDATE SET n = workspace_message_counts.n + 1
		WHERE workspace_message_counts.n < $3
		RETURNING n`, workspaceID, minute, limit)
	if noRows(err) {
		return &LimitError{Name: "messagesPerMinute", Limit: limit, RetryAfter: minute.Add(time.Minute).Sub(now)}
	}
	if err == nil && n == 1 {
		// A new minute: drop counters nobody needs any more.
		_, err = s.db.ExecContext(ctx, `DELETE FROM workspace_message_counts WHERE workspace_id = $1 AND minute < $2`, workspaceID, minute)
	}
	return err
}
