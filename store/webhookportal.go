package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/google/uuid"
)

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
	return ps, orNotFound(err, "Portal session")
}
