// Package ingest implements the Webhooks API's Ingest side (openapi/ingest.yaml, mounted at
// /api/v1/ingest): sources and their public receiving URL (receive.go), the event ledger,
// destinations, issues and replays. Forwarding an event to a destination is a webhook delivery,
// made by the same worker as the Dispatch side's (server/worker/webhookdelivery.go).
package ingest

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/ingest"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/eventfilter"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Handler serves the Ingest API and the sources' receiving URLs.
type Handler struct {
	DB *store.DB
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// PublicURL is the base of every absolute URL handed out (a source's url) and the URL
	// Twilio is taken to have called; "" = the request's own scheme and host (as forwarded).
	PublicURL string
	router    eventfilter.Router
	receivers receivers
}

var _ api.StrictServerInterface = (*Handler)(nil)

type requestKey struct{}

// WithRequest is a strict middleware that keeps the HTTP request in the context, for the
// operations that build a source's URL from the host it was called on.
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

// publicBase is the base URL sources' URLs are given on: PublicURL, else the request's scheme
// and host as a proxy in front forwarded them (X-Forwarded-Proto, X-Forwarded-Host), else as
// received.
func (h *Handler) publicBase(r *http.Request) string {
	if h.PublicURL != "" {
		return strings.TrimSuffix(h.PublicURL, "/")
	}
	if r == nil {
		return "http://127.0.0.1:8080"
	}
	return requestBase(r, true)
}

// requestBase is the scheme and host a request was made to; forwarded, as a proxy in front said.
func requestBase(r *http.Request, forwarded bool) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if forwarded {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if fh := firstValue(r.Header.Get("X-Forwarded-Host")); fh != "" && !strings.ContainsAny(fh, "/\\ @") {
			host = fh
		}
	}
	return scheme + "://" + host
}

func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

func workspace(ctx context.Context) uuid.UUID { return auth.FromContext(ctx).WorkspaceID }

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
// returns the next page's cursor when there was one more.
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
