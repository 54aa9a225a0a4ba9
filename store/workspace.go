package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Workspace is a tenant. Every API key and everything created with one belongs to a workspace.
type Workspace struct {
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// CreateWorkspace creates a workspace.
func (s *DB) CreateWorkspace(ctx context.Context, name string) (Workspace, error) {
	var w Workspace
	err := s.db.GetContext(ctx, &w, `
		INSERT INTO workspaces (id, name) VALUES ($1, $2)
		RETURNING id, name, created_at, updated_at`, newID(), name)
	return w, err
}

// GetWorkspace returns one workspace, or ErrNotFound.
func (s *DB) GetWorkspace(ctx context.Context, id uuid.UUID) (Workspace, error) {
	var w Workspace
	err := s.db.GetContext(ctx, &w, `SELECT id, name, created_at, updated_at FROM workspaces WHERE id = $1`, id)
	return w, orNotFound(err, "Workspace")
}

// ListWorkspaces returns up to limit workspaces created after the one with id after
// (uuid.Nil = from the start), oldest first.
func (s *DB) ListWorkspaces(ctx context.Context, after uuid.UUID, limit int) ([]Workspace, error) {
	ws := []Workspace{}
	err := s.db.SelectContext(ctx, &ws, `
		SELECT id, name, created_at, updated_at FROM workspaces
		WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return ws, err
}

// UpdateWorkspace changes a workspace with change, which gets it as stored, locked until the
// update commits, and may refuse by returning an error; its name is written back. ErrNotFound
// if it does not exist.
func (s *DB) UpdateWorkspace(ctx context.Context, id uuid.UUID, change func(*Workspace) error) (Workspace, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Workspace, error) {
		var w Workspace
		err := tx.GetContext(ctx, &w, `SELECT id, name, created_at, updated_at FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, id)
		return w, orNotFound(err, "Workspace")
	}, change, func(tx *sqlx.Tx, w *Workspace) (Workspace, error) {
		var out Workspace
		err := tx.GetContext(ctx, &out, `UPDATE workspaces SET name = $2, updated_at = now() WHERE id = $1
			RETURNING id, name, created_at, updated_at`, id, w.Name)
		return out, err
	})
}
