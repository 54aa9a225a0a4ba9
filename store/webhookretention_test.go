package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// hooks is a workspace's webhook app with recipients, for the store's webhook tests.
type hooks struct {
	db        *store.DB
	workspace uuid.UUID
	app       uuid.UUID
}

func newHooks(t *testing.T, db *store.DB, name string) *hooks {
	t.Helper()
	ctx := context.Background()
	w, err := db.CreateWorkspace(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateWebhookApp(ctx, w.ID, store.WebhookApp{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return &hooks{db: db, workspace: w.ID, app: a.ID}
}

// oneEndpoint makes a new database with a hooks app named name whose recipient r1 has one
// active endpoint, and returns them.
func oneEndpoint(t *testing.T, name string) (*hooks, store.Endpoint) {
	t.Helper()
	h := newHooks(t, storetest.NewDB(t), name)
	h.recipient(t, "r1", false)
	es, err := h.db.ListEndpoints(context.Background(), h.workspace, h.app, "r1")
	if err != nil || len(es) != 1 {
		t.Fatalf("endpoints: %v %v", es, err)
	}
	return h, es[0]
}

// recipient creates a recipient with endpoints (paused ones hold their deliveries).
func (h *hooks) recipient(t *testing.T, id string, paused ...bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.db.CreateRecipient(ctx, h.workspace, h.app, id, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range paused {
		if _, err := h.db.CreateEndpoint(ctx, h.workspace, h.app, id, store.EndpointCreate{
			URL: fmt.Sprintf("https://example.com/%s/%d", id, i), MaxAttempts: 8, Paused: p}); err != nil {
			t.Fatal(err)
		}
	}
}

// send accepts a message for a recipient and returns it with its deliveries.
func (h *hooks) send(t *testing.T, recipient string) store.Message {
	t.Helper()
	m, _, err := h.db.SendMessage(context.Background(), store.MessageSend{WorkspaceID: h.workspace, AppID: h.app, RecipientID: recipient,
		EventType: "invoice.paid", Data: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// attempt records an attempt at a delivery: succeeded, failed for good, or failed with a
// retry scheduled (the delivery stays pending).
func attempt(t *testing.T, db *store.DB, delivery uuid.UUID, number int, outcome string) {
	t.Helper()
	rec := store.AttemptRecord{DeliveryID: delivery, Number: number, Trigger: store.TriggerScheduled, Succeeded: outcome == "succeeded",
		Duration: time.Millisecond}
	if outcome == "retrying" {
		next := time.Now().Add(time.Hour)
		rec.NextAttemptAt = &next
	}
	if err := db.RecordAttempt(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// count runs a count(*) query.
func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantMessagesLeft checks that the messages left are those whose primary keys are want.
func wantMessagesLeft(t *testing.T, db *store.DB, want ...uuid.UUID) {
	t.Helper()
	var got []uuid.UUID
	if err := db.SQL().Select(&got, `SELECT id FROM webhook_messages ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
	if !slices.Equal(got, want) {
		t.Errorf("messages left %v, want %v", got, want)
	}
}

// TestPruneWebhooks: messages older than the cutoff whose deliveries are all final go, with
// their deliveries and attempts, in every workspace; newer ones, old ones with a pending,
// retrying or held delivery, and old ones a running bulk replay covers stay; completed bulk
// replays older than the cutoff go; apps, recipients, endpoints and event types stay.
func TestPruneWebhooks(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	old := time.Now().Add(-100 * 24 * time.Hour)
	cutoff := time.Now().Add(-90 * 24 * time.Hour)

	a := newHooks(t, db, "a")
	a.recipient(t, "two", false, false) // two active endpoints
	a.recipient(t, "paused", true)      // one paused endpoint: deliveries are held
	a.recipient(t, "none")              // no endpoint: messages have no deliveries
	if _, _, err := db.PutEventType(ctx, a.workspace, a.app, "invoice.paid", store.EventTypePut{}); err != nil {
		t.Fatal(err)
	}
	b := newHooks(t, db, "b")
	b.recipient(t, "one", false)

	// Old, final: delivered after a retry at one endpoint, failed for good at the other.
	final := a.send(t, "two")
	attempt(t, db, final.Deliveries[0].ID, 1, "retrying")
	attempt(t, db, final.Deliveries[0].ID, 2, "succeeded")
	attempt(t, db, final.Deliveries[1].ID, 1, "failed")
	// Old, one delivery done, the other still retrying.
	retrying := a.send(t, "two")
	attempt(t, db, retrying.Deliveries[0].ID, 1, "succeeded")
	attempt(t, db, retrying.Deliveries[1].ID, 1, "retrying")
	// Old, one delivery done, the other not attempted yet.
	pending := a.send(t, "two")
	attempt(t, db, pending.Deliveries[0].ID, 1, "succeeded")
	// Old, held at a paused endpoint.
	held := a.send(t, "paused")
	if held.Deliveries[0].Status != store.DeliveryHeld {
		t.Fatalf("delivery at a paused endpoint: %s", held.Deliveries[0].Status)
	}
	// Old, no endpoint to deliver to.
	orphan := a.send(t, "none")
	// Another workspace: one old and final, one recent and final.
	otherOld := b.send(t, "one")
	attempt(t, db, otherOld.Deliveries[0].ID, 1, "succeeded")
	otherRecent := b.send(t, "one")
	attempt(t, db, otherRecent.Deliveries[0].ID, 1, "succeeded")
	// Recent and final in the first workspace too.
	recent := a.send(t, "two")
	attempt(t, db, recent.Deliveries[0].ID, 1, "succeeded")
	attempt(t, db, recent.Deliveries[1].ID, 1, "failed")

	pk := map[string]uuid.UUID{}
	for name, m := range map[string]store.Message{"final": final, "retrying": retrying, "pending": pending, "held": held,
		"orphan": orphan, "otherOld": otherOld} {
		pk[name] = storetest.AgeWebhookMessage(t, db, m.ID, old)
	}
	pk["otherRecent"], pk["recent"] = otherRecent.ID, recent.ID

	// Bulk replays: completed long ago (goes), completed lately and running (stay).
	replay := func(h *hooks) store.BulkReplay {
		r, err := db.CreateBulkReplay(ctx, h.workspace, h.app, store.ReplayFilter{Since: old.Add(-time.Hour), FailedOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	longDone, lateDone, running := replay(b), replay(b), replay(b)
	for _, r := range []store.BulkReplay{longDone, lateDone} {
		if done, err := db.RunBulkReplayBatch(ctx, r.ID, 100); err != nil || !done {
			t.Fatalf("replay %s: done %v, %v", r.ID, done, err)
		}
	}
	if _, err := db.SQL().Exec(`UPDATE webhook_replays SET completed_at = $2 WHERE id = $1`, longDone.ID, old); err != nil {
		t.Fatal(err)
	}
	// The running replay covers b's old message, which is final: it must stay until the
	// replay is done. (It replays failed deliveries only, so it made none pending.)
	if n := count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE message_pk = $1 AND status = 'delivered'`, pk["otherOld"]); n != 1 {
		t.Fatalf("b's old message: %d delivered deliveries", n)
	}

	keep := `SELECT (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM webhook_apps) + (SELECT count(*) FROM webhook_recipients)
		+ (SELECT count(*) FROM webhook_endpoints) + (SELECT count(*) FROM webhook_event_types)`
	before := count(t, db, keep)
	res, err := db.PruneWebhooks(ctx, cutoff, 100)
	if err != nil {
		t.Fatal(err)
	}
	// final (2 deliveries, 3 attempts) and orphan (none).
	if want := (store.PruneResult{Messages: 2, Deliveries: 2, Attempts: 3, Replays: 1}); res != want {
		t.Errorf("PruneWebhooks = %+v, want %+v", res, want)
	}
	wantMessagesLeft(t, db, pk["retrying"], pk["pending"], pk["held"], pk["otherOld"], pk["otherRecent"], pk["recent"])
	for _, table := range []string{"webhook_deliveries", "webhook_attempts"} {
		if n := count(t, db, `SELECT count(*) FROM `+table+` WHERE message_pk = ANY(ARRAY[$1, $2]::uuid[])`, pk["final"], pk["orphan"]); n != 0 {
			t.Errorf("%s of deleted messages left: %d", table, n)
		}
		if n := count(t, db, `SELECT count(*) FROM `+table+` x WHERE NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = x.message_pk)`); n != 0 {
			t.Errorf("%s without a message: %d", table, n)
		}
	}
	// Kept messages keep every delivery and attempt.
	if n := count(t, db, `SELECT count(*) FROM webhook_attempts WHERE message_pk = $1`, pk["retrying"]); n != 2 {
		t.Errorf("attempts of the retrying message: %d, want 2", n)
	}
	var replays []uuid.UUID
	if err := db.SQL().Select(&replays, `SELECT id FROM webhook_replays ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(replays, []uuid.UUID{lateDone.ID, running.ID}) {
		t.Errorf("replays left %v, want %v (recently completed, running)", replays, []uuid.UUID{lateDone.ID, running.ID})
	}
	if after := count(t, db, keep); after != before {
		t.Errorf("workspaces, apps, recipients, endpoints and event types: %d before, %d after", before, after)
	}

	// Once the replay is done and the retries are over, the rest of the old messages go too.
	for done := false; !done; {
		if done, err = db.RunBulkReplayBatch(ctx, running.ID, 100); err != nil {
			t.Fatal(err)
		}
	}
	// Aged with its message, the delivery has its aged id (store.DeliveryID).
	attempt(t, db, store.DeliveryID(pk["retrying"], retrying.Deliveries[1].EndpointID), 2, "failed")
	if res, err = db.PruneWebhooks(ctx, cutoff, 100); err != nil {
		t.Fatal(err)
	}
	if res.Messages != 2 || res.Replays != 0 {
		t.Errorf("second run = %+v, want the retrying and b's old message", res)
	}
	wantMessagesLeft(t, db, pk["pending"], pk["held"], pk["otherRecent"], pk["recent"])
}

// TestPruneWebhooksBatches: with a batch smaller than what expired, one call deletes it all,
// batch after batch, stepping over the messages it keeps.
func TestPruneWebhooksBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := oneEndpoint(t, "a")
	db := h.db
	old := time.Now().Add(-48 * time.Hour)
	var kept []uuid.UUID
	for i := range 25 {
		m := h.send(t, "r1")
		if i%4 != 0 {
			attempt(t, db, m.Deliveries[0].ID, 1, "succeeded")
		}
		aged := storetest.AgeWebhookMessage(t, db, m.ID, old.Add(time.Duration(i)*time.Second))
		if i%4 == 0 {
			kept = append(kept, aged) // still pending
		}
	}
	recent := h.send(t, "r1")
	attempt(t, db, recent.Deliveries[0].ID, 1, "succeeded")
	kept = append(kept, recent.ID)

	res, err := db.PruneWebhooks(ctx, time.Now().Add(-24*time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 18 || res.Deliveries != 18 || res.Attempts != 18 {
		t.Errorf("PruneWebhooks = %+v, want 18 messages, deliveries and attempts", res)
	}
	wantMessagesLeft(t, db, kept...)
}

// TestPruneWebhooksRechecksUnderLock: a delivery made pending again (a replay) while the
// retention chooses its message keeps the message: the retention waits for the delivery's
// lock and reads it anew before deleting.
func TestPruneWebhooksRechecksUnderLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := oneEndpoint(t, "a")
	db := h.db
	m := h.send(t, "r1")
	attempt(t, db, m.Deliveries[0].ID, 1, "failed")
	pk := storetest.AgeWebhookMessage(t, db, m.ID, time.Now().Add(-48*time.Hour))

	// A replay in progress: the delivery is pending again, not committed yet.
	tx, err := db.SQL().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE webhook_deliveries SET status = 'pending' WHERE message_pk = $1`, pk); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res store.PruneResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := db.PruneWebhooks(ctx, time.Now().Add(-24*time.Hour), 10)
		done <- result{res, err}
	}()
	// The retention chose the message (the pending state is not committed) and now waits for
	// the delivery's row lock.
	deadline := time.Now().Add(30 * time.Second)
	for count(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		select {
		case r := <-done:
			t.Fatalf("PruneWebhooks returned without waiting for the delivery's lock: %+v, %v", r.res, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("PruneWebhooks never waited for the delivery's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.res.Messages != 0 {
		t.Fatalf("PruneWebhooks = %+v, %v; want nothing deleted", r.res, r.err)
	}
	wantMessagesLeft(t, db, pk) // the replayed one
}

// TestPruneWebhooksStopsWithContext: an ended context stops it with the context's error.
func TestPruneWebhooksStopsWithContext(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.PruneWebhooks(ctx, time.Now(), 10); err == nil {
		t.Fatal("PruneWebhooks with an ended context: no error")
	}
}

// TestPruneWebhooksPortalSessions: portal sessions are deleted a day after they expire; a
// session expired less than a day ago (still answered as expired) and a valid one stay.
func TestPruneWebhooksPortalSessions(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	h := newHooks(t, db, "a")
	h.recipient(t, "r")
	sessions := map[string]time.Time{
		"long expired": time.Now().Add(-25 * time.Hour),
		"just expired": time.Now().Add(-time.Hour),
		"valid":        time.Now().Add(time.Hour),
	}
	tokens := map[string]string{}
	for name, expires := range sessions {
		_, token, err := db.CreatePortalSession(ctx, h.workspace, h.app, "r", expires)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = token
	}
	res, err := db.PruneWebhooks(ctx, time.Now().Add(-90*24*time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.PortalSessions != 1 {
		t.Errorf("PruneWebhooks deleted %d portal sessions, want 1", res.PortalSessions)
	}
	for name, token := range tokens {
		_, err := db.FindPortalSession(ctx, token)
		if gone := errors.Is(err, store.ErrNotFound); gone != (name == "long expired") {
			t.Errorf("%s session: FindPortalSession error %v", name, err)
		}
	}
}
