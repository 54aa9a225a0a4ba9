package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestMigrateConcurrently starts several migrators on one database at once, as several
// `serve` processes would: each migration is applied exactly once and none fails.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, dsn, storetest.Box)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := storetest.NewDB(t)
	if err := db.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var providers int
	if err := db.SQL().Get(&providers, `SELECT count(*) FROM dispatch_providers`); err != nil || providers != 2 {
		t.Fatalf("seeded providers: %d, %v", providers, err)
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	_, err := db.GetWorkspace(ctx, uuid.New())
	if !errors.Is(err, store.ErrNotFound) || err.Error() != "Workspace not found" {
		t.Fatalf("GetWorkspace: %v", err)
	}
	if _, err := db.CreateDispatchProvider(ctx, store.DispatchProviderCreate{Code: "YOM", Name: "x", ProtocolType: "REST"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate provider code: %v", err)
	}
	if _, _, err := db.CreateAPIKey(ctx, uuid.New(), "k", []string{"*"}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key for an unknown workspace: %v", err)
	}
}

// TestCredentialsBoundToRow checks that a sealed credential copied into another config's row
// does not decrypt there.
func TestCredentialsBoundToRow(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	w, _ := db.CreateWorkspace(ctx, "w")
	yom := uuid.MustParse("660e8400-e29b-41d4-a716-446655440000")
	a, err := db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: w.ID, DispatchProviderID: yom, Channel: "SALESMAN", Credentials: map[string]string{"apiKey": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: w.ID, DispatchProviderID: yom, Channel: "PUSH"})
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := db.DispatchConfigCredentials(ctx, w.ID, b.ID); err != nil || len(creds) != 0 {
		t.Fatalf("no credentials: %v %v", creds, err)
	}
	if _, err := db.SQL().Exec(`UPDATE dispatch_configs SET credentials = (SELECT credentials FROM dispatch_configs WHERE id = $1) WHERE id = $2`, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DispatchConfigCredentials(ctx, w.ID, b.ID); err == nil {
		t.Fatal("credentials sealed for one config opened for another")
	}
}

// TestRevocationReachesOtherProcesses: a process that found a key recently keeps trusting
// it for at most the cache's 2 s after another process revokes it, then refuses it; the
// revoking process refuses it at once.
func TestRevocationReachesOtherProcesses(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	ctx := context.Background()
	a := storetest.Open(t, dsn)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := storetest.Open(t, dsn)
	ws, _ := a.CreateWorkspace(ctx, "w")
	k, secret, err := a.CreateAPIKey(ctx, ws.ID, "k", []string{"*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*store.DB{a, b} {
		if got, err := db.FindAPIKey(ctx, secret); err != nil || got.RevokedAt != nil {
			t.Fatalf("before revoking: %+v %v", got, err)
		}
	}
	if err := a.RevokeAPIKey(ctx, ws.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.FindAPIKey(ctx, secret); got.RevokedAt == nil {
		t.Fatal("the revoking process still trusts the key")
	}
	revoked := time.Now()
	for {
		got, err := b.FindAPIKey(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt != nil {
			break
		}
		if time.Since(revoked) > 3*time.Second {
			t.Fatal("the other process still trusts the key 3 s after its revocation")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
