package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// v7At is a version 7 UUID of time at.
func v7At(at time.Time) uuid.UUID {
	u := uuid.Must(uuid.NewV7())
	ms := at.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (8 * (5 - i)))
	}
	return u
}

// TestPartitionMigrationKeepsRows: migration 0018 on a database holding webhook and Ingest rows
// of every kind (made by the schema before it, deliveries with random ids) moves them into the
// partitioned tables with their ids, and every relationship still holds: lookups by message id
// and idempotency key, a message's and an event's deliveries and attempts, a replay to an
// endpoint (the existing delivery again, not a second one), and the cascades of deleting a
// source and an app.
func TestPartitionMigrationKeepsRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, storetest.EmptyDSN(t))
	if err := db.MigrateUpTo(ctx, "0017_river_job_lean_indexes"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ws, app, rcp, ep := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	src, dst := uuid.New(), uuid.New()
	m1, m2 := v7At(now.Add(-time.Minute)), v7At(now.Add(-72*time.Hour)) // today's partition, and the DEFAULT one
	d1, a1 := uuid.New(), v7At(now.Add(-30*time.Second))
	ev, dv, av := v7At(now.Add(-2*time.Minute)), uuid.New(), v7At(now.Add(-90*time.Second))
	for _, st := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO workspaces (id, name) VALUES ($1, 'w')`, []any{ws}},
		{`INSERT INTO webhook_apps (id, workspace_id, name) VALUES ($1, $2, 'a')`, []any{app, ws}},
		{`INSERT INTO webhook_recipients (id, app_id, recipient_id) VALUES ($1, $2, 'r1')`, []any{rcp, app}},
		{`INSERT INTO webhook_endpoints (id, workspace_id, app_id, recipient_pk, url, secret)
			VALUES ($1, $2, $3, $4, 'https://example.com/hook', '\x00')`, []any{ep, ws, app, rcp}},
		{`INSERT INTO webhook_messages (id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at)
			VALUES ($1, $2, 'msg-1', 'key-1', $3, 'r1', 'invoice.paid', '{"data":{}}', $4),
				($5, $2, 'msg-2', NULL, $3, 'r1', 'invoice.paid', '{"data":{}}', $6)`, []any{m1, app, rcp, now.Add(-time.Minute), m2, now.Add(-72 * time.Hour)}},
		{`INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status, attempts) VALUES ($1, $2, $3, 'delivered', 1)`, []any{d1, m1, ep}},
		{`INSERT INTO webhook_attempts (id, delivery_id, message_pk, endpoint_id, attempt_number, trigger, status, duration_ms)
			VALUES ($1, $2, $3, $4, 1, 'scheduled', 'succeeded', 5)`, []any{a1, d1, m1, ep}},
		{`INSERT INTO ingest_sources (id, workspace_id, name, type, url_token, token_hash, dedup_window_seconds, allowed_methods)
			VALUES ($1, $2, 's', 'none', '\x00', '\x01', 0, '{POST}')`, []any{src, ws}},
		{`INSERT INTO ingest_destinations (id, workspace_id, name, url, secret) VALUES ($1, $2, 'd', 'https://example.com/in', '\x00')`, []any{dst, ws}},
		{`INSERT INTO ingest_destination_sources (destination_id, source_id) VALUES ($1, $2)`, []any{dst, src}},
		{`INSERT INTO ingest_events (id, workspace_id, source_id, status, verification_status, verification_scheme, method, headers, body, body_size, received_at)
			VALUES ($1, $2, $3, 'accepted', 'unchecked', 'none', 'POST', '{}', '\x7b7d', 2, $4)`, []any{ev, ws, src, now.Add(-2 * time.Minute)}},
		{`INSERT INTO webhook_deliveries (id, event_pk, destination_id, status, attempts) VALUES ($1, $2, $3, 'failed', 1)`, []any{dv, ev, dst}},
		{`INSERT INTO webhook_attempts (id, delivery_id, event_pk, destination_id, attempt_number, trigger, status, duration_ms)
			VALUES ($1, $2, $3, $4, 1, 'scheduled', 'failed', 7)`, []any{av, dv, ev, dst}},
	} {
		if _, err := db.SQL().Exec(st.query, st.args...); err != nil {
			t.Fatalf("%s: %v", st.query, err)
		}
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	ids := func(query string) []uuid.UUID {
		t.Helper()
		var out []uuid.UUID
		if err := db.SQL().Select(&out, query); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sorted := func(us ...uuid.UUID) []uuid.UUID {
		slices.SortFunc(us, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
		return us
	}
	for query, want := range map[string][]uuid.UUID{
		`SELECT id FROM webhook_messages ORDER BY id`:                                sorted(m1, m2),
		`SELECT message_pk FROM webhook_message_keys ORDER BY 1`:                     sorted(m1, m2),
		`SELECT id FROM webhook_deliveries ORDER BY id`:                              sorted(d1, dv),
		`SELECT id FROM webhook_attempts ORDER BY id`:                                sorted(a1, av),
		`SELECT id FROM ingest_events ORDER BY id`:                                   {ev},
		`SELECT message_pk FROM webhook_deliveries WHERE id = '` + d1.String() + `'`: {m1},
		`SELECT delivery_id FROM webhook_attempts WHERE event_pk IS NOT NULL`:        {dv},
	} {
		if got := ids(query); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM webhook_messages_default WHERE id = $1`, m2); n != 1 {
		t.Error("the 3-day-old message is not in the DEFAULT partition")
	}
	// The migration made today's partitions and a week's ahead.
	for d := range store.PartitionsAhead + 1 {
		day := now.UTC().Add(time.Duration(d) * 24 * time.Hour)
		for _, table := range timePartitioned {
			if n := count(t, db, `SELECT count(*) FROM pg_class WHERE relname = $1`, dayName(table, day)); n != 1 {
				t.Errorf("no partition %s after the migration", dayName(table, day))
			}
		}
	}
	if n := count(t, db, `SELECT count(*) FROM `+dayName("webhook_messages", now)+` WHERE id = $1`, m1); n != 1 {
		t.Error("today's message is not in today's partition")
	}

	// Lookups: by message id and idempotency key, with the delivery of a random id and its attempt.
	m, err := db.GetMessage(ctx, ws, app, "msg-1", "")
	if err != nil || m.ID != m1 || len(m.Deliveries) != 1 || m.Deliveries[0].ID != d1 || m.Status != store.DeliveryDelivered {
		t.Fatalf("GetMessage = %+v, %v", m, err)
	}
	if as, err := db.ListMessageAttempts(ctx, ws, app, "msg-1", "", nil, uuid.Nil, 10); err != nil || len(as) != 1 || as[0].ID != a1 || as[0].MessageID != "msg-1" {
		t.Errorf("ListMessageAttempts = %+v, %v", as, err)
	}
	if list, err := db.ListMessages(ctx, ws, app, store.MessageFilter{}, 10); err != nil || len(list) != 2 || list[0].Status != store.DeliveryDelivered ||
		list[1].Status != "no_endpoints" {
		t.Errorf("ListMessages = %+v, %v", list, err)
	}
	key := "key-1"
	for _, in := range []store.MessageSend{{MessageID: "msg-1"}, {MessageID: "msg-other", IdempotencyKey: &key}} {
		in.WorkspaceID, in.AppID, in.RecipientID, in.EventType, in.Data = ws, app, "r1", "invoice.paid", []byte(`{}`)
		if got, created, err := db.SendMessage(ctx, in); err != nil || created || got.ID != m1 {
			t.Errorf("send again %+v: created %v, %s, %v; want the first message", in, created, got.ID, err)
		}
	}
	e, err := db.GetEvent(ctx, ws, ev)
	if err != nil || len(e.Deliveries) != 1 || e.Deliveries[0].ID != dv || len(e.Deliveries[0].AttemptList) != 1 {
		t.Fatalf("GetEvent = %+v, %v", e, err)
	}

	// A replay to the endpoint makes the existing delivery pending again.
	if n, err := db.ReplayMessage(ctx, ws, app, "msg-1", &ep); err != nil || n != 1 {
		t.Fatalf("ReplayMessage = %d, %v", n, err)
	}
	if ds := ids(`SELECT id FROM webhook_deliveries WHERE message_pk = '` + m1.String() + `' AND status = 'pending'`); !slices.Equal(ds, []uuid.UUID{d1}) {
		t.Errorf("deliveries of the replayed message: %v, want the one it had", ds)
	}
	if n, err := db.ReplayEvent(ctx, ws, ev, []uuid.UUID{dst}); err != nil || n != 1 {
		t.Fatalf("ReplayEvent = %d, %v", n, err)
	}
	if ds := ids(`SELECT id FROM webhook_deliveries WHERE event_pk = '` + ev.String() + `' AND status = 'pending'`); !slices.Equal(ds, []uuid.UUID{dv}) {
		t.Errorf("deliveries of the replayed event: %v, want the one it had", ds)
	}

	// Cascades: a source takes its events' deliveries and attempts; an app everything of its own.
	if err := db.DeleteSource(ctx, ws, src); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT (SELECT count(*) FROM ingest_events) + (SELECT count(*) FROM webhook_deliveries WHERE event_pk IS NOT NULL)
		+ (SELECT count(*) FROM webhook_attempts WHERE event_pk IS NOT NULL)`); n != 0 {
		t.Errorf("%d Ingest rows left after deleting the source", n)
	}
	if err := db.DeleteWebhookApp(ctx, ws, app); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT (SELECT count(*) FROM webhook_messages) + (SELECT count(*) FROM webhook_message_keys)
		+ (SELECT count(*) FROM webhook_deliveries) + (SELECT count(*) FROM webhook_attempts)`); n != 0 {
		t.Errorf("%d webhook rows left after deleting the app", n)
	}
}
