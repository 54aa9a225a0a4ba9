package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestUpdateConvention: every Update method is a read-modify-write under the row's lock —
// change sees the row as stored, what it leaves is written, an error from it writes nothing,
// and concurrent partial updates do not lose each other's fields.
func TestUpdateConvention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db *store.DB
		h  *hooks
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := storetest.NewDB(t)
		h := newHooks(t, db, "update")
		h.recipient(t, "r1")
		return &testBundle{db: db, h: h}
	}

	t.Run("ChangeSeesTheRowAndRefuses", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		refused := errors.New("refused")
		_, err := bundle.db.UpdateWebhookApp(ctx, bundle.h.workspace, bundle.h.app, func(a *store.WebhookApp) error {
			if a.Name != "update" {
				t.Errorf("change got name %q", a.Name)
			}
			a.Name = "changed"
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("UpdateWebhookApp: %v, want change's error", err)
		}
		if a, _ := bundle.db.GetWebhookApp(ctx, bundle.h.workspace, bundle.h.app); a.Name != "update" {
			t.Errorf("a refused change was written: %q", a.Name)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		called := false
		_, err := bundle.db.UpdateRecipient(ctx, bundle.h.workspace, bundle.h.app, "nobody", func(*store.Recipient) error {
			called = true
			return nil
		})
		if !errors.Is(err, store.ErrNotFound) || err.Error() != "Recipient nobody not found" || called {
			t.Errorf("unknown recipient: %v (change called: %v)", err, called)
		}
	})

	t.Run("ConcurrentPartialUpdatesKeepBoth", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := bundle.db.UpdateRecipient(ctx, bundle.h.workspace, bundle.h.app, "r1", func(r *store.Recipient) error {
					if r.Metadata == nil {
						r.Metadata = store.StringMap{}
					}
					r.Metadata[string(rune('a'+i))] = "x"
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		r, err := bundle.db.GetRecipient(ctx, bundle.h.workspace, bundle.h.app, "r1")
		if err != nil || len(r.Metadata) != 10 {
			t.Errorf("after 10 concurrent updates of one key each: %v %v", r.Metadata, err)
		}
	})
}
