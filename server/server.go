// Package server assembles Switchboard's HTTP server: one Echo instance with every API surface
// mounted under its prefix, each with its spec-driven routing, authentication and validation,
// and its own error body; plus health checks, spec downloads and the docs UI.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	genactivities "github.com/switchboard-dev/switchboard/gen/activities"
	genadmin "github.com/switchboard-dev/switchboard/gen/admin"
	gencalling "github.com/switchboard-dev/switchboard/gen/calling"
	genchannels "github.com/switchboard-dev/switchboard/gen/channels"
	genwebhooks "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/activities"
	"github.com/switchboard-dev/switchboard/server/admin"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/calling"
	"github.com/switchboard-dev/switchboard/server/channels"
	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/docs"
	"github.com/switchboard-dev/switchboard/server/portal"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/webhooks"
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
	// API's pre-checks) reach loopback, private and link-local addresses.
	AllowPrivateEndpoints bool
}

// Renderer writes a problem in a surface's documented error body.
type Renderer func(c echo.Context, p *problem.Problem) error

// surface is one mounted API.
type surface struct {
	prefix string
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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	var surfaces []surface
	e.HTTPErrorHandler = errorHandler(cfg.Logger, &surfaces)
	e.Use(middleware.RequestID(), accessLog(cfg.Logger), middleware.Recover())

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
	if err := docs.Register(e); err != nil {
		return nil, err
	}
	portal.Register(e) // the customer portal page; it calls the Webhooks API from the browser

	keys := auth.APIKeys(db, cfg.Now)
	mounts := map[string]struct {
		render   Renderer
		authn    echo.MiddlewareFunc
		camel    bool // accept camelCase aliases of snake_case body fields
		register func(g *echo.Group)
	}{
		"activities": {renderReten, keys, true, func(g *echo.Group) {
			genactivities.RegisterHandlers(g, genactivities.NewStrictHandler(&activities.Handler{DB: db}, nil))
		}},
		"admin": {renderAdmin, auth.Operator(cfg.AdminToken), false, func(g *echo.Group) {
			genadmin.RegisterHandlers(g, genadmin.NewStrictHandler(&admin.Handler{DB: db, Now: cfg.Now}, nil))
		}},
		"channels": {renderChannels, keys, false, func(g *echo.Group) {
			genchannels.RegisterHandlers(g, genchannels.NewStrictHandler(channels.New(db, cfg.Now), nil))
		}},
		"calling": {renderCalling, keys, false, func(g *echo.Group) {
			gencalling.RegisterHandlers(g, gencalling.NewStrictHandler(calling.New(db, cfg.Now, cfg.AllowPrivateEndpoints), nil))
		}},
		"webhooks": {renderWebhooks, keys, false, func(g *echo.Group) {
			genwebhooks.RegisterHandlers(g, genwebhooks.NewStrictHandler(&webhooks.Handler{DB: db, Now: cfg.Now},
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
		spec.AcceptCamelCase = m.camel
		surfaces = append(surfaces, surface{prefix: s.Prefix, render: m.render})
		m.register(e.Group(s.Prefix, spec.Match(), m.authn, spec.Validate()))
	}
	if len(surfaces) != len(mounts) {
		return nil, fmt.Errorf("%d surfaces have handlers, %d are in openapi.Surfaces", len(mounts), len(surfaces))
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
		if p.Status >= 500 {
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
		render, longest := Renderer(renderAdmin), ""
		path := c.Request().URL.Path
		for _, s := range *surfaces {
			if (path == s.prefix || strings.HasPrefix(path, s.prefix+"/")) && len(s.prefix) > len(longest) {
				render, longest = s.render, s.prefix
			}
		}
		if rerr := render(c, p); rerr != nil {
			log.Error("write error response", "error", rerr)
		}
	}
}

// renderReten writes the Activities API's documented (NestJS-style) error body.
func renderReten(c echo.Context, p *problem.Problem) error {
	body := map[string]any{"statusCode": p.Status, "message": p.Message, "error": http.StatusText(p.Status)}
	if len(p.Details) > 0 {
		errs := make([]string, len(p.Details))
		for i, d := range p.Details {
			errs[i] = d.String()
		}
		body["errors"] = errs
	}
	return c.JSON(p.Status, body)
}

var adminCodes = map[int]string{
	400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 429: "rate_limited",
}

// renderAdmin writes the Admin API's error body.
func renderAdmin(c echo.Context, p *problem.Problem) error { return renderCoded(c, p, adminCodes) }

// renderCoded writes {code, message, details[{field, message}]}, the code named by codes for
// the status: the Admin API's body, and the Webhooks API's.
func renderCoded(c echo.Context, p *problem.Problem, codes map[int]string) error {
	code, ok := codes[p.Status]
	if !ok {
		code = "internal"
	}
	type detail struct {
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	}
	body := struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []detail `json:"details,omitempty"`
	}{Code: code, Message: p.Message}
	for _, d := range p.Details {
		body.Details = append(body.Details, detail{Field: d.Field, Message: d.Message})
	}
	return c.JSON(p.Status, body)
}

var channelCodes = map[int]string{
	400: "InvalidRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
	409: "Conflict", 413: "PayloadTooLarge", 429: "TooManyRequests",
}

// renderChannels writes the Channels API's documented (Bird) error body, RequestError
// {code, message}, with details grouping the problems of a 400 by field.
func renderChannels(c echo.Context, p *problem.Problem) error {
	code, ok := channelCodes[p.Status]
	if !ok {
		code = "InternalError"
	}
	body := struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Details map[string][]string `json:"details,omitempty"`
	}{Code: code, Message: p.Message}
	if p.Status == http.StatusBadRequest && p.Message == problem.ValidationFailed {
		body.Message = "The request did not pass validation" // Bird's wording for a RequestError 400
	}
	if len(p.Details) > 0 {
		body.Details = map[string][]string{}
		for _, d := range p.Details {
			field := d.Field
			if field == "" {
				field = "body"
			}
			body.Details[field] = append(body.Details[field], d.Message)
		}
	}
	return c.JSON(p.Status, body)
}

// webhookCodes are the Admin API's codes, but for a 429: the Webhooks API answers one only past
// a plan limit.
var webhookCodes = func() map[int]string {
	codes := maps.Clone(adminCodes)
	codes[http.StatusTooManyRequests] = "plan_limit_reached"
	return codes
}()

// renderWebhooks writes the Webhooks API's error body: {code, message, details?}, where a
// 429's single detail names the plan limit.
func renderWebhooks(c echo.Context, p *problem.Problem) error { return renderCoded(c, p, webhookCodes) }

// renderCalling writes the Calling API's (FastAPI) error body: {"detail": "<message>"}, or for
// an invalid request {"detail": [{"loc", "msg", "type"}, ...]} with one entry per invalid field,
// loc being ["body", "pre_checks", 0, "name"] or ["query", "reseller_id"].
func renderCalling(c echo.Context, p *problem.Problem) error {
	if len(p.Details) == 0 {
		return c.JSON(p.Status, map[string]any{"detail": p.Message})
	}
	type issue struct {
		Loc  []any  `json:"loc"`
		Msg  string `json:"msg"`
		Type string `json:"type"`
	}
	issues := make([]issue, 0, len(p.Details))
	for _, d := range p.Details {
		issues = append(issues, issue{Loc: fastAPILoc(d.Field), Msg: d.Message, Type: pydanticType(d.Type)})
	}
	return c.JSON(p.Status, map[string]any{"detail": issues})
}

// fastAPILoc turns a detail's dotted field ("pre_checks.0.name", "query.limit") into FastAPI's
// loc: where the value was sent, then the path to it, list indexes as numbers.
func fastAPILoc(field string) []any {
	parts := strings.Split(field, ".")
	loc := []any{}
	switch parts[0] {
	case "body", "query", "path", "header":
	default:
		loc = append(loc, "body")
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		if n, err := strconv.Atoi(p); err == nil {
			loc = append(loc, n)
			continue
		}
		loc = append(loc, p)
	}
	if len(loc) == 0 {
		loc = append(loc, "body")
	}
	return loc
}

// pydanticTypes names JSON Schema keyword failures the way pydantic (FastAPI) does.
var pydanticTypes = map[string]string{
	"required": "missing", "enum": "enum", "pattern": "string_pattern_mismatch", "format": "value_error",
	"minimum": "greater_than_equal", "maximum": "less_than_equal", "exclusiveMinimum": "greater_than",
	"exclusiveMaximum": "less_than", "minLength": "string_too_short", "maxLength": "string_too_long",
	"minItems": "too_short", "maxItems": "too_long", "additionalProperties": "extra_forbidden",
	"type": "type_error", "json": "json_invalid",
}

func pydanticType(t string) string {
	if p, ok := pydanticTypes[t]; ok {
		return p
	}
	if t == "" || !strings.Contains(t, "_") && t != "missing" {
		return "value_error"
	}
	return t
}

// accessLog writes one structured line per request; bodies and credentials are never logged.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError: true, LogMethod: true, LogURIPath: true, LogStatus: true, LogLatency: true, LogRequestID: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("path", v.URIPath), slog.Int("status", v.Status),
				slog.Float64("ms", float64(v.Latency.Microseconds())/1000), slog.String("request_id", v.RequestID),
			}
			if p := auth.FromContext(c.Request().Context()); p != nil && !p.Operator {
				attrs = append(attrs, slog.String("workspace_id", p.WorkspaceID.String()))
			}
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
			return nil
		},
	})
}
