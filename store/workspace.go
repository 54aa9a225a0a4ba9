package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
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
	if errors.Is(err, sql.ErrNoRows) {
		return w, notFound("Workspace")
	}
	return w, err
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

// UpdateWorkspace renames a workspace; a nil name changes nothing. ErrNotFound if it does not exist.
func (s *DB) UpdateWorkspace(ctx context.Context, id uuid.UUID, name *string) (Workspace, error) {
	var w Workspace
	err := s.db.GetContext(ctx, &w, `
		UPDATE workspaces SET name = coalesce($2, name), updated_at = now() WHERE id = $1
		RETURNING id, name, created_at, updated_at`, id, name)
	if errors.Is(err, sql.ErrNoRows) {
		return w, notFound("Workspace")
	}
	return w, err
}
