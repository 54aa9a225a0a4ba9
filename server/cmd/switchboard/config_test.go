package main

import (
	"io"
	"log/slog"
	"strings"
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

// TestPublicURLStopsServe: a SWITCHBOARD_PUBLIC_URL that is not an absolute http(s) URL stops
// serve at start, before anything is started.
func TestPublicURLStopsServe(t *testing.T) {
	t.Setenv("SWITCHBOARD_PUBLIC_URL", "switchboard.example.com")
	t.Setenv("SWITCHBOARD_DATA_DIR", t.TempDir())
	err := serve(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_PUBLIC_URL") {
		t.Fatalf("serve: %v, want an error naming SWITCHBOARD_PUBLIC_URL", err)
	}
}

// TestParseLogLevel: SWITCHBOARD_LOG_LEVEL is debug, info (the default), warn or error, in any
// case; anything else stops serve at start.
func TestParseLogLevel(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]slog.Level{"": slog.LevelInfo, "info": slog.LevelInfo, "DEBUG": slog.LevelDebug,
		"warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := parseLogLevel(v); err != nil || got != want {
			t.Errorf("parseLogLevel(%q) = %s, %v; want %s", v, got, err, want)
		}
	}
	for _, v := range []string{"verbose", "3", "info "} {
		if _, err := parseLogLevel(v); err == nil {
			t.Errorf("parseLogLevel(%q): no error", v)
		}
	}
}

// TestParseRescueAfter: SWITCHBOARD_JOB_RESCUE_AFTER is a Go duration of at least 1 s, a
// minute when unset.
func TestParseRescueAfter(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"": time.Minute, "5s": 5 * time.Second, "2m": 2 * time.Minute} {
		if got, err := parseRescueAfter(v); err != nil || got != want {
			t.Errorf("parseRescueAfter(%q) = %s, %v; want %s", v, got, err, want)
		}
	}
	for _, v := range []string{"0", "500ms", "-1m", "soon"} {
		if _, err := parseRescueAfter(v); err == nil {
			t.Errorf("parseRescueAfter(%q): no error", v)
		}
	}
}
