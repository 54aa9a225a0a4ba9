package eventfilter

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// Router routes events to destinations, compiling each destination's body filter once per
// change of the destination (its updatedAt). It is safe for concurrent use.
type Router struct {
	compiled sync.Map // destination id -> compiledFilter
}

type compiledFilter struct {
	updatedAt time.Time
	body      *Body
}

func (r *Router) body(d store.RouteDestination) *Body {
	if len(d.BodyFilter) == 0 || string(d.BodyFilter) == "null" {
		return nil
	}
	if c, ok := r.compiled.Load(d.ID); ok && c.(compiledFilter).updatedAt.Equal(d.UpdatedAt) {
		return c.(compiledFilter).body
	}
	b, problems := Compile(d.BodyFilter)
	if problems != nil {
		// Filters are checked when they are written; one that no longer compiles matches nothing.
		b = &Body{filter: map[string]any{"$or": []any{}}}
	}
	r.compiled.Store(d.ID, compiledFilter{updatedAt: d.UpdatedAt, body: b})
	return b
}

// Match returns the destinations whose event-type patterns and body filter an event matches.
// The body is decoded (ParseBody) only when some destination has a body filter.
func (r *Router) Match(dests []store.RouteDestination, eventType, contentType string, raw []byte) []uuid.UUID {
	var out []uuid.UUID
	var body any
	parsed, decoded := false, false
	for _, d := range dests {
		if !TypeMatches(d.EventTypes, eventType) {
			continue
		}
		f := r.body(d)
		if f != nil && !decoded {
			body, parsed = ParseBody(contentType, raw)
			decoded = true
		}
		if f.Matches(body, parsed) {
			out = append(out, d.ID)
		}
	}
	return out
}
