package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
)

// WebhookApp is a product area that sends webhooks (Webhooks API).
type WebhookApp struct {
	ID                 uuid.UUID `db:"id"`
	WorkspaceID        uuid.UUID `db:"workspace_id"`
	Name               string    `db:"name"`
	RoutingKeyBodyPath *string   `db:"routing_key_body_path"`
	RoutingKeyHeader   *string   `db:"routing_key_header"`
	CreatedAt          time.Time `db:"created_at"`
	UpdatedAt          time.Time `db:"updated_at"`
}

const webhookAppColumns = `id, workspace_id, name, routing_key_body_path, routing_key_header, created_at, updated_at`

// CreateWebhookApp creates an app. A *LimitError if the workspace has its maxApps already.
func (s *DB) CreateWebhookApp(ctx context.Context, workspaceID uuid.UUID, name string, bodyPath, header *string) (WebhookApp, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return WebhookApp{}, err
	}
	defer tx.Rollback()
	if err := checkCountLimit(ctx, tx, workspaceID, "maxApps"); err != nil {
		return WebhookApp{}, err
	}
	var a WebhookApp
	if err := tx.GetContext(ctx, &a, `INSERT INTO webhook_apps (id, workspace_id, name, routing_key_body_path, routing_key_header)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+webhookAppColumns, newID(), workspaceID, name, bodyPath, header); err != nil {
		return WebhookApp{}, err
	}
	return a, tx.Commit()
}

// GetWebhookApp returns a workspace's app, or ErrNotFound.
func (s *DB) GetWebhookApp(ctx context.Context, workspaceID, id uuid.UUID) (WebhookApp, error) {
	var a WebhookApp
	err := s.db.GetContext(ctx, &a, `SELECT `+webhookAppColumns+` FROM webhook_apps WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("App")
	}
	return a, err
}

// ListWebhookApps returns up to limit apps created after the one with id after (uuid.Nil = from
// the start), oldest first.
func (s *DB) ListWebhookApps(ctx context.Context, workspaceID, after uuid.UUID, limit int) ([]WebhookApp, error) {
	out := []WebhookApp{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+webhookAppColumns+` FROM webhook_apps
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, after, limit)
	return out, err
}

// WebhookAppUpdate changes the fields whose Set flag is true.
type WebhookAppUpdate struct {
	Name        *string
	SetBodyPath bool
	BodyPath    *string
	SetHeader   bool
	Header      *string
}

// UpdateWebhookApp changes an app. ErrNotFound if the workspace has no such app.
func (s *DB) UpdateWebhookApp(ctx context.Context, workspaceID, id uuid.UUID, in WebhookAppUpdate) (WebhookApp, error) {
	var a WebhookApp
	err := s.db.GetContext(ctx, &a, `UPDATE webhook_apps SET name = coalesce($3, name),
		routing_key_body_path = CASE WHEN $4 THEN $5 ELSE routing_key_body_path END,
		routing_key_header = CASE WHEN $6 THEN $7 ELSE routing_key_header END, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+webhookAppColumns,
		workspaceID, id, in.Name, in.SetBodyPath, in.BodyPath, in.SetHeader, in.Header)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("App")
	}
	return a, err
}

// DeleteWebhookApp deletes an app and everything under it. ErrNotFound if there is none.
func (s *DB) DeleteWebhookApp(ctx context.Context, workspaceID, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_apps WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("App")
	}
	return nil
}
