package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

var timePartitioned = []string{"webhook_messages", "webhook_deliveries", "webhook_attempts", "ingest_events"}

// partitionsOf lists the partitions of a table (from pg_inherits), by name.
func partitionsOf(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	var names []string
	if err := db.SQL().Select(&names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY 1`, table); err != nil {
		t.Fatal(err)
	}
	return names
}

// partitionCount counts the partitions of every time-partitioned table.
func partitionCount(t *testing.T, db *store.DB) int {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM pg_inherits WHERE inhparent = ANY(ARRAY['webhook_messages', 'webhook_deliveries',
		'webhook_attempts', 'ingest_events']::regclass[])`)
}

func dayName(table string, day time.Time) string { return table + "_p" + day.UTC().Format("20060102") }

// TestEnsurePartitions: each table has today's partitions and a week's ahead, and a DEFAULT
// one; EnsurePartitions makes the missing ones, nothing on a second run, each once with two
// concurrent callers, and moves the DEFAULT partition's rows of a new partition's day into it.
func TestEnsurePartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := oneEndpoint(t, "a")
	db := h.db
	// The migration made them (TestPartitionMigrationKeepsRows); made again here only should
	// the day have changed since the template database was migrated.
	if _, err := db.EnsurePartitions(ctx, time.Now(), store.PartitionsAhead); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, table := range timePartitioned {
		got := slices.DeleteFunc(partitionsOf(t, db, table), func(name string) bool {
			return name < dayName(table, today) && name != table+"_default" // a day before midnight
		})
		want := []string{table + "_default"}
		for d := range store.PartitionsAhead + 1 {
			want = append(want, dayName(table, today.Add(time.Duration(d)*24*time.Hour)))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: partitions %v, want %v", table, got, want)
		}
	}
	if created, err := db.EnsurePartitions(ctx, time.Now(), store.PartitionsAhead); err != nil || len(created) != 0 {
		t.Fatalf("EnsurePartitions again = %v, %v; want none created", created, err)
	}

	later := today.Add(30 * 24 * time.Hour)
	before := partitionCount(t, db)
	created, err := db.EnsurePartitions(ctx, later, 2)
	if err != nil || len(created) != 12 {
		t.Fatalf("EnsurePartitions for 3 new days = %v, %v; want 12 created", created, err)
	}
	if created, err := db.EnsurePartitions(ctx, later, 2); err != nil || len(created) != 0 {
		t.Fatalf("second run = %v, %v; want none created", created, err)
	}
	if n := partitionCount(t, db); n != before+12 {
		t.Errorf("%d partitions, want %d", n, before+12)
	}

	// Two callers at once: each partition is made once, by one of them.
	farther := today.Add(60 * 24 * time.Hour)
	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = db.EnsurePartitions(ctx, farther, 1)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent EnsurePartitions: %v, %v", errs[0], errs[1])
	}
	all := append(slices.Clone(results[0]), results[1]...)
	slices.Sort(all)
	if len(all) != 8 || len(slices.Compact(slices.Clone(all))) != 8 {
		t.Errorf("concurrent callers created %v and %v, want 8 partitions between them, each once", results[0], results[1])
	}

	// A message of a day without a partition is in the DEFAULT partition, and moves into its
	// day's partition when that is made, with its delivery and key.
	old := today.Add(-40*24*time.Hour + time.Hour)
	m := h.send(t, "r1")
	pk := storetest.AgeWebhookMessage(t, db, m.ID, old)
	where := func(table, column string) string {
		t.Helper()
		var name string
		if err := db.SQL().Get(&name, `SELECT tableoid::regclass::text FROM `+table+` WHERE `+column+` = $1`, pk); err != nil {
			t.Fatal(err)
		}
		return name
	}
	if got := where("webhook_messages", "id"); got != "webhook_messages_default" {
		t.Fatalf("aged message in %s, want the DEFAULT partition", got)
	}
	if created, err := db.EnsurePartitions(ctx, old, 0); err != nil || len(created) != 4 {
		t.Fatalf("EnsurePartitions for the aged message's day = %v, %v", created, err)
	}
	if got, want := where("webhook_messages", "id"), dayName("webhook_messages", old); got != want {
		t.Errorf("aged message in %s, want %s", got, want)
	}
	if got, want := where("webhook_deliveries", "message_pk"), dayName("webhook_deliveries", old); got != want {
		t.Errorf("its delivery in %s, want %s", got, want)
	}
	if got, err := db.GetMessage(ctx, h.workspace, h.app, m.MessageID, ""); err != nil || got.ID != pk || len(got.Deliveries) != 1 {
		t.Errorf("GetMessage after the move = %+v, %v", got, err)
	}
}

// TestDeliveryID: the Go and SQL derivations of a delivery's id agree, keep the owner's
// millisecond and are version 7 UUIDs.
func TestDeliveryID(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	for range 5 {
		owner, target := uuid.Must(uuid.NewV7()), uuid.New()
		var sql uuid.UUID
		if err := db.SQL().Get(&sql, `SELECT webhook_delivery_id($1, $2)`, owner, target); err != nil {
			t.Fatal(err)
		}
		got := store.DeliveryID(owner, target)
		if got != sql || got.Version() != 7 || got.Variant() != uuid.RFC4122 || !slices.Equal(got[:6], owner[:6]) {
			t.Errorf("DeliveryID(%s, %s) = %s, SQL %s", owner, target, got, sql)
		}
	}
}

// TestDropExpiredPartitions: retention drops the expired partitions nothing is needed from
// (counted in pg_inherits), with the rows of their messages elsewhere (attempts made later,
// keys); it holds back the partition of a message with a pending delivery, the deliveries
// partition of that day and the attempts partitions from that day on, and leaves the partition
// straddling the cutoff, whose expired rows PruneWebhooks then deletes.
func TestDropExpiredPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, ep := oneEndpoint(t, "a")
	db := h.db
	today := time.Now().UTC().Truncate(24 * time.Hour)
	dayA, dayB, dayC := today.Add(-42*24*time.Hour), today.Add(-41*24*time.Hour), today.Add(-40*24*time.Hour)
	cutoff := today.Add(-30*24*time.Hour + 12*time.Hour) // in the middle of a day
	dayS := cutoff.Truncate(24 * time.Hour)
	for _, d := range []time.Time{dayA, dayB, dayC, dayS} {
		if _, err := db.EnsurePartitions(ctx, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	// One final message a day, but day B's is still pending; two final ones in the day
	// straddling the cutoff, before it and after.
	final := func(at time.Time) (store.Message, uuid.UUID) {
		m := h.send(t, "r1")
		attempt(t, db, m.Deliveries[0].ID, 1, "failed")
		attempt(t, db, m.Deliveries[0].ID, 2, "succeeded")
		return m, storetest.AgeWebhookMessage(t, db, m.ID, at)
	}
	mA, _ := final(dayA.Add(time.Hour))
	mB := h.send(t, "r1")
	attempt(t, db, mB.Deliveries[0].ID, 1, "retrying")
	pkB := storetest.AgeWebhookMessage(t, db, mB.ID, dayB.Add(time.Hour))
	final(dayC.Add(time.Hour))
	_, pkExpired := final(cutoff.Add(-time.Hour))
	_, pkKept := final(cutoff.Add(time.Hour))
	recent := h.send(t, "r1")

	before := partitionCount(t, db)
	res, err := db.DropExpiredPartitions(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	dropped := []string{dayName("webhook_messages", dayA), dayName("ingest_events", dayA), dayName("webhook_deliveries", dayA),
		dayName("webhook_attempts", dayA), dayName("ingest_events", dayB),
		dayName("webhook_messages", dayC), dayName("ingest_events", dayC), dayName("webhook_deliveries", dayC)}
	heldBack := []string{dayName("webhook_messages", dayB), dayName("webhook_deliveries", dayB), dayName("webhook_attempts", dayB),
		dayName("webhook_attempts", dayC)}
	if !slices.Equal(res.Partitions, dropped) || !slices.Equal(res.HeldBack, heldBack) {
		t.Errorf("dropped %v, held back %v; want %v and %v", res.Partitions, res.HeldBack, dropped, heldBack)
	}
	// A's and C's messages with their delivery and both attempts (made today, so not in their
	// day's partition, deleted with them).
	if res.Messages != 2 || res.Deliveries != 2 || res.Attempts != 4 || res.Events != 0 {
		t.Errorf("DropExpiredPartitions = %+v, want 2 messages, 2 deliveries, 4 attempts", res)
	}
	if n := partitionCount(t, db); n != before-len(dropped) {
		t.Errorf("%d partitions after, want %d", n, before-len(dropped))
	}
	wantMessagesLeft(t, db, pkB, pkExpired, pkKept, recent.ID)
	for _, table := range []string{"webhook_deliveries", "webhook_attempts"} {
		if n := count(t, db, `SELECT count(*) FROM `+table+` x WHERE NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = x.message_pk)`); n != 0 {
			t.Errorf("%s without a message: %d", table, n)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM webhook_message_keys k WHERE NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = k.message_pk)`); n != 0 {
		t.Errorf("%d message keys without their message", n)
	}
	// The dropped message's id is free again.
	if _, created, err := db.SendMessage(ctx, store.MessageSend{WorkspaceID: h.workspace, AppID: h.app, RecipientID: "r1",
		EventType: "invoice.paid", Data: []byte(`{}`), MessageID: mA.MessageID}); err != nil || !created {
		t.Errorf("send with a dropped message's id: created %v, %v", created, err)
	}

	// The straddling partition stays; its expired message goes row by row.
	if r, err := db.PruneWebhooks(ctx, cutoff, 100); err != nil || r.Messages != 1 {
		t.Errorf("PruneWebhooks after the drops = %+v, %v; want the straddling partition's expired message", r, err)
	}
	if !slices.Contains(partitionsOf(t, db, "webhook_messages"), dayName("webhook_messages", dayS)) {
		t.Error("the partition straddling the cutoff was dropped")
	}

	// Once B's delivery is final, the rest of the expired partitions go.
	attempt(t, db, store.DeliveryID(pkB, ep.ID), 2, "succeeded")
	res, err = db.DropExpiredPartitions(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Partitions, heldBack) || len(res.HeldBack) != 0 || res.Messages != 1 || res.Attempts != 2 {
		t.Errorf("second run = %+v, want %v dropped, with 1 message and 2 attempts", res, heldBack)
	}
	wantMessagesLeft(t, db, pkKept, recent.ID, messagePK(t, db, h, mA.MessageID))
}

// messagePK returns the primary key of an app's message.
func messagePK(t *testing.T, db *store.DB, h *hooks, messageID string) uuid.UUID {
	t.Helper()
	m, err := db.GetMessage(context.Background(), h.workspace, h.app, messageID, "")
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// partitionsPlanned counts, per partitioned table, the distinct partitions a query's plan reads
// (the planner's pruning: what it plans, and what it locks, at every execution).
func partitionsPlanned(t *testing.T, db *store.DB, query string, args ...any) map[string]int {
	t.Helper()
	var doc string
	if err := db.SQL().Get(&doc, `EXPLAIN (FORMAT JSON) `+query, args...); err != nil {
		t.Fatalf("explain: %v\n%s", err, query)
	}
	seen := map[string]bool{}
	out := map[string]int{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["Relation Name"].(string); ok && !seen[name] {
				seen[name] = true
				for _, table := range timePartitioned {
					if strings.HasPrefix(name, table+"_") {
						out[table]++
					}
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var plan any
	if err := json.Unmarshal([]byte(doc), &plan); err != nil {
		t.Fatal(err)
	}
	walk(plan)
	return out
}

// TestHotQueriesPlanOnePartition: with 40 days of partitions, the statements of a delivery
// (its load, its attempt's record) and of a message's get and its page's statuses are planned
// on one partition of each table they read, not on every one.
func TestHotQueriesPlanOnePartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := oneEndpoint(t, "a")
	db := h.db
	if _, err := db.EnsurePartitions(ctx, time.Now().Add(-40*24*time.Hour), 40); err != nil {
		t.Fatal(err)
	}
	m1, m2 := h.send(t, "r1"), h.send(t, "r1")
	ids := []uuid.UUID{m1.Deliveries[0].ID, m2.Deliveries[0].ID}
	lo, hi := store.OwnerRange(ids)
	doc, _ := json.Marshal([]map[string]any{{"delivery_id": ids[0], "id": uuid.Must(uuid.NewV7()), "trigger": "scheduled",
		"succeeded": true, "duration_ms": 1, "number": 1, "status": "succeeded"}})
	for name, q := range map[string]struct {
		query string
		args  []any
	}{
		"load deliveries":  {store.LoadDeliveriesQuery, []any{pq.Array([]string{ids[0].String(), ids[1].String()}), lo, hi}},
		"record attempts":  {store.RecordAttemptsQuery, []any{string(doc), pq.Array([]string{ids[0].String()})}},
		"message by pk":    {store.MessageByPKQuery, []any{m1.ID, ""}},
		"message statuses": {store.MessageStatusesQuery, []any{pq.Array([]string{m1.ID.String(), m2.ID.String()}), m1.ID, m2.ID}},
	} {
		planned := partitionsPlanned(t, db, q.query, q.args...)
		if len(planned) == 0 {
			t.Errorf("%s: no partition planned", name)
		}
		for table, n := range planned {
			// The attempt goes to a partition chosen as it is inserted: none is planned.
			if n > 1 {
				t.Errorf("%s: %d partitions of %s planned, want 1", name, n, table)
			}
		}
	}
}
