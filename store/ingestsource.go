package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Source statuses.
const (
	SourceActive   = "active"
	SourceDisabled = "disabled"
)

// URLTokenGrace is how long a source's URL keeps working after its token was rotated, so the
// vendor can be switched to the new one without losing events (Svix Ingest's 48 hours).
const URLTokenGrace = 48 * time.Hour

// Source is one vendor feed of a workspace (Ingest).
type Source struct {
	ID                 uuid.UUID          `db:"id"`
	WorkspaceID        uuid.UUID          `db:"workspace_id"`
	Name               string             `db:"name"`
	Type               string             `db:"type"`
	Status             string             `db:"status"`
	Verification       SourceVerification `db:"verification"`
	HasSecret          bool               `db:"has_secret"`
	DedupWindowSeconds int                `db:"dedup_window_seconds"`
	AllowedMethods     pq.StringArray     `db:"allowed_methods"`
	CustomResponse     *CustomResponse    `db:"custom_response"`
	OldTokenExpiresAt  *time.Time         `db:"old_token_expires_at"`
	CreatedAt          time.Time          `db:"created_at"`
	UpdatedAt          time.Time          `db:"updated_at"`
	// URLToken is the token of the source's URL, opened.
	URLToken string `db:"-"`
	// GeneratedSecret is a secret the store generated for the source, set only by the call that
	// generated it (shown once).
	GeneratedSecret string `db:"-"`
}

// SourceVerification is what a source's verification needs besides its secret (a jsonb column).
type SourceVerification struct {
	ToleranceSeconds *int   `json:"toleranceSeconds,omitempty"`
	Algorithm        string `json:"algorithm,omitempty"`
	Encoding         string `json:"encoding,omitempty"`
	Header           string `json:"header,omitempty"`
	Prefix           string `json:"prefix,omitempty"`
	TimestampHeader  string `json:"timestampHeader,omitempty"`
	Username         string `json:"username,omitempty"`
	OnFailure        string `json:"onFailure,omitempty"`
}

// Scan reads the jsonb column.
func (v *SourceVerification) Scan(src any) error { return scanJSON(src, v) }

// CustomResponse is what a source's URL answers accepted requests with, instead of the default.
type CustomResponse struct {
	StatusCode  int    `json:"statusCode"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// Scan reads the jsonb column (NULL leaves it nil through the pointer).
func (c *CustomResponse) Scan(src any) error { return scanJSON(src, c) }

func sourceAAD(id uuid.UUID) []byte      { return []byte("ingest_source:" + id.String()) }
func sourceTokenAAD(id uuid.UUID) []byte { return []byte("ingest_source_token:" + id.String()) }

// newURLToken returns a source URL token: 24 random bytes, base64url.
func newURLToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func constantEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

const sourceColumns = `s.id, s.workspace_id, s.name, s.type, s.status, s.verification, s.secret IS NOT NULL AS has_secret,
	s.dedup_window_seconds, s.allowed_methods, s.custom_response, s.old_token_expires_at, s.created_at, s.updated_at, s.url_token`

// sourceRow is a Source as read, with its sealed token.
type sourceRow struct {
	Source
	SealedToken []byte `db:"url_token"`
}

func (s *DB) openSource(r sourceRow) (Source, error) {
	tok, err := s.box.Open(r.SealedToken, sourceTokenAAD(r.ID))
	if err != nil {
		return Source{}, err
	}
	out := r.Source
	out.URLToken = string(tok)
	if out.OldTokenExpiresAt != nil && !s.now().Before(*out.OldTokenExpiresAt) {
		out.OldTokenExpiresAt = nil
	}
	return out, nil
}

// SourceCreate is a new source.
type SourceCreate struct {
	Name, Type, Status string
	// Secret is the source's secret ("" = none; GenerateSecret makes one).
	Secret             string
	GenerateSecret     bool
	Verification       SourceVerification
	DedupWindowSeconds int
	AllowedMethods     []string
	CustomResponse     *CustomResponse
}

func jsonValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// nullCustom passes an absent custom response as NULL.
func nullCustom(c *CustomResponse) any {
	if c == nil {
		return nil
	}
	return jsonValue(c)
}

// CreateSource creates a source with a new URL token.
func (s *DB) CreateSource(ctx context.Context, workspaceID uuid.UUID, in SourceCreate) (Source, error) {
	id := newID()
	if in.GenerateSecret {
		in.Secret = NewWebhookSecret()
	}
	var secret any
	if in.Secret != "" {
		secret = s.box.Seal([]byte(in.Secret), sourceAAD(id))
	}
	token := newURLToken()
	var r sourceRow
	err := s.db.GetContext(ctx, &r, `WITH s AS (
			INSERT INTO ingest_sources (id, workspace_id, name, type, status, verification, secret, url_token, token_hash,
				dedup_window_seconds, allowed_methods, custom_response)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *
		) SELECT `+sourceColumns+` FROM s`,
		id, workspaceID, in.Name, in.Type, in.Status, jsonValue(in.Verification), secret, s.box.Seal([]byte(token), sourceTokenAAD(id)),
		tokenHash(token), in.DedupWindowSeconds, pq.StringArray(in.AllowedMethods), nullCustom(in.CustomResponse))
	if err != nil {
		return Source{}, err
	}
	src, err := s.openSource(r)
	if in.GenerateSecret {
		src.GeneratedSecret = in.Secret
	}
	return src, err
}

// GetSource returns a workspace's source, or ErrNotFound.
func (s *DB) GetSource(ctx context.Context, workspaceID, id uuid.UUID) (Source, error) {
	var r sourceRow
	err := s.db.GetContext(ctx, &r, `SELECT `+sourceColumns+` FROM ingest_sources s WHERE s.workspace_id = $1 AND s.id = $2`, workspaceID, id)
	if err != nil {
		return Source{}, orNotFound(err, "Source")
	}
	return s.openSource(r)
}

// ListSources returns up to limit sources created after the one with id after (uuid.Nil = from
// the start), oldest first, of a type and status when not "".
func (s *DB) ListSources(ctx context.Context, workspaceID, after uuid.UUID, typ, status string, limit int) ([]Source, error) {
	var rows []sourceRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+sourceColumns+` FROM ingest_sources s
		WHERE s.workspace_id = $1 AND s.id > $2 AND ($3 = '' OR s.type = $3) AND ($4 = '' OR s.status = $4) ORDER BY s.id LIMIT $5`,
		workspaceID, after, typ, status, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(rows))
	for _, r := range rows {
		src, err := s.openSource(r)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// UpdateSource changes a source with change, which gets it as stored, locked until the update
// commits, and may refuse by returning an error; its name, status, verification settings,
// deduplication window, methods and custom response are written back.
func (s *DB) UpdateSource(ctx context.Context, workspaceID, id uuid.UUID, change func(*Source) error) (Source, error) {
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (Source, error) {
		var r sourceRow
		err := tx.GetContext(ctx, &r, `SELECT `+sourceColumns+` FROM ingest_sources s WHERE s.workspace_id = $1 AND s.id = $2
			FOR NO KEY UPDATE`, workspaceID, id)
		if err != nil {
			return Source{}, orNotFound(err, "Source")
		}
		return s.openSource(r)
	}, change, func(tx *sqlx.Tx, src *Source) (Source, error) {
		var r sourceRow
		err := tx.GetContext(ctx, &r, `WITH s AS (
				UPDATE ingest_sources SET name = $2, status = $3, verification = $4, dedup_window_seconds = $5, allowed_methods = $6,
					custom_response = $7, updated_at = now() WHERE id = $1 RETURNING *
			) SELECT `+sourceColumns+` FROM s`,
			id, src.Name, src.Status, jsonValue(src.Verification), src.DedupWindowSeconds, pq.StringArray(src.AllowedMethods),
			nullCustom(src.CustomResponse))
		if err != nil {
			return Source{}, err
		}
		return s.openSource(r)
	})
}

// DeleteSource deletes a source with its events (their deliveries and attempts), dedup keys
// and issues.
func (s *DB) DeleteSource(ctx context.Context, workspaceID, id uuid.UUID) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM ingest_sources WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Source")
	}
	return tx.Commit()
}

// RotateSourceURL gives a source a new URL token; the previous one stays valid for
// URLTokenGrace (the one before it, if still valid, no longer).
func (s *DB) RotateSourceURL(ctx context.Context, workspaceID, id uuid.UUID) (Source, error) {
	token := newURLToken()
	var r sourceRow
	err := s.db.GetContext(ctx, &r, `WITH s AS (
			UPDATE ingest_sources SET old_token_hash = token_hash, old_token_expires_at = $3, token_hash = $4, url_token = $5,
				updated_at = now() WHERE workspace_id = $1 AND id = $2 RETURNING *
		) SELECT `+sourceColumns+` FROM s`,
		workspaceID, id, s.now().Add(URLTokenGrace).UTC(), tokenHash(token), s.box.Seal([]byte(token), sourceTokenAAD(id)))
	if err != nil {
		return Source{}, orNotFound(err, "Source")
	}
	return s.openSource(r)
}

// RotateSourceSecret makes secret (a generated one when generate) the source's secret; the
// previous one keeps verifying for SecretRotationGrace. At most maxOldSecrets previous ones
// are kept.
func (s *DB) RotateSourceSecret(ctx context.Context, workspaceID, id uuid.UUID, secret string, generate bool) (Source, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Source{}, err
	}
	defer tx.Rollback()
	var row struct {
		Secret []byte `db:"secret"`
		Old    []byte `db:"old_secrets"`
	}
	if err := tx.GetContext(ctx, &row, `SELECT secret, old_secrets FROM ingest_sources WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
		workspaceID, id); err != nil {
		return Source{}, orNotFound(err, "Source")
	}
	now := s.now()
	var old []OldSecret
	if row.Secret != nil {
		cur, err := s.openSecrets(sourceAAD(id), row.Secret, row.Old, now)
		if err != nil {
			return Source{}, err
		}
		old = append([]OldSecret{{Key: cur.Current, ExpiresAt: now.Add(SecretRotationGrace).UTC()}}, cur.Old...)
		if len(old) > maxOldSecrets {
			old = old[:maxOldSecrets]
		}
	}
	if generate {
		secret = NewWebhookSecret()
	}
	plainOld, _ := json.Marshal(old)
	var r sourceRow
	if err := tx.GetContext(ctx, &r, `WITH s AS (
			UPDATE ingest_sources SET secret = $2, old_secrets = $3, updated_at = now() WHERE id = $1 RETURNING *
		) SELECT `+sourceColumns+` FROM s`,
		id, s.box.Seal([]byte(secret), sourceAAD(id)), s.box.Seal(plainOld, sourceAAD(id))); err != nil {
		return Source{}, err
	}
	if err := tx.Commit(); err != nil {
		return Source{}, err
	}
	src, err := s.openSource(r)
	if generate {
		src.GeneratedSecret = secret
	}
	return src, err
}

// Receiver is what receiving a request at a source needs, read in one query: the source with
// its secrets opened and token hashes, and the destinations it routes to, with their filters.
type Receiver struct {
	ID                 uuid.UUID
	WorkspaceID        uuid.UUID
	Type               string
	Status             string
	Verification       SourceVerification
	DedupWindowSeconds int
	AllowedMethods     []string
	CustomResponse     *CustomResponse
	// Secrets are the current secret and the previous ones still valid (none for type none).
	Secrets      []string
	Destinations []RouteDestination
	// OpenVerificationIssues says the source has open verification issues, which its next
	// verified request resolves.
	OpenVerificationIssues  bool
	tokenHash, oldTokenHash []byte
	oldTokenExpiresAt       *time.Time
}

// RouteDestination is a destination as routing sees it: its filters, and when it last changed
// (filters compiled once may be kept until then).
type RouteDestination struct {
	ID         uuid.UUID       `json:"id"`
	EventTypes []string        `json:"eventTypes"`
	BodyFilter json.RawMessage `json:"bodyFilter"`
	UpdatedAt  time.Time       `json:"updatedAt"`
}

// TokenValid reports, in constant time, whether token is the source's URL token (or its
// previous one, within its grace).
func (r *Receiver) TokenValid(token string, now time.Time) bool {
	h := tokenHash(token)
	ok := constantEqual(h, r.tokenHash)
	if r.oldTokenHash != nil && r.oldTokenExpiresAt != nil && now.Before(*r.oldTokenExpiresAt) {
		ok = constantEqual(h, r.oldTokenHash) || ok
	}
	return ok
}

// LoadReceiver reads a source for receiving; ok=false when there is none.
func (s *DB) LoadReceiver(ctx context.Context, sourceID uuid.UUID) (*Receiver, bool, error) {
	var row struct {
		ID                 uuid.UUID          `db:"id"`
		WorkspaceID        uuid.UUID          `db:"workspace_id"`
		Type               string             `db:"type"`
		Status             string             `db:"status"`
		Verification       SourceVerification `db:"verification"`
		DedupWindowSeconds int                `db:"dedup_window_seconds"`
		AllowedMethods     pq.StringArray     `db:"allowed_methods"`
		CustomResponse     *CustomResponse    `db:"custom_response"`
		Secret             []byte             `db:"secret"`
		OldSecrets         []byte             `db:"old_secrets"`
		TokenHash          []byte             `db:"token_hash"`
		OldTokenHash       []byte             `db:"old_token_hash"`
		OldTokenExpiresAt  *time.Time         `db:"old_token_expires_at"`
		Destinations       JSONDoc            `db:"destinations"`
		OpenIssues         bool               `db:"open_issues"`
	}
	st, err := s.prepared(ctx, s.db, loadReceiverQuery)
	if err != nil {
		return nil, false, err
	}
	if err := st.GetContext(ctx, &row, sourceID); err != nil {
		if noRows(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	r := &Receiver{ID: row.ID, WorkspaceID: row.WorkspaceID, Type: row.Type, Status: row.Status, Verification: row.Verification,
		DedupWindowSeconds: row.DedupWindowSeconds, AllowedMethods: row.AllowedMethods, CustomResponse: row.CustomResponse,
		OpenVerificationIssues: row.OpenIssues, tokenHash: row.TokenHash, oldTokenHash: row.OldTokenHash, oldTokenExpiresAt: row.OldTokenExpiresAt}
	if row.Secret != nil {
		secrets, err := s.openSecrets(sourceAAD(row.ID), row.Secret, row.OldSecrets, s.now())
		if err != nil {
			return nil, false, err
		}
		r.Secrets = append(r.Secrets, secrets.Current)
		for _, o := range secrets.Old {
			r.Secrets = append(r.Secrets, o.Key)
		}
	}
	if err := json.Unmarshal(row.Destinations, &r.Destinations); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// loadReceiverQuery reads a source with its destinations that are not disabled.
const loadReceiverQuery = `SELECT s.id, s.workspace_id, s.type, s.status, s.verification, s.dedup_window_seconds, s.allowed_methods,
		s.custom_response, s.secret, s.old_secrets, s.token_hash, s.old_token_hash, s.old_token_expires_at,
		coalesce((SELECT json_agg(json_build_object('id', t.id, 'eventTypes', t.event_types, 'bodyFilter', t.body_filter,
			'updatedAt', t.updated_at) ORDER BY t.id)
			FROM ingest_destination_sources ds JOIN ingest_destinations t ON t.id = ds.destination_id
			WHERE ds.source_id = s.id AND t.status <> 'disabled'), '[]') AS destinations,
		EXISTS (SELECT 1 FROM ingest_issues i WHERE i.source_id = s.id AND i.type = 'verification'
			AND i.status IN ('open', 'acknowledged')) AS open_issues
		FROM ingest_sources s WHERE s.id = $1`

// SourceDestinations returns the destinations (not disabled) of a workspace's source, for
// routing an event again (replays).
func (s *DB) SourceDestinations(ctx context.Context, workspaceID, sourceID uuid.UUID) ([]RouteDestination, error) {
	var doc JSONDoc
	err := s.db.GetContext(ctx, &doc, `SELECT coalesce(json_agg(json_build_object('id', t.id, 'eventTypes', t.event_types,
			'bodyFilter', t.body_filter, 'updatedAt', t.updated_at) ORDER BY t.id), '[]')
		FROM ingest_destination_sources ds JOIN ingest_destinations t ON t.id = ds.destination_id
		WHERE ds.source_id = $2 AND t.workspace_id = $1 AND t.status <> 'disabled'`, workspaceID, sourceID)
	if err != nil {
		return nil, err
	}
	var out []RouteDestination
	return out, json.Unmarshal(doc, &out)
}
