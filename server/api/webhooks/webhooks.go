// Package webhooks implements the Webhooks API, Dispatch side (openapi/webhooks.yaml, mounted
// at /api/v1): apps, event types, recipients and their portal sessions, endpoints, messages,
// attempts and replays. Deliveries themselves are made by package delivery.
package webhooks

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Handler serves the Webhooks API.
type Handler struct {
	DB *store.DB
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// PublicURL is the base portal session links are built on (server.Config.PublicURL).
	PublicURL string
	schemas   schemaCache
}

var _ api.StrictServerInterface = (*Handler)(nil)

type requestKey struct{}

// WithRequest is a strict middleware that keeps the HTTP request in the context, for the
// few operations that read more than their declared parameters (a send's routing-key header).
func WithRequest(f api.StrictHandlerFunc, _ string) api.StrictHandlerFunc {
	return func(c echo.Context, request any) (any, error) {
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
		return f(c, request)
	}
}

func requestOf(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

func (h *Handler) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func workspace(ctx context.Context) uuid.UUID { return auth.FromContext(ctx).WorkspaceID }

// onlyRecipient is the recipient a portal session is confined to ("" for API keys).
func onlyRecipient(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.Only["recipientId"]
	}
	return ""
}

func pageSize(l *int) int {
	if l == nil {
		return 50
	}
	return *l
}

// cursorID reads a cursor this API returned (the id of the last row of the previous page).
func cursorID(c *string) (uuid.UUID, error) {
	if c == nil {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(*c)
	if err != nil {
		return uuid.Nil, problem.Invalid("Invalid cursor", problem.Detail{Field: "query.cursor", Message: "is not a cursor this API returned"})
	}
	return id, nil
}

// page converts the first limit rows of a list the store was asked limit+1 rows of, and
// returns the next page's cursor (the id of the last row shown) when there was one more.
func page[T, U any](rows []T, limit int, id func(T) uuid.UUID, conv func(T) U) ([]U, *string) {
	out := make([]U, 0, min(len(rows), limit))
	for i, r := range rows {
		if i == limit {
			next := id(rows[i-1]).String()
			return out, &next
		}
		out = append(out, conv(r))
	}
	return out, nil
}

func nullOf[T any](v *T) nullable.Nullable[T] {
	if v == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*v)
}

func nullTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(t.UTC())
}

// optional reads a PATCH field that may be absent (set=false), null (nil) or a value.
func optional[T any](n nullable.Nullable[T]) (set bool, v *T) {
	if !n.IsSpecified() {
		return false, nil
	}
	if n.IsNull() {
		return true, nil
	}
	x := n.MustGet()
	return true, &x
}

// ---- Apps

// ListApps pages through the workspace's apps, oldest first.
func (h *Handler) ListApps(ctx context.Context, req api.ListAppsRequestObject) (api.ListAppsResponseObject, error) {
	after, err := cursorID(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.Params.Limit)
	apps, err := h.DB.ListWebhookApps(ctx, workspace(ctx), after, limit+1)
	if err != nil {
		return nil, err
	}
	data, next := page(apps, limit, func(a store.WebhookApp) uuid.UUID { return a.ID }, toApp)
	return api.ListApps200JSONResponse{Data: data, NextCursor: next}, nil
}

// CreateApp creates an app.
func (h *Handler) CreateApp(ctx context.Context, req api.CreateAppRequestObject) (api.CreateAppResponseObject, error) {
	b := req.Body
	in := store.WebhookApp{Name: b.Name, RoutingKeyBodyPath: b.RoutingKeyBodyPath, RoutingKeyHeader: b.RoutingKeyHeader}
	if b.PortalFrameAncestors != nil {
		in.PortalFrameAncestors = *b.PortalFrameAncestors
	}
	a, err := h.DB.CreateWebhookApp(ctx, workspace(ctx), in)
	if err != nil {
		return nil, err
	}
	return api.CreateApp201JSONResponse(toApp(a)), nil
}

// GetApp fetches an app.
func (h *Handler) GetApp(ctx context.Context, req api.GetAppRequestObject) (api.GetAppResponseObject, error) {
	a, err := h.DB.GetWebhookApp(ctx, workspace(ctx), req.AppId)
	if err != nil {
		return nil, err
	}
	return api.GetApp200JSONResponse(toApp(a)), nil
}

// UpdateApp changes an app.
func (h *Handler) UpdateApp(ctx context.Context, req api.UpdateAppRequestObject) (api.UpdateAppResponseObject, error) {
	a, err := h.DB.UpdateWebhookApp(ctx, workspace(ctx), req.AppId, func(a *store.WebhookApp) error {
		if req.Body.Name != nil {
			a.Name = *req.Body.Name
		}
		if set, v := optional(req.Body.RoutingKeyBodyPath); set {
			a.RoutingKeyBodyPath = v
		}
		if set, v := optional(req.Body.RoutingKeyHeader); set {
			a.RoutingKeyHeader = v
		}
		if req.Body.PortalFrameAncestors != nil {
			a.PortalFrameAncestors = *req.Body.PortalFrameAncestors
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateApp200JSONResponse(toApp(a)), nil
}

// DeleteApp deletes an app and everything under it.
func (h *Handler) DeleteApp(ctx context.Context, req api.DeleteAppRequestObject) (api.DeleteAppResponseObject, error) {
	if err := h.DB.DeleteWebhookApp(ctx, workspace(ctx), req.AppId); err != nil {
		return nil, err
	}
	return api.DeleteApp204Response{}, nil
}

// nonNilStrings answers an empty list as [], not null.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toApp(a store.WebhookApp) api.App {
	return api.App{AppId: a.ID, Name: a.Name, RoutingKeyBodyPath: nullOf(a.RoutingKeyBodyPath),
		RoutingKeyHeader: nullOf(a.RoutingKeyHeader), PortalFrameAncestors: nonNilStrings(a.PortalFrameAncestors),
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}
