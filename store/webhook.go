package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
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

// LimitError says a plan limit of the workspace refuses the write: Name is the limit
// (maxApps, maxEndpoints, messagesPerMinute), Limit its value, RetryAfter when trying again may
// succeed (zero when only removing something or raising the limit helps).
type LimitError struct {
	Name       string
	Limit      int
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("plan limit reached: %s (%d)", e.Name, e.Limit)
}

// Explain says what the limit allows, in words.
func (e *LimitError) Explain() string {
	what := map[string]string{
		"maxApps":           "the workspace may have %d apps",
		"maxEndpoints":      "the workspace may have %d endpoints",
		"messagesPerMinute": "the workspace may send %d messages per minute",
	}[e.Name]
	if what == "" {
		what = e.Name + " is %d"
	}
	return fmt.Sprintf(what, e.Limit)
}

// lockWorkspaceLimits serialises, within tx, the writes of one workspace that a count limit
// applies to, so two concurrent creates cannot both take the last slot.
func lockWorkspaceLimits(ctx context.Context, tx execer, workspaceID uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('workspace_limits:' || $1::text))`, workspaceID)
	return err
}

// countLimits are the plan limits on how many rows of a kind a workspace may have: the
// limit's name (as the API shows it), its workspace_limits column, and the table counted.
var countLimits = map[string][2]string{
	"maxApps":      {"max_apps", "webhook_apps"},
	"maxEndpoints": {"max_endpoints", "webhook_endpoints"},
}

// checkCountLimit locks the workspace's count-limited writes for tx (lockWorkspaceLimits) and
// returns a *LimitError if the workspace already has as many rows as the named limit allows.
func checkCountLimit(ctx context.Context, tx *sqlx.Tx, workspaceID uuid.UUID, name string) error {
	if err := lockWorkspaceLimits(ctx, tx, workspaceID); err != nil {
		return err
	}
	l := countLimits[name]
	var over struct {
		Max *int `db:"max"`
		N   int  `db:"n"`
	}
	if err := tx.GetContext(ctx, &over, `SELECT (SELECT `+l[0]+` FROM workspace_limits WHERE workspace_id = $1) AS max,
		(SELECT count(*) FROM `+l[1]+` WHERE workspace_id = $1) AS n`, workspaceID); err != nil {
		return err
	}
	if over.Max != nil && over.N >= *over.Max {
		return &LimitError{Name: name, Limit: *over.Max}
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

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

// EventType is an event an app sends, with an optional JSON Schema for its data.
type EventType struct {
	AppID          uuid.UUID  `db:"app_id"`
	Name           string     `db:"name"`
	Description    string     `db:"description"`
	ExamplePayload JSONDoc    `db:"example_payload"`
	Schema         JSONDoc    `db:"schema"`
	ArchivedAt     *time.Time `db:"archived_at"`
	CreatedAt      time.Time  `db:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at"`
}

const eventTypeColumns = `app_id, name, description, example_payload, schema, archived_at, created_at, updated_at`

// EventTypePut is the full state PutEventType writes.
type EventTypePut struct {
	Description    string
	ExamplePayload json.RawMessage // nil = none
	Schema         json.RawMessage // nil = none
	Archived       bool
}

// PutEventType creates or replaces an event type of a workspace's app and reports whether it
// was created. ErrNotFound if there is no such app.
func (s *DB) PutEventType(ctx context.Context, workspaceID, appID uuid.UUID, name string, in EventTypePut) (EventType, bool, error) {
	var row struct {
		EventType
		Created bool `db:"created"`
	}
	err := s.db.GetContext(ctx, &row, `
		INSERT INTO webhook_event_types (app_id, name, description, example_payload, schema, archived_at)
		SELECT a.id, $3, $4, $5, $6, CASE WHEN $7 THEN now() END FROM webhook_apps a WHERE a.workspace_id = $1 AND a.id = $2
		ON CONFLICT (app_id, name) DO UPDATE SET description = EXCLUDED.description, example_payload = EXCLUDED.example_payload,
			schema = EXCLUDED.schema, archived_at = CASE WHEN $7 THEN coalesce(webhook_event_types.archived_at, now()) END,
			updated_at = now()
		RETURNING `+eventTypeColumns+`, (xmax = 0) AS created`,
		workspaceID, appID, name, in.Description, nullJSON(nonEmpty(in.ExamplePayload)), nullJSON(nonEmpty(in.Schema)), in.Archived)
	if errors.Is(err, sql.ErrNoRows) {
		return EventType{}, false, notFound("App")
	}
	return row.EventType, row.Created, err
}

// GetEventType returns an event type of a workspace's app, or ErrNotFound.
func (s *DB) GetEventType(ctx context.Context, workspaceID, appID uuid.UUID, name string) (EventType, error) {
	var et EventType
	err := s.db.GetContext(ctx, &et, `SELECT `+eventTypeColumns+` FROM webhook_event_types
		WHERE app_id = (SELECT id FROM webhook_apps WHERE workspace_id = $1 AND id = $2) AND name = $3`, workspaceID, appID, name)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
			return et, err
		}
		return et, notFound(fmt.Sprintf("Event type %s", name))
	}
	return et, err
}

// ListEventTypes returns an app's event types by name. ErrNotFound if there is no such app.
func (s *DB) ListEventTypes(ctx context.Context, workspaceID, appID uuid.UUID, archived bool) ([]EventType, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return nil, err
	}
	out := []EventType{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+eventTypeColumns+` FROM webhook_event_types
		WHERE app_id = $1 AND ($2 OR archived_at IS NULL) ORDER BY name`, appID, archived)
	return out, err
}

// ArchiveEventType archives an event type (keeping its first archive time). ErrNotFound if
// there is no such app or type.
func (s *DB) ArchiveEventType(ctx context.Context, workspaceID, appID uuid.UUID, name string) (EventType, error) {
	var et EventType
	err := s.db.GetContext(ctx, &et, `UPDATE webhook_event_types SET archived_at = coalesce(archived_at, now()), updated_at = now()
		WHERE app_id = (SELECT id FROM webhook_apps WHERE workspace_id = $1 AND id = $2) AND name = $3
		RETURNING `+eventTypeColumns, workspaceID, appID, name)
	if errors.Is(err, sql.ErrNoRows) {
		return s.GetEventType(ctx, workspaceID, appID, name)
	}
	return et, err
}

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

// StringMap is a jsonb object of strings.
type StringMap map[string]string

// Scan reads the jsonb column.
func (m *StringMap) Scan(src any) error { return scanJSON(src, m) }

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
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("App")
	}
	return r, err
}

// GetRecipient returns a recipient of a workspace's app, or ErrNotFound (naming what is missing).
func (s *DB) GetRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string) (Recipient, error) {
	var r Recipient
	err := s.db.GetContext(ctx, &r, `SELECT `+recipientColumns+` FROM webhook_recipients r JOIN webhook_apps a ON a.id = r.app_id
		WHERE a.workspace_id = $1 AND a.id = $2 AND r.recipient_id = $3`, workspaceID, appID, recipientID)
	if errors.Is(err, sql.ErrNoRows) {
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

// UpdateRecipient changes a recipient's name (when setName) and metadata (when non-nil).
func (s *DB) UpdateRecipient(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, setName bool, name *string, metadata map[string]string) (Recipient, error) {
	var meta any
	if metadata != nil {
		meta = jsonMap(metadata)
	}
	var r Recipient
	err := s.db.GetContext(ctx, &r, `
		WITH r AS (
			UPDATE webhook_recipients r SET name = CASE WHEN $4 THEN $5 ELSE r.name END, metadata = coalesce($6, r.metadata), updated_at = now()
			FROM webhook_apps a WHERE a.id = r.app_id AND a.workspace_id = $1 AND a.id = $2 AND r.recipient_id = $3
			RETURNING r.*
		) SELECT `+recipientColumns+` FROM r`, workspaceID, appID, recipientID, setName, name, meta)
	if errors.Is(err, sql.ErrNoRows) {
		return s.GetRecipient(ctx, workspaceID, appID, recipientID)
	}
	return r, err
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

// PortalTokenPrefix starts every portal session token, so the auth layer can tell one from an
// API key without a lookup.
const PortalTokenPrefix = "sb_portal_"

// PortalSession is a short-lived credential for one recipient's customer portal.
type PortalSession struct {
	ID          uuid.UUID `db:"id"`
	WorkspaceID uuid.UUID `db:"workspace_id"`
	AppID       uuid.UUID `db:"app_id"`
	RecipientID string    `db:"recipient_id"`
	ExpiresAt   time.Time `db:"expires_at"`
}

// CreatePortalSession creates a session for a recipient, valid until expiresAt, and returns
// its token (stored only as a hash).
func (s *DB) CreatePortalSession(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, expiresAt time.Time) (PortalSession, string, error) {
	r, err := s.GetRecipient(ctx, workspaceID, appID, recipientID)
	if err != nil {
		return PortalSession{}, "", err
	}
	raw := make([]byte, 30)
	_, _ = rand.Read(raw)
	token := PortalTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	ps := PortalSession{ID: newID(), WorkspaceID: workspaceID, AppID: appID, RecipientID: r.RecipientID, ExpiresAt: expiresAt}
	_, err = s.db.ExecContext(ctx, `INSERT INTO webhook_portal_sessions (id, workspace_id, app_id, recipient_pk, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, ps.ID, workspaceID, appID, r.ID, hashAPIKey(token), expiresAt)
	return ps, token, err
}

// FindPortalSession returns the session whose token is given, expired ones included (the
// caller decides). ErrNotFound if there is none (or its recipient was deleted).
func (s *DB) FindPortalSession(ctx context.Context, token string) (PortalSession, error) {
	var ps PortalSession
	err := s.db.GetContext(ctx, &ps, `SELECT p.id, p.workspace_id, p.app_id, r.recipient_id, p.expires_at
		FROM webhook_portal_sessions p JOIN webhook_recipients r ON r.id = p.recipient_pk WHERE p.token_hash = $1`, hashAPIKey(token))
	if errors.Is(err, sql.ErrNoRows) {
		return ps, notFound("Portal session")
	}
	return ps, err
}

// WorkspaceLimits are a workspace's plan limits; nil = unlimited.
type WorkspaceLimits struct {
	MaxApps           *int `db:"max_apps"`
	MaxEndpoints      *int `db:"max_endpoints"`
	MessagesPerMinute *int `db:"messages_per_minute"`
}

// GetWorkspaceLimits returns a workspace's limits. ErrNotFound if there is no such workspace.
func (s *DB) GetWorkspaceLimits(ctx context.Context, workspaceID uuid.UUID) (WorkspaceLimits, error) {
	if _, err := s.GetWorkspace(ctx, workspaceID); err != nil {
		return WorkspaceLimits{}, err
	}
	var l WorkspaceLimits
	err := s.db.GetContext(ctx, &l, `SELECT max_apps, max_endpoints, messages_per_minute FROM workspace_limits WHERE workspace_id = $1`, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return WorkspaceLimits{}, nil
	}
	return l, err
}

// SetWorkspaceLimits replaces a workspace's limits. ErrNotFound if there is no such workspace.
func (s *DB) SetWorkspaceLimits(ctx context.Context, workspaceID uuid.UUID, l WorkspaceLimits) (WorkspaceLimits, error) {
	var out WorkspaceLimits
	err := s.db.GetContext(ctx, &out, `
		INSERT INTO workspace_limits (workspace_id, max_apps, max_endpoints, messages_per_minute)
		SELECT id, $2, $3, $4 FROM workspaces WHERE id = $1
		ON CONFLICT (workspace_id) DO UPDATE SET max_apps = EXCLUDED.max_apps, max_endpoints = EXCLUDED.max_endpoints,
			messages_per_minute = EXCLUDED.messages_per_minute, updated_at = now()
		RETURNING max_apps, max_endpoints, messages_per_minute`, workspaceID, l.MaxApps, l.MaxEndpoints, l.MessagesPerMinute)
	if errors.Is(err, sql.ErrNoRows) {
		return out, notFound("Workspace")
	}
	return out, err
}

// countMessage counts one message against a per-minute limit, in its own short statement so
// the counter row is never locked for the length of a send. A *LimitError when the minute's
// budget is spent.
func (s *DB) countMessage(ctx context.Context, workspaceID uuid.UUID, limit int, now time.Time) error {
	minute := now.UTC().Truncate(time.Minute)
	var n int
	err := s.db.GetContext(ctx, &n, `
		INSERT INTO workspace_message_counts (workspace_id, minute, n) VALUES ($1, $2, 1)
		ON CONFLICT (workspace_id, minute) DO UPDATE SET n = workspace_message_counts.n + 1
		WHERE workspace_message_counts.n < $3
		RETURNING n`, workspaceID, minute, limit)
	if errors.Is(err, sql.ErrNoRows) {
		return &LimitError{Name: "messagesPerMinute", Limit: limit, RetryAfter: minute.Add(time.Minute).Sub(now)}
	}
	if err == nil && n == 1 {
		// A new minute: drop counters nobody needs any more.
		_, err = s.db.ExecContext(ctx, `DELETE FROM workspace_message_counts WHERE workspace_id = $1 AND minute < $2`, workspaceID, minute)
	}
	return err
}

func jsonMap(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// nonEmpty treats an empty document as absent.
func nonEmpty(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// JSONDoc is a JSON document read from a json or jsonb column; NULL reads as nil.
type JSONDoc []byte

// Scan copies the column's bytes.
func (j *JSONDoc) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSONDoc(nil), v...)
	case string:
		*j = JSONDoc(v)
	default:
		return fmt.Errorf("store: cannot scan %T as JSON", src)
	}
	return nil
}
