package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

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
	if noRows(err) {
		return EventType{}, false, notFound("App")
	}
	return row.EventType, row.Created, err
}

// GetEventType returns an event type of a workspace's app, or ErrNotFound.
func (s *DB) GetEventType(ctx context.Context, workspaceID, appID uuid.UUID, name string) (EventType, error) {
	var et EventType
	err := s.db.GetContext(ctx, &et, `SELECT `+eventTypeColumns+` FROM webhook_event_types
		WHERE app_id = (SELECT id FROM webhook_apps WHERE workspace_id = $1 AND id = $2) AND name = $3`, workspaceID, appID, name)
	if noRows(err) {
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
	if noRows(err) {
		return s.GetEventType(ctx, workspaceID, appID, name)
	}
	return et, err
}
