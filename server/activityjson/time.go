package activityjson

import (
	"time"

	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// Time is a timestamp of the Activities API: every date-time of openapi/activities.yaml is one
// in the generated server types (gen/activities/config.yaml maps them), so every answer writes
// its times as Reten's documentation does, in UTC with milliseconds and Z
// ("2025-01-16T09:00:00.000Z"), whatever their precision; a client that compares them as
// strings gets the seed's. It reads any RFC 3339 time, in a body or a query parameter.
type Time struct{ time.Time }

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{t} }

// TimePtr wraps an optional time.
func TimePtr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	return &Time{*t}
}

// MarshalJSON writes the time with milliseconds, in UTC.
func (t Time) MarshalJSON() ([]byte, error) { return jsonappend.MillisTime(nil, t.Time), nil }

// UnmarshalJSON reads an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error { return t.Time.UnmarshalJSON(b) }

// Bind reads a query parameter (oapi-codegen's runtime.Binder).
func (t *Time) Bind(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}
