package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Recipient is one customer of an app, identified by the caller-chosen RecipientID.
type Recipient struct {
	ID          uuid.UUID `db:"id"`
	AppID       uuid.UUID `db:"app_id"`
	RecipientID string    `db:"recipient_id"`
	Name        *string   `db:"name"`
	Metadata    StringMap `db:"metadata"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

const recipientColumns = `r.id, r.app_id, r.recipient_id, r.name, r.metadata, r.created_at, r.updated_at`

// CreateRecipient creates a recipient. ErrNotFound if there is no such app; ErrConflict if
// the app has the recipient id already.
func (s *DB) CreateRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, name *string, metadata map[string]string) (Recipient, error) {
	var r Recipient
	err := s.db.GetContext(ctx, &r, `
		WITH r AS (
			INSERT INTO webhook_recipients (id, app_id, recipient_id, name, metadata)
			SELECT $1, a.id, $4, $5, $6 FROM webhook_apps a WHERE a.workspace_id = $2 AND a.id = $3
			RETURNING *
		) SELECT `+recipientColumns+` FROM r`,
		newID(), workspaceID, appID, recipientID, name, jsonMap(metadata))
	if isUniqueViolation(err, "webhook_recipients_app_recipient_key") {
		return r, &Error{Kind: ErrConflict, Message: fmt.Sprintf("Recipient %s already exists", recipientID)}
	}
	return r, orNotFound(err, "App")
}

// GetRecipient returns a recipient of a workspace's app, or ErrNotFound (naming what is missing).
func (s *DB) GetRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string) (Recipient, error) {
	var r Recipient
	err := s.db.GetContext(ctx, &r, `SELECT `+recipientColumns+` FROM webhook_recipients r JOIN webhook_apps a ON a.id = r.app_id
		WHERE a.workspace_id = $1 AND a.id = $2 AND r.recipient_id = $3`, workspaceID, appID, recipientID)
	if noRows(err) {
		if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
			return r, err
		}
		return r, notFound("Recipient " + recipientID)
	}
	return r, err
}

// ListRecipients returns up to limit recipients created after the one with id after, oldest first.
func (s *DB) ListRecipients(ctx context.Context, workspaceID, appID, after uuid.UUID, limit int) ([]Recipient, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return nil, err
	}
	out := []Recipient{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+recipientColumns+` FROM webhook_recipients r
		WHERE r.app_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3`, appID, after, limit)
	return out, err
}

// UpdateRecipient changes a recipient with change, which gets it as stored, locked until the
// update commits, and may refuse by returning an error; its name and metadata are written back.
// ErrNotFound naming the app or the recipient that is missing.
func (s *DB) UpdateRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, change func(*Recipient) error) (Recipient, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Recipient, error) {
		var r Recipient
		err := tx.GetContext(ctx, &r, `SELECT `+recipientColumns+` FROM webhook_recipients r JOIN webhook_apps a ON a.id = r.app_id
			WHERE a.workspace_id = $1 AND a.id = $2 AND r.recipient_id = $3 FOR NO KEY UPDATE OF r`, workspaceID, appID, recipientID)
		if noRows(err) {
			if _, err := s.GetRecipient(ctx, workspaceID, appID, recipientID); err != nil {
				return r, err
			}
			return r, notFound("Recipient " + recipientID)
		}
		return r, err
	}, change, func(tx *sqlx.Tx, r *Recipient) (Recipient, error) {
		var out Recipient
		err := tx.GetContext(ctx, &out, `UPDATE webhook_recipients r SET name = $2, metadata = $3, updated_at = now()
			WHERE r.id = $1 RETURNING `+recipientColumns, r.ID, r.Name, jsonMap(r.Metadata))
		return out, err
	})
}

// DeleteRecipient deletes a recipient with its endpoints and messages.
func (s *DB) DeleteRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string) error {
	r, err := s.GetRecipient(ctx, workspaceID, appID, recipientID)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `DELETE FROM webhook_recipients WHERE id = $1`, r.ID)
	return err
}
