package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// APIKeyPrefix starts every API key, so leaked keys are easy to recognise and scan for.
const APIKeyPrefix = "sb_sk_"

// APIKey is a workspace's API key, without its secret.
type APIKey struct {
	ID          uuid.UUID      `db:"id"`
	WorkspaceID uuid.UUID      `db:"workspace_id"`
	Name        string         `db:"name"`
	Prefix      string         `db:"prefix"`
	Permissions pq.StringArray `db:"permissions"`
	ExpiresAt   *time.Time     `db:"expires_at"`
	RevokedAt   *time.Time     `db:"revoked_at"`
	CreatedAt   time.Time      `db:"created_at"`
	// CreatedBy is the signed-in user who created the key (POST /api/api-keys); nil for keys the
	// operator created.
	CreatedBy *uuid.UUID `db:"created_by"`
}

const apiKeyColumns = `id, workspace_id, name, prefix, permissions, expires_at, revoked_at, created_at, created_by`

// hashAPIKey is how a key is stored and looked up.
func hashAPIKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateAPIKey creates a key for a workspace and returns it with its secret, which is not
// stored (only its SHA-256 is) and cannot be read again. ErrNotFound if the workspace does
// not exist.
func (s *DB) CreateAPIKey(ctx context.Context, workspaceID uuid.UUID, name string, permissions []string, expiresAt *time.Time) (APIKey, string, error) {
	return s.CreateUserAPIKey(ctx, workspaceID, nil, name, permissions, expiresAt)
}

// CreateUserAPIKey is CreateAPIKey for a key a user creates (createdBy; nil = the operator).
func (s *DB) CreateUserAPIKey(ctx context.Context, workspaceID uuid.UUID, createdBy *uuid.UUID, name string, permissions []string, expiresAt *time.Time) (APIKey, string, error) {
	raw := make([]byte, 30)
	_, _ = rand.Read(raw)
	secret := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	var k APIKey
	err := s.db.GetContext(ctx, &k, `
		INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, permissions, expires_at, created_by)
		SELECT $1, w.id, $3, $4, $5, $6, $7, $8 FROM workspaces w WHERE w.id = $2
		RETURNING `+apiKeyColumns,
		newID(), workspaceID, name, secret[:len(APIKeyPrefix)+4], hashAPIKey(secret), pq.StringArray(permissions), expiresAt, createdBy)
	if noRows(err) {
		return k, "", notFound("Workspace")
	}
	return k, secret, err
}

// ListAPIKeys returns a workspace's keys, newest first. ErrNotFound if the workspace does not exist.
func (s *DB) ListAPIKeys(ctx context.Context, workspaceID uuid.UUID) ([]APIKey, error) {
	if _, err := s.GetWorkspace(ctx, workspaceID); err != nil {
		return nil, err
	}
	keys := []APIKey{}
	err := s.db.SelectContext(ctx, &keys, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE workspace_id = $1 ORDER BY id DESC`, workspaceID)
	return keys, err
}

// GetAPIKey returns one key of a workspace, or ErrNotFound.
func (s *DB) GetAPIKey(ctx context.Context, workspaceID, id uuid.UUID) (APIKey, error) {
	var k APIKey
	err := s.db.GetContext(ctx, &k, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return k, orNotFound(err, "API key")
}

// RevokeAPIKey revokes a key from now on; revoking a revoked key keeps its first revocation
// time. ErrNotFound if the workspace has no such key.
func (s *DB) RevokeAPIKey(ctx context.Context, workspaceID, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err := changedRow(res, err, func() error { return notFound("API key") }); err != nil {
		return err
	}
	s.keys.clear() // this process refuses the key at once; others within keyCacheTTL
	return nil
}

// FindAPIKey returns the key whose secret is given, revoked and expired keys included (the
// caller decides, and can say why it refuses). ErrNotFound if no key has that secret.
//
// Answers are cached for keyCacheTTL: every request is authenticated, and the lookup would
// otherwise be a query per request. A revocation therefore reaches other server processes
// within keyCacheTTL.
func (s *DB) FindAPIKey(ctx context.Context, secret string) (APIKey, error) {
	hash := hashAPIKey(secret)
	if k, ok := s.keys.get(hash); ok {
		return k, nil
	}
	// Prepared: a cache miss is one round trip.
	st, err := s.prepared(ctx, s.db, `SELECT `+apiKeyColumns+` FROM api_keys WHERE key_hash = $1`)
	if err != nil {
		return APIKey{}, err
	}
	var k APIKey
	err = st.GetContext(ctx, &k, hash)
	if err == nil {
		s.keys.put(hash, k)
	}
	return k, orNotFound(err, "API key")
}

// keyCacheTTL is how long a found key is trusted without asking the database again.
const keyCacheTTL = 2 * time.Second

// keyCache remembers recently found keys by hash. Unknown secrets are not cached, so guessing
// cannot fill it; it is emptied when it grows past keyCacheMax.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedKey
	now     func() time.Time // the store's clock
}

const keyCacheMax = 10000

type cachedKey struct {
	key     APIKey
	expires time.Time
}

func newKeyCache(now func() time.Time) *keyCache {
	return &keyCache{entries: map[string]cachedKey{}, now: now}
}

func (c *keyCache) get(hash []byte) (APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok || c.now().After(e.expires) {
		return APIKey{}, false
	}
	return e.key, true
}

func (c *keyCache) put(hash []byte, k APIKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= keyCacheMax {
		clear(c.entries)
	}
	c.entries[string(hash)] = cachedKey{key: k, expires: c.now().Add(keyCacheTTL)}
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
