package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestAccessLogFollowsLevel: at INFO each request has its access line; at WARN
// (SWITCHBOARD_LOG_LEVEL=warn) none, while a failure is still logged at ERROR.
func TestAccessLogFollowsLevel(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, storetest.DSN(t))
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		logs := &servertest.SyncBuffer{}
		e, err := server.New(db, server.Config{AdminToken: "t", PublicURL: "http://127.0.0.1",
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(e)
		for _, path := range []string{"/healthz", "/api/v1/apps"} {
			resp, err := http.Get(ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		ts.Close()
		lines := strings.Count(logs.String(), `"msg":"request"`)
		want := map[slog.Level]int{slog.LevelInfo: 2, slog.LevelWarn: 0}[level]
		if lines != want {
			t.Errorf("at %s: %d access lines, want %d:\n%s", level, lines, want, logs.String())
		}
		if level == slog.LevelInfo && !strings.Contains(logs.String(), `"path":"/api/v1/apps","status":401`) {
			t.Errorf("at INFO, the access line of a 401 is missing:\n%s", logs.String())
		}
	}
}
