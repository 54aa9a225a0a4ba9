package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Commerce is a business activities are assigned to.
type Commerce struct {
	ID            uuid.UUID       `db:"id"`
	WorkspaceID   uuid.UUID       `db:"workspace_id"`
	Name          string          `db:"name"`
	ExternalID    *string         `db:"external_id"`
	TaxID         *string         `db:"tax_id"`
	IsActive      bool            `db:"is_active"`
	IsPlaceholder bool            `db:"is_placeholder"`
	Metadata      json.RawMessage `db:"metadata"`
	CreatedAt     time.Time       `db:"created_at"`
	UpdatedAt     time.Time       `db:"updated_at"`
	Addresses     []Address       `db:"-"`
	Users         []CommerceUser  `db:"-"` // with their roles and contacts
}

// Address is a commerce's address.
type Address struct {
	ID         uuid.UUID `db:"id"`
	CommerceID uuid.UUID `db:"commerce_id"`
	Street     string    `db:"street"`
	City       *string   `db:"city"`
	Latitude   *float64  `db:"latitude"`
	Longitude  *float64  `db:"longitude"`
	IsPrimary  bool      `db:"is_primary"`
	IsActive   bool      `db:"is_active"`
}

const commerceColumns = `id, workspace_id, name, external_id, tax_id, is_active, is_placeholder, metadata, created_at, updated_at`

func conflictExternalID(id *string) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf("A commerce with external_id %q already exists", deref(id))}
}

// CommerceCreate is a new commerce.
type CommerceCreate struct {
	ID                      uuid.UUID // uuid.Nil: a new one
	Name                    string
	ExternalID, TaxID       *string
	IsActive, IsPlaceholder bool
	Metadata                map[string]any
	Addresses               []Address
}

// CreateCommerce stores a commerce and its addresses. ErrConflict if the id (when given) or the
// external id is taken.
func (s *DB) CreateCommerce(ctx context.Context, workspaceID uuid.UUID, in CommerceCreate) (Commerce, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	id := in.ID
	if id == uuid.Nil {
		id = newID()
	}
	meta, err := json.Marshal(nonNilMap(in.Metadata))
	if err != nil {
		return Commerce{}, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Commerce{}, err
	}
	defer tx.Rollback()
	var c Commerce
	err = tx.GetContext(ctx, &c, `
		INSERT INTO commerces (id, workspace_id, name, external_id, tax_id, is_active, is_placeholder, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+commerceColumns,
		id, workspaceID, in.Name, in.ExternalID, in.TaxID, in.IsActive, in.IsPlaceholder, meta)
	if isUniqueViolation(err, "commerces_pkey") {
		// Ids are unique across workspaces: whose it is is not said.
		return c, &Error{Kind: ErrConflict, Message: fmt.Sprintf("A commerce with id %s already exists", id)}
	}
	if isUniqueViolation(err, "") {
		return c, conflictExternalID(in.ExternalID)
	}
	if err != nil {
		return c, err
	}
	for _, a := range in.Addresses {
		a.ID, a.CommerceID = newID(), c.ID
		if _, err := tx.NamedExecContext(ctx, `
			INSERT INTO commerce_addresses (id, commerce_id, street, city, latitude, longitude, is_primary)
			VALUES (:id, :commerce_id, :street, :city, :latitude, :longitude, :is_primary)`, a); err != nil {
			return c, err
		}
	}
	if err := tx.Commit(); err != nil {
		return c, err
	}
	return s.GetCommerce(ctx, workspaceID, c.ID)
}

// GetCommerce returns a workspace's commerce with its addresses and users, or ErrNotFound.
func (s *DB) GetCommerce(ctx context.Context, workspaceID, id uuid.UUID) (Commerce, error) {
	var c Commerce
	err := s.db.GetContext(ctx, &c, `SELECT `+commerceColumns+` FROM commerces WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return c, orNotFound(err, "Commerce")
	}
	c.Addresses = []Address{}
	err = s.db.SelectContext(ctx, &c.Addresses, `SELECT id, commerce_id, street, city, latitude, longitude, is_primary, is_active
		FROM commerce_addresses WHERE commerce_id = $1 ORDER BY is_primary DESC, id`, id)
	if err != nil {
		return c, err
	}
	c.Users, err = loadCommerceUsers(ctx, s.db, id, nil)
	return c, err
}

// CommerceFilter narrows ListCommerces; nil fields do not filter.
type CommerceFilter struct {
	Search        *string
	ExternalID    *string
	IsActive      *bool
	IsPlaceholder *bool
}

// ListCommerces returns one page of a workspace's commerces by name, and the total count.
func (s *DB) ListCommerces(ctx context.Context, workspaceID uuid.UUID, f CommerceFilter, page, limit int) ([]Commerce, int, error) {
	const where = ` WHERE workspace_id = $1
		AND ($2::text IS NULL OR name ILIKE '%' || $2 || '%' OR external_id ILIKE '%' || $2 || '%')
		AND ($3::text IS NULL OR external_id = $3)
		AND ($4::boolean IS NULL OR is_active = $4)
		AND ($5::boolean IS NULL OR is_placeholder = $5)`
	args := []any{workspaceID, f.Search, f.ExternalID, f.IsActive, f.IsPlaceholder}
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM commerces`+where, args...); err != nil {
		return nil, 0, err
	}
	cs := []Commerce{}
	err := s.db.SelectContext(ctx, &cs, `SELECT `+commerceColumns+` FROM commerces`+where+`
		ORDER BY name, id LIMIT $6 OFFSET $7`, append(args, limit, (page-1)*limit)...)
	return cs, total, err
}

// UpdateCommerce changes a commerce with change, which gets it as stored (without its addresses
// and users), locked until the update commits, and may refuse by returning an error; its name,
// external id, tax id, active and placeholder flags and metadata are written back. It returns
// the commerce as GetCommerce does. ErrNotFound if the workspace has none such; ErrConflict if
// the new external id is taken.
func (s *DB) UpdateCommerce(ctx context.Context, workspaceID, id uuid.UUID, change func(*Commerce) error) (Commerce, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	_, err := updateRow(ctx, s.db, func(tx *sqlx.Tx) (Commerce, error) {
		var c Commerce
		err := tx.GetContext(ctx, &c, `SELECT `+commerceColumns+` FROM commerces WHERE workspace_id = $1 AND id = $2
			FOR NO KEY UPDATE`, workspaceID, id)
		return c, orNotFound(err, "Commerce")
	}, change, func(tx *sqlx.Tx, c *Commerce) (Commerce, error) {
		_, err := tx.ExecContext(ctx, `
			UPDATE commerces SET name = $3, external_id = $4, tax_id = $5, is_active = $6, is_placeholder = $7,
				metadata = $8::jsonb, updated_at = now()
			WHERE workspace_id = $1 AND id = $2`,
			workspaceID, id, c.Name, c.ExternalID, c.TaxID, c.IsActive, c.IsPlaceholder, jsonOr(c.Metadata, "{}"))
		if isUniqueViolation(err, "") {
			return *c, conflictExternalID(c.ExternalID)
		}
		return *c, err
	})
	if err != nil {
		return Commerce{}, err
	}
	return s.GetCommerce(ctx, workspaceID, id)
}

// CommerceSyncItem is one commerce of a bulk upsert.
type CommerceSyncItem struct {
	ExternalID string
	Name       string
	TaxID      *string
	IsActive   *bool
	Metadata   map[string]any
}

// SyncCommerces upserts commerces by external id in one statement and reports how many were
// created and updated. Items must have distinct external ids (the caller checks).
func (s *DB) SyncCommerces(ctx context.Context, workspaceID uuid.UUID, items []CommerceSyncItem) (created, updated int, err error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	if len(items) == 0 {
		return 0, 0, nil
	}
	type row struct {
		ID         uuid.UUID       `json:"id"`
		ExternalID string          `json:"external_id"`
		Name       string          `json:"name"`
		TaxID      *string         `json:"tax_id"`
		IsActive   *bool           `json:"is_active"`
		Metadata   json.RawMessage `json:"metadata"`
	}
	rows := make([]row, len(items))
	for i, it := range items {
		var meta json.RawMessage
		if it.Metadata != nil {
			if meta, err = json.Marshal(it.Metadata); err != nil {
				return 0, 0, err
			}
		}
		rows[i] = row{ID: newID(), ExternalID: it.ExternalID, Name: it.Name, TaxID: it.TaxID, IsActive: it.IsActive, Metadata: meta}
	}
	payload, err := json.Marshal(rows)
	if err != nil {
		return 0, 0, err
	}
	// One round trip for the whole batch: the rows travel as one JSON document. xmax = 0 tells
	// an inserted row from an updated one.
	var counts struct {
		Created int `db:"created"`
		Updated int `db:"updated"`
	}
	err = s.db.GetContext(ctx, &counts, `
		WITH input AS (
			SELECT * FROM jsonb_to_recordset($2::jsonb)
				AS x(id uuid, external_id text, name text, tax_id text, is_active boolean, metadata jsonb)
		), up AS (
			INSERT INTO commerces (id, workspace_id, name, external_id, tax_id, is_active, metadata)
			SELECT id, $1, name, external_id, tax_id, coalesce(is_active, true), coalesce(metadata, '{}') FROM input
			ON CONFLICT (workspace_id, external_id) DO UPDATE SET
				name = EXCLUDED.name,
				tax_id = coalesce(EXCLUDED.tax_id, commerces.tax_id),
				is_active = EXCLUDED.is_active,
				metadata = CASE WHEN EXCLUDED.metadata = '{}'::jsonb THEN commerces.metadata ELSE EXCLUDED.metadata END,
				updated_at = now()
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`,
		workspaceID, string(payload))
	return counts.Created, counts.Updated, err
}
