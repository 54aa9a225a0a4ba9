package main

import (
	"testing"
	"time"
)

// TestParseRetention: SWITCHBOARD_WEBHOOK_RETENTION is a Go duration, 90 days when unset, 0 to
// keep messages forever; anything else stops serve at start.
func TestParseRetention(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"": 2160 * time.Hour, "720h": 720 * time.Hour, "0": 0, "0s": 0, "90m": 90 * time.Minute} {
		if got, err := parseRetention(v); err != nil || got != want {
			t.Errorf("parseRetention(%q) = %s, %v; want %s", v, got, err, want)
		}
	}
	for _, v := range []string{"30d", "-1h", "forever", "90"} {
		if got, err := parseRetention(v); err == nil {
			t.Errorf("parseRetention(%q) = %s, want an error", v, got)
		}
	}
}
