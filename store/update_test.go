package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestUpdateConvention: every Update method is a read-modify-write under the row's lock —
// change sees the row as stored, what it leaves is written, an error from it writes nothing,
// and concurrent partial updates do not lose each other's fields.
func TestUpdateConvention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) *hooks {
		t.Helper()
		h := newHooks(t, storetest.NewDB(t), "update")
		h.recipient(t, "r1")
		return h
	}

	t.Run("ChangeSeesTheRowAndRefuses", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		refused := errors.New("refused")
		_, err := bundle.db.UpdateWebhookApp(ctx, bundle.workspace, bundle.app, func(a *store.WebhookApp) error {
			if a.Name != "update" {
				t.Errorf("change got name %q", a.Name)
			}
			a.Name = "changed"
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("UpdateWebhookApp: %v, want change's error", err)
		}
		if a, _ := bundle.db.GetWebhookApp(ctx, bundle.workspace, bundle.app); a.Name != "update" {
			t.Errorf("a refused change was written: %q", a.Name)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		called := false
		_, err := bundle.db.UpdateRecipient(ctx, bundle.workspace, bundle.app, "nobody", func(*store.Recipient) error {
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
				_, err := bundle.db.UpdateRecipient(ctx, bundle.workspace, bundle.app, "r1", func(r *store.Recipient) error {
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
		r, err := bundle.db.GetRecipient(ctx, bundle.workspace, bundle.app, "r1")
		if err != nil || len(r.Metadata) != 10 {
			t.Errorf("after 10 concurrent updates of one key each: %v %v", r.Metadata, err)
		}
	})

	t.Run("DispatchConfigCredentials", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		yom := uuid.MustParse("660e8400-e29b-41d4-a716-446655440000")
		a, err := bundle.db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: bundle.workspace, DispatchProviderID: yom,
			Channel: "SALESMAN", Credentials: map[string]string{"apiKey": "a"}})
		if err != nil {
			t.Fatal(err)
		}
		sealed := func(id uuid.UUID) []byte {
			t.Helper()
			var b []byte
			if err := bundle.db.SQL().Get(&b, `SELECT credentials FROM dispatch_configs WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			return b
		}
		before := sealed(a.ID)
		// A change that leaves the credentials alone writes them back as they were stored.
		if _, err := bundle.db.UpdateDispatchConfig(ctx, bundle.workspace, a.ID, func(c *store.DispatchConfigEdit) error {
			if c.Credentials["apiKey"] != "a" {
				t.Errorf("change got credentials %v", c.Credentials)
			}
			c.BaseURL = nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sealed(a.ID), before) {
			t.Error("untouched credentials were sealed again")
		}
		// Replaced ones are sealed and open.
		if _, err := bundle.db.UpdateDispatchConfig(ctx, bundle.workspace, a.ID, func(c *store.DispatchConfigEdit) error {
			c.Credentials = map[string]string{"apiKey": "b"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if creds, err := bundle.db.DispatchConfigCredentials(ctx, bundle.workspace, a.ID); err != nil || creds["apiKey"] != "b" {
			t.Errorf("replaced credentials: %v %v", creds, err)
		}
		// Credentials that do not open (here: another config's) do not stop deactivating the
		// config, and are kept.
		b, err := bundle.db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: bundle.workspace, DispatchProviderID: yom,
			Channel: "PUSH"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.db.SQL().Exec(`UPDATE dispatch_configs SET credentials = $1 WHERE id = $2`, sealed(a.ID), b.ID); err != nil {
			t.Fatal(err)
		}
		if err := bundle.db.DeactivateDispatchConfig(ctx, bundle.workspace, b.ID); err != nil {
			t.Fatalf("deactivating a config whose credentials do not open: %v", err)
		}
		if !bytes.Equal(sealed(b.ID), sealed(a.ID)) {
			t.Error("unreadable credentials were not kept")
		}
	})
}
