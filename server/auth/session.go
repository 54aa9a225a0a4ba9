package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// AccessTokenTTL is how long an access token is good for; /api/auth/refresh issues the next.
const AccessTokenTTL = 15 * time.Minute

// issuer names this server in the tokens it signs, and is required of those it accepts.
const issuer = "switchboard"

// UserSessionFinder looks a signed-in user's live session up.
type UserSessionFinder interface {
	FindSession(ctx context.Context, sessionID, userID uuid.UUID) (store.SessionGrant, error)
}

// Users issues and checks signed-in users' access tokens: JWTs (HS256) naming the user and
// their session, which the server checks is still live on every request, so a sign-out or a
// password change ends the access tokens of the session at once.
type Users struct {
	key   []byte
	roles map[string][]string
	now   func() time.Time
}

// NewUsers returns Users signing with key (at least 32 bytes), granting each role the
// permissions roles gives it (openapi.RolePermissions).
func NewUsers(key []byte, roles map[string][]string, now func() time.Time) (*Users, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("auth: the access token signing key must be at least 32 bytes, got %d", len(key))
	}
	return &Users{key: key, roles: roles, now: now}, nil
}

// RolePermissions returns the permissions a role holds, on every surface.
func (u *Users) RolePermissions(role string) []string { return u.roles[role] }

type accessClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// IssueAccessToken returns an access token for a user's session.
func (u *Users) IssueAccessToken(userID, sessionID uuid.UUID) (string, error) {
	now := u.now()
	claims := accessClaims{SessionID: sessionID.String(), RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: userID.String(), IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)), ID: uuid.NewString(),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(u.key)
}

// parse checks an access token's signature, algorithm, issuer and expiry, and returns the user
// and session it names.
func (u *Users) parse(token string) (userID, sessionID uuid.UUID, err error) {
	var claims accessClaims
	_, err = jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return u.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(u.now))
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if userID, err = uuid.Parse(claims.Subject); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if sessionID, err = uuid.Parse(claims.SessionID); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	return userID, sessionID, nil
}

// looksLikeJWT tells an access token from the server's own secrets (sb_sk_…, sb_portal_…):
// three base64url parts, the first a JSON object ("eyJ" is `{"` encoded).
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// UserSessionExtension marks an operation for signed-in users as such (their own API keys,
// who they are): it needs a user's access token, whatever their role, and refuses API keys.
const UserSessionExtension = "x-user-session"

func userSessionOnly(route *contract.Route) bool {
	reason, _ := route.Operation.Extensions[UserSessionExtension].(string)
	return reason != ""
}

// userPrincipal authenticates a request made with an access token. The workspace is the
// `{workspaceId}` path parameter or the `x-tenant-id` header (they must agree), else the user's
// only workspace; the permissions are what the user's role there holds.
func (u *Users) userPrincipal(c echo.Context, next echo.HandlerFunc, sessions UserSessionFinder, route *contract.Route, token string) error {
	userID, sessionID, err := u.parse(token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return unauthorized("Access token has expired")
		}
		return unauthorized("Invalid access token")
	}
	req := c.Request()
	grant, err := sessions.FindSession(req.Context(), sessionID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("The session has ended; sign in again")
	}
	if err != nil {
		return err
	}
	p := &Principal{UserID: userID}
	chosen := req.Header.Get("x-tenant-id")
	if w, ok := route.PathParams["workspaceId"]; ok {
		if chosen != "" && !strings.EqualFold(chosen, w) && !sameUUID(chosen, w) {
			return problem.New(http.StatusForbidden, "x-tenant-id and the workspace in the path differ")
		}
		chosen = w
	}
	switch {
	case chosen != "":
		id, perr := uuid.Parse(chosen)
		i := slices.IndexFunc(grant.Memberships, func(m store.Membership) bool { return perr == nil && m.WorkspaceID == id })
		if i < 0 {
			return problem.New(http.StatusForbidden, "You are not a member of this workspace")
		}
		p.WorkspaceID, p.Role = id, grant.Memberships[i].Role
	case len(grant.Memberships) == 1:
		p.WorkspaceID, p.Role = grant.Memberships[0].WorkspaceID, grant.Memberships[0].Role
	case !userSessionOnly(route) && len(route.Permissions) > 0:
		if len(grant.Memberships) == 0 {
			return problem.New(http.StatusForbidden, "You are not a member of any workspace")
		}
		return problem.Invalid("x-tenant-id is required: you are a member of several workspaces",
			problem.Detail{Field: "header.x-tenant-id", Message: "is required with an access token of a user of several workspaces"})
	}
	p.Permissions = u.roles[p.Role]
	return authorized(c, next, p, route.Permissions)
}
