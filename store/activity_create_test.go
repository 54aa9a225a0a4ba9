package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAppendItems: the hand-written batch encoding reads back exactly as encoding/json's,
// for strings that need escaping and for absent optional fields (an UNRESOLVED item with its
// resolution, a READY one without).
func TestAppendItems(t *testing.T) {
	status, reason, score := "at_risk", "r\"e\\a\ts\x01o\u2028n ☃ 😀", 7
	event, code := uuid.New(), "TARGET_USER_UNRESOLVED"
	sugg := time.Date(2031, 2, 3, 4, 5, 6, 789, time.FixedZone("x", 7200))
	items := []createItem{
		{I: 0, ID: uuid.New(), WorkspaceID: uuid.New(), CommerceID: uuid.New(), Type: "TASK",
			Channel: "SALESMAN", ReasonCode: "r_e_a_s_o_n", Reason: reason, UserStatus: &status, IdempotencyKey: "k\"1",
			ScheduledAt: time.Now(), SuggestedExecutionTime: &sugg, Score: &score, AssignmentReason: &reason,
			TargetCriteria: json.RawMessage(`[{"type":"ROLE_MATCH"}]`), AttributeKeys: []string{"a", "b\"c"},
			Attributes: json.RawMessage(`[]`), Status: "UNRESOLVED", Target: json.RawMessage(`{"id":"x","status":"FAILED"}`),
			ResolvedAttributes: json.RawMessage(`[{"key":"a","value":{"v":1}}]`), EventID: &event, ErrorCode: &code, ErrorMessage: &reason},
		{I: 1, ID: uuid.New(), Type: "MESSAGE", Channel: "SMS", Status: "READY", ReasonCode: "x", Reason: "x", IdempotencyKey: "k2",
			ScheduledAt: time.Now(), TargetCriteria: json.RawMessage(`[]`), AttributeKeys: []string{}, Attributes: json.RawMessage(`[]`),
			Target: json.RawMessage(`null`), ResolvedAttributes: json.RawMessage(`[]`)},
	}
	var got, want []map[string]any
	if err := json.Unmarshal(appendItems(nil, items), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, appendItems(nil, items))
	}
	std, _ := json.Marshal(items)
	_ = json.Unmarshal(std, &want)
	for _, m := range append(want, got...) { // encoding/json writes nulls the hand encoding leaves out
		for k, v := range m {
			if v == nil {
				delete(m, k)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestAppendResolution: the hand-written encodings of a target user and resolved attributes
// (the create batch's) read back exactly as encoding/json's, every optional field set and none.
func TestAppendResolution(t *testing.T) {
	now, user, s := time.Now(), uuid.New(), "x\"y\u00e9\n"
	targets := []TargetUser{
		{ID: uuid.New(), Status: "PENDING", Strategy: "MANUAL", CreatedAt: now, UpdatedAt: now},
		{ID: uuid.New(), CommerceUserID: &user, FirstName: &s, LastName: &s, Contact: &TargetContact{ID: uuid.New(), Type: "PHONE", Value: s},
			Status: "LOCKED", Strategy: "ON_CREATION", LockReason: &s, ResolvedAt: &now, LockedAt: &now, ErrorMessage: &s, CreatedAt: now, UpdatedAt: now},
	}
	for _, tu := range targets {
		want, _ := json.Marshal(tu)
		var got, std TargetUser
		if err := json.Unmarshal(appendTargetUser(nil, tu), &got); err != nil {
			t.Fatalf("not JSON: %v %s", err, appendTargetUser(nil, tu))
		}
		_ = json.Unmarshal(want, &std)
		if !reflect.DeepEqual(got, std) {
			t.Errorf("got  %s\nwant %s", appendTargetUser(nil, tu), want)
		}
	}
	attrs := ResolvedAttributes{
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "k\"", Status: "PENDING", Strategy: "ON_DISPATCH", Value: json.RawMessage("null"), CreatedAt: now, UpdatedAt: now},
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "commerce_info", Value: json.RawMessage(`{"a":[1,"b"]}`), Status: "FALLBACK",
			Strategy: "UPFRONT", ResolverType: &s, ResolvedAt: &now, ErrorMessage: &s, CreatedAt: now, UpdatedAt: now},
		{ID: uuid.New(), AttributeKeyID: uuid.New(), Key: "f", Status: "FAILED", Strategy: "CALLER_PROVIDED", CreatedAt: now, UpdatedAt: now},
	}
	for _, as := range []ResolvedAttributes{{}, attrs} {
		want, _ := json.Marshal(as)
		var got, std any
		if err := json.Unmarshal(appendResolvedAttributes(nil, as), &got); err != nil {
			t.Fatalf("not JSON: %v %s", err, appendResolvedAttributes(nil, as))
		}
		_ = json.Unmarshal(want, &std)
		if !reflect.DeepEqual(got, std) {
			t.Errorf("got  %s\nwant %s", appendResolvedAttributes(nil, as), want)
		}
	}
}
