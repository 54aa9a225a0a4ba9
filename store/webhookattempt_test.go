package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestRecordAttempt: the delivery state machine. An attempt moves its delivery on — delivered
// on success; pending while a next attempt is scheduled; else failed, except that a failed
// replay leaves a delivery pending whose scheduled retry is still ahead — and is stored, each
// attempt counted.
func TestRecordAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		*hooks
		m store.Message
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		h, _ := oneEndpoint(t, "attempts")
		return &testBundle{hooks: h, m: h.send(t, "r1")}
	}
	status := 503
	record := func(t *testing.T, bundle *testBundle, number int, trigger string, succeeded bool, next *time.Time) {
		t.Helper()
		rec := store.AttemptRecord{DeliveryID: bundle.m.Deliveries[0].ID, Number: number, Trigger: trigger, Succeeded: succeeded,
			Duration: 12 * time.Millisecond, NextAttemptAt: next}
		if succeeded {
			ok := 200
			rec.ResponseStatusCode = &ok
		} else {
			msg := "HTTP 503"
			rec.ResponseStatusCode, rec.Error = &status, &msg
		}
		if err := bundle.db.RecordAttempt(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	delivery := func(t *testing.T, bundle *testBundle) store.Delivery {
		t.Helper()
		m, err := bundle.db.GetMessage(ctx, bundle.workspace, bundle.app, bundle.m.MessageID, "")
		if err != nil {
			t.Fatal(err)
		}
		return m.Deliveries[0]
	}
	attempts := func(t *testing.T, bundle *testBundle) []store.Attempt {
		t.Helper()
		out, err := bundle.db.ListMessageAttempts(ctx, bundle.workspace, bundle.app, bundle.m.MessageID, "", nil, uuid.Nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	later := func(d time.Duration) *time.Time {
		at := time.Now().Add(d).UTC().Round(time.Microsecond)
		return &at
	}

	t.Run("SuccessDelivers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		record(t, bundle, 1, store.TriggerScheduled, true, nil)
		d := delivery(t, bundle)
		if d.Status != store.DeliveryDelivered || d.Attempts != 1 || d.DeliveredAt == nil || d.NextAttemptAt != nil ||
			d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.LastError != nil {
			t.Fatalf("after a success: %+v", d)
		}
		as := attempts(t, bundle)
		if len(as) != 1 || as[0].Status != "succeeded" || as[0].AttemptNumber != 1 || as[0].Trigger != store.TriggerScheduled ||
			as[0].DurationMS != 12 || as[0].EndpointID != d.EndpointID || as[0].DeliveryID != d.ID {
			t.Fatalf("attempt rows: %+v", as)
		}
	})

	t.Run("FailureWithRetryStaysPending", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		next := later(time.Hour)
		record(t, bundle, 1, store.TriggerScheduled, false, next)
		d := delivery(t, bundle)
		if d.Status != store.DeliveryPending || d.Attempts != 1 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(*next) ||
			d.LastStatusCode == nil || *d.LastStatusCode != 503 || d.LastError == nil || *d.LastError != "HTTP 503" {
			t.Fatalf("after a failure with a retry: %+v", d)
		}
		if as := attempts(t, bundle); len(as) != 1 || as[0].Status != "failed" || as[0].NextAttemptAt == nil || !as[0].NextAttemptAt.Equal(*next) {
			t.Fatalf("attempt rows: %+v", as)
		}
	})

	t.Run("FailureWithoutRetryFails", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		record(t, bundle, 1, store.TriggerScheduled, false, later(time.Hour))
		record(t, bundle, 2, store.TriggerScheduled, false, nil)
		d := delivery(t, bundle)
		if d.Status != store.DeliveryFailed || d.Attempts != 2 || d.NextAttemptAt != nil || d.DeliveredAt != nil {
			t.Fatalf("after the last failure: %+v", d)
		}
		as := attempts(t, bundle) // newest first
		if len(as) != 2 || as[0].AttemptNumber != 2 || as[1].AttemptNumber != 1 || as[0].Status != "failed" {
			t.Fatalf("attempt rows: %+v", as)
		}
	})

	t.Run("FailedReplayKeepsScheduledRetry", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		next := later(time.Hour)
		record(t, bundle, 1, store.TriggerScheduled, false, next)
		record(t, bundle, 2, store.TriggerReplay, false, nil)
		d := delivery(t, bundle)
		if d.Status != store.DeliveryPending || d.Attempts != 2 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(*next) {
			t.Fatalf("after a failed replay with a retry ahead: %+v", d)
		}
		if as := attempts(t, bundle); len(as) != 2 || as[0].Trigger != store.TriggerReplay || as[0].NextAttemptAt != nil {
			t.Fatalf("attempt rows: %+v", as)
		}
	})

	t.Run("FailedReplayWithoutRetryFails", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		record(t, bundle, 1, store.TriggerScheduled, false, nil)
		record(t, bundle, 2, store.TriggerReplay, false, nil)
		if d := delivery(t, bundle); d.Status != store.DeliveryFailed || d.Attempts != 2 {
			t.Fatalf("after a failed replay of a failed delivery: %+v", d)
		}
	})

	t.Run("SuccessfulReplayDelivers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		record(t, bundle, 1, store.TriggerScheduled, false, later(time.Hour))
		record(t, bundle, 2, store.TriggerReplay, true, nil)
		if d := delivery(t, bundle); d.Status != store.DeliveryDelivered || d.Attempts != 2 || d.NextAttemptAt != nil || d.DeliveredAt == nil {
			t.Fatalf("after a successful replay: %+v", d)
		}
	})

	t.Run("DeletedDelivery", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		if err := bundle.db.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: uuid.New(), Number: 1, Trigger: store.TriggerScheduled}); err != nil {
			t.Fatalf("an attempt of a delivery deleted meanwhile: %v", err)
		}
		if n := count(t, bundle.db, `SELECT count(*) FROM webhook_attempts`); n != 0 {
			t.Fatalf("%d attempt rows for a deleted delivery", n)
		}
	})
}

// TestRecordAttemptsConcurrently: attempts recorded at once (the delivery workers') are written
// in batches, and each still counts: 40 deliveries get one successful attempt each, and one
// delivery gets 20 failed replays at once, which land in the same batches (one statement cannot
// move a row twice, so they are written in turn), all 20 stored and counted.
func TestRecordAttemptsConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, _ := oneEndpoint(t, "attempt-batches")
	var ms []store.Message
	for range 40 {
		ms = append(ms, h.send(t, "r1"))
	}
	replayed := h.send(t, "r1")
	ok, failed := 200, 500
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for _, m := range ms {
		wg.Go(func() {
			errs <- h.db.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: m.Deliveries[0].ID, Number: 1, Trigger: store.TriggerScheduled,
				Succeeded: true, ResponseStatusCode: &ok, Duration: time.Millisecond})
		})
	}
	for i := range 20 {
		wg.Go(func() {
			msg := "HTTP 500"
			errs <- h.db.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: replayed.Deliveries[0].ID, Number: i + 1, Trigger: store.TriggerReplay,
				ResponseStatusCode: &failed, Error: &msg, Duration: time.Millisecond})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		got, err := h.db.GetMessage(ctx, h.workspace, h.app, m.MessageID, "")
		if err != nil {
			t.Fatal(err)
		}
		if d := got.Deliveries[0]; d.Status != store.DeliveryDelivered || d.Attempts != 1 || d.DeliveredAt == nil {
			t.Fatalf("delivery after its successful attempt: %+v", d)
		}
	}
	got, err := h.db.GetMessage(ctx, h.workspace, h.app, replayed.MessageID, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Deliveries[0]; d.Attempts != 20 || d.Status != store.DeliveryFailed {
		t.Fatalf("after 20 failed replays at once: %+v", d)
	}
	if n := count(t, h.db, `SELECT count(*) FROM webhook_attempts`); n != 60 {
		t.Fatalf("%d attempt rows, want 60", n)
	}
}

// TestLoadDeliveriesConcurrently: deliveries loaded at once (the delivery workers') are read in
// batches, and each caller gets its own: the right message, body and target, and ok=false for
// a delivery that does not exist.
func TestLoadDeliveriesConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, e := oneEndpoint(t, "load-batches")
	var ms []store.Message
	for range 30 {
		ms = append(ms, h.send(t, "r1"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for _, m := range ms {
		wg.Go(func() {
			task, ok, err := h.db.LoadDelivery(ctx, m.Deliveries[0].ID)
			switch {
			case err != nil:
				errs <- err
			case !ok || task.DeliveryID != m.Deliveries[0].ID || task.WebhookID != m.MessageID || task.Target.ID != e.ID ||
				string(task.Body) != m.Body || m.Body == "" || task.Secrets.Current == "":
				errs <- fmt.Errorf("delivery %s of %s loaded as %s of %s, body %q (ok %v)", m.Deliveries[0].ID, m.MessageID, task.DeliveryID, task.WebhookID, task.Body, ok)
			}
		})
		wg.Go(func() {
			if _, ok, err := h.db.LoadDelivery(ctx, uuid.New()); err != nil || ok {
				errs <- fmt.Errorf("a delivery that does not exist: ok %v, %w", ok, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPlanSendsConcurrently: sends planned at once are looked up in batches, and each caller
// gets its own answer: its app and event type (with its schema), no event type when it is not
// published, ErrNotFound for an app of another workspace or none.
func TestPlanSendsConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	a, b := newHooks(t, db, "plan-a"), newHooks(t, db, "plan-b")
	schema := json.RawMessage(`{"type":"object"}`)
	if _, _, err := db.PutEventType(ctx, a.workspace, a.app, "invoice.paid", store.EventTypePut{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutEventType(ctx, b.workspace, b.app, "order.created", store.EventTypePut{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 25 {
		wg.Go(func() {
			p, err := db.PlanSend(ctx, a.workspace, a.app, "invoice.paid")
			if err != nil || p.App.ID != a.app || p.EventType == nil || p.EventType.Name != "invoice.paid" || !sameJSON(p.EventType.Schema, schema) {
				errs <- fmt.Errorf("a's invoice.paid: %+v %w", p, err)
			}
		})
		wg.Go(func() {
			p, err := db.PlanSend(ctx, a.workspace, a.app, "order.created")
			if err != nil || p.App.ID != a.app || p.EventType != nil {
				errs <- fmt.Errorf("a's unpublished order.created: %+v %w", p, err)
			}
		})
		wg.Go(func() {
			p, err := db.PlanSend(ctx, b.workspace, b.app, "order.created")
			if err != nil || p.App.ID != b.app || p.EventType == nil || p.EventType.Name != "order.created" || len(p.EventType.Schema) != 0 {
				errs <- fmt.Errorf("b's order.created: %+v %w", p, err)
			}
		})
		wg.Go(func() {
			if _, err := db.PlanSend(ctx, a.workspace, b.app, "order.created"); !errors.Is(err, store.ErrNotFound) {
				errs <- fmt.Errorf("b's app asked for in a's workspace: %w", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// TestStatsWindow: the defaults (until now, since three hours before until) and the refusals
// (since after until, over 24 hours), each an ErrInvalid naming query.since.
func TestStatsWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { v := now.Add(time.Duration(h) * time.Hour); return &v }
	for _, c := range []struct {
		name         string
		since, until *time.Time
		lo, hi       time.Time
		invalid      bool
	}{
		{"defaults", nil, nil, now.Add(-3 * time.Hour), now, false},
		{"until given", nil, at(-1), now.Add(-4 * time.Hour), now.Add(-time.Hour), false},
		{"both given", at(-24), at(0), now.Add(-24 * time.Hour), now, false},
		{"since after until", at(1), nil, now.Add(time.Hour), now, true},
		{"over 24 hours", at(-25), nil, now.Add(-25 * time.Hour), now, true},
	} {
		lo, hi, err := store.StatsWindow(now, c.since, c.until)
		var se *store.Error
		switch {
		case c.invalid && (!errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Field != "query.since"):
			t.Errorf("%s: err = %v, want ErrInvalid naming query.since", c.name, err)
		case !c.invalid && (err != nil || !lo.Equal(c.lo) || !hi.Equal(c.hi)):
			t.Errorf("%s: %s – %s, %v; want %s – %s", c.name, lo, hi, err, c.lo, c.hi)
		}
	}
}
