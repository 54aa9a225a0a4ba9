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

// Destination authentication types.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthAPIKey = "api_key"
)

// DestinationAuth is how forwarded requests authenticate to a destination: a bearer token,
// basic credentials (Username and Secret, the password) or an API key sent in Header.
type DestinationAuth struct {
	Type     string
	Username string
	Header   string
	Secret   string
}

func destinationAAD(id uuid.UUID) []byte { return []byte("ingest_destination:" + id.String()) }

func destinationAuthAAD(id uuid.UUID) []byte { return []byte("ingest_destination_auth:" + id.String()) }

// authConfig is the non-secret part of a destination's authentication, as stored.
type authConfig struct {
	Username string `json:"username,omitempty"`
	Header   string `json:"header,omitempty"`
}

// openAuth decrypts a destination's authentication; nil when it has none.
func (s *DB) openAuth(id uuid.UUID, typ *string, config, sealed []byte) (*DestinationAuth, error) {
	if typ == nil {
		return nil, nil
	}
	a := &DestinationAuth{Type: *typ}
	var c authConfig
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, err
		}
	}
	a.Username, a.Header = c.Username, c.Header
	secret, err := s.box.Open(sealed, destinationAuthAAD(id))
	if err != nil {
		return nil, fmt.Errorf("open destination auth: %w", err)
	}
	a.Secret = string(secret)
	return a, nil
}

// Destination is a URL of a workspace that the events of its sources are forwarded to.
type Destination struct {
	ID                 uuid.UUID      `db:"id"`
	WorkspaceID        uuid.UUID      `db:"workspace_id"`
	Name               string         `db:"name"`
	URL                string         `db:"url"`
	SourceIDs          pq.StringArray `db:"source_ids"`
	EventTypes         pq.StringArray `db:"event_types"`
	BodyFilter         JSONDoc        `db:"body_filter"`
	Headers            StringMap      `db:"headers"`
	AuthType           *string        `db:"auth_type"`
	AuthConfig         JSONDoc        `db:"auth_config"`
	Status             string         `db:"status"`
	DisabledReason     *string        `db:"disabled_reason"`
	MaxAttempts        int            `db:"max_attempts"`
	RateLimitPerMinute *int           `db:"rate_limit_per_minute"`
	FailingSince       *time.Time     `db:"failing_since"`
	CreatedAt          time.Time      `db:"created_at"`
	UpdatedAt          time.Time      `db:"updated_at"`
	// Auth, when set by a change, replaces the destination's authentication (ClearAuth removes it).
	Auth      *DestinationAuth `db:"-"`
	ClearAuth bool             `db:"-"`
}

// AuthUsername and AuthHeader are the non-secret parts of a destination's authentication.
func (d Destination) AuthUsername() string { return d.authConfig().Username }

// AuthHeader is an api_key authentication's header.
func (d Destination) AuthHeader() string { return d.authConfig().Header }

func (d Destination) authConfig() authConfig {
	var c authConfig
	_ = json.Unmarshal(d.AuthConfig, &c)
	return c
}

const destinationColumns = `t.id, t.workspace_id, t.name, t.url,
	coalesce((SELECT array_agg(ds.source_id::text ORDER BY ds.source_id) FROM ingest_destination_sources ds WHERE ds.destination_id = t.id), '{}') AS source_ids,
	t.event_types, t.body_filter, t.headers, t.auth_type, t.auth_config, t.status, t.disabled_reason, t.max_attempts,
	t.rate_limit_per_minute, t.failing_since, t.created_at, t.updated_at`

// DestinationCreate is a new destination.
type DestinationCreate struct {
	Name, URL          string
	SourceIDs          []uuid.UUID
	EventTypes         []string
	BodyFilter         json.RawMessage
	Headers            map[string]string
	Auth               *DestinationAuth
	Paused             bool
	MaxAttempts        int
	RateLimitPerMinute *int
	Secret             string // "" = generate one
}

func uuidStrings(ids []uuid.UUID) pq.StringArray {
	out := make(pq.StringArray, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// setDestinationSources makes sources the destination's, in tx; a source that is not the
// workspace's is an ErrInvalid naming it.
func setDestinationSources(ctx context.Context, tx *sqlx.Tx, workspaceID, id uuid.UUID, sources []uuid.UUID) error {
	var unknown []string
	if err := tx.SelectContext(ctx, &unknown, `SELECT x FROM unnest($2::text[]) AS x
		WHERE NOT EXISTS (SELECT 1 FROM ingest_sources s WHERE s.workspace_id = $1 AND s.id = x::uuid)`,
		workspaceID, uuidStrings(sources)); err != nil {
		return err
	}
	if len(unknown) > 0 {
		return &Error{Kind: ErrInvalid, Message: "sourceIds: " + unknown[0] + " is not a source of this workspace"}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ingest_destination_sources WHERE destination_id = $1 AND NOT (source_id = ANY($2::uuid[]))`,
		id, uuidStrings(sources)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ingest_destination_sources (destination_id, source_id)
		SELECT $1, x::uuid FROM unnest($2::text[]) AS x ORDER BY 2 ON CONFLICT DO NOTHING`, id, uuidStrings(sources))
	return err
}

// sealAuth returns an authentication's stored columns: type, config and sealed secret.
func (s *DB) sealAuth(id uuid.UUID, a *DestinationAuth) (typ, config, secret any) {
	if a == nil {
		return nil, nil, nil
	}
	return a.Type, jsonValue(authConfig{Username: a.Username, Header: a.Header}), s.box.Seal([]byte(a.Secret), destinationAuthAAD(id))
}

// CreateDestination creates a destination receiving from sources.
func (s *DB) CreateDestination(ctx context.Context, workspaceID uuid.UUID, in DestinationCreate) (Destination, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Destination{}, err
	}
	defer tx.Rollback()
	id := newID()
	if in.Secret == "" {
		in.Secret = NewWebhookSecret()
	}
	status := EndpointActive
	if in.Paused {
		status = EndpointPaused
	}
	authType, authConf, authSecret := s.sealAuth(id, in.Auth)
	if _, err := tx.ExecContext(ctx, `INSERT INTO ingest_destinations (id, workspace_id, name, url, event_types, body_filter, headers,
			auth_type, auth_config, auth_secret, status, max_attempts, rate_limit_per_minute, secret)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		id, workspaceID, in.Name, in.URL, pq.StringArray(nonNilStrings(in.EventTypes)), nullJSON(nonEmpty(in.BodyFilter)), jsonMap(in.Headers),
		authType, authConf, authSecret, status, in.MaxAttempts, in.RateLimitPerMinute, s.box.Seal([]byte(in.Secret), destinationAAD(id))); err != nil {
		return Destination{}, err
	}
	if err := setDestinationSources(ctx, tx, workspaceID, id, in.SourceIDs); err != nil {
		return Destination{}, err
	}
	var d Destination
	if err := tx.GetContext(ctx, &d, `SELECT `+destinationColumns+` FROM ingest_destinations t WHERE t.id = $1`, id); err != nil {
		return Destination{}, err
	}
	return d, tx.Commit()
}

// GetDestination returns a workspace's destination, or ErrNotFound.
func (s *DB) GetDestination(ctx context.Context, workspaceID, id uuid.UUID) (Destination, error) {
	var d Destination
	err := s.db.GetContext(ctx, &d, `SELECT `+destinationColumns+` FROM ingest_destinations t WHERE t.workspace_id = $1 AND t.id = $2`,
		workspaceID, id)
	return d, orNotFound(err, "Destination")
}

// ListDestinations returns up to limit destinations created after the one with id after,
// oldest first; only those receiving from sourceID when it is not uuid.Nil.
func (s *DB) ListDestinations(ctx context.Context, workspaceID, after, sourceID uuid.UUID, limit int) ([]Destination, error) {
	out := []Destination{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+destinationColumns+` FROM ingest_destinations t
		WHERE t.workspace_id = $1 AND t.id > $2
			AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM ingest_destination_sources ds WHERE ds.destination_id = t.id AND ds.source_id = $3))
		ORDER BY t.id LIMIT $4`, workspaceID, after, nullUUID(sourceID), limit)
	return out, err
}

// UpdateDestination changes a destination with change (the update convention: it gets the
// row as stored, locked, and may refuse), writing back its name, URL, sources, filters,
// headers, authentication (Auth replaces it, ClearAuth removes it), status, attempt budget and
// rate limit. As for endpoints: a disabled destination always has a reason, moving to active
// clears the failure record, and one left active has its held deliveries released with their
// jobs, in the same transaction.
func (s *DB) UpdateDestination(ctx context.Context, workspaceID, id uuid.UUID, change func(*Destination) error) (Destination, error) {
	var was string
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Destination, error) {
		var d Destination
		err := tx.GetContext(ctx, &d, `SELECT `+destinationColumns+` FROM ingest_destinations t WHERE t.workspace_id = $1 AND t.id = $2
			FOR NO KEY UPDATE OF t`, workspaceID, id)
		was = d.Status
		return d, orNotFound(err, "Destination")
	}, change, func(tx *sqlx.Tx, d *Destination) (Destination, error) {
		reason := d.DisabledReason
		switch {
		case d.Status != EndpointDisabled:
			reason = nil
		case reason == nil:
			r := "Disabled through the API"
			reason = &r
		}
		if d.Status == EndpointActive && was != EndpointActive {
			d.FailingSince = nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ingest_destinations SET name = $2, url = $3, event_types = $4, body_filter = $5,
				headers = $6, status = $7, disabled_reason = $8, failing_since = $9, max_attempts = $10, rate_limit_per_minute = $11,
				updated_at = now() WHERE id = $1`,
			id, d.Name, d.URL, pq.StringArray(nonNilStrings(d.EventTypes)), nullJSON(nonEmpty(json.RawMessage(d.BodyFilter))),
			jsonMap(d.Headers), d.Status, reason, d.FailingSince, d.MaxAttempts, d.RateLimitPerMinute); err != nil {
			return Destination{}, err
		}
		if d.Auth != nil || d.ClearAuth {
			authType, authConf, authSecret := s.sealAuth(id, d.Auth)
			if _, err := tx.ExecContext(ctx, `UPDATE ingest_destinations SET auth_type = $2, auth_config = $3, auth_secret = $4 WHERE id = $1`,
				id, authType, authConf, authSecret); err != nil {
				return Destination{}, err
			}
		}
		ids := make([]uuid.UUID, 0, len(d.SourceIDs))
		for _, sid := range d.SourceIDs {
			u, err := uuid.Parse(sid)
			if err != nil {
				return Destination{}, &Error{Kind: ErrInvalid, Message: "sourceIds: " + sid + " is not a source id"}
			}
			ids = append(ids, u)
		}
		if err := setDestinationSources(ctx, tx, workspaceID, id, ids); err != nil {
			return Destination{}, err
		}
		if d.Status == EndpointActive {
			var held []uuid.UUID
			if err := tx.SelectContext(ctx, &held, `UPDATE webhook_deliveries SET status = 'pending', updated_at = now()
				WHERE destination_id = $1 AND status = 'held' RETURNING id`, id); err != nil {
				return Destination{}, err
			}
			if err := s.insertDeliveryJobs(ctx, tx, held, TriggerScheduled); err != nil {
				return Destination{}, err
			}
		}
		var out Destination
		err := tx.GetContext(ctx, &out, `SELECT `+destinationColumns+` FROM ingest_destinations t WHERE t.id = $1`, id)
		return out, err
	})
}

// DeleteDestination deletes a destination with its deliveries, attempts and issues.
func (s *DB) DeleteDestination(ctx context.Context, workspaceID, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM ingest_destinations WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Destination")
	}
	return nil
}

// GetDestinationSecrets returns a destination's signing secrets.
func (s *DB) GetDestinationSecrets(ctx context.Context, workspaceID, id uuid.UUID) (EndpointSecrets, error) {
	var row struct {
		Secret []byte `db:"secret"`
		Old    []byte `db:"old_secrets"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT secret, old_secrets FROM ingest_destinations WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return EndpointSecrets{}, orNotFound(err, "Destination")
	}
	return s.openSecrets(destinationAAD(id), row.Secret, row.Old, s.now())
}

// RotateDestinationSecret makes key (or a new secret when "") the destination's signing
// secret; the previous one keeps signing for SecretRotationGrace.
func (s *DB) RotateDestinationSecret(ctx context.Context, workspaceID, id uuid.UUID, key string) (EndpointSecrets, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return EndpointSecrets{}, err
	}
	defer tx.Rollback()
	var row struct {
		Secret []byte `db:"secret"`
		Old    []byte `db:"old_secrets"`
	}
	if err := tx.GetContext(ctx, &row, `SELECT secret, old_secrets FROM ingest_destinations WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
		workspaceID, id); err != nil {
		return EndpointSecrets{}, orNotFound(err, "Destination")
	}
	now := s.now()
	cur, err := s.openSecrets(destinationAAD(id), row.Secret, row.Old, now)
	if err != nil {
		return EndpointSecrets{}, err
	}
	if key == "" {
		key = NewWebhookSecret()
	}
	old := append([]OldSecret{{Key: cur.Current, ExpiresAt: now.Add(SecretRotationGrace).UTC()}}, cur.Old...)
	if len(old) > maxOldSecrets {
		old = old[:maxOldSecrets]
	}
	plainOld, _ := json.Marshal(old)
	if _, err := tx.ExecContext(ctx, `UPDATE ingest_destinations SET secret = $2, old_secrets = $3, updated_at = now() WHERE id = $1`,
		id, s.box.Seal([]byte(key), destinationAAD(id)), s.box.Seal(plainOld, destinationAAD(id))); err != nil {
		return EndpointSecrets{}, err
	}
	return EndpointSecrets{Current: key, Old: old}, tx.Commit()
}
