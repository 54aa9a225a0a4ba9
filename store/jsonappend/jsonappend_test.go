package jsonappend

import (
	"encoding/json"
	"testing"
	"time"
)

// TestString: every string reads back as itself (or, for invalid UTF-8, as encoding/json
// reads it), including quotes, backslashes, control characters and non-ASCII text.
func TestString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "tab\tnl\nret\r\x01\x1f", "ñandú ☃ 😀 \u2028", "bad \xff utf8", "<&>"} {
		var got, want string
		if err := json.Unmarshal(String(nil, s), &got); err != nil {
			t.Fatalf("%q: not JSON: %v (%s)", s, err, String(nil, s))
		}
		std, _ := json.Marshal(s)
		_ = json.Unmarshal(std, &want)
		if got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}

// TestTime: the same text encoding/json writes.
func TestTime(t *testing.T) {
	for _, tm := range []time.Time{time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 120000, time.FixedZone("x", 3600))} {
		std, _ := json.Marshal(tm)
		if got := string(Time(nil, tm)); got != string(std) {
			t.Errorf("got %s, want %s", got, std)
		}
	}
}
