package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

// TestPlanCacheSeesChanges: a create resolves with what the plan cache keeps only while it is
// right for this process: a change made through the same store is seen by the next create,
// one made by another process within the cache's second (here the creating process's clock
// is moved past it).
func TestPlanCacheSeesChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.DSN(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	a := storetest.Open(t, dsn, store.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	b := storetest.Open(t, dsn) // another process
	ws, _ := a.CreateWorkspace(ctx, "w")
	com, err := a.CreateCommerce(ctx, ws.ID, store.CommerceCreate{Name: "c", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTargetConfig(ctx, ws.ID, store.TargetConfig{Strategy: store.StrategyOnCreation, IsActive: true,
		Criteria: store.NewTargetCriteria([]store.TargetCriterion{{Type: store.CriterionRoleMatch, Config: json.RawMessage(`{"role":"OWNER"}`)}})}); err != nil {
		t.Fatal(err)
	}
	n := 0
	create := func(db *store.DB) store.Activity {
		t.Helper()
		n++
		act, err := db.CreateActivity(ctx, store.ActivityCreate{WorkspaceID: ws.ID, CommerceID: com.ID, Type: "TASK", Channel: "SALESMAN",
			Reason: "r", ReasonCode: "r", IdempotencyKey: fmt.Sprint("k", n), ScheduledAt: time.Now().Add(time.Hour), AttributeKeys: []string{"promotions"}})
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	if act := create(a); act.Status != store.StatusUnresolved {
		t.Fatalf("no owner yet: %s", act.Status)
	}
	// Through the same store: seen at once.
	first := "Olga"
	u, err := a.CreateCommerceUser(ctx, ws.ID, com.ID, store.CommerceUserCreate{FirstName: &first, Source: "RETEN", IsActive: true, Roles: []string{"OWNER"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateCommerce(ctx, ws.ID, com.ID, func(c *store.Commerce) error { c.Metadata = json.RawMessage(`{"promotions":"2x1"}`); return nil }); err != nil {
		t.Fatal(err)
	}
	act := create(a)
	if act.Status != store.StatusReady || *act.Target.CommerceUserID != u.ID || string(act.ResolvedAttributes[0].Value) != `"2x1"` {
		t.Fatalf("after the changes: %s %+v %s", act.Status, act.Target, act.ResolvedAttributes[0].Value)
	}
	// Through another process: within the second, the kept plan; past it, the change.
	if _, err := b.UpdateCommerceUser(ctx, ws.ID, com.ID, u.ID, func(u *store.CommerceUser) error { u.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	internal := store.ResolverInternal
	if _, _, err := b.UpsertAttributePolicy(ctx, ws.ID, store.AttributePolicyUpsert{AttributeKeyID: store.AttributePromotionsID,
		Strategy: store.StrategyOnDispatch, ResolverType: &internal}); err != nil {
		t.Fatal(err)
	}
	if act := create(a); act.Status != store.StatusReady || act.ResolvedAttributes[0].Status != store.ResolutionResolved {
		t.Fatalf("within the second: %s %+v", act.Status, act.ResolvedAttributes)
	}
	now.Add(int64(time.Second))
	act = create(a)
	if act.Status != store.StatusUnresolved || act.Target.Status != store.ResolutionFailed || act.ResolvedAttributes[0].Status != store.ResolutionPending {
		t.Fatalf("past the second: %s %+v %+v", act.Status, act.Target, act.ResolvedAttributes)
	}
	// And the commerce of another workspace is never anyone else's.
	other, _ := a.CreateWorkspace(ctx, "o")
	if _, err := a.CreateActivity(ctx, store.ActivityCreate{WorkspaceID: other.ID, CommerceID: com.ID, Type: "TASK", Channel: "SALESMAN",
		Reason: "r", ReasonCode: "r", IdempotencyKey: "x", ScheduledAt: time.Now()}); err == nil {
		t.Fatal("created for another workspace's commerce")
	}
	_ = uuid.Nil
}
