package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock(at time.Time) *testClock { return &testClock{now: at} }

// Now is the store's clock (store.WithClock(c.Now)).
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		clock *testClock
		db    *store.DB
		dsn   string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		clock := newTestClock(time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC))
		dsn := storetest.DSN(t)
		return &testBundle{clock: clock, db: storetest.Open(t, dsn, store.WithClock(clock.Now)), dsn: dsn}
	}

	t.Run("MessageTimes", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := newHooks(t, bundle.db, "clock")
		h.recipient(t, "r1", false)
		m, _, err := bundle.db.SendMessage(ctx, store.MessageSend{WorkspaceID: h.workspace, AppID: h.app, RecipientID: "r1",
			EventType: "invoice.paid", Data: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if want := bundle.clock.Now().Round(time.Microsecond); !m.CreatedAt.Equal(want) {
			t.Errorf("created_at %v, want the store's clock %v", m.CreatedAt, want)
		}
		if !strings.Contains(m.Body, `"timestamp":"2030-01-02T03:04:05.123456789Z"`) {
			t.Errorf("body %s does not carry the store's clock", m.Body)
		}
		got, err := bundle.db.GetMessage(ctx, h.workspace, h.app, m.MessageID, "")
		if err != nil || !got.CreatedAt.Equal(m.CreatedAt) {
			t.Errorf("stored created_at %v (%v), answered %v", got.CreatedAt, err, m.CreatedAt)
		}
	})

	t.Run("BulkReplayEndsNow", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := newHooks(t, bundle.db, "clock")
		r, err := bundle.db.CreateBulkReplay(ctx, h.workspace, h.app, store.ReplayFilter{Since: bundle.clock.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Filter.Until == nil || !r.Filter.Until.Equal(bundle.clock.Now()) {
			t.Errorf("until %v, want the store's clock %v", r.Filter.Until, bundle.clock.Now())
		}
	})

	t.Run("APIKeyCacheExpiresOnTheClock", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		other := storetest.Open(t, bundle.dsn) // another process, on the real clock
		ws, err := other.CreateWorkspace(ctx, "w")
		if err != nil {
			t.Fatal(err)
		}
		k, secret, err := other.CreateAPIKey(ctx, ws.ID, "k", []string{"*"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.db.FindAPIKey(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if err := other.RevokeAPIKey(ctx, ws.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := bundle.db.FindAPIKey(ctx, secret); got.RevokedAt != nil {
			t.Fatal("the cached key was looked up again before its time on the store's clock")
		}
		bundle.clock.Advance(3 * time.Second)
		if got, _ := bundle.db.FindAPIKey(ctx, secret); got.RevokedAt == nil {
			t.Fatal("the cached key is still trusted 3 s later on the store's clock")
		}
	})
}
