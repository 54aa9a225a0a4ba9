// Package problem is the one mapping from errors to HTTP responses. Handlers and middleware
// return Go errors; From turns any of them into a Problem (status, message, details) and each
// API surface renders a Problem in its own documented error body.
package problem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/store"
)

// Detail is one problem with a request: where (field, may be empty) and what.
type Detail struct {
	Field   string
	Message string
	// Type is the kind of problem, for bodies that show one: the JSON Schema keyword that failed
	// ("required", "enum", "pattern", "minimum", "additionalProperties", ...), "json" for a body
	// that is not JSON, or a handler's own word; may be empty.
	Type string
}

// String renders a detail as "field: message".
func (d Detail) String() string {
	if d.Field == "" {
		return d.Message
	}
	return d.Field + ": " + d.Message
}

// Problem is an error with the HTTP status it should be answered with.
type Problem struct {
	Status  int
	Message string
	Details []Detail
	// Header holds response headers the error needs (Retry-After, for instance).
	Header http.Header
	// Cause is the underlying error, logged for 5xx and never shown.
	Cause error
}

func (p *Problem) Error() string {
	if p.Cause != nil {
		return fmt.Sprintf("%d %s: %v", p.Status, p.Message, p.Cause)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Message)
}

func (p *Problem) Unwrap() error { return p.Cause }

// New returns a Problem with a status and a message.
func New(status int, format string, args ...any) *Problem {
	return &Problem{Status: status, Message: fmt.Sprintf(format, args...)}
}

// ValidationFailed is the message of a 400 whose details list what the request got wrong.
const ValidationFailed = "Validation failed"

// Invalid is a 400 listing every problem found; message sums them up.
func Invalid(message string, details ...Detail) *Problem {
	return &Problem{Status: http.StatusBadRequest, Message: message, Details: details}
}

// UnavailableRetryAfter is the Retry-After, in seconds, of a 503 answered while the database
// is unreachable.
const UnavailableRetryAfter = 1

// StatusClientClosedRequest is the status a request whose client went away before its answer
// is logged with (nginx's 499): nobody reads it, and it is not a failure of the server.
const StatusClientClosedRequest = 499

// From maps any error to a Problem, and is the only such mapping: Problems pass through, store
// error kinds (store.AsError, which also classifies PostgreSQL errors the caller's input
// caused) and Echo's HTTP errors get their status, a request whose client has gone is a
// StatusClientClosedRequest, and anything else is a 500 whose cause is kept for the log but
// never shown. The cause of a store error stays in Cause, so a surface's renderer can word it
// its own way.
func From(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if se := store.AsError(err); se != nil {
		switch {
		case errors.Is(se.Kind, store.ErrNotFound):
			return &Problem{Status: http.StatusNotFound, Message: se.Message, Cause: err}
		case errors.Is(se.Kind, store.ErrConflict):
			return &Problem{Status: http.StatusConflict, Message: se.Message, Cause: err}
		case errors.Is(se.Kind, store.ErrInvalid):
			p := &Problem{Status: http.StatusBadRequest, Message: se.Message, Cause: err}
			if se.Field != "" {
				p.Details = []Detail{{Field: se.Field, Message: se.Message}}
			}
			return p
		case errors.Is(se.Kind, store.ErrUnavailable):
			// A failover or a restart of PostgreSQL: a retry in a moment (with the same
			// idempotency key, should the answer of a commit have been lost) reaches the new
			// primary.
			return &Problem{Status: http.StatusServiceUnavailable, Message: se.Message, Cause: err,
				Header: http.Header{"Retry-After": {strconv.Itoa(UnavailableRetryAfter)}}}
		}
	}
	if errors.Is(err, context.Canceled) {
		return &Problem{Status: StatusClientClosedRequest, Message: "Client closed request", Cause: err}
	}
	var le *store.LimitError
	if errors.As(err, &le) {
		return limitReached(le)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if he.Code == http.StatusBadRequest && he.Internal != nil {
			// The handler could not decode a body that passed validation (1e0 or 1.0 for an
			// integer field, a value its Go type refuses): a 400 naming the field, like every
			// other invalid request, rather than the decoder's words.
			return Invalid(ValidationFailed, decodeDetail(he.Internal))
		}
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		if he.Code >= 500 {
			return &Problem{Status: he.Code, Message: http.StatusText(he.Code), Cause: err}
		}
		return &Problem{Status: he.Code, Message: msg}
	}
	return &Problem{Status: http.StatusInternalServerError, Message: "Internal server error", Cause: err}
}

// decodeDetail says which field of a JSON body could not be decoded, and why.
func decodeDetail(err error) Detail {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := ute.Field
		if field == "" {
			field = "body"
		}
		want := "a value of another type"
		switch ute.Type.Kind() { //nolint:exhaustive // the kinds a body field has; the others keep the default wording
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer in range, written without a fraction or exponent"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "a boolean"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Map, reflect.Struct:
			want = "an object"
		}
		return Detail{Field: field, Message: "must be " + want, Type: "type"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Detail{Field: "body", Message: "is not valid JSON", Type: "json"}
	}
	return Detail{Field: "body", Message: "could not be decoded: " + err.Error(), Type: "value_error"}
}

// limitReached is the 429 of a plan limit: the limit named in the message and the detail, and
// Retry-After saying when to try again.
func limitReached(le *store.LimitError) *Problem {
	p := New(http.StatusTooManyRequests, "Plan limit reached: %s (%d)", le.Name, le.Limit)
	p.Details = []Detail{{Field: le.Name, Message: le.Explain()}}
	retry := int(le.RetryAfter.Round(time.Second) / time.Second)
	if le.RetryAfter > 0 && retry == 0 {
		retry = 1
	}
	if le.RetryAfter == 0 {
		retry = 3600 // a count limit: nothing changes until something is deleted or the plan raised
	}
	p.Header = http.Header{"Retry-After": {strconv.Itoa(retry)}}
	return p
}

// Codes name error statuses in the bodies RenderCoded writes: the Admin API's codes, which the
// Webhooks API shares but for 429.
var Codes = map[int]string{
	400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 429: "rate_limited",
	431: "headers_too_large", 503: "unavailable",
}

// RenderCoded writes {code, message, details[{field, message}]}, the code named by codes for
// the status ("internal" when it names none): the Admin API's body, and the Webhooks API's.
func RenderCoded(c echo.Context, p *Problem, codes map[int]string) error {
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
