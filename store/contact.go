package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// ContactIdentifier is one way to reach a contact: a phone number, an email address, a
// platform's user id.
type ContactIdentifier struct {
	Key   string `db:"key"`
	Value string `db:"value"`
}

// Contact is a person a workspace talks to through its channels.
type Contact struct {
	ID          uuid.UUID       `db:"id"`
	WorkspaceID uuid.UUID       `db:"workspace_id"`
	DisplayName *string         `db:"display_name"`
	Attributes  json.RawMessage `db:"attributes"`
	CreatedAt   time.Time       `db:"created_at"`
	UpdatedAt   time.Time       `db:"updated_at"`
	Identifiers []ContactIdentifier
}

const contactColumns = `id, workspace_id, display_name, attributes, created_at, updated_at`

// ContactCreate is a new contact.
type ContactCreate struct {
	WorkspaceID uuid.UUID
	DisplayName *string
	Attributes  map[string]any
	Identifiers []ContactIdentifier
}

// CreateContact stores a contact with its identifiers. ErrConflict if an identifier already
// belongs to a contact of the workspace.
func (s *DB) CreateContact(ctx context.Context, in ContactCreate) (Contact, error) {
	attrs, err := json.Marshal(nonNilMap(in.Attributes))
	if err != nil {
		return Contact{}, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Contact{}, err
	}
	defer tx.Rollback()
	var c Contact
	if err := tx.GetContext(ctx, &c, `INSERT INTO contacts (id, workspace_id, display_name, attributes)
		VALUES ($1, $2, $3, $4) RETURNING `+contactColumns, newID(), in.WorkspaceID, in.DisplayName, attrs); err != nil {
		return Contact{}, err
	}
	keys := make([]string, len(in.Identifiers))
	values := make([]string, len(in.Identifiers))
	for i, id := range in.Identifiers {
		keys[i], values[i] = id.Key, id.Value
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO contact_identifiers (contact_id, workspace_id, position, key, value)
		SELECT $1, $2, i.n, i.key, i.value FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS i (key, value, n)`,
		c.ID, in.WorkspaceID, pq.StringArray(keys), pq.StringArray(values))
	if isUniqueViolation(err, "contact_identifiers_value_key") {
		var taken ContactIdentifier
		// Name the identifier that is taken (the first, if several are).
		_ = s.db.GetContext(ctx, &taken, `SELECT key, value FROM contact_identifiers
			WHERE workspace_id = $1 AND (key, value) IN (SELECT * FROM unnest($2::text[], $3::text[])) LIMIT 1`,
			in.WorkspaceID, pq.StringArray(keys), pq.StringArray(values))
		return Contact{}, &Error{Kind: ErrConflict, Message: fmt.Sprintf("Identifier %s %s already belongs to another contact", taken.Key, taken.Value)}
	}
	if err != nil {
		return Contact{}, err
	}
	if err := tx.Commit(); err != nil {
		return Contact{}, err
	}
	c.Identifiers = append([]ContactIdentifier{}, in.Identifiers...)
	return c, nil
}

// GetContact returns one contact of a workspace with its identifiers, or ErrNotFound.
func (s *DB) GetContact(ctx context.Context, workspaceID, id uuid.UUID) (Contact, error) {
	var c Contact
	err := s.db.GetContext(ctx, &c, `SELECT `+contactColumns+` FROM contacts WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return c, orNotFound(err, "Contact")
	}
	cs := []Contact{c}
	if err := s.loadIdentifiers(ctx, cs); err != nil {
		return c, err
	}
	return cs[0], nil
}

// ListContacts returns up to limit contacts of a workspace by id (creation order; newest
// first when reverse), after the contact with id after (uuid.Nil: from the start); with
// identifierValue, only the contacts having an identifier of that value.
func (s *DB) ListContacts(ctx context.Context, workspaceID uuid.UUID, identifierValue *string, after uuid.UUID, reverse bool, limit int) ([]Contact, error) {
	cmp, order := keysetOrder(reverse)
	out := []Contact{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+contactColumns+` FROM contacts c
		WHERE workspace_id = $1
		  AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM contact_identifiers i
		       WHERE i.workspace_id = $1 AND i.value = $2 AND i.contact_id = c.id))
		  AND ($3::uuid IS NULL OR id `+cmp+` $3)
		ORDER BY id `+order+` LIMIT $4`, workspaceID, identifierValue, nullUUID(after), limit)
	if err != nil {
		return nil, err
	}
	return out, s.loadIdentifiers(ctx, out)
}

func (s *DB) loadIdentifiers(ctx context.Context, cs []Contact) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i := range cs {
		ids[i] = cs[i].ID.String()
		cs[i].Identifiers = []ContactIdentifier{}
	}
	var rows []struct {
		ContactID uuid.UUID `db:"contact_id"`
		ContactIdentifier
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT contact_id, key, value FROM contact_identifiers
		WHERE contact_id = ANY ($1::uuid[]) ORDER BY contact_id, position`, pq.StringArray(ids)); err != nil {
		return err
	}
	at := make(map[uuid.UUID]int, len(cs))
	for i := range cs {
		at[cs[i].ID] = i
	}
	for _, r := range rows {
		i := at[r.ContactID]
		cs[i].Identifiers = append(cs[i].Identifiers, r.ContactIdentifier)
	}
	return nil
}

// InboundMessage is a message a contact sent on a channel.
type InboundMessage struct {
	ID              uuid.UUID `db:"id"`
	WorkspaceID     uuid.UUID `db:"workspace_id"`
	ChannelID       uuid.UUID `db:"channel_id"`
	ContactID       uuid.UUID `db:"contact_id"`
	IdentifierValue *string   `db:"identifier_value"`
	Text            *string   `db:"text"`
	ReceivedAt      time.Time `db:"received_at"`
	CreatedAt       time.Time `db:"created_at"`
}

// CreateInboundMessage records a message from a contact on a channel. ErrNotFound if the
// workspace has no such channel or contact, ErrConflict if the channel is deleted, ErrInvalid
// if the identifier value is not one of the contact's.
func (s *DB) CreateInboundMessage(ctx context.Context, m InboundMessage) (InboundMessage, error) {
	var status string
	err := s.db.GetContext(ctx, &status, `SELECT status FROM channels WHERE workspace_id = $1 AND id = $2`, m.WorkspaceID, m.ChannelID)
	if err != nil {
		return m, orNotFound(err, "Channel")
	}
	if status == ChannelDeleted {
		return m, errChannelDeleted
	}
	if err := s.checkIdentifier(ctx, m.WorkspaceID, m.ContactID, m.IdentifierValue); err != nil {
		if errors.Is(err, errNoIdentifier) {
			return m, &Error{Kind: ErrInvalid, Message: "identifierValue is not an identifier of the contact"}
		}
		return m, err
	}
	var out InboundMessage
	err = s.db.GetContext(ctx, &out, `
		INSERT INTO channel_inbound_messages (id, workspace_id, channel_id, contact_id, identifier_value, text, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id, workspace_id, channel_id, contact_id, identifier_value, text, received_at, created_at`,
		newID(), m.WorkspaceID, m.ChannelID, m.ContactID, m.IdentifierValue, m.Text, m.ReceivedAt)
	return out, err
}

var errNoIdentifier = errors.New("no such identifier")

// checkIdentifier returns ErrNotFound if the workspace has no such contact and errNoIdentifier
// if value (when not nil) is not one of its identifiers.
func (s *DB) checkIdentifier(ctx context.Context, workspaceID, contactID uuid.UUID, value *string) error {
	var found struct {
		Contact    bool `db:"contact"`
		Identifier bool `db:"identifier"`
	}
	err := s.db.GetContext(ctx, &found, `
		SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = $1 AND id = $2) AS contact,
		       $3::text IS NULL OR EXISTS (SELECT 1 FROM contact_identifiers WHERE contact_id = $2 AND value = $3) AS identifier`,
		workspaceID, contactID, value)
	switch {
	case err != nil:
		return err
	case !found.Contact:
		return notFound("Contact")
	case !found.Identifier:
		return errNoIdentifier
	}
	return nil
}

// LastInboundMessageAt returns when the contact's latest message on the channel was received
// (nil if it never wrote), counting only messages from identifierValue when that is not nil.
// ErrNotFound if the workspace has no such contact, or the identifier is not the contact's.
func (s *DB) LastInboundMessageAt(ctx context.Context, workspaceID, channelID, contactID uuid.UUID, identifierValue *string) (*time.Time, error) {
	if err := s.checkIdentifier(ctx, workspaceID, contactID, identifierValue); err != nil {
		if errors.Is(err, errNoIdentifier) {
			return nil, notFound("Contact identifier")
		}
		return nil, err
	}
	var last *time.Time
	err := s.db.GetContext(ctx, &last, `SELECT max(received_at) FROM channel_inbound_messages
		WHERE channel_id = $1 AND contact_id = $2 AND ($3::text IS NULL OR identifier_value = $3)`,
		channelID, contactID, identifierValue)
	return last, err
}
