package store

// How Go values cross to and from SQL: the column types read from json and jsonb columns, the
// small conversions the queries' arguments go through and the keyset paging clause. Every file
// of the package may use them, so they live here rather than beside the first table that did.

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// JSONDoc is a JSON document read from a json or jsonb column; NULL reads as nil.
type JSONDoc []byte

// Scan copies the column's bytes.
func (j *JSONDoc) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSONDoc(nil), v...)
	case string:
		*j = JSONDoc(v)
	default:
		return fmt.Errorf("store: cannot scan %T as JSON", src)
	}
	return nil
}

// JSONObject is a jsonb object column.
type JSONObject map[string]any

// Scan reads the jsonb column.
func (j *JSONObject) Scan(src any) error { return scanJSON(src, j) }

// Value writes the jsonb column.
func (j JSONObject) Value() (driver.Value, error) {
	b, err := json.Marshal(map[string]any(j))
	return string(b), err
}

// StringMap is a jsonb object of strings.
type StringMap map[string]string

// Scan reads the jsonb column.
func (m *StringMap) Scan(src any) error { return scanJSON(src, m) }

// scanJSON decodes a json or jsonb column into dst; NULL leaves dst as it is.
func scanJSON(src, dst any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, dst)
	case string:
		return json.Unmarshal([]byte(v), dst)
	case nil:
		return nil
	}
	return fmt.Errorf("store: cannot scan %T as JSON", src)
}

// jsonMap encodes a map of strings for a jsonb column; nil is the empty object.
func jsonMap(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// jsonOr passes a JSON document as text, or dflt when it is empty.
func jsonOr(b json.RawMessage, dflt string) string {
	if len(b) == 0 {
		return dflt
	}
	return string(b)
}

// nullJSON passes an absent JSON document as SQL NULL rather than an empty byte string.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// nonEmpty treats an empty document as absent.
func nonEmpty(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nonNilMap makes a nil map the empty one, so it encodes as {} rather than null.
func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// nonNilStrings makes a nil slice the empty one, so a text[] column gets '{}' rather than NULL.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nullUUID passes uuid.Nil as SQL NULL (a "no filter" or "from the start" argument).
func nullUUID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

// deref reads an optional string, "" when absent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pgTime is t as PostgreSQL stores a timestamptz: microseconds, read back in UTC.
func pgTime(t time.Time) time.Time { return t.Round(time.Microsecond).UTC() }

// pgTimePtr is pgTime of an optional time.
func pgTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	r := pgTime(*t)
	return &r
}

// keysetOrder returns how a keyset page by id compares ids with the one it starts after, and
// its order: ascending, or descending when reverse.
func keysetOrder(reverse bool) (cmp, order string) {
	if reverse {
		return "<", "DESC"
	}
	return ">", "ASC"
}
