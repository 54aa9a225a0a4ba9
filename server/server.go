// Package server assembles Switchboard's HTTP server: one Echo instance with every API surface
// mounted under its prefix, each with its spec-driven routing, authentication and validation,
// and its own error body; plus health checks, spec downloads and the docs UI.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	genactivities "github.com/switchboard-dev/switchboard/gen/activities"
	genadmin "github.com/switchboard-dev/switchboard/gen/admin"
	gencalling "github.com/switchboard-dev/switchboard/gen/calling"
	genchannels "github.com/switchboard-dev/switchboard/gen/channels"
	geningest "github.com/switchboard-dev/switchboard/gen/ingest"
	genwebhooks "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/api/activities"
	"github.com/switchboard-dev/switchboard/server/api/admin"
	"github.com/switchboard-dev/switchboard/server/api/calling"
	"github.com/switchboard-dev/switchboard/server/api/channels"
	"github.com/switchboard-dev/switchboard/server/api/dashboard"
	"github.com/switchboard-dev/switchboard/server/api/ingest"
	"github.com/switchboard-dev/switchboard/server/api/portal"
	"github.com/switchboard-dev/switchboard/server/api/webhooks"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/docs"
	"github.com/switchboard-dev/switchboard/server/metrics"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/resolve"
	"github.com/switchboard-dev/switchboard/store"
)

// Config is what the server needs besides the store.
type Config struct {
	// AdminToken authenticates the Admin API.
	AdminToken string
	// Logger receives one line per request and every 5xx cause.
	Logger *slog.Logger
	// Now is the clock (for key expiry); nil = time.Now.
	Now func() time.Time
	// AllowPrivateEndpoints lets calls the server makes itself to user-given URLs (the Calling
	// API's pre-checks, attribute hooks) reach loopback, private and link-local addresses.
	AllowPrivateEndpoints bool
	// Metrics serves GET /metrics (Prometheus's text format) to the operator token; nil = the
	// metrics of the process and of db (metrics.Registry).
	Metrics http.Handler
	// PublicURL is the base of every absolute URL the server hands out — portal session links,
	// the servers of the specs it serves — as clients reach it (SWITCHBOARD_PUBLIC_URL, e.g.
	// https://switchboard.example.com). Never taken from a request's Host header, which the
	// client chooses. Required; see PublicBase.
	PublicURL string
	// SessionKey signs signed-in users' access tokens (SWITCHBOARD_SESSION_KEY, 32 bytes). nil =
	// derived from the store's encryption key.
	SessionKey []byte
}

// PublicBase checks a public base URL (SWITCHBOARD_PUBLIC_URL): absolute, http or https, with
// a host and no query, fragment or credentials; a path is kept (a server behind a proxy under
// /switchboard). It returns the URL without a trailing slash.
func PublicBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an absolute http:// or https:// URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.User != nil {
		return "", fmt.Errorf("%q must be a scheme, a host and at most a path (no query, fragment or user)", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// DefaultPublicURL is the public URL of a server listening on addr (host:port) when none is
// configured: http:// and the address, with 127.0.0.1 for an unspecified host (0.0.0.0, ::).
func DefaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Renderer writes a problem in a surface's documented error body.
type Renderer func(c echo.Context, p *problem.Problem) error

// surface is one mounted API.
type surface struct {
	prefix string
	// name is the surface's metrics label (openapi.Surfaces' name).
	name   string
	render Renderer
}

// New returns the HTTP handler for every surface.
func New(db *store.DB, cfg Config) (*echo.Echo, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	public, err := PublicBase(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("public URL: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	var surfaces []surface
	e.HTTPErrorHandler = errorHandler(cfg.Logger, &surfaces)
	e.Use(middleware.RequestID(), observe(cfg.Logger, &surfaces), middleware.Recover())

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := db.Ready(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/docs/") })
	if cfg.Metrics == nil {
		reg, err := metrics.Registry(db)
		if err != nil {
			return nil, err
		}
		cfg.Metrics = metrics.Handler(reg)
	}
	e.GET("/metrics", echo.WrapHandler(cfg.Metrics), operatorOnly(cfg.AdminToken))
	if err := docs.Register(e, public); err != nil {
		return nil, err
	}
	portal.Register(e, db.PortalFrameAncestors) // the customer portal page; it calls the Webhooks API from the browser
	dashboard.Register(e)                       // the users' dashboard; it calls every surface's API from the browser
	// The Ingest API's handler also serves its sources' public receiving URLs (/ingest/...), outside
	// its prefix and its spec's validation (see ingest.Handler.Register); their errors are
	// written in its body.
	ingestHandler := &ingest.Handler{DB: db, Now: cfg.Now, PublicURL: public}
	ingestHandler.Register(e)
	surfaces = append(surfaces, surface{prefix: "/ingest", name: "ingest", render: ingest.Render})

	if cfg.SessionKey == nil {
		cfg.SessionKey = db.DeriveKey("access-tokens")
	}
	roles, err := openapi.RolePermissions()
	if err != nil {
		return nil, err
	}
	users, err := auth.NewUsers(cfg.SessionKey, roles, cfg.Now)
	if err != nil {
		return nil, err
	}
	keys := auth.APIKeys(db, users, cfg.Now)
	mounts := map[string]struct {
		render   Renderer
		authn    echo.MiddlewareFunc
		register func(g *echo.Group)
	}{
		"activities": {activities.Render, keys, func(g *echo.Group) {
			hooks := resolve.New(resolve.Options{AllowPrivate: cfg.AllowPrivateEndpoints, Now: cfg.Now})
			genactivities.RegisterHandlers(g, genactivities.NewStrictHandler(
				&activities.Handler{DB: db, Hooks: hooks, Users: users, SecureCookies: strings.HasPrefix(public, "https://")},
				[]genactivities.StrictMiddlewareFunc{activities.WithEcho}))
		}},
		"admin": {admin.Render, auth.Operator(cfg.AdminToken), func(g *echo.Group) {
			genadmin.RegisterHandlers(g, genadmin.NewStrictHandler(&admin.Handler{DB: db, Now: cfg.Now}, nil))
		}},
		"channels": {channels.Render, keys, func(g *echo.Group) {
			genchannels.RegisterHandlers(g, genchannels.NewStrictHandler(channels.New(db, cfg.Now), nil))
		}},
		"calling": {calling.Render, keys, func(g *echo.Group) {
			gencalling.RegisterHandlers(g, gencalling.NewStrictHandler(calling.New(db, cfg.Now, cfg.AllowPrivateEndpoints), nil))
		}},
		"ingest": {ingest.Render, keys, func(g *echo.Group) {
			geningest.RegisterHandlers(g, geningest.NewStrictHandler(ingestHandler, []geningest.StrictMiddlewareFunc{ingest.WithRequest}))
		}},
		"webhooks": {webhooks.Render, keys, func(g *echo.Group) {
			genwebhooks.RegisterHandlers(g, genwebhooks.NewStrictHandler(&webhooks.Handler{DB: db, Now: cfg.Now, PublicURL: public},
				[]genwebhooks.StrictMiddlewareFunc{webhooks.WithRequest}))
		}},
	}
	for _, s := range openapi.Surfaces {
		m, ok := mounts[s.Name]
		if !ok {
			return nil, fmt.Errorf("surface %s has no handler", s.Name)
		}
		data, err := openapi.YAML(s.Name)
		if err != nil {
			return nil, err
		}
		spec, err := contract.Load(data, s.Prefix)
		if err != nil {
			return nil, err
		}
		surfaces = append(surfaces, surface{prefix: s.Prefix, name: s.Name, render: m.render})
		m.register(e.Group(s.Prefix, spec.Match(), m.authn, spec.Validate()))
	}
	if len(surfaces) != len(mounts)+1 { // +1: the receiving URLs' /ingest
		return nil, fmt.Errorf("%d surfaces have handlers, %d are in openapi.Surfaces", len(mounts), len(surfaces)-1)
	}
	return e, nil
}

// errorHandler renders every error (from handlers, middleware, Echo's router) through
// problem.From, in the body of the surface the request was for.
func errorHandler(log *slog.Logger, surfaces *[]surface) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := problem.From(err)
		if p.Status >= 500 && errors.Is(c.Request().Context().Err(), context.Canceled) {
			// The client hung up while its request was served, and whatever failed (a query the
			// driver canceled, say) failed because of that.
			p = problem.From(context.Canceled)
		}
		switch {
		case p.Status == problem.StatusClientClosedRequest:
			// Its client is gone: nothing to answer, and nothing failed here.
			log.InfoContext(c.Request().Context(), "request canceled by its client",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			c.Response().WriteHeader(p.Status)
			return
		case p.Status >= 500:
			log.ErrorContext(c.Request().Context(), "request failed",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
		}
		for k, vs := range p.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(p.Status)
			return
		}
		// The surface with the longest prefix the path is under (/api/v1 is the Webhooks API's,
		// not the Activities API's /api); outside every surface, the Admin API's body.
		render := Renderer(admin.Render)
		if s := surfaceOf(*surfaces, c.Request().URL.Path); s != nil {
			render = s.render
		}
		if rerr := render(c, p); rerr != nil {
			log.ErrorContext(c.Request().Context(), "write error response", "error", rerr)
		}
	}
}

// surfaceOf returns the surface with the longest prefix path is under (/api/v1 is the Webhooks
// API's, not the Activities API's /api), or nil.
func surfaceOf(surfaces []surface, path string) *surface {
	var found *surface
	for i, s := range surfaces {
		if (path == s.prefix || strings.HasPrefix(path, s.prefix+"/")) && (found == nil || len(s.prefix) > len(found.prefix)) {
			found = &surfaces[i]
		}
	}
	return found
}

// observe writes one structured access line per request (at INFO: SWITCHBOARD_LOG_LEVEL=warn
// turns them off, and then they cost nothing) and counts the request in the HTTP metrics by
// surface and operation (the spec's operationId; a route outside the specs by its Echo route
// pattern; never the raw path, whose values are unbounded). Bodies and credentials are never
// logged. It renders a handler's error itself, to know the status it is answered with.
func observe(log *slog.Logger, surfaces *[]surface) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			latency := time.Since(start)
			req, res := c.Request(), c.Response()
			name, operation := "none", "unmatched"
			if s := surfaceOf(*surfaces, req.URL.Path); s != nil {
				name = s.name
			}
			if r := contract.RouteOf(c); r != nil {
				operation = r.Operation.OperationID
			} else if p := c.Path(); p != "" && !strings.HasSuffix(p, "/*") {
				operation = p // the receiving URLs, health checks, docs, the portal
			}
			metrics.ObserveRequest(name, operation, res.Status, latency)
			ctx := req.Context()
			if !log.Enabled(ctx, slog.LevelInfo) {
				return nil
			}
			attrs := [6]slog.Attr{
				slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Int("status", res.Status),
				slog.Float64("ms", float64(latency.Microseconds())/1000), slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
			}
			n := 5
			if p := auth.FromContext(ctx); p != nil && !p.Operator {
				attrs[n] = slog.String("workspace_id", p.WorkspaceID.String())
				n++
			}
			log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
			return nil
		}
	}
}

// operatorOnly admits requests bearing the operator token (Authorization: Bearer <token>).
func operatorOnly(token string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
			if !ok || got == "" {
				return problem.New(http.StatusUnauthorized, "Missing admin token")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				return problem.New(http.StatusUnauthorized, "Invalid admin token")
			}
			return next(c)
		}
	}
}
