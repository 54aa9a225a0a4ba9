package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// delivered accepts a message for a new recipient of a new app in a new workspace, delivers
// it (an attempt that succeeded) and returns its primary key.
func delivered(t *testing.T, db *store.DB) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	w, err := db.CreateWorkspace(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateWebhookApp(ctx, w.ID, store.WebhookApp{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateRecipient(ctx, w.ID, a.ID, "r", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateEndpoint(ctx, w.ID, a.ID, "r", store.EndpointCreate{URL: "https://example.com/hook", MaxAttempts: 8}); err != nil {
		t.Fatal(err)
	}
	m, _, err := db.SendMessage(ctx, store.MessageSend{WorkspaceID: w.ID, AppID: a.ID, RecipientID: "r", EventType: "invoice.paid",
		Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: m.Deliveries[0].ID, Number: 1, Trigger: store.TriggerScheduled,
		Succeeded: true, Duration: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func exists(t *testing.T, db *store.DB, messagePK uuid.UUID) bool {
	t.Helper()
	var ok bool
	if err := db.SQL().Get(&ok, `SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE id = $1)`, messagePK); err != nil {
		t.Fatal(err)
	}
	return ok
}

// start runs the job workers with webhook delivery, as `serve` does.
func start(t *testing.T, dsn string, db *store.DB, opts worker.WebhookOptions) *servertest.SyncBuffer {
	t.Helper()
	logs := &servertest.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	servertest.StartWorkers(t, dsn, db, worker.Options{Logger: log, Webhooks: opts})
	return logs
}

// TestRetentionRunsAsPeriodicJob: with a retention, the River client has the retention job as
// a periodic job that runs soon after start; it deletes the message older than the retention,
// keeps the newer one, and says what it did in the log.
func TestRetentionRunsAsPeriodicJob(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	db := storetest.Open(t, dsn)
	old := storetest.AgeWebhookMessage(t, db, delivered(t, db), time.Now().Add(-31*24*time.Hour))
	recent := delivered(t, db)

	logs := start(t, dsn, db, worker.WebhookOptions{Retention: 30 * 24 * time.Hour})
	servertest.Eventually(t, 30*time.Second, "the retention job to complete", func() bool {
		var n int
		if err := db.SQL().Get(&n, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, store.WebhookRetentionArgs{}.Kind()); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if exists(t, db, old) {
		t.Error("the message older than the retention is still there")
	}
	if !exists(t, db, recent) {
		t.Error("the message newer than the retention was deleted")
	}
	var logged bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct {
			Msg      string `json:"msg"`
			Level    string `json:"level"`
			Messages int    `json:"deleted_messages"`
			Attempts int    `json:"deleted_attempts"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "webhook retention" {
			logged = rec.Level == "INFO" && rec.Messages == 1 && rec.Attempts == 1 && strings.Contains(line, `"duration_ms"`)
		}
	}
	if !logged {
		t.Errorf("no info log of the run deleting 1 message and 1 attempt:\n%s", logs.String())
	}
}

// TestRetentionZeroKeepsEverything: retention 0 means no periodic job, and a retention job
// left from an earlier configuration deletes nothing.
func TestRetentionZeroKeepsEverything(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	db := storetest.Open(t, dsn)
	old := storetest.AgeWebhookMessage(t, db, delivered(t, db), time.Now().Add(-10*365*24*time.Hour))

	start(t, dsn, db, worker.WebhookOptions{})
	inserter, err := river.NewClient(riverdatabasesql.New(db.SQL().DB), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := inserter.Insert(context.Background(), store.WebhookRetentionArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 30*time.Second, "the retention job to complete", func() bool {
		var state string
		if err := db.SQL().Get(&state, `SELECT state FROM river_job WHERE id = $1`, res.Job.ID); err != nil {
			t.Fatal(err)
		}
		return state == "completed"
	})
	if !exists(t, db, old) {
		t.Error("retention 0 deleted a message")
	}
}
