package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Setting visibilities; an item that is not VisibilityPublic is write-only.
const VisibilityPublic = "public"

// ChannelDeleted is the status a deleted channel has.
const ChannelDeleted = "deleted"

// Setting is one item of a channel's settings or connection params. The Value of an item that
// is not public is stored sealed; channels read with GetChannel or ListChannels leave it empty.
type Setting struct {
	Key         string  `json:"key"`
	Value       string  `json:"value,omitempty"`
	DisplayName *string `json:"displayName,omitempty"`
	Description *string `json:"description,omitempty"`
	Visibility  string  `json:"visibility"`
}

// Public reports whether the item's value may be shown.
func (s Setting) Public() bool { return s.Visibility == VisibilityPublic }

// Settings is stored as a jsonb array.
type Settings []Setting

// Scan reads the jsonb column.
func (s *Settings) Scan(src any) error { return scanJSON(src, s) }

// Channel is the installation of a messaging platform for a workspace.
type Channel struct {
	ID                                uuid.UUID      `db:"id"`
	WorkspaceID                       uuid.UUID      `db:"workspace_id"`
	PlatformID                        string         `db:"platform_id"`
	Name                              string         `db:"name"`
	ConnectorID                       uuid.UUID      `db:"connector_id"`
	Identifier                        *string        `db:"identifier"`
	Status                            string         `db:"status"`
	ContactIdentifierKeyOverride      *string        `db:"contact_identifier_key_override"`
	ContactIdentifierFormatOverride   JSONDoc        `db:"contact_identifier_format_override"`
	PlatformServiceURLOverride        *string        `db:"platform_service_url_override"`
	PlatformServiceVersionOverride    *string        `db:"platform_service_version_override"`
	PlatformServiceProtocolOverride   *string        `db:"platform_service_protocol_override"`
	PlatformMessageJSONSchemaOverride JSONDoc        `db:"platform_message_json_schema_override"`
	PlatformTemplateEngineOverride    *string        `db:"platform_template_engine_override"`
	Capabilities                      JSONDoc        `db:"capabilities"`
	Settings                          Settings       `db:"settings"`
	ConnectionParams                  Settings       `db:"connection_params"`
	Preferences                       JSONDoc        `db:"preferences"`
	UseCaseID                         *string        `db:"use_case_id"`
	UseCaseType                       *string        `db:"use_case_type"`
	ChannelMessageType                *string        `db:"channel_message_type"`
	Suites                            pq.StringArray `db:"suites"`
	CreatedAt                         time.Time      `db:"created_at"`
	UpdatedAt                         time.Time      `db:"updated_at"`
}

const channelColumns = `id, workspace_id, platform_id, name, connector_id, identifier, status,
	contact_identifier_key_override, contact_identifier_format_override, platform_service_url_override,
	platform_service_version_override, platform_service_protocol_override, platform_message_json_schema_override,
	platform_template_engine_override, capabilities, settings, connection_params, preferences, use_case_id,
	use_case_type, channel_message_type, suites, created_at, updated_at`

// channelSecrets is what a channel's secrets column holds once opened.
type channelSecrets struct {
	Settings         map[string]string `json:"settings,omitempty"`
	ConnectionParams map[string]string `json:"connectionParams,omitempty"`
}

func channelAAD(id uuid.UUID) []byte { return []byte("channel:" + id.String()) }

// splitSecrets returns the items as stored in the clear (non-public values left out) and the
// non-public values by key.
func splitSecrets(items Settings) (Settings, map[string]string) {
	clear := make(Settings, 0, len(items))
	var secret map[string]string
	for _, it := range items {
		if !it.Public() {
			if secret == nil {
				secret = map[string]string{}
			}
			secret[it.Key] = it.Value
			it.Value = ""
		}
		clear = append(clear, it)
	}
	return clear, secret
}

// channelValues are c as written, the arguments $3 to $23 of CreateChannel's INSERT and
// UpdateChannel's UPDATE (platform_id to suites, in that order), with the values of its
// non-public settings and connection params sealed into secrets.
func (s *DB) channelValues(c *Channel) []any {
	settings, secretSettings := splitSecrets(c.Settings)
	params, secretParams := splitSecrets(c.ConnectionParams)
	settingsJSON, _ := json.Marshal(settings) // items of strings always marshal
	paramsJSON, _ := json.Marshal(params)
	var secrets []byte
	if secretSettings != nil || secretParams != nil {
		plain, _ := json.Marshal(channelSecrets{Settings: secretSettings, ConnectionParams: secretParams}) // maps of strings always marshal
		secrets = s.box.Seal(plain, channelAAD(c.ID))
	}
	return []any{c.PlatformID, c.Name, c.ConnectorID, c.Identifier, c.Status,
		c.ContactIdentifierKeyOverride, nullJSON(c.ContactIdentifierFormatOverride), c.PlatformServiceURLOverride,
		c.PlatformServiceVersionOverride, c.PlatformServiceProtocolOverride, nullJSON(c.PlatformMessageJSONSchemaOverride),
		c.PlatformTemplateEngineOverride, nullJSON(c.Capabilities), string(settingsJSON), string(paramsJSON), secrets,
		nullJSON(c.Preferences), c.UseCaseID, c.UseCaseType, c.ChannelMessageType, pq.StringArray(nonNilStrings(c.Suites))}
}

func conflictConnector(id uuid.UUID) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf("Connector %s already has a channel", id)}
}

// CreateChannel stores a new channel (c.ID and the timestamps are set here), sealing the
// values of settings and connection params that are not public. ErrConflict if the connector
// already has a live channel.
func (s *DB) CreateChannel(ctx context.Context, c Channel) (Channel, error) {
	c.ID = newID()
	var out Channel
	err := s.db.GetContext(ctx, &out, `
		INSERT INTO channels (id, workspace_id, platform_id, name, connector_id, identifier, status,
			contact_identifier_key_override, contact_identifier_format_override, platform_service_url_override,
			platform_service_version_override, platform_service_protocol_override, platform_message_json_schema_override,
			platform_template_engine_override, capabilities, settings, connection_params, secrets, preferences,
			use_case_id, use_case_type, channel_message_type, suites)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
		RETURNING `+channelColumns,
		append([]any{c.ID, c.WorkspaceID}, s.channelValues(&c)...)...)
	if isUniqueViolation(err, "channels_connector_key") {
		return Channel{}, conflictConnector(c.ConnectorID)
	}
	return out, err
}

// GetChannel returns one channel of a workspace (deleted ones too), or ErrNotFound.
func (s *DB) GetChannel(ctx context.Context, workspaceID, id uuid.UUID) (Channel, error) {
	var c Channel
	err := s.db.GetContext(ctx, &c, `SELECT `+channelColumns+` FROM channels WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return c, orNotFound(err, "Channel")
}

// errChannelDeleted refuses changes to a deleted channel, and messages on one.
var errChannelDeleted = &Error{Kind: ErrConflict, Message: "The channel is deleted"}

// UpdateChannel changes a channel with change, which gets it as stored, the values of its
// non-public settings and connection params opened, locked until the update commits, and may
// refuse by returning an error; what it leaves in the channel is written back (ID, WorkspaceID
// and CreatedAt excepted). ErrNotFound if there is no such channel, ErrConflict if it is deleted
// or the connector is taken.
func (s *DB) UpdateChannel(ctx context.Context, workspaceID, id uuid.UUID, change func(*Channel) error) (Channel, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Channel, error) {
		var cur Channel
		var sealed []byte
		err := tx.QueryRowxContext(ctx, `SELECT `+channelColumns+`, secrets FROM channels WHERE workspace_id = $1 AND id = $2
			FOR NO KEY UPDATE`, workspaceID, id).Scan(channelScanTargets(&cur, &sealed)...)
		if err != nil {
			return Channel{}, orNotFound(err, "Channel")
		}
		if cur.Status == ChannelDeleted {
			return Channel{}, errChannelDeleted
		}
		return cur, s.openChannelSecrets(&cur, sealed)
	}, change, func(tx *sqlx.Tx, cur *Channel) (Channel, error) {
		var out Channel
		err := tx.GetContext(ctx, &out, `
			UPDATE channels SET platform_id = $3, name = $4, connector_id = $5, identifier = $6, status = $7,
				contact_identifier_key_override = $8, contact_identifier_format_override = $9, platform_service_url_override = $10,
				platform_service_version_override = $11, platform_service_protocol_override = $12,
				platform_message_json_schema_override = $13, platform_template_engine_override = $14, capabilities = $15,
				settings = $16, connection_params = $17, secrets = $18, preferences = $19, use_case_id = $20,
				use_case_type = $21, channel_message_type = $22, suites = $23, updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+channelColumns,
			append([]any{workspaceID, id}, s.channelValues(cur)...)...)
		if isUniqueViolation(err, "channels_connector_key") {
			return Channel{}, conflictConnector(cur.ConnectorID)
		}
		return out, err
	})
}

// channelScanTargets lists c's fields in channelColumns order, then extra.
func channelScanTargets(c *Channel, extra ...any) []any {
	return append([]any{&c.ID, &c.WorkspaceID, &c.PlatformID, &c.Name, &c.ConnectorID, &c.Identifier, &c.Status,
		&c.ContactIdentifierKeyOverride, &c.ContactIdentifierFormatOverride, &c.PlatformServiceURLOverride,
		&c.PlatformServiceVersionOverride, &c.PlatformServiceProtocolOverride, &c.PlatformMessageJSONSchemaOverride,
		&c.PlatformTemplateEngineOverride, &c.Capabilities, &c.Settings, &c.ConnectionParams, &c.Preferences, &c.UseCaseID,
		&c.UseCaseType, &c.ChannelMessageType, &c.Suites, &c.CreatedAt, &c.UpdatedAt}, extra...)
}

// openChannelSecrets puts the sealed values back into the channel's non-public items.
func (s *DB) openChannelSecrets(c *Channel, sealed []byte) error {
	if len(sealed) == 0 {
		return nil
	}
	plain, err := s.box.Open(sealed, channelAAD(c.ID))
	if err != nil {
		return fmt.Errorf("channel %s secrets: %w", c.ID, err)
	}
	var sec channelSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return fmt.Errorf("channel %s secrets: %w", c.ID, err)
	}
	fill := func(items Settings, values map[string]string) {
		for i := range items {
			if !items[i].Public() {
				items[i].Value = values[items[i].Key]
			}
		}
	}
	fill(c.Settings, sec.Settings)
	fill(c.ConnectionParams, sec.ConnectionParams)
	return nil
}

// ChannelSecrets returns a channel's settings and connection params with the values of the
// non-public items opened, for what sends messages through the channel. ErrNotFound if the
// workspace has no such channel.
func (s *DB) ChannelSecrets(ctx context.Context, workspaceID, id uuid.UUID) (settings, connectionParams Settings, err error) {
	var c Channel
	var sealed []byte
	err = s.db.QueryRowxContext(ctx, `SELECT `+channelColumns+`, secrets FROM channels WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id).Scan(channelScanTargets(&c, &sealed)...)
	if err != nil {
		return nil, nil, orNotFound(err, "Channel")
	}
	if err := s.openChannelSecrets(&c, sealed); err != nil {
		return nil, nil, err
	}
	return c.Settings, c.ConnectionParams, nil
}

// DeleteChannel sets a channel's status to deleted (again for a deleted one: no change).
// ErrNotFound if the workspace has no such channel.
func (s *DB) DeleteChannel(ctx context.Context, workspaceID, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE channels SET status = 'deleted', updated_at = CASE WHEN status = 'deleted' THEN updated_at ELSE now() END
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return changedRow(res, err, func() error { return notFound("Channel") })
}

// ChannelFilter selects channels; empty fields select everything. Without Statuses, deleted
// channels are left out.
type ChannelFilter struct {
	Platforms   []string
	Statuses    []string
	UseCaseType *string
	IDs         []uuid.UUID
	// Voice keeps only channels with a voice capability.
	Voice bool
}

// ListChannels returns up to limit channels of a workspace matching f, by id (creation
// order; newest first when reverse), starting after the channel with id after (uuid.Nil:
// from the start). Keyset pagination: a walk never repeats or skips a channel that exists
// throughout it, whatever else is created or deleted meanwhile.
func (s *DB) ListChannels(ctx context.Context, workspaceID uuid.UUID, f ChannelFilter, after uuid.UUID, reverse bool, limit int) ([]Channel, error) {
	cmp, order := keysetOrder(reverse)
	ids := make([]string, len(f.IDs))
	for i, id := range f.IDs {
		ids[i] = id.String()
	}
	out := []Channel{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+channelColumns+` FROM channels
		WHERE workspace_id = $1
		  AND (cardinality($2::text[]) = 0 OR platform_id = ANY ($2))
		  AND CASE WHEN cardinality($3::text[]) = 0 THEN status <> 'deleted' ELSE status = ANY ($3) END
		  AND ($4::text IS NULL OR use_case_type = $4)
		  AND (cardinality($5::uuid[]) = 0 OR id = ANY ($5))
		  AND (NOT $6 OR capabilities -> 'voice' IS NOT NULL)
		  AND ($7::uuid IS NULL OR id `+cmp+` $7)
		ORDER BY id `+order+` LIMIT $8`,
		workspaceID, pq.StringArray(nonNilStrings(f.Platforms)), pq.StringArray(nonNilStrings(f.Statuses)), f.UseCaseType,
		pq.StringArray(ids), f.Voice, nullUUID(after), limit)
	return out, err
}
