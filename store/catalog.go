package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// CatalogEntry is an entry of a workspace's user retention status or activity reason catalog.
type CatalogEntry struct {
	ID          uuid.UUID `db:"id"`
	Code        string    `db:"code"`
	Label       string    `db:"label"`
	Description *string   `db:"description"`
	IsActive    bool      `db:"is_active"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// Catalog names one of the two catalogs; its value is the table.
type Catalog string

// The catalogs.
const (
	UserRetentionStatuses Catalog = "user_retention_statuses"
	ActivityReasons       Catalog = "activity_reasons"
)

func (c Catalog) columns() string {
	if c == ActivityReasons {
		return `id, code, label, NULL::text AS description, is_active, created_at, updated_at`
	}
	return `id, code, label, description, is_active, created_at, updated_at`
}

// ListCatalog returns a workspace's entries of a catalog by code.
func (s *DB) ListCatalog(ctx context.Context, c Catalog, workspaceID uuid.UUID, activeOnly bool) ([]CatalogEntry, error) {
	out := []CatalogEntry{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+c.columns()+` FROM `+string(c)+`
		WHERE workspace_id = $1 AND (is_active OR NOT $2) ORDER BY code`, workspaceID, activeOnly)
	return out, err
}

// CreateCatalogEntry adds an entry. ErrConflict if the code is taken in the workspace.
func (s *DB) CreateCatalogEntry(ctx context.Context, c Catalog, workspaceID uuid.UUID, e CatalogEntry) (CatalogEntry, error) {
	var out CatalogEntry
	var err error
	if c == ActivityReasons {
		err = s.db.GetContext(ctx, &out, `INSERT INTO activity_reasons (id, workspace_id, code, label, is_active)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+c.columns(), newID(), workspaceID, e.Code, e.Label, e.IsActive)
	} else {
		err = s.db.GetContext(ctx, &out, `INSERT INTO user_retention_statuses (id, workspace_id, code, label, description, is_active)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+c.columns(), newID(), workspaceID, e.Code, e.Label, e.Description, e.IsActive)
	}
	if isUniqueViolation(err, "") {
		return out, &Error{Kind: ErrConflict, Message: fmt.Sprintf("The code %s already exists", e.Code)}
	}
	return out, err
}
