package activities

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Cookie names and the path the refresh token is sent to (Reten's: the auth routes only).
const (
	refreshCookie = "refreshToken"
	csrfCookie    = "csrfToken"
	refreshPath   = "/api/auth"
)

type echoKey struct{}

// WithEcho keeps the Echo context in the request's context, for the operations that set
// cookies and read the client's address (sign-in).
func WithEcho(f api.StrictHandlerFunc, _ string) api.StrictHandlerFunc {
	return func(c echo.Context, request any) (any, error) {
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), echoKey{}, c)))
		return f(c, request)
	}
}

func echoOf(ctx context.Context) echo.Context {
	c, _ := ctx.Value(echoKey{}).(echo.Context)
	return c
}

// clientAddress is the address the request came from, as the connection says (not a header a
// client can choose): what failed sign-ins are counted under besides the account.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setSessionCookies sets the refresh token (HTTP-only, for the auth routes) and the CSRF token
// (readable by the page, for every path, so the dashboard can send it back as x-csrf-token).
// An empty refresh token expires both.
func (h *Handler) setSessionCookies(c echo.Context, refresh string) {
	maxAge := int(store.SessionTTL.Seconds())
	csrf := randomToken()
	if refresh == "" {
		maxAge, csrf = -1, ""
	}
	c.SetCookie(&http.Cookie{Name: refreshCookie, Value: refresh, Path: refreshPath, MaxAge: maxAge, //nolint:gosec // G124: Secure whenever the server is reached over https (SecureCookies); a browser drops a Secure cookie sent over http
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode})
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", MaxAge: maxAge, //nolint:gosec // G124: the CSRF token is meant to be read by the page (double-submit); the refresh token is the HttpOnly one
		Secure: h.SecureCookies, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) signedIn(ctx context.Context, u store.User, sessionID uuid.UUID) (api.SignedIn, error) {
	token, err := h.Users.IssueAccessToken(u.ID, sessionID)
	if err != nil {
		return api.SignedIn{}, err
	}
	return api.SignedIn{AccessToken: token, User: toAuthUser(u)}, nil
}

func toAuthUser(u store.User) api.AuthUser {
	return api.AuthUser{Id: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
}

// Login signs a user in, as Reten documents it.
func (h *Handler) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	c := echoOf(ctx)
	identifier := strings.TrimSpace(req.Body.Identifier)
	address := clientAddress(c.Request())
	wait, err := h.DB.LoginRetryAfter(ctx, identifier, address)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		p := problem.New(http.StatusTooManyRequests, "Too many failed sign-in attempts; try again later")
		p.Header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(max(wait.Seconds(), 1))))}}
		return nil, p
	}
	u, err := h.DB.Authenticate(ctx, identifier, req.Body.Password)
	if errors.Is(err, store.ErrBadCredentials) {
		if err := h.DB.RecordLoginFailure(ctx, identifier, address); err != nil {
			return nil, err
		}
		return nil, problem.New(http.StatusUnauthorized, "Invalid email or password")
	}
	if err != nil {
		return nil, err
	}
	if err := h.DB.ClearLoginFailures(ctx, identifier); err != nil {
		return nil, err
	}
	sess, refresh, err := h.DB.CreateSession(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out, err := h.signedIn(ctx, u, sess.ID)
	if err != nil {
		return nil, err
	}
	h.setSessionCookies(c, refresh)
	return api.Login200JSONResponse(out), nil
}

// checkCSRF is the double-submit check of the cookie-authenticated operations: the
// x-csrf-token header must carry the csrfToken cookie's value, which only a page of this
// origin can read.
func checkCSRF(header, cookie *string) error {
	if header == nil || cookie == nil || *cookie == "" || subtle.ConstantTimeCompare([]byte(*header), []byte(*cookie)) != 1 {
		return problem.New(http.StatusForbidden, "x-csrf-token must carry the csrfToken cookie's value")
	}
	return nil
}

// RefreshSession issues the next access token and rotates the refresh token.
func (h *Handler) RefreshSession(ctx context.Context, req api.RefreshSessionRequestObject) (api.RefreshSessionResponseObject, error) {
	c := echoOf(ctx)
	if req.Params.RefreshToken == nil || *req.Params.RefreshToken == "" {
		return nil, problem.New(http.StatusUnauthorized, "Missing refresh token")
	}
	if err := checkCSRF(req.Params.XCsrfToken, req.Params.CsrfToken); err != nil {
		return nil, err
	}
	sess, refresh, err := h.DB.RefreshSession(ctx, *req.Params.RefreshToken)
	if errors.Is(err, store.ErrNotFound) {
		h.setSessionCookies(c, "")
		return nil, problem.New(http.StatusUnauthorized, "Invalid or expired refresh token")
	}
	if err != nil {
		return nil, err
	}
	u, err := h.DB.GetUser(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	out, err := h.signedIn(ctx, u, sess.ID)
	if err != nil {
		return nil, err
	}
	h.setSessionCookies(c, refresh)
	return api.RefreshSession200JSONResponse(out), nil
}

// Logout revokes the session of the refresh token cookie.
func (h *Handler) Logout(ctx context.Context, req api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	if req.Params.RefreshToken != nil && *req.Params.RefreshToken != "" {
		if err := checkCSRF(req.Params.XCsrfToken, req.Params.CsrfToken); err != nil {
			return nil, err
		}
		if err := h.DB.RevokeSessionByToken(ctx, *req.Params.RefreshToken); err != nil {
			return nil, err
		}
	}
	h.setSessionCookies(echoOf(ctx), "")
	return api.Logout204Response{}, nil
}

// GetCurrentUser returns the signed-in user and their workspaces.
func (h *Handler) GetCurrentUser(ctx context.Context, _ api.GetCurrentUserRequestObject) (api.GetCurrentUserResponseObject, error) {
	p := auth.FromContext(ctx)
	u, err := h.DB.GetUser(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	ms, err := h.DB.Memberships(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	out := api.CurrentUser{User: toAuthUser(u), Workspaces: make([]api.UserWorkspace, 0, len(ms))}
	for _, m := range ms {
		perms := h.Users.RolePermissions(m.Role)
		if perms == nil {
			perms = []string{}
		}
		out.Workspaces = append(out.Workspaces, api.UserWorkspace{Id: m.WorkspaceID, Name: m.WorkspaceName,
			Role: api.UserWorkspaceRole(m.Role), Permissions: perms})
	}
	return api.GetCurrentUser200JSONResponse(out), nil
}

// userWorkspace is the signed-in user's chosen workspace, or a 400 when they named none and
// belong to several.
func userWorkspace(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p.WorkspaceID == uuid.Nil {
		return nil, problem.Invalid("x-tenant-id is required: you are a member of several workspaces",
			problem.Detail{Field: "header.x-tenant-id", Message: "is required with an access token of a user of several workspaces"})
	}
	return p, nil
}

func nullTime(t *time.Time) nullable.Nullable[activityjson.Time] {
	if t == nil {
		return nullable.NewNullNullable[activityjson.Time]()
	}
	return nullable.NewNullableWithValue(activityjson.NewTime(t.UTC()))
}

func toUserAPIKey(k store.APIKey) api.UserApiKey {
	return api.UserApiKey{Id: k.ID, Name: k.Name, Prefix: k.Prefix, Permissions: k.Permissions,
		ExpiresAt: nullTime(k.ExpiresAt), RevokedAt: nullTime(k.RevokedAt), CreatedAt: activityjson.NewTime(k.CreatedAt.UTC())}
}

// CreateUserApiKey creates a key holding some of the signed-in user's permissions.
func (h *Handler) CreateUserApiKey(ctx context.Context, req api.CreateUserApiKeyRequestObject) (api.CreateUserApiKeyResponseObject, error) {
	p, err := userWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	all := h.Users.RolePermissions("SUPER_ADMIN")
	var unknown []problem.Detail
	var lacking []string
	for i, perm := range b.Permissions {
		switch {
		case perm == auth.AllPermissions:
			// `*` is every permission there is, and will be: only for one holding them all now.
			if !allOf(p.Permissions, all) {
				lacking = append(lacking, perm)
			}
		case !slices.Contains(all, perm):
			unknown = append(unknown, problem.Detail{Field: "permissions." + strconv.Itoa(i), Message: "is not a permission: " + perm})
		case !slices.Contains(p.Permissions, perm):
			lacking = append(lacking, perm)
		}
	}
	if len(unknown) > 0 {
		return nil, problem.Invalid("Unknown permission", unknown...)
	}
	if len(lacking) > 0 {
		return nil, problem.New(http.StatusForbidden, "Your role (%s) does not hold: %s", p.Role, strings.Join(lacking, ", "))
	}
	if b.ExpiresAt != nil && !b.ExpiresAt.After(time.Now()) {
		return nil, problem.Invalid("expiresAt must be in the future", problem.Detail{Field: "expiresAt", Message: "must be in the future"})
	}
	k, secret, err := h.DB.CreateUserAPIKey(ctx, p.WorkspaceID, &p.UserID, b.Name, b.Permissions, stdTime(b.ExpiresAt))
	if err != nil {
		return nil, err
	}
	v := toUserAPIKey(k)
	return api.CreateUserApiKey201JSONResponse{Id: v.Id, Name: v.Name, Prefix: v.Prefix, Permissions: v.Permissions,
		ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt, CreatedAt: v.CreatedAt, Key: secret}, nil
}

func allOf(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ListUserApiKeys lists the keys the signed-in user created in the workspace.
func (h *Handler) ListUserApiKeys(ctx context.Context, _ api.ListUserApiKeysRequestObject) (api.ListUserApiKeysResponseObject, error) {
	p, err := userWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := h.DB.ListUserAPIKeys(ctx, p.WorkspaceID, p.UserID)
	if err != nil {
		return nil, err
	}
	out := make(api.ListUserApiKeys200JSONResponse, 0, len(keys))
	for _, k := range keys {
		out = append(out, toUserAPIKey(k))
	}
	return out, nil
}

// RevokeUserApiKey revokes a key the signed-in user created.
func (h *Handler) RevokeUserApiKey(ctx context.Context, req api.RevokeUserApiKeyRequestObject) (api.RevokeUserApiKeyResponseObject, error) {
	p, err := userWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	k, err := h.DB.GetAPIKey(ctx, p.WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	if k.CreatedBy == nil || *k.CreatedBy != p.UserID {
		return nil, problem.New(http.StatusNotFound, "API key not found")
	}
	if err := h.DB.RevokeAPIKey(ctx, p.WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.RevokeUserApiKey204Response{}, nil
}
