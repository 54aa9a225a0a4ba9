package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CommerceUser is a person at a commerce.
type CommerceUser struct {
	ID         uuid.UUID         `db:"id"`
	CommerceID uuid.UUID         `db:"commerce_id"`
	FirstName  *string           `db:"first_name"`
	LastName   *string           `db:"last_name"`
	ExternalID *string           `db:"external_id"`
	Source     string            `db:"source"`
	IsActive   bool              `db:"is_active"`
	CreatedAt  time.Time         `db:"created_at"`
	UpdatedAt  time.Time         `db:"updated_at"`
	Roles      []string          `db:"-"` // in the order of the role enum
	Contacts   []CommerceContact `db:"-"`
}

// CommerceContact is a way to reach a commerce user.
type CommerceContact struct {
	ID        uuid.UUID `db:"id"`
	UserID    uuid.UUID `db:"user_id"`
	Type      string    `db:"type"`
	Value     string    `db:"value"`
	Source    string    `db:"source"`
	IsPrimary bool      `db:"is_primary"`
	IsActive  bool      `db:"is_active"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// CommerceUserRoles lists the roles in their documented order, which is the order a user's
// roles are returned in.
var CommerceUserRoles = []string{"OWNER", "ORDERS", "FINANCE", "ATTENTION", "ADMIN", "COMMERCE_REP", "OTHER"}

const commerceUserColumns = `u.id, u.commerce_id, u.first_name, u.last_name, u.external_id, u.source, u.is_active, u.created_at, u.updated_at`

const commerceContactColumns = `id, user_id, type, value, source, is_primary, is_active, created_at, updated_at`

// checkCommerce reports ErrNotFound unless the workspace has the commerce. It locks nothing.
func checkCommerce(ctx context.Context, q sqlx.QueryerContext, workspaceID, commerceID uuid.UUID) error {
	var found bool
	err := sqlx.GetContext(ctx, q, &found, `SELECT EXISTS (SELECT 1 FROM commerces WHERE workspace_id = $1 AND id = $2)`,
		workspaceID, commerceID)
	switch {
	case err != nil:
		return err
	case !found:
		return notFound("Commerce")
	}
	return nil
}

// checkCommerceUser reports ErrNotFound unless the workspace has the commerce and the commerce
// has the user — whatever the id, the nil UUID included. It locks nothing.
func checkCommerceUser(ctx context.Context, q sqlx.QueryerContext, workspaceID, commerceID, userID uuid.UUID) error {
	var found struct {
		Commerce bool `db:"commerce"`
		User     bool `db:"usr"`
	}
	err := sqlx.GetContext(ctx, q, &found, `SELECT
		EXISTS (SELECT 1 FROM commerces WHERE workspace_id = $1 AND id = $2) AS commerce,
		EXISTS (SELECT 1 FROM commerce_users WHERE commerce_id = $2 AND id = $3) AS usr`, workspaceID, commerceID, userID)
	switch {
	case err != nil:
		return err
	case !found.Commerce:
		return notFound("Commerce")
	case !found.User:
		return notFound("Commerce user")
	}
	return nil
}

// loadCommerceUsers returns a commerce's users (all, or with only only the one it names) with
// roles and contacts, in three queries whatever their number.
func loadCommerceUsers(ctx context.Context, q sqlx.QueryerContext, commerceID uuid.UUID, only *uuid.UUID) ([]CommerceUser, error) {
	users := []CommerceUser{}
	err := sqlx.SelectContext(ctx, q, &users, `SELECT `+commerceUserColumns+` FROM commerce_users u
		WHERE u.commerce_id = $1 AND ($2::uuid IS NULL OR u.id = $2) ORDER BY u.id`, commerceID, only)
	if err != nil || len(users) == 0 {
		return users, err
	}
	byID := make(map[uuid.UUID]*CommerceUser, len(users))
	ids := make([]string, len(users))
	for i := range users {
		users[i].Roles, users[i].Contacts = []string{}, []CommerceContact{}
		byID[users[i].ID] = &users[i]
		ids[i] = users[i].ID.String()
	}
	var roles []struct {
		UserID uuid.UUID `db:"user_id"`
		Role   string    `db:"role"`
	}
	if err := sqlx.SelectContext(ctx, q, &roles, `SELECT user_id, role FROM commerce_user_roles WHERE user_id = ANY($1::uuid[])
		ORDER BY array_position($2::text[], role)`, pq.StringArray(ids), pq.StringArray(CommerceUserRoles)); err != nil {
		return nil, err
	}
	for _, r := range roles {
		byID[r.UserID].Roles = append(byID[r.UserID].Roles, r.Role)
	}
	var contacts []CommerceContact
	if err := sqlx.SelectContext(ctx, q, &contacts, `SELECT `+commerceContactColumns+` FROM commerce_user_contacts
		WHERE user_id = ANY($1::uuid[]) ORDER BY type, is_primary DESC, id`, pq.StringArray(ids)); err != nil {
		return nil, err
	}
	for _, c := range contacts {
		byID[c.UserID].Contacts = append(byID[c.UserID].Contacts, c)
	}
	return users, nil
}

// ListCommerceUsers returns a workspace's commerce's users with their roles and contacts,
// oldest first. ErrNotFound if the workspace has no such commerce.
func (s *DB) ListCommerceUsers(ctx context.Context, workspaceID, commerceID uuid.UUID) ([]CommerceUser, error) {
	if err := checkCommerce(ctx, s.db, workspaceID, commerceID); err != nil {
		return nil, err
	}
	return loadCommerceUsers(ctx, s.db, commerceID, nil)
}

// GetCommerceUser returns one user with roles and contacts. ErrNotFound if the workspace has
// no such commerce or the commerce no such user.
func (s *DB) GetCommerceUser(ctx context.Context, workspaceID, commerceID, userID uuid.UUID) (CommerceUser, error) {
	if err := checkCommerceUser(ctx, s.db, workspaceID, commerceID, userID); err != nil {
		return CommerceUser{}, err
	}
	return loadCommerceUser(ctx, s.db, commerceID, userID)
}

// loadCommerceUser returns one user of a commerce already checked to be the workspace's, with
// roles and contacts; ErrNotFound if the commerce has no such user (deleted in between).
func loadCommerceUser(ctx context.Context, q sqlx.QueryerContext, commerceID, userID uuid.UUID) (CommerceUser, error) {
	users, err := loadCommerceUsers(ctx, q, commerceID, &userID)
	if err != nil {
		return CommerceUser{}, err
	}
	if len(users) == 0 {
		return CommerceUser{}, notFound("Commerce user")
	}
	return users[0], nil
}

// CommerceUserCreate is a new commerce user.
type CommerceUserCreate struct {
	FirstName, LastName, ExternalID *string
	Source                          string
	IsActive                        bool
	Roles                           []string
}

func conflictUserExternalID(id *string) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf("The commerce already has a user with external_id %q", deref(id))}
}

// CreateCommerceUser stores a user and its roles. ErrNotFound if the workspace has no such
// commerce; ErrConflict if the commerce already has a user with the external id.
func (s *DB) CreateCommerceUser(ctx context.Context, workspaceID, commerceID uuid.UUID, in CommerceUserCreate) (CommerceUser, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return CommerceUser{}, err
	}
	defer tx.Rollback()
	id := newID()
	// The insert happens only when the commerce is the workspace's; no row means it is not.
	res, err := tx.ExecContext(ctx, `
		INSERT INTO commerce_users (id, commerce_id, first_name, last_name, external_id, source, is_active)
		SELECT $1, c.id, $4, $5, $6, $7, $8 FROM commerces c WHERE c.workspace_id = $2 AND c.id = $3`,
		id, workspaceID, commerceID, in.FirstName, in.LastName, in.ExternalID, in.Source, in.IsActive)
	if isUniqueViolation(err, "") {
		return CommerceUser{}, conflictUserExternalID(in.ExternalID)
	}
	if err := changedRow(res, err, func() error { return notFound("Commerce") }); err != nil {
		return CommerceUser{}, err
	}
	if len(in.Roles) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO commerce_user_roles (user_id, role)
			SELECT $1, r FROM unnest($2::text[]) AS r ON CONFLICT DO NOTHING`, id, pq.StringArray(in.Roles)); err != nil {
			return CommerceUser{}, err
		}
	}
	u, err := loadCommerceUser(ctx, tx, commerceID, id)
	if err != nil {
		return CommerceUser{}, err
	}
	return u, tx.Commit()
}

// UpdateCommerceUser changes a user with change, which gets it as stored (with its roles and
// contacts), locked until the update commits, and may refuse by returning an error; its first
// and last names, external id and active flag are written back. ErrNotFound if the workspace
// has no such commerce or the commerce no such user; ErrConflict if the new external id is
// taken in the commerce.
func (s *DB) UpdateCommerceUser(ctx context.Context, workspaceID, commerceID, userID uuid.UUID, change func(*CommerceUser) error) (CommerceUser, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (CommerceUser, error) {
		if err := lockCommerceUser(ctx, tx, workspaceID, commerceID, userID); err != nil {
			return CommerceUser{}, err
		}
		return loadCommerceUser(ctx, tx, commerceID, userID)
	}, change, func(tx *sqlx.Tx, u *CommerceUser) (CommerceUser, error) {
		_, err := tx.ExecContext(ctx, `
			UPDATE commerce_users u SET first_name = $3, last_name = $4, external_id = $5, is_active = $6, updated_at = now()
			WHERE u.commerce_id = $1 AND u.id = $2`,
			commerceID, userID, u.FirstName, u.LastName, u.ExternalID, u.IsActive)
		if isUniqueViolation(err, "") {
			return CommerceUser{}, conflictUserExternalID(u.ExternalID)
		}
		if err != nil {
			return CommerceUser{}, err
		}
		return loadCommerceUser(ctx, tx, commerceID, userID)
	})
}

// DeleteCommerceUser removes a user with its roles and contacts. ErrNotFound as GetCommerceUser.
func (s *DB) DeleteCommerceUser(ctx context.Context, workspaceID, commerceID, userID uuid.UUID) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	res, err := s.db.ExecContext(ctx, `DELETE FROM commerce_users u USING commerces c
		WHERE c.id = u.commerce_id AND c.workspace_id = $1 AND u.commerce_id = $2 AND u.id = $3`, workspaceID, commerceID, userID)
	return changedRow(res, err, func() error { return checkOrNotFound(ctx, s, workspaceID, commerceID, userID, "Commerce user") })
}

// checkOrNotFound explains a write that touched no row: the commerce or user is missing, or
// else the thing named.
func checkOrNotFound(ctx context.Context, s *DB, workspaceID, commerceID, userID uuid.UUID, what string) error {
	if err := checkCommerceUser(ctx, s.db, workspaceID, commerceID, userID); err != nil {
		return err
	}
	return notFound(what)
}

// AddCommerceUserRole gives a user a role. ErrNotFound as GetCommerceUser; ErrConflict if the
// user already has it.
func (s *DB) AddCommerceUserRole(ctx context.Context, workspaceID, commerceID, userID uuid.UUID, role string) (CommerceUser, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	if err := checkCommerceUser(ctx, s.db, workspaceID, commerceID, userID); err != nil {
		return CommerceUser{}, err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO commerce_user_roles (user_id, role) VALUES ($1, $2)`, userID, role)
	if isUniqueViolation(err, "") {
		return CommerceUser{}, &Error{Kind: ErrConflict, Message: fmt.Sprintf("The user already has the role %s", role)}
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23503" { // the user was deleted in between
		return CommerceUser{}, notFound("Commerce user")
	}
	if err != nil {
		return CommerceUser{}, err
	}
	return loadCommerceUser(ctx, s.db, commerceID, userID) // the commerce is checked above
}

// RemoveCommerceUserRole takes a role from a user. ErrNotFound as GetCommerceUser, or if the
// user does not have the role.
func (s *DB) RemoveCommerceUserRole(ctx context.Context, workspaceID, commerceID, userID uuid.UUID, role string) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	if err := checkCommerceUser(ctx, s.db, workspaceID, commerceID, userID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM commerce_user_roles WHERE user_id = $1 AND role = $2`, userID, role)
	return changedRow(res, err, func() error {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("The user does not have the role %s", role)}
	})
}

// CommerceContactCreate is a new contact; Value is already checked against Type.
type CommerceContactCreate struct {
	Type, Value, Source string
	IsPrimary           bool
}

func conflictContact(typ, value string) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf("The user already has the %s contact %q", typ, value)}
}

// CreateCommerceContact adds a contact to a user; a primary one takes over from the user's previous
// primary contact of its type. ErrNotFound as GetCommerceUser; ErrConflict if the user already
// has the type and value.
func (s *DB) CreateCommerceContact(ctx context.Context, workspaceID, commerceID, userID uuid.UUID, in CommerceContactCreate) (CommerceContact, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return CommerceContact{}, err
	}
	defer tx.Rollback()
	if err := lockCommerceUser(ctx, tx, workspaceID, commerceID, userID); err != nil {
		return CommerceContact{}, err
	}
	if in.IsPrimary {
		if err := clearPrimary(ctx, tx, userID, in.Type, uuid.Nil); err != nil {
			return CommerceContact{}, err
		}
	}
	var c CommerceContact
	err = tx.GetContext(ctx, &c, `INSERT INTO commerce_user_contacts (id, user_id, type, value, source, is_primary)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+commerceContactColumns, newID(), userID, in.Type, in.Value, in.Source, in.IsPrimary)
	if isUniqueViolation(err, "commerce_user_contacts_value_key") {
		return CommerceContact{}, conflictContact(in.Type, in.Value)
	}
	if err != nil {
		return CommerceContact{}, err
	}
	return c, tx.Commit()
}

// lockCommerceUser locks the user's row for the rest of tx, so that two requests changing its
// primary contacts take turns. ErrNotFound as GetCommerceUser.
func lockCommerceUser(ctx context.Context, tx *sqlx.Tx, workspaceID, commerceID, userID uuid.UUID) error {
	var id uuid.UUID
	err := tx.GetContext(ctx, &id, `SELECT u.id FROM commerce_users u JOIN commerces c ON c.id = u.commerce_id
		WHERE c.workspace_id = $1 AND u.commerce_id = $2 AND u.id = $3 FOR UPDATE OF u`, workspaceID, commerceID, userID)
	if noRows(err) {
		return checkCommerceUser(ctx, tx, workspaceID, commerceID, userID)
	}
	return err
}

func clearPrimary(ctx context.Context, tx *sqlx.Tx, userID uuid.UUID, typ string, except uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `UPDATE commerce_user_contacts SET is_primary = false, updated_at = now()
		WHERE user_id = $1 AND type = $2 AND is_primary AND id <> $3`, userID, typ, except)
	return err
}

// GetCommerceContact returns one of a user's contacts. ErrNotFound as GetCommerceUser, or if the user
// has no such contact.
func (s *DB) GetCommerceContact(ctx context.Context, workspaceID, commerceID, userID, contactID uuid.UUID) (CommerceContact, error) {
	if err := checkCommerceUser(ctx, s.db, workspaceID, commerceID, userID); err != nil {
		return CommerceContact{}, err
	}
	var c CommerceContact
	err := s.db.GetContext(ctx, &c, `SELECT `+commerceContactColumns+` FROM commerce_user_contacts WHERE user_id = $1 AND id = $2`, userID, contactID)
	return c, orNotFound(err, "Contact")
}

// UpdateCommerceContact changes a contact with change, which gets it as stored, locked (with its
// user) until the update commits, and may refuse by returning an error (a value that does not
// suit the contact's type, for instance); its value and primary and active flags are written
// back, and a contact left primary takes over from the previous primary of its type.
// ErrNotFound as GetCommerceContact; ErrConflict if the user already has the new value.
func (s *DB) UpdateCommerceContact(ctx context.Context, workspaceID, commerceID, userID, contactID uuid.UUID, change func(*CommerceContact) error) (CommerceContact, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	var typ string          // as stored: the type does not change
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (CommerceContact, error) {
		if err := lockCommerceUser(ctx, tx, workspaceID, commerceID, userID); err != nil {
			return CommerceContact{}, err
		}
		var c CommerceContact
		err := tx.GetContext(ctx, &c, `SELECT `+commerceContactColumns+` FROM commerce_user_contacts WHERE user_id = $1 AND id = $2
			FOR NO KEY UPDATE`, userID, contactID)
		if noRows(err) {
			return c, notFound("Contact")
		}
		typ = c.Type
		return c, err
	}, change, func(tx *sqlx.Tx, c *CommerceContact) (CommerceContact, error) {
		if c.IsPrimary {
			if err := clearPrimary(ctx, tx, userID, typ, contactID); err != nil {
				return CommerceContact{}, err
			}
		}
		var out CommerceContact
		err := tx.GetContext(ctx, &out, `UPDATE commerce_user_contacts SET value = $3, is_primary = $4, is_active = $5, updated_at = now()
			WHERE user_id = $1 AND id = $2 RETURNING `+commerceContactColumns, userID, contactID, c.Value, c.IsPrimary, c.IsActive)
		if isUniqueViolation(err, "commerce_user_contacts_value_key") {
			return CommerceContact{}, conflictContact(typ, c.Value)
		}
		return out, err
	})
}

// DeleteCommerceContact removes a contact. ErrNotFound as GetCommerceContact.
func (s *DB) DeleteCommerceContact(ctx context.Context, workspaceID, commerceID, userID, contactID uuid.UUID) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	res, err := s.db.ExecContext(ctx, `DELETE FROM commerce_user_contacts k USING commerce_users u, commerces c
		WHERE u.id = k.user_id AND c.id = u.commerce_id AND c.workspace_id = $1 AND u.commerce_id = $2 AND u.id = $3 AND k.id = $4`,
		workspaceID, commerceID, userID, contactID)
	return changedRow(res, err, func() error { return checkOrNotFound(ctx, s, workspaceID, commerceID, userID, "Contact") })
}
