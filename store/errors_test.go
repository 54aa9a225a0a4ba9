package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestAsError: PostgreSQL errors the caller's input causes come out of store.AsError as
// ErrInvalid, in words that name no table; the store's own errors pass through it; anything
// else is not a store error.
func TestAsError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) *hooks { return newHooks(t, storetest.NewDB(t), "errors") }
	// invalid checks that err is a PostgreSQL error of code, translated to ErrInvalid.
	invalid := func(t *testing.T, err error, code, prefix string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		if errors.Is(err, store.ErrInvalid) {
			t.Fatalf("the method translated %v itself: translation is AsError's", err)
		}
		se := store.AsError(err)
		if se == nil || !errors.Is(se, store.ErrInvalid) {
			t.Fatalf("AsError(%v) = %v, want ErrInvalid", err, se)
		}
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || !strings.HasPrefix(string(pqErr.Code), code) {
			t.Errorf("error %v is not SQLSTATE %s", err, code)
		}
		if !strings.HasPrefix(se.Message, prefix) {
			t.Errorf("message %q, want it to start with %q", se.Message, prefix)
		}
		for _, table := range []string{"workspaces", "dispatch_configs", "calling_configs", "webhook_portal_sessions", "constraint"} {
			if strings.Contains(se.Message, table) {
				t.Errorf("message %q names %q", se.Message, table)
			}
		}
	}

	t.Run("NULInText", func(t *testing.T) { // 22021, class 22
		t.Parallel()
		bundle := setup(t)
		_, err := bundle.db.CreateWorkspace(ctx, "a\x00b")
		invalid(t, err, "22021", "Invalid value: invalid byte sequence")
	})

	t.Run("DatetimeOutOfRange", func(t *testing.T) { // 22008, class 22
		t.Parallel()
		bundle := setup(t)
		bundle.recipient(t, "r1")
		_, _, err := bundle.db.CreatePortalSession(ctx, bundle.workspace, bundle.app, "r1", time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC))
		invalid(t, err, "2200", "Invalid value: ")
	})

	t.Run("ForeignKeyViolation", func(t *testing.T) { // 23503
		t.Parallel()
		bundle := setup(t)
		_, err := bundle.db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: bundle.workspace,
			DispatchProviderID: uuid.New(), Channel: "SALESMAN"})
		invalid(t, err, "23503", "A referenced resource does not exist")
	})

	t.Run("CheckViolation", func(t *testing.T) { // 23514
		t.Parallel()
		bundle := setup(t)
		_, err := bundle.db.CreateCallingConfig(ctx, store.CallingConfig{WorkspaceID: bundle.workspace, ResellerID: "r", Template: "t",
			InitialOffset: -1, CallStartTime: "09:00", CallEndTime: "18:00", CallTimezone: "UTC", CallingProvider: "TWILIO",
			DomesticCountryCode: "+1", InboundCallTimezone: "UTC", InboundBlockAction: "REJECT", RateLimitWindowSeconds: 60})
		invalid(t, err, "23514", "Invalid value: ")
	})

	t.Run("StoreErrorsPassThrough", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		_, err := bundle.db.GetWorkspace(ctx, uuid.New())
		if se := store.AsError(fmt.Errorf("wrapped: %w", err)); se == nil || !errors.Is(se, store.ErrNotFound) || se.Message != "Workspace not found" {
			t.Errorf("AsError(not found) = %v", se)
		}
		if se := store.AsError(errors.New("connection refused")); se != nil {
			t.Errorf("AsError(another error) = %v, want nil", se)
		}
		if se := store.AsError(nil); se != nil {
			t.Errorf("AsError(nil) = %v", se)
		}
	})
}
