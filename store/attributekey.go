package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The built-in attribute keys every workspace has (migration 0014 writes them, idempotently),
// each with an internal resolver (resolution.go).
const (
	AttributeCommerceInfo = "commerce_info"
	AttributePromotions   = "promotions"
)

// The built-in keys' ids, fixed (the spec documents them).
var (
	AttributeCommerceInfoID = uuid.MustParse("a77e8400-e29b-41d4-a716-446655440001")
	AttributePromotionsID   = uuid.MustParse("a77e8400-e29b-41d4-a716-446655440002")
)

// AttributeKey names one value an activity may carry. WorkspaceID is nil for a built-in key.
type AttributeKey struct {
	ID          uuid.UUID  `db:"id"`
	WorkspaceID *uuid.UUID `db:"workspace_id"`
	Key         string     `db:"key"`
	Label       string     `db:"label"`
	Description *string    `db:"description"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
}

// BuiltIn reports whether the key is one every workspace has.
func (k AttributeKey) BuiltIn() bool { return k.WorkspaceID == nil }

const attributeKeyColumns = `id, workspace_id, key, label, description, created_at, updated_at`

// ListAttributeKeys returns the built-in keys and the workspace's own, by key.
func (s *DB) ListAttributeKeys(ctx context.Context, workspaceID uuid.UUID) ([]AttributeKey, error) {
	out := []AttributeKey{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+attributeKeyColumns+` FROM attribute_keys
		WHERE workspace_id IS NULL OR workspace_id = $1 ORDER BY key`, workspaceID)
	return out, err
}

// GetAttributeKey returns a key the workspace sees (built-in or its own), or ErrNotFound.
func (s *DB) GetAttributeKey(ctx context.Context, workspaceID, id uuid.UUID) (AttributeKey, error) {
	var k AttributeKey
	err := s.db.GetContext(ctx, &k, `SELECT `+attributeKeyColumns+` FROM attribute_keys
		WHERE id = $2 AND (workspace_id IS NULL OR workspace_id = $1)`, workspaceID, id)
	return k, orNotFound(err, "Attribute key")
}

// AttributeKeyCreate is a workspace's new key.
type AttributeKeyCreate struct {
	Key         string
	Label       string
	Description *string
}

// CreateAttributeKey adds a key of the workspace's own. ErrConflict if the workspace already
// sees a key of that name (its own, or a built-in one).
func (s *DB) CreateAttributeKey(ctx context.Context, workspaceID uuid.UUID, in AttributeKeyCreate) (AttributeKey, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	var k AttributeKey
	err := s.db.GetContext(ctx, &k, `
		INSERT INTO attribute_keys (id, workspace_id, key, label, description)
		SELECT $1, $2, $3, $4, $5
		WHERE NOT EXISTS (SELECT 1 FROM attribute_keys WHERE workspace_id IS NULL AND key = $3)
		RETURNING `+attributeKeyColumns, newID(), workspaceID, in.Key, in.Label, in.Description)
	if noRows(err) || isUniqueViolation(err, "") {
		return k, &Error{Kind: ErrConflict, Message: fmt.Sprintf("An attribute key %q already exists", in.Key)}
	}
	return k, err
}

// DeleteAttributeKey removes one of the workspace's own keys, with its policy. Activities that
// resolved it keep what they resolved. ErrNotFound for a key the workspace does not have;
// ErrInvalid for a built-in key, which every workspace keeps.
func (s *DB) DeleteAttributeKey(ctx context.Context, workspaceID, id uuid.UUID) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	k, err := s.GetAttributeKey(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	if k.BuiltIn() {
		return &Error{Kind: ErrInvalid, Message: fmt.Sprintf("Attribute key %s is built in and cannot be deleted", k.Key)}
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM attribute_keys WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Attribute key")
	}
	return nil
}
