// Package auth authenticates API requests. Which credentials an operation accepts comes from its
// security requirements in the spec, and which permissions it needs from its x-permissions (see
// package contract); no second table of permissions is kept here.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// AllPermissions is the permission that grants every other one.
const AllPermissions = "*"

// Principal is who a request acts as: a workspace's API key, a signed-in user in one of their
// workspaces, or the operator.
type Principal struct {
	// WorkspaceID is uuid.Nil for a user who named no workspace, on an operation that needs
	// none (x-user-session).
	WorkspaceID uuid.UUID
	KeyID       uuid.UUID
	// UserID and Role are set for a signed-in user's access token.
	UserID      uuid.UUID
	Role        string
	Permissions []string
	Operator    bool
	// Only, when set, confines the principal to requests whose path parameters of these names
	// (those the operation's path has) have these values: a portal session is one app's one
	// recipient. Handlers of operations without such a path parameter filter by it themselves.
	Only map[string]string
}

// Has reports whether the principal holds a permission.
func (p *Principal) Has(permission string) bool {
	return p.Operator || slices.Contains(p.Permissions, AllPermissions) || slices.Contains(p.Permissions, permission)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal. Handlers behind the middleware always have one.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// KeyFinder looks an API key up by its secret.
type KeyFinder interface {
	FindAPIKey(ctx context.Context, secret string) (store.APIKey, error)
}

// SessionFinder looks a portal session up by its token.
type SessionFinder interface {
	FindPortalSession(ctx context.Context, token string) (store.PortalSession, error)
}

// Credentials finds what APIKeys accepts: API keys, portal sessions and users' sessions.
type Credentials interface {
	KeyFinder
	SessionFinder
	UserSessionFinder
}

// portalPermissions are what a portal session may do, within its one recipient.
var portalPermissions = []string{"endpoint:read", "endpoint:write", "message:read", "event_type:read", "recipient:read"}

// credential returns the secret a request presents through a security scheme, if any:
// `Authorization: Bearer` for http bearer schemes, the named header for apiKey schemes — where
// that header is Authorization, after its leading word (`Authorization: AccessKey <key>`).
func credential(r *http.Request, s contract.Requirement) string {
	switch {
	case s.Scheme.Type == "http" && strings.EqualFold(s.Scheme.Scheme, "bearer"):
		scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(value)
		}
	case s.Scheme.Type == "apiKey" && s.Scheme.In == "header":
		value := r.Header.Get(s.Scheme.Name)
		if strings.EqualFold(s.Scheme.Name, "Authorization") {
			word, rest, ok := strings.Cut(value, " ")
			prefix, _ := s.Scheme.Extensions["x-credential-prefix"].(string)
			if !ok || (prefix != "" && !strings.EqualFold(word, prefix)) {
				return ""
			}
			value = rest
		}
		return strings.TrimSpace(value)
	}
	return ""
}

func unauthorized(format string, args ...any) *problem.Problem {
	p := problem.New(http.StatusUnauthorized, format, args...)
	p.Header = http.Header{"Www-Authenticate": {`Bearer realm="switchboard"`}}
	return p
}

// APIKeys authenticates requests with a workspace's API key (run after contract's Match), with
// a portal session token where the operation allows one (see portalSession), or with a
// signed-in user's access token when users is not nil (see Users.userPrincipal).
// It refuses (401) a missing, unknown, revoked or expired key, and (403) a key lacking a
// permission the operation's x-permissions names, or a request whose `x-tenant-id`
// header or `{workspaceId}` path parameter is not the key's workspace.
func APIKeys(keys Credentials, users *Users, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := contract.RouteOf(c)
			if route == nil || len(route.Security) == 0 {
				return next(c)
			}
			req := c.Request()
			var secret string
			for _, r := range route.Security {
				if secret = credential(req, r); secret != "" {
					break
				}
			}
			if secret == "" {
				return unauthorized("Missing API key")
			}
			if users != nil && looksLikeJWT(secret) {
				return users.userPrincipal(c, next, keys, route, secret)
			}
			if userSessionOnly(route) {
				return problem.New(http.StatusForbidden, "This operation needs a signed-in user's access token, not an API key")
			}
			if strings.HasPrefix(secret, store.PortalTokenPrefix) {
				return portalSession(c, next, keys, route, secret, now)
			}
			key, err := keys.FindAPIKey(req.Context(), secret)
			if errors.Is(err, store.ErrNotFound) {
				return unauthorized("Invalid API key")
			}
			if err != nil {
				return err
			}
			switch {
			case key.RevokedAt != nil:
				return unauthorized("API key has been revoked")
			case key.ExpiresAt != nil && !now().Before(*key.ExpiresAt):
				return unauthorized("API key has expired")
			}
			p := &Principal{WorkspaceID: key.WorkspaceID, KeyID: key.ID, Permissions: key.Permissions}
			if t := req.Header.Get("x-tenant-id"); t != "" && !sameID(t, p.WorkspaceID) {
				return problem.New(http.StatusForbidden, "x-tenant-id is not the API key's workspace")
			}
			if w, ok := route.PathParams["workspaceId"]; ok && !sameID(w, p.WorkspaceID) {
				return problem.New(http.StatusForbidden, "The workspace in the path is not the API key's workspace")
			}
			return authorized(c, next, p, route.Permissions)
		}
	}
}

// authorized runs next as p if p holds every permission, and is a 403 naming those it lacks
// otherwise.
func authorized(c echo.Context, next echo.HandlerFunc, p *Principal, permissions []string) error {
	var missing []string
	for _, perm := range permissions {
		if !p.Has(perm) {
			missing = append(missing, perm)
		}
	}
	if len(missing) > 0 {
		return problem.New(http.StatusForbidden, "Missing permission: %s", strings.Join(missing, ", "))
	}
	req := c.Request()
	c.SetRequest(req.WithContext(WithPrincipal(req.Context(), p)))
	return next(c)
}

// portalSession authenticates a request made with a portal session token: only operations
// whose security lists a scheme marked x-portal-session accept one, for the session's recipient.
func portalSession(c echo.Context, next echo.HandlerFunc, sessions SessionFinder, route *contract.Route, token string, now func() time.Time) error {
	allowed := false
	for _, r := range route.Security {
		if on, _ := r.Scheme.Extensions["x-portal-session"].(bool); on {
			allowed = true
			break
		}
	}
	if !allowed {
		return problem.New(http.StatusForbidden, "A portal session cannot call this operation")
	}
	s, err := sessions.FindPortalSession(c.Request().Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("Invalid portal session")
	}
	if err != nil {
		return err
	}
	if !now().Before(s.ExpiresAt) {
		return unauthorized("Portal session has expired")
	}
	p := &Principal{WorkspaceID: s.WorkspaceID, Permissions: portalPermissions,
		Only: map[string]string{"appId": s.AppID.String(), "recipientId": s.RecipientID}}
	for name, want := range p.Only {
		if got, ok := route.PathParams[name]; ok && got != want && !sameUUID(got, want) {
			return problem.New(http.StatusForbidden, "The portal session is not for this %s", name)
		}
	}
	return authorized(c, next, p, route.Permissions)
}

func sameUUID(a, b string) bool {
	ua, err1 := uuid.Parse(a)
	ub, err2 := uuid.Parse(b)
	return err1 == nil && err2 == nil && ua == ub
}

func sameID(s string, id uuid.UUID) bool {
	u, err := uuid.Parse(s)
	return err == nil && u == id
}

// Operator authenticates requests with the operator (admin) token, compared in constant time.
func Operator(token string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := contract.RouteOf(c)
			if route == nil || len(route.Security) == 0 {
				return next(c)
			}
			var secret string
			for _, r := range route.Security {
				if secret = credential(c.Request(), r); secret != "" {
					break
				}
			}
			if secret == "" {
				return unauthorized("Missing admin token")
			}
			if subtle.ConstantTimeCompare([]byte(secret), []byte(token)) != 1 {
				return unauthorized("Invalid admin token")
			}
			req := c.Request()
			c.SetRequest(req.WithContext(WithPrincipal(req.Context(), &Principal{Operator: true})))
			return next(c)
		}
	}
}
