package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// WebhookApp is a product area that sends webhooks (Webhooks API).
type WebhookApp struct {
	ID                 uuid.UUID `db:"id"`
	WorkspaceID        uuid.UUID `db:"workspace_id"`
	Name               string    `db:"name"`
	RoutingKeyBodyPath *string   `db:"routing_key_body_path"`
	RoutingKeyHeader   *string   `db:"routing_key_header"`
	// PortalFrameAncestors are the origins that may show the app's portal page in a frame.
	PortalFrameAncestors pq.StringArray `db:"portal_frame_ancestors"`
	CreatedAt            time.Time      `db:"created_at"`
	UpdatedAt            time.Time      `db:"updated_at"`
}

const webhookAppColumns = `id, workspace_id, name, routing_key_body_path, routing_key_header, portal_frame_ancestors,
	created_at, updated_at`

// CreateWebhookApp creates an app (a.Name, routing keys and frame ancestors; the rest is set
// here). A *LimitError if the workspace has its maxApps already.
func (s *DB) CreateWebhookApp(ctx context.Context, workspaceID uuid.UUID, in WebhookApp) (WebhookApp, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return WebhookApp{}, err
	}
	defer tx.Rollback()
	if err := checkCountLimit(ctx, tx, workspaceID, "maxApps"); err != nil {
		return WebhookApp{}, err
	}
	var a WebhookApp
	if err := tx.GetContext(ctx, &a, `INSERT INTO webhook_apps (id, workspace_id, name, routing_key_body_path, routing_key_header,
			portal_frame_ancestors)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+webhookAppColumns, newID(), workspaceID, in.Name, in.RoutingKeyBodyPath,
		in.RoutingKeyHeader, pq.StringArray(nonNilStrings(in.PortalFrameAncestors))); err != nil {
		return WebhookApp{}, err
	}
	return a, tx.Commit()
}

// GetWebhookApp returns a workspace's app, or ErrNotFound.
func (s *DB) GetWebhookApp(ctx context.Context, workspaceID, id uuid.UUID) (WebhookApp, error) {
	var a WebhookApp
	err := s.db.GetContext(ctx, &a, `SELECT `+webhookAppColumns+` FROM webhook_apps WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return a, orNotFound(err, "App")
}

// ListWebhookApps returns up to limit apps created after the one with id after (uuid.Nil = from
// the start), oldest first.
func (s *DB) ListWebhookApps(ctx context.Context, workspaceID, after uuid.UUID, limit int) ([]WebhookApp, error) {
	out := []WebhookApp{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+webhookAppColumns+` FROM webhook_apps
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, after, limit)
	return out, err
}

// UpdateWebhookApp changes an app with change, which gets it as stored, locked until the update
// commits, and may refuse by returning an error; its name, routing keys and frame ancestors are
// written back.
// ErrNotFound if the workspace has no such app.
func (s *DB) UpdateWebhookApp(ctx context.Context, workspaceID, id uuid.UUID, change func(*WebhookApp) error) (WebhookApp, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (WebhookApp, error) {
		var a WebhookApp
		err := tx.GetContext(ctx, &a, `SELECT `+webhookAppColumns+` FROM webhook_apps WHERE workspace_id = $1 AND id = $2
			FOR NO KEY UPDATE`, workspaceID, id)
		return a, orNotFound(err, "App")
	}, change, func(tx *sqlx.Tx, a *WebhookApp) (WebhookApp, error) {
		var out WebhookApp
		err := tx.GetContext(ctx, &out, `UPDATE webhook_apps SET name = $3, routing_key_body_path = $4, routing_key_header = $5,
			portal_frame_ancestors = $6, updated_at = now() WHERE workspace_id = $1 AND id = $2 RETURNING `+webhookAppColumns,
			workspaceID, id, a.Name, a.RoutingKeyBodyPath, a.RoutingKeyHeader, pq.StringArray(nonNilStrings(a.PortalFrameAncestors)))
		return out, err
	})
}

// PortalFrameAncestors returns the origins that may frame an app's portal page, whatever its
// workspace (the page is public; the answer is its Content-Security-Policy): none for an
// unknown app.
func (s *DB) PortalFrameAncestors(ctx context.Context, appID uuid.UUID) ([]string, error) {
	var origins pq.StringArray
	err := s.db.GetContext(ctx, &origins, `SELECT portal_frame_ancestors FROM webhook_apps WHERE id = $1`, appID)
	if noRows(err) {
		return nil, nil
	}
	return origins, err
}

// DeleteWebhookApp deletes an app and everything under it. ErrNotFound if there is none.
func (s *DB) DeleteWebhookApp(ctx context.Context, workspaceID, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_apps WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return changedRow(res, err, func() error { return notFound("App") })
}
