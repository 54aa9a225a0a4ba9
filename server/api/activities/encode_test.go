package activities

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// TestAppendActivity: the hand-written encoding (package activityjson) of a created activity reads back exactly as
// encoding ToAPI's result does, with every optional field absent and with every one set
// (strings that need escaping, stored JSON as PostgreSQL prints it, a target user picked or
// failed, attributes resolved, failed and pending).
func TestAppendActivity(t *testing.T) {
	status, label, reason, ext, score := "at_risk", "En \"Riesgo\"", "near\tby \\ ☃", "ext-1", 0
	sugg := time.Date(2031, 2, 3, 4, 5, 6, 789, time.FixedZone("x", 7200))
	bare := store.Activity{ID: uuid.New(), WorkspaceID: uuid.New(), CommerceID: uuid.New(), CommerceName: "Tienda <Don> José",
		Type: "MESSAGE", Channel: "WHATSAPP", Status: "READY", ReasonCode: "monthly_promotion", ReasonLabel: "Promocion Mensual",
		IdempotencyKey: "k-1", ScheduledAt: time.Now(), CreatedAt: time.Now(), UpdatedAt: time.Now().Add(time.Second),
		TargetCriteria: json.RawMessage(`[]`), Attributes: json.RawMessage(`[]`)}
	full := bare
	full.UserStatusCode, full.UserStatusLabel, full.SuggestedExecutionTime, full.Score = &status, &label, &sugg, &score
	full.AssignmentReason, full.ExternalID, full.DispatchAttemptCount, full.AttributeKeys = &reason, &ext, 2, []string{"commerce_info", "a\"b"}
	full.TargetCriteria = json.RawMessage(`[{"type": "ROLE_MATCH", "config": {"role": "OWNER"}, "priority": 1}]`)
	full.Attributes = json.RawMessage(`[{"key": "commerce_info", "value": {"n": 1.5, "s": "x"}, "fallback": "none"}]`)
	user, first, reason, why := uuid.New(), "Jos\u00e9 \"J\"", "CRITERIA_MATCH", "no one"
	full.Target = &store.TargetUser{ID: uuid.New(), CommerceUserID: &user, FirstName: &first, Contact: &store.TargetContact{ID: uuid.New(), Type: "PHONE", Value: "+5691"},
		Status: "LOCKED", Strategy: "ON_CREATION", LockReason: &reason, ResolvedAt: &sugg, LockedAt: &sugg, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	full.ResolvedAttributes = store.ResolvedAttributes{
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "commerce_info", Value: json.RawMessage(`{"name": "Tienda", "metadata": {"a": [1, null]}}`),
			Status: "RESOLVED", Strategy: "UPFRONT", ResolverType: &reason, ResolvedAt: &sugg, CreatedAt: time.Now(), UpdatedAt: time.Now()},
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "tier", Value: json.RawMessage(`null`), Status: "FAILED", Strategy: "CALLER_PROVIDED",
			ErrorMessage: &why, CreatedAt: time.Now(), UpdatedAt: time.Now()},
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "pending", Status: "PENDING", Strategy: "ON_DISPATCH", CreatedAt: time.Now(), UpdatedAt: time.Now()},
	}
	failed := bare
	failed.Target = &store.TargetUser{ID: uuid.New(), Status: "FAILED", Strategy: "ON_DISPATCH", ErrorMessage: &why, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	for name, a := range map[string]store.Activity{"bare": bare, "full": full, "failed target": failed} {
		b := encodeActivity(a)
		var got, want any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, b)
		}
		std, err := json.Marshal(ToAPI(a))
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %s\nwant %s", name, b, std)
		}
	}
}
