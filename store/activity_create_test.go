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
