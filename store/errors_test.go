package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
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

// TestAsErrorUnavailable: failures to reach a writable database (what a failover looks like
// from a request) are ErrUnavailable, whatever layer reports them; a caller's cancellation or
// deadline, and a PostgreSQL error the input caused, are not.
func TestAsErrorUnavailable(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, err := range map[string]error{
		"refused":           fmt.Errorf("connect: %w", refused),
		"all hosts":         fmt.Errorf("pq: could not connect to any of the hosts:\n%w", errors.Join(refused, errors.New("server is in hot standby mode"))),
		"shutdown":          &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"},
		"starting up":       &pq.Error{Code: "57P03", Message: "the database system is starting up"},
		"connection":        &pq.Error{Code: "08006"},
		"read-only standby": &pq.Error{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"},
		"closed mid-query":  io.ErrUnexpectedEOF,
		"bad conn":          driver.ErrBadConn,
		"reset":             fmt.Errorf("read: %w", syscall.ECONNRESET),
	} {
		if se := store.AsError(err); se == nil || !errors.Is(se, store.ErrUnavailable) {
			t.Errorf("%s: AsError(%v) = %v, want ErrUnavailable", name, err, se)
		}
	}
	for name, err := range map[string]error{
		"canceled":  context.Canceled,
		"deadline":  fmt.Errorf("query: %w", context.DeadlineExceeded),
		"bad input": &pq.Error{Code: "22P02", Message: "invalid input syntax for type uuid"},
		"other":     errors.New("boom"),
	} {
		if se := store.AsError(err); se != nil && errors.Is(se, store.ErrUnavailable) {
			t.Errorf("%s: AsError(%v) is ErrUnavailable", name, err)
		}
	}
}
