package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestHandWrittenJobsMatchInsertTx: the jobs the two hot statements write into river_job
// themselves (an activity's dispatch job, a sent message's delivery jobs) are the rows River's
// own InsertTx writes for the same args and insert options, column by column, every column
// river_job has (to_jsonb of the row, so a column a River upgrade adds is compared too). Only
// these differ, and are compared otherwise: id (a sequence), created_at (each insert's now(),
// within a tolerance) and scheduled_at (the same when explicitly given, else each insert's
// now(), within a tolerance).
func TestHandWrittenJobsMatchInsertTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db     *store.DB
		client *river.Client[*sql.Tx] // River's own InsertTx, on the same database
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := storetest.NewDB(t)
		client, err := river.NewClient(riverdatabasesql.New(db.SQL().DB), &river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return &testBundle{db: db, client: client}
	}
	// row reads a job as to_jsonb, found by the JSON its args contain.
	row := func(t *testing.T, db *store.DB, kind string, args any) map[string]any {
		t.Helper()
		filter, _ := json.Marshal(args)
		var raw []byte
		if err := db.SQL().Get(&raw, `SELECT to_jsonb(j) FROM river_job j WHERE kind = $1 AND args @> $2::jsonb ORDER BY id`,
			kind, string(filter)); err != nil {
			t.Fatalf("job %s %s: %v", kind, filter, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// insertTx writes args' job through River's InsertTx and returns its row.
	insertTx := func(t *testing.T, bundle *testBundle, args river.JobArgs, opts *river.InsertOpts) map[string]any {
		t.Helper()
		tx, err := bundle.db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		res, err := bundle.client.InsertTx(ctx, tx, args, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		if err := bundle.db.SQL().Get(&raw, `SELECT to_jsonb(j) FROM river_job j WHERE id = $1`, res.Job.ID); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	at := func(t *testing.T, m map[string]any, col string) time.Time {
		t.Helper()
		s, _ := m[col].(string)
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("%s %v: %v", col, m[col], err)
		}
		return v
	}
	// compare checks every column but id; created_at within a tolerance, scheduled_at equal
	// (sameScheduledAt) or within a tolerance.
	compare := func(t *testing.T, hand, river map[string]any, sameScheduledAt bool) {
		t.Helper()
		const tolerance = time.Minute
		if d := at(t, hand, "created_at").Sub(at(t, river, "created_at")).Abs(); d > tolerance {
			t.Errorf("created_at: hand-written %v, InsertTx %v", hand["created_at"], river["created_at"])
		}
		hs, rs := at(t, hand, "scheduled_at"), at(t, river, "scheduled_at")
		if sameScheduledAt && !hs.Equal(rs) || hs.Sub(rs).Abs() > tolerance {
			t.Errorf("scheduled_at: hand-written %v, InsertTx %v", hs, rs)
		}
		for _, m := range []map[string]any{hand, river} {
			delete(m, "id")
			delete(m, "created_at")
			delete(m, "scheduled_at")
		}
		if !reflect.DeepEqual(hand, river) {
			for col := range river {
				if !reflect.DeepEqual(hand[col], river[col]) {
					t.Errorf("%s: hand-written %#v, InsertTx %#v", col, hand[col], river[col])
				}
			}
			for col := range hand {
				if _, ok := river[col]; !ok {
					t.Errorf("%s: hand-written %#v, InsertTx has no such column", col, hand[col])
				}
			}
		}
	}
	// activity creates an activity scheduled at at and returns its dispatch job's args.
	activity := func(t *testing.T, db *store.DB, scheduled time.Time) (store.Activity, store.DispatchActivityArgs) {
		t.Helper()
		w, err := db.CreateWorkspace(ctx, "jobs")
		if err != nil {
			t.Fatal(err)
		}
		c, err := db.CreateCommerce(ctx, w.ID, store.CommerceCreate{Name: "c", IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := db.CreateActivity(ctx, store.ActivityCreate{WorkspaceID: w.ID, CommerceID: c.ID, Type: "TASK", Channel: "SALESMAN",
			Reason: "r", ReasonCode: "r", IdempotencyKey: uuid.NewString(), ScheduledAt: scheduled})
		if err != nil {
			t.Fatal(err)
		}
		return a, store.DispatchActivityArgs{WorkspaceID: w.ID, ActivityID: a.ID}
	}

	t.Run("DispatchActivityDue", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		_, args := activity(t, bundle.db, time.Now().Add(-time.Minute))
		hand := row(t, bundle.db, args.Kind(), args)
		// Due now: InsertTx with no time of its own, as the statement writes it.
		compare(t, hand, insertTx(t, bundle, args, nil), false)
		if hand["state"] != "available" {
			t.Errorf("a due activity's job is %v", hand["state"])
		}
	})

	t.Run("DispatchActivityLater", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		a, args := activity(t, bundle.db, time.Now().Add(time.Hour))
		hand := row(t, bundle.db, args.Kind(), args)
		compare(t, hand, insertTx(t, bundle, args, &river.InsertOpts{ScheduledAt: a.ScheduledAt}), true)
		if hand["state"] != "scheduled" {
			t.Errorf("a later activity's job is %v", hand["state"])
		}
	})

	t.Run("WebhookDelivery", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := newHooks(t, bundle.db, "jobs")
		h.recipient(t, "r1", false)
		m := h.send(t, "r1")
		args := store.WebhookDeliveryArgs{DeliveryID: m.Deliveries[0].ID, Trigger: store.TriggerScheduled}
		hand := row(t, bundle.db, args.Kind(), args)
		compare(t, hand, insertTx(t, bundle, args, nil), false)
	})
}

// TestRiverJobIndexes: after the migrations river_job keeps the indexes River works jobs with
// (fetching, finalizing, uniqueness) but not its GIN indexes on args and metadata, which only
// filtering jobs by their contents would use and every job write paid for (0017).
func TestRiverJobIndexes(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	var names []string
	if err := db.SQL().Select(&names, `SELECT indexname FROM pg_indexes WHERE tablename = 'river_job' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names {
		got[n] = true
	}
	for _, gone := range []string{"river_job_args_index", "river_job_metadata_index"} {
		if got[gone] {
			t.Errorf("river_job still has %s", gone)
		}
	}
	for _, kept := range []string{"river_job_pkey", "river_job_prioritized_fetching_index", "river_job_state_and_finalized_at_index", "river_job_unique_idx"} {
		if !got[kept] {
			t.Errorf("river_job lost %s (has %v)", kept, names)
		}
	}
}
