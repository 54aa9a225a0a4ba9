package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestFinishDispatchesConcurrently: attempts finished at once (the dispatch workers') are
// written in batches, and each keeps its own outcome: 20 activities dispatched, 20 failed, 20
// attempts without a transition (retried later), each counted on its activity and answered
// whether it moved; one more transition of an already dispatched activity moves nothing, and
// a finish naming another workspace neither moves nor counts on the activity.
func TestFinishDispatchesConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	w, err := db.CreateWorkspace(ctx, "finish")
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.CreateCommerce(ctx, w.ID, store.CommerceCreate{Name: "c", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	var acts []store.Activity
	for range 60 {
		a, err := db.CreateActivity(ctx, store.ActivityCreate{WorkspaceID: w.ID, CommerceID: c.ID, Type: "TASK", Channel: "SALESMAN",
			Reason: "r", ReasonCode: "r", IdempotencyKey: uuid.NewString(), ScheduledAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a)
	}
	ready := []string{store.StatusReady}
	ext, code, msg := "ext-1", "HTTP_500", "Provider answered 500"
	transition := func(i int) *store.Transition {
		switch i % 3 {
		case 0:
			return &store.Transition{From: ready, To: store.StatusDispatched, EventType: "DISPATCH_SUCCESS", ExternalID: &ext}
		case 1:
			return &store.Transition{From: ready, To: store.StatusFailed, EventType: "DISPATCH_FAILED", ErrorCode: &code, ErrorMessage: &msg}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, a := range acts {
		wg.Go(func() {
			moved, err := db.FinishDispatch(ctx, w.ID, store.DispatchAttempt{ActivityID: a.ID, Attempt: 1, StartedAt: time.Now(), DurationMS: 3}, transition(i))
			if err != nil || moved != (i%3 != 2) {
				errs <- fmt.Errorf("activity %d: moved %v, %w", i, moved, err)
			}
		})
	}
	other, err := db.CreateWorkspace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { // another workspace's id for acts[2]: counted nowhere, moved nowhere
		if moved, err := db.FinishDispatch(ctx, other.ID, store.DispatchAttempt{ActivityID: acts[2].ID, Attempt: 5, StartedAt: time.Now()},
			transition(0)); err != nil || moved {
			errs <- fmt.Errorf("another workspace's finish: moved %v, %w", moved, err)
		}
	})
	wg.Wait()
	if moved, err := db.FinishDispatch(ctx, w.ID, store.DispatchAttempt{ActivityID: acts[0].ID, Attempt: 2, StartedAt: time.Now()}, transition(1)); err != nil || moved {
		t.Errorf("a second transition of a dispatched activity: moved %v, %v", moved, err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, a := range acts {
		got, err := db.GetActivity(ctx, w.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{store.StatusDispatched, store.StatusFailed, store.StatusReady}[i%3]
		attempts := 1
		if i == 0 {
			attempts = 2
		}
		if got.Status != want || got.DispatchAttemptCount != attempts {
			t.Errorf("activity %d: %s after %d attempts, want %s after %d", i, got.Status, got.DispatchAttemptCount, want, attempts)
		}
		if i%3 == 0 && (got.ExternalID == nil || *got.ExternalID != ext) {
			t.Errorf("activity %d: external id %v", i, got.ExternalID)
		}
		rows := attempts
		if i == 2 { // the attempt row is written whatever the workspace, as before batching
			rows = 2
		}
		list, err := db.ListDispatchAttempts(ctx, w.ID, a.ID)
		if err != nil || len(list) != rows {
			t.Errorf("activity %d: %d attempts recorded (%v), want %d", i, len(list), err, rows)
		}
	}
	var events int
	if err := db.SQL().Get(&events, `SELECT count(*) FROM activity_status_events WHERE event_type IN ('DISPATCH_SUCCESS', 'DISPATCH_FAILED')`); err != nil {
		t.Fatal(err)
	}
	if events != 40 {
		t.Errorf("%d dispatch status events, want 40", events)
	}
}
