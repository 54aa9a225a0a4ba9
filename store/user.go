package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/argon2"
)

// User is a person who signs in, without their password.
type User struct {
	ID        uuid.UUID `db:"id"`
	Email     string    `db:"email"`
	FirstName string    `db:"first_name"`
	LastName  string    `db:"last_name"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// Member is a user in one workspace, with their role there.
type Member struct {
	User
	WorkspaceID uuid.UUID `db:"workspace_id"`
	Role        string    `db:"role"`
	JoinedAt    time.Time `db:"joined_at"`
}

// Membership is one workspace a user belongs to.
type Membership struct {
	WorkspaceID   uuid.UUID `db:"workspace_id"`
	WorkspaceName string    `db:"workspace_name"`
	Role          string    `db:"role"`
}

const memberColumns = `u.id, u.email, u.first_name, u.last_name, u.created_at, u.updated_at,
	m.workspace_id, m.role, m.created_at AS joined_at`

// argon2id parameters: OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane). They are
// written into every hash, so a hash made with other parameters still verifies.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of a password in the PHC string format.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword reports whether password is the one hash was made from, comparing in constant
// time. A hash it cannot read does not match.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || passes == 0 || passes > 16 || threads == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a sign-in names no account, so that answering takes as
// long as for an account with a wrong password.
var dummyHash = HashPassword("not a password anyone has: " + uuid.NewString())

// UserCreate is a new member of a workspace. Password is required for a new user, and must be
// empty for an existing one (the email of a user already known: they join the workspace with
// their own password).
type UserCreate struct {
	Email, Password, Role, FirstName, LastName string
}

// AddWorkspaceUser makes a user a member of a workspace with a role, creating the user when no
// user has the email (in any case). ErrNotFound if the workspace does not exist; ErrConflict if
// the user is already a member, or exists and a password was given; ErrInvalid if the user is
// new and no password was given.
func (s *DB) AddWorkspaceUser(ctx context.Context, workspaceID uuid.UUID, in UserCreate) (Member, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()
	var exists bool
	if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE)`, workspaceID); err != nil {
		return Member{}, err
	}
	if !exists {
		return Member{}, notFound("Workspace")
	}
	var userID uuid.UUID
	err = tx.GetContext(ctx, &userID, `SELECT id FROM users WHERE lower(email) = lower($1) FOR KEY SHARE`, in.Email)
	switch {
	case noRows(err):
		if in.Password == "" {
			return Member{}, &Error{Kind: ErrInvalid, Message: "password is required for a new user"}
		}
		userID = newID()
		_, err = tx.ExecContext(ctx, `INSERT INTO users (id, email, first_name, last_name, password_hash)
			VALUES ($1, $2, $3, $4, $5)`, userID, in.Email, in.FirstName, in.LastName, HashPassword(in.Password))
		if isUnique(err) { // created concurrently
			return Member{}, &Error{Kind: ErrConflict, Message: fmt.Sprintf("A user with email %s was just created; try again", in.Email)}
		}
		if err != nil {
			return Member{}, err
		}
	case err != nil:
		return Member{}, err
	case in.Password != "":
		return Member{}, &Error{Kind: ErrConflict, Message: fmt.Sprintf(
			"A user with email %s already exists: leave password out to add them to this workspace with their own", in.Email)}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)`,
		workspaceID, userID, in.Role)
	if isUnique(err) {
		return Member{}, &Error{Kind: ErrConflict, Message: fmt.Sprintf("%s is already a member of the workspace", in.Email)}
	}
	if err != nil {
		return Member{}, err
	}
	m, err := getMember(ctx, tx, workspaceID, userID)
	if err != nil {
		return Member{}, err
	}
	return m, tx.Commit()
}

func isUnique(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

func getMember(ctx context.Context, q sqlx.QueryerContext, workspaceID, userID uuid.UUID) (Member, error) {
	var m Member
	err := sqlx.GetContext(ctx, q, &m, `SELECT `+memberColumns+` FROM workspace_members m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 AND m.user_id = $2`, workspaceID, userID)
	return m, orNotFound(err, "User")
}

// GetWorkspaceUser returns a member of a workspace, or ErrNotFound.
func (s *DB) GetWorkspaceUser(ctx context.Context, workspaceID, userID uuid.UUID) (Member, error) {
	return getMember(ctx, s.db, workspaceID, userID)
}

// ListWorkspaceUsers returns a workspace's members, oldest member first. ErrNotFound if the
// workspace does not exist.
func (s *DB) ListWorkspaceUsers(ctx context.Context, workspaceID uuid.UUID) ([]Member, error) {
	if _, err := s.GetWorkspace(ctx, workspaceID); err != nil {
		return nil, err
	}
	out := []Member{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+memberColumns+` FROM workspace_members m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id`, workspaceID)
	return out, err
}

// MemberUpdate is what UpdateWorkspaceUser may change; nil leaves a field as it is.
type MemberUpdate struct {
	Role, Password, FirstName, LastName *string
}

// UpdateWorkspaceUser changes a member's role in the workspace, and the user's names or
// password. A new password revokes every session of the user. ErrNotFound if the workspace has
// no such member.
func (s *DB) UpdateWorkspaceUser(ctx context.Context, workspaceID, userID uuid.UUID, in MemberUpdate) (Member, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Member{}, err
	}
	defer tx.Rollback()
	if _, err := getMember(ctx, tx, workspaceID, userID); err != nil {
		return Member{}, err
	}
	if in.Role != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE workspace_members SET role = $3, updated_at = now()
			WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID, *in.Role); err != nil {
			return Member{}, err
		}
	}
	if in.FirstName != nil || in.LastName != nil || in.Password != nil {
		hash := ""
		if in.Password != nil {
			hash = HashPassword(*in.Password)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name),
			password_hash = coalesce(nullif($4, ''), password_hash), updated_at = now() WHERE id = $1`,
			userID, in.FirstName, in.LastName, hash); err != nil {
			return Member{}, err
		}
		if in.Password != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE user_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, userID); err != nil {
				return Member{}, err
			}
		}
	}
	m, err := getMember(ctx, tx, workspaceID, userID)
	if err != nil {
		return Member{}, err
	}
	return m, tx.Commit()
}

// RemoveWorkspaceUser takes a user out of a workspace; a user left in no workspace is deleted,
// with their sessions. ErrNotFound if the workspace has no such member.
func (s *DB) RemoveWorkspaceUser(ctx context.Context, workspaceID, userID uuid.UUID) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	if err := changedRow(res, err, func() error { return notFound("User") }); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users u WHERE u.id = $1
		AND NOT EXISTS (SELECT 1 FROM workspace_members m WHERE m.user_id = u.id)`, userID); err != nil {
		return err
	}
	return tx.Commit()
}

// Memberships returns the workspaces a user belongs to, by workspace name.
func (s *DB) Memberships(ctx context.Context, userID uuid.UUID) ([]Membership, error) {
	out := []Membership{}
	err := s.db.SelectContext(ctx, &out, `SELECT m.workspace_id, w.name AS workspace_name, m.role
		FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.name, w.id`, userID)
	return out, err
}

// GetUser returns a user, or ErrNotFound.
func (s *DB) GetUser(ctx context.Context, id uuid.UUID) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT id, email, first_name, last_name, created_at, updated_at FROM users WHERE id = $1`, id)
	return u, orNotFound(err, "User")
}

// ErrBadCredentials is Authenticate's answer to an unknown account and to a wrong password
// alike.
var ErrBadCredentials = errors.New("invalid email or password")

// Authenticate returns the user whose email (in any case) is identifier, if password is theirs;
// ErrBadCredentials otherwise. It takes as long when no user has the email as when the password
// is wrong: a password hash is checked either way.
func (s *DB) Authenticate(ctx context.Context, identifier, password string) (User, error) {
	var row struct {
		User
		Hash string `db:"password_hash"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT id, email, first_name, last_name, created_at, updated_at, password_hash
		FROM users WHERE lower(email) = lower($1)`, identifier)
	if noRows(err) {
		checkPassword(dummyHash, password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	if !checkPassword(row.Hash, password) {
		return User{}, ErrBadCredentials
	}
	return row.User, nil
}

// Sign-in throttling: more failures than the limit within the window, for an account or from
// an address, refuse further attempts until the oldest of them leaves the window.
const (
	LoginWindow          = 15 * time.Minute
	LoginAccountFailures = 5
	LoginAddressFailures = 50
)

// LoginRetryAfter returns how long sign-ins for an account (its lower-cased identifier) or
// from an address must wait, 0 when they may go ahead.
func (s *DB) LoginRetryAfter(ctx context.Context, account, address string) (time.Duration, error) {
	var waits []float64
	err := s.db.SelectContext(ctx, &waits, `
		SELECT extract(epoch FROM min(at) + $5::interval - now())::float8 FROM (
			SELECT subject, at, row_number() OVER (PARTITION BY subject ORDER BY at DESC) AS n
			FROM login_failures WHERE subject IN ($1, $2) AND at > now() - $5::interval) f
		WHERE (subject = $1 AND n <= $3) OR (subject = $2 AND n <= $4)
		GROUP BY subject
		HAVING count(*) >= CASE WHEN subject = $1 THEN $3 ELSE $4 END`,
		"account:"+strings.ToLower(account), "address:"+address, LoginAccountFailures, LoginAddressFailures,
		fmt.Sprintf("%d seconds", int(LoginWindow.Seconds())))
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	for _, w := range waits {
		wait = max(wait, time.Duration(w*float64(time.Second)))
	}
	return wait, nil
}

// RecordLoginFailure counts a failed sign-in for an account and an address, and forgets
// failures older than the window.
func (s *DB) RecordLoginFailure(ctx context.Context, account, address string) error {
	_, err := s.db.ExecContext(ctx, `
		WITH old AS (DELETE FROM login_failures WHERE subject IN ($1, $2) AND at <= now() - $3::interval)
		INSERT INTO login_failures (subject) VALUES ($1), ($2)`,
		"account:"+strings.ToLower(account), "address:"+address, fmt.Sprintf("%d seconds", int(LoginWindow.Seconds())))
	return err
}

// ClearLoginFailures forgets an account's failed sign-ins (after a successful one).
func (s *DB) ClearLoginFailures(ctx context.Context, account string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE subject = $1`, "account:"+strings.ToLower(account))
	return err
}

// SessionTTL is how long a sign-in lasts without a refresh (the refresh token cookie's 7 days).
const SessionTTL = 7 * 24 * time.Hour

// RefreshTokenPrefix starts every refresh token.
const RefreshTokenPrefix = "sb_rt_"

// Session is a sign-in.
type Session struct {
	ID        uuid.UUID  `db:"id"`
	UserID    uuid.UUID  `db:"user_id"`
	ExpiresAt time.Time  `db:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

func newRefreshToken() (string, []byte) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(token))
	return token, h[:]
}

// CreateSession starts a sign-in for a user and returns it with its refresh token.
func (s *DB) CreateSession(ctx context.Context, userID uuid.UUID) (Session, string, error) {
	token, hash := newRefreshToken()
	var out Session
	err := s.db.GetContext(ctx, &out, `INSERT INTO user_sessions (id, user_id, refresh_hash, expires_at)
		VALUES ($1, $2, $3, $4) RETURNING id, user_id, expires_at, revoked_at`, newID(), userID, hash, s.now().Add(SessionTTL))
	return out, token, err
}

// RefreshSession exchanges a refresh token for a new one of the same session, whose life starts
// again. ErrNotFound if the token is unknown, was already exchanged, or its session is revoked
// or expired.
func (s *DB) RefreshSession(ctx context.Context, refreshToken string) (Session, string, error) {
	old := sha256.Sum256([]byte(refreshToken))
	token, hash := newRefreshToken()
	var out Session
	err := s.db.GetContext(ctx, &out, `UPDATE user_sessions SET refresh_hash = $2, expires_at = $3, refreshed_at = now()
		WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > $4
		RETURNING id, user_id, expires_at, revoked_at`, old[:], hash, s.now().Add(SessionTTL), s.now())
	return out, token, orNotFound(err, "Session")
}

// RevokeSessionByToken ends the session a refresh token belongs to; an unknown token is a no-op.
func (s *DB) RevokeSessionByToken(ctx context.Context, refreshToken string) error {
	h := sha256.Sum256([]byte(refreshToken))
	_, err := s.db.ExecContext(ctx, `UPDATE user_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE refresh_hash = $1`, h[:])
	return err
}

// SessionGrant is what an access token of a live session may use: the user's workspaces.
type SessionGrant struct {
	User        User
	Memberships []Membership
}

// FindSession returns a live session's user and memberships. ErrNotFound if the session does
// not exist, is not the user's, or is revoked or expired.
func (s *DB) FindSession(ctx context.Context, sessionID, userID uuid.UUID) (SessionGrant, error) {
	var g SessionGrant
	err := s.db.GetContext(ctx, &g.User, `SELECT u.id, u.email, u.first_name, u.last_name, u.created_at, u.updated_at
		FROM user_sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3`, sessionID, userID, s.now())
	if err != nil {
		return g, orNotFound(err, "Session")
	}
	g.Memberships, err = s.Memberships(ctx, userID)
	return g, err
}

// ListUserAPIKeys returns the keys of a workspace a user created, newest first.
func (s *DB) ListUserAPIKeys(ctx context.Context, workspaceID, userID uuid.UUID) ([]APIKey, error) {
	keys := []APIKey{}
	err := s.db.SelectContext(ctx, &keys, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE workspace_id = $1 AND created_by = $2 ORDER BY id DESC`, workspaceID, userID)
	return keys, err
}
