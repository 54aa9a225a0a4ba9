package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// TestReserveEndpointSlot: an endpoint limited to perMinute deliveries gets slots 60s/perMinute
// apart, a burst of perMinute/60 at once; a slot further than maxWait is not taken.
func TestReserveEndpointSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db       *store.DB
		endpoint uuid.UUID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		h, e := oneEndpoint(t, "rate")
		return &testBundle{db: h.db, endpoint: e.ID}
	}
	// reserve takes a slot and checks its wait: want, less the time the calls take.
	reserve := func(t *testing.T, bundle *testBundle, perMinute int, maxWait, want time.Duration, wantReserved bool) {
		t.Helper()
		wait, reserved, err := bundle.db.ReserveEndpointSlot(ctx, bundle.endpoint, perMinute, maxWait)
		if err != nil {
			t.Fatal(err)
		}
		if reserved != wantReserved || wait > want || wait < want-250*time.Millisecond {
			t.Errorf("wait %v reserved %v, want %v %v", wait, reserved, want, wantReserved)
		}
	}

	t.Run("SlotsSpaced", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		for i := range 4 { // 60 a minute: one a second
			reserve(t, bundle, 60, time.Minute, time.Duration(i)*time.Second, true)
		}
	})

	t.Run("Burst", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		for range 3 { // 180 a minute: bursts of 3, then one every 333 ms
			reserve(t, bundle, 180, time.Minute, 0, true)
		}
		reserve(t, bundle, 180, time.Minute, time.Minute/180, true)
		reserve(t, bundle, 180, time.Minute, 2*time.Minute/180, true)
	})

	t.Run("MaxWaitNotTaken", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		reserve(t, bundle, 60, 1500*time.Millisecond, 0, true)
		reserve(t, bundle, 60, 1500*time.Millisecond, time.Second, true)
		// The next slot is 2 s away: not taken, so asking again finds the same slot.
		reserve(t, bundle, 60, 1500*time.Millisecond, 2*time.Second, false)
		reserve(t, bundle, 60, 1500*time.Millisecond, 2*time.Second, false)
		reserve(t, bundle, 60, 3*time.Second, 2*time.Second, true)
	})

	t.Run("Unlimited", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		for range 3 {
			reserve(t, bundle, 0, 0, 0, true)
		}
	})

	t.Run("DeletedEndpoint", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		bundle.endpoint = uuid.New()
		reserve(t, bundle, 60, time.Second, 0, true)
		reserve(t, bundle, 60, time.Second, 0, true)
	})
}

// TestEndpointState: the delivery worker's record of an endpoint's failures, and what the
// API's updates do to it.
func TestEndpointState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		*hooks
		e store.Endpoint
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		h, e := oneEndpoint(t, "state")
		return &testBundle{hooks: h, e: e}
	}
	get := func(t *testing.T, bundle *testBundle) store.Endpoint {
		t.Helper()
		e, err := bundle.db.GetEndpoint(ctx, bundle.workspace, bundle.app, "r1", bundle.e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	failed := func(t *testing.T, bundle *testBundle, disableBefore time.Time) bool {
		t.Helper()
		disabled, err := bundle.db.EndpointFailed(ctx, bundle.e.ID, disableBefore)
		if err != nil {
			t.Fatal(err)
		}
		return disabled
	}

	t.Run("FailingSinceThenDisabled", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		if failed(t, bundle, time.Now().Add(-time.Hour)) {
			t.Fatal("disabled at its first failure")
		}
		first := get(t, bundle)
		if first.FailingSince == nil || time.Since(*first.FailingSince).Abs() > time.Minute || first.Status != store.EndpointActive {
			t.Fatalf("after a failure: failing since %v, %s", first.FailingSince, first.Status)
		}
		// Later failures keep the first one's time; failing since after disableBefore is not enough.
		if failed(t, bundle, first.FailingSince.Add(-time.Second)) {
			t.Fatal("disabled though failing only since after disableBefore")
		}
		if e := get(t, bundle); !e.FailingSince.Equal(*first.FailingSince) {
			t.Fatalf("failing since moved: %v, was %v", e.FailingSince, first.FailingSince)
		}
		if !failed(t, bundle, first.FailingSince.Add(time.Second)) {
			t.Fatal("not disabled though failing since before disableBefore")
		}
		e := get(t, bundle)
		want := "Every delivery failed since " + first.FailingSince.UTC().Format("2006-01-02T15:04:05Z")
		if e.Status != store.EndpointDisabled || e.DisabledReason == nil || *e.DisabledReason != want {
			t.Fatalf("disabled endpoint: %s %v, want reason %q", e.Status, e.DisabledReason, want)
		}
	})

	t.Run("SucceededClears", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		failed(t, bundle, time.Now().Add(-time.Hour))
		if err := bundle.db.EndpointSucceeded(ctx, bundle.e.ID); err != nil {
			t.Fatal(err)
		}
		if e := get(t, bundle); e.FailingSince != nil {
			t.Fatalf("failing since %v after a success", e.FailingSince)
		}
		// A failure after a success starts a new record: not disabled, whatever disableBefore.
		if failed(t, bundle, time.Now().Add(time.Hour)) {
			t.Fatal("disabled at the first failure after a success")
		}
	})

	t.Run("DisableEndpoint", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		if err := bundle.db.DisableEndpoint(ctx, bundle.e.ID, "The endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		if e := get(t, bundle); e.Status != store.EndpointDisabled || e.DisabledReason == nil || *e.DisabledReason != "The endpoint answered 410 Gone" {
			t.Fatalf("after DisableEndpoint: %s %v", e.Status, e.DisabledReason)
		}
	})

	t.Run("DeletedEndpoint", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		if disabled, err := bundle.db.EndpointFailed(ctx, uuid.New(), time.Now().Add(time.Hour)); disabled || err != nil {
			t.Fatalf("EndpointFailed on no endpoint: %v %v", disabled, err)
		}
		if err := bundle.db.EndpointSucceeded(ctx, uuid.New()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ReenabledStartsAfresh", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		failed(t, bundle, time.Now().Add(-time.Hour))
		if err := bundle.db.DisableEndpoint(ctx, bundle.e.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		e, err := bundle.db.UpdateEndpoint(ctx, bundle.workspace, bundle.app, "r1", bundle.e.ID, func(e *store.Endpoint) error {
			e.Status = store.EndpointActive
			return nil
		})
		if err != nil || e.Status != store.EndpointActive || e.DisabledReason != nil || e.FailingSince != nil {
			t.Fatalf("re-enabled: %+v %v", e, err)
		}
		e, err = bundle.db.UpdateEndpoint(ctx, bundle.workspace, bundle.app, "r1", bundle.e.ID, func(e *store.Endpoint) error {
			e.Status = store.EndpointDisabled
			return nil
		})
		if err != nil || e.DisabledReason == nil || *e.DisabledReason != "Disabled through the API" {
			t.Fatalf("disabled through the API: %+v %v", e, err)
		}
	})

	t.Run("ResumeReleasesHeld", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		if _, err := bundle.db.UpdateEndpoint(ctx, bundle.workspace, bundle.app, "r1", bundle.e.ID, func(e *store.Endpoint) error {
			e.Status = store.EndpointPaused
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		m := bundle.send(t, "r1")
		if len(m.Deliveries) != 1 || m.Deliveries[0].Status != store.DeliveryHeld {
			t.Fatalf("a send to a paused endpoint: %+v", m.Deliveries)
		}
		jobs := func() int {
			return count(t, bundle.db, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND args->>'delivery_id' = $1`,
				m.Deliveries[0].ID.String())
		}
		if n := jobs(); n != 0 {
			t.Fatalf("a held delivery has %d jobs", n)
		}
		if _, err := bundle.db.UpdateEndpoint(ctx, bundle.workspace, bundle.app, "r1", bundle.e.ID, func(e *store.Endpoint) error {
			e.Status = store.EndpointActive
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := bundle.db.GetMessage(ctx, bundle.workspace, bundle.app, m.MessageID, "")
		if err != nil || got.Deliveries[0].Status != store.DeliveryPending {
			t.Fatalf("after resuming: %+v %v", got.Deliveries, err)
		}
		if n := jobs(); n != 1 {
			t.Fatalf("a released delivery has %d jobs", n)
		}
	})
}
