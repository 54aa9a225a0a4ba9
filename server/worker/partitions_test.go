package worker_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestPartitionJobRunsOnStart: the partition maintenance job is periodic and runs soon after
// start, whatever the retention (none here): on a clock a month ahead it makes that day's
// partitions and a week's after it, and logs them.
func TestPartitionJobRunsOnStart(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	db := storetest.Open(t, dsn)
	later := time.Now().Add(30 * 24 * time.Hour)
	logs := &servertest.SyncBuffer{}
	servertest.StartWorkers(t, dsn, db, worker.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Now: func() time.Time { return later }})
	last := "webhook_attempts_p" + later.UTC().Add(store.PartitionsAhead*24*time.Hour).Format("20060102")
	servertest.Eventually(t, 30*time.Second, "the partitions a week after the clock's day", func() bool {
		var ok bool
		if err := db.SQL().Get(&ok, `SELECT to_regclass($1) IS NOT NULL`, last); err != nil {
			t.Fatal(err)
		}
		return ok
	})
	servertest.Eventually(t, 10*time.Second, "the job's log", func() bool {
		return strings.Contains(logs.String(), `"msg":"partitions created"`) && strings.Contains(logs.String(), last)
	})
}
