package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// FieldDefinition is one credential or settings field a channel definition asks for.
type FieldDefinition struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// FieldDefinitions is stored as a jsonb array.
type FieldDefinitions []FieldDefinition

// Scan reads the jsonb column.
func (f *FieldDefinitions) Scan(src any) error { return scanJSON(src, f) }

// ChannelDefinition says a provider supports a channel and which fields a config for it carries.
type ChannelDefinition struct {
	ID                 uuid.UUID        `db:"id"`
	DispatchProviderID uuid.UUID        `db:"dispatch_provider_id"`
	Channel            string           `db:"channel"`
	CredentialSchema   FieldDefinitions `db:"credential_schema"`
	SettingsSchema     FieldDefinitions `db:"settings_schema"`
	CreatedAt          time.Time        `db:"created_at"`
	UpdatedAt          time.Time        `db:"updated_at"`
}

// DispatchProvider is a global provider activities can be dispatched through.
type DispatchProvider struct {
	ID                 uuid.UUID `db:"id"`
	Code               string    `db:"code"`
	Name               string    `db:"name"`
	ProtocolType       string    `db:"protocol_type"`
	IsActive           bool      `db:"is_active"`
	CreatedAt          time.Time `db:"created_at"`
	UpdatedAt          time.Time `db:"updated_at"`
	ChannelDefinitions []ChannelDefinition
}

const providerColumns = `id, code, name, protocol_type, is_active, created_at, updated_at`
const definitionColumns = `id, dispatch_provider_id, channel, credential_schema, settings_schema, created_at, updated_at`

// ListDispatchProviders returns every provider with its channel definitions, by code.
func (s *DB) ListDispatchProviders(ctx context.Context) ([]DispatchProvider, error) {
	providers := []DispatchProvider{}
	if err := s.db.SelectContext(ctx, &providers, `SELECT `+providerColumns+` FROM dispatch_providers ORDER BY code`); err != nil {
		return nil, err
	}
	var defs []ChannelDefinition
	if err := s.db.SelectContext(ctx, &defs, `SELECT `+definitionColumns+` FROM channel_definitions ORDER BY channel`); err != nil {
		return nil, err
	}
	byProvider := map[uuid.UUID][]ChannelDefinition{}
	for _, d := range defs {
		byProvider[d.DispatchProviderID] = append(byProvider[d.DispatchProviderID], d)
	}
	for i := range providers {
		providers[i].ChannelDefinitions = byProvider[providers[i].ID]
		if providers[i].ChannelDefinitions == nil {
			providers[i].ChannelDefinitions = []ChannelDefinition{}
		}
	}
	return providers, nil
}

// GetDispatchProvider returns one provider with its channel definitions, or ErrNotFound.
func (s *DB) GetDispatchProvider(ctx context.Context, id uuid.UUID) (DispatchProvider, error) {
	var p DispatchProvider
	err := s.db.GetContext(ctx, &p, `SELECT `+providerColumns+` FROM dispatch_providers WHERE id = $1`, id)
	if err != nil {
		return p, orNotFound(err, "Dispatch provider")
	}
	p.ChannelDefinitions = []ChannelDefinition{}
	err = s.db.SelectContext(ctx, &p.ChannelDefinitions, `SELECT `+definitionColumns+`
		FROM channel_definitions WHERE dispatch_provider_id = $1 ORDER BY channel`, id)
	return p, err
}

// DispatchProviderCreate is a new provider.
type DispatchProviderCreate struct {
	Code, Name, ProtocolType string
	IsActive                 bool
}

// CreateDispatchProvider adds a provider to the catalog. ErrConflict if the code is taken.
func (s *DB) CreateDispatchProvider(ctx context.Context, in DispatchProviderCreate) (DispatchProvider, error) {
	var p DispatchProvider
	err := s.db.GetContext(ctx, &p, `
		INSERT INTO dispatch_providers (id, code, name, protocol_type, is_active) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+providerColumns, newID(), in.Code, in.Name, in.ProtocolType, in.IsActive)
	if isUniqueViolation(err, "dispatch_providers_code_key") {
		return p, &Error{Kind: ErrConflict, Message: fmt.Sprintf("A dispatch provider with code %s already exists", in.Code)}
	}
	p.ChannelDefinitions = []ChannelDefinition{}
	return p, err
}

// UpdateDispatchProvider changes a provider with change, which gets it as stored (without its
// channel definitions), locked until the update commits, and may refuse by returning an error;
// its name and active flag are written back. It returns the provider as GetDispatchProvider
// does. ErrNotFound if it does not exist.
func (s *DB) UpdateDispatchProvider(ctx context.Context, id uuid.UUID, change func(*DispatchProvider) error) (DispatchProvider, error) {
	_, err := updateRow(ctx, s.db, func(tx *sqlx.Tx) (DispatchProvider, error) {
		var p DispatchProvider
		err := tx.GetContext(ctx, &p, `SELECT `+providerColumns+` FROM dispatch_providers WHERE id = $1 FOR NO KEY UPDATE`, id)
		return p, orNotFound(err, "Dispatch provider")
	}, change, func(tx *sqlx.Tx, p *DispatchProvider) (DispatchProvider, error) {
		_, err := tx.ExecContext(ctx, `UPDATE dispatch_providers SET name = $2, is_active = $3, updated_at = now() WHERE id = $1`,
			id, p.Name, p.IsActive)
		return *p, err
	})
	if err != nil {
		return DispatchProvider{}, err
	}
	return s.GetDispatchProvider(ctx, id)
}

// ListChannelDefinitions returns a provider's channel definitions, or ErrNotFound for an
// unknown provider.
func (s *DB) ListChannelDefinitions(ctx context.Context, providerID uuid.UUID) ([]ChannelDefinition, error) {
	p, err := s.GetDispatchProvider(ctx, providerID)
	return p.ChannelDefinitions, err
}

// PutChannelDefinition creates or replaces the definition of a provider's channel.
// ErrNotFound for an unknown provider.
func (s *DB) PutChannelDefinition(ctx context.Context, providerID uuid.UUID, channel string, credentials, settings FieldDefinitions) (ChannelDefinition, error) {
	var d ChannelDefinition
	cj, _ := json.Marshal(nonNil(credentials))
	sj, _ := json.Marshal(nonNil(settings))
	err := s.db.GetContext(ctx, &d, `
		INSERT INTO channel_definitions (id, dispatch_provider_id, channel, credential_schema, settings_schema)
		SELECT $1, p.id, $3, $4, $5 FROM dispatch_providers p WHERE p.id = $2
		ON CONFLICT (dispatch_provider_id, channel) DO UPDATE
		SET credential_schema = EXCLUDED.credential_schema, settings_schema = EXCLUDED.settings_schema, updated_at = now()
		RETURNING `+definitionColumns, newID(), providerID, channel, cj, sj)
	return d, orNotFound(err, "Dispatch provider")
}

func nonNil(f FieldDefinitions) FieldDefinitions {
	if f == nil {
		return FieldDefinitions{}
	}
	return f
}

// DispatchConfig is a workspace's configuration of one provider for one channel. Its
// credentials are not part of it: they are only read, decrypted, by DispatchConfigCredentials.
type DispatchConfig struct {
	ID                 uuid.UUID       `db:"id"`
	WorkspaceID        uuid.UUID       `db:"workspace_id"`
	DispatchProviderID uuid.UUID       `db:"dispatch_provider_id"`
	Channel            string          `db:"channel"`
	BaseURL            *string         `db:"base_url"`
	Settings           json.RawMessage `db:"settings"`
	IsActive           bool            `db:"is_active"`
	CreatedAt          time.Time       `db:"created_at"`
	UpdatedAt          time.Time       `db:"updated_at"`
	ProviderCode       string          `db:"provider_code"`
	ProviderName       string          `db:"provider_name"`
}

// configFrom is a config's row joined to its provider's, for configColumns.
const configFrom = ` FROM dispatch_configs c JOIN dispatch_providers p ON p.id = c.dispatch_provider_id`

const configColumns = `c.id, c.workspace_id, c.dispatch_provider_id, c.channel, c.base_url, c.settings,
	c.is_active, c.created_at, c.updated_at, p.code AS provider_code, p.name AS provider_name`

const configSelect = `SELECT ` + configColumns + configFrom

// conflictActiveConfig is the 409 of a second active config for a provider and channel.
var conflictActiveConfig = &Error{Kind: ErrConflict, Message: "An active dispatch config for this provider and channel already exists"}

// DispatchConfigCreate is a new dispatch config.
type DispatchConfigCreate struct {
	WorkspaceID        uuid.UUID
	DispatchProviderID uuid.UUID
	Channel            string
	BaseURL            *string
	Credentials        map[string]string // sealed before it is stored
	Settings           map[string]any
}

// CreateDispatchConfig stores a config with its credentials sealed. ErrConflict if the
// workspace already has an active config for the provider and channel.
func (s *DB) CreateDispatchConfig(ctx context.Context, in DispatchConfigCreate) (DispatchConfig, error) {
	id := newID()
	settings, err := json.Marshal(nonNilMap(in.Settings))
	if err != nil {
		return DispatchConfig{}, err
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO dispatch_configs (id, workspace_id, dispatch_provider_id, channel, base_url, credentials, settings)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, in.WorkspaceID, in.DispatchProviderID, in.Channel, in.BaseURL, s.sealCredentials(id, in.Credentials), settings)
	if isUniqueViolation(err, "dispatch_configs_active_key") {
		return DispatchConfig{}, conflictActiveConfig
	}
	if err != nil {
		return DispatchConfig{}, err
	}
	return s.GetDispatchConfig(ctx, in.WorkspaceID, id)
}

// GetDispatchConfig returns one config of a workspace, or ErrNotFound (also for another
// workspace's config).
func (s *DB) GetDispatchConfig(ctx context.Context, workspaceID, id uuid.UUID) (DispatchConfig, error) {
	var c DispatchConfig
	err := s.db.GetContext(ctx, &c, configSelect+` WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, id)
	return c, orNotFound(err, "Dispatch config")
}

// DispatchConfigFilter narrows ListDispatchConfigs; nil fields do not filter.
type DispatchConfigFilter struct {
	Channel  *string
	IsActive *bool
}

// ListDispatchConfigs returns a workspace's configs, oldest first.
func (s *DB) ListDispatchConfigs(ctx context.Context, workspaceID uuid.UUID, f DispatchConfigFilter) ([]DispatchConfig, error) {
	configs := []DispatchConfig{}
	err := s.db.SelectContext(ctx, &configs, configSelect+`
		WHERE c.workspace_id = $1 AND ($2::text IS NULL OR c.channel = $2) AND ($3::boolean IS NULL OR c.is_active = $3)
		ORDER BY c.id`, workspaceID, f.Channel, f.IsActive)
	return configs, err
}

// DispatchConfigEdit is what UpdateDispatchConfig's change works on: the config as stored, with
// its credentials opened (empty when it has none, nil when they cannot be opened).
type DispatchConfigEdit struct {
	DispatchConfig
	Credentials map[string]string
}

// UpdateDispatchConfig changes a workspace's config with change, which gets it as stored with
// its credentials opened, locked until the update commits, and may refuse by returning an
// error; its base URL, settings, active flag and credentials are written back, the credentials
// sealed again only when change replaced them. It returns the config as GetDispatchConfig does.
// ErrNotFound if there is none; ErrConflict if reactivating it would make a second active
// config for its provider and channel.
func (s *DB) UpdateDispatchConfig(ctx context.Context, workspaceID, id uuid.UUID, change func(*DispatchConfigEdit) error) (DispatchConfig, error) {
	var sealed []byte            // the credentials as stored
	var opened map[string]string // and as change got them
	var unreadable bool          // they could not be opened
	_, err := updateRow(ctx, s.db, func(tx *sqlx.Tx) (DispatchConfigEdit, error) {
		var row struct {
			DispatchConfig
			Sealed []byte `db:"credentials"`
		}
		err := tx.GetContext(ctx, &row, `SELECT `+configColumns+`, c.credentials`+configFrom+`
			WHERE c.workspace_id = $1 AND c.id = $2 FOR NO KEY UPDATE OF c`, workspaceID, id)
		if err != nil {
			return DispatchConfigEdit{}, orNotFound(err, "Dispatch config")
		}
		sealed = row.Sealed
		// Credentials that do not open (sealed under another key) do not stop the config's other
		// changes, deactivating it for one: change gets none, and they are kept unless it sets
		// new ones.
		if opened, err = s.openCredentials(id, sealed); err != nil {
			opened, unreadable = nil, true
		}
		return DispatchConfigEdit{DispatchConfig: row.DispatchConfig, Credentials: maps.Clone(opened)}, nil
	}, change, func(tx *sqlx.Tx, c *DispatchConfigEdit) (DispatchConfigEdit, error) {
		var creds any // NULL, or the stored bytes kept as they are
		if sealed != nil {
			creds = sealed
		}
		if unreadable && c.Credentials != nil || !unreadable && !maps.Equal(c.Credentials, opened) {
			creds = s.sealCredentials(id, c.Credentials)
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE dispatch_configs SET base_url = $3, credentials = $4, settings = $5::jsonb, is_active = $6, updated_at = now()
			WHERE workspace_id = $1 AND id = $2`,
			workspaceID, id, c.BaseURL, creds, jsonOr(c.Settings, "{}"), c.IsActive)
		if isUniqueViolation(err, "dispatch_configs_active_key") {
			return *c, conflictActiveConfig
		}
		return *c, err
	})
	if err != nil {
		return DispatchConfig{}, err
	}
	return s.GetDispatchConfig(ctx, workspaceID, id)
}

// DeactivateDispatchConfig sets a config inactive (soft delete). ErrNotFound if the workspace
// has no such config.
func (s *DB) DeactivateDispatchConfig(ctx context.Context, workspaceID, id uuid.UUID) error {
	_, err := s.UpdateDispatchConfig(ctx, workspaceID, id, func(c *DispatchConfigEdit) error {
		c.IsActive = false
		return nil
	})
	return err
}

// DispatchConfigCredentials returns a config's decrypted credentials (empty when it has none),
// for the dispatcher. ErrNotFound if the workspace has no such config.
func (s *DB) DispatchConfigCredentials(ctx context.Context, workspaceID, id uuid.UUID) (map[string]string, error) {
	var sealed []byte
	err := s.db.GetContext(ctx, &sealed, `SELECT credentials FROM dispatch_configs WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return nil, orNotFound(err, "Dispatch config")
	}
	return s.openCredentials(id, sealed)
}

// openCredentials decrypts a config's sealed credentials (empty when it has none).
func (s *DB) openCredentials(id uuid.UUID, sealed []byte) (map[string]string, error) {
	creds := map[string]string{}
	if len(sealed) == 0 {
		return creds, nil
	}
	plain, err := s.box.Open(sealed, []byte("dispatch_config:"+id.String()))
	if err != nil {
		return nil, fmt.Errorf("dispatch config %s credentials: %w", id, err)
	}
	return creds, json.Unmarshal(plain, &creds)
}

// sealCredentials encrypts credentials bound to the config's id; SQL NULL for none.
func (s *DB) sealCredentials(id uuid.UUID, creds map[string]string) any {
	if creds == nil {
		return nil
	}
	plain, _ := json.Marshal(creds) // a map of strings always marshals
	return s.box.Seal(plain, []byte("dispatch_config:"+id.String()))
}
