package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestChooseTarget: every criterion and fallback of target resolution, in order, with the
// reachability rule of each channel, on a commerce's users as the plan loads them.
func TestChooseTarget(t *testing.T) {
	t.Parallel()
	contact := func(typ string) TargetContact { return TargetContact{ID: uuid.New(), Type: typ, Value: typ + "-value"} }
	user := func(name string, roles []string, contacts ...TargetContact) planUser {
		return planUser{ID: uuid.New(), FirstName: &name, Roles: roles, Contacts: contacts}
	}
	owner := user("owner", []string{RoleOwner}, contact("EMAIL"))
	rep := user("rep", []string{RoleCommerceRep}, contact("PHONE"))
	finance := user("finance", []string{"FINANCE", "ADMIN"}, contact("WHATSAPP"), contact("PHONE"))
	finance2 := user("finance2", []string{"FINANCE"}, contact("WHATSAPP"))
	pusher := user("pusher", []string{"ATTENTION"}, contact("OTHER"))
	c := &planCommerce{ID: uuid.New(), Name: "Almacen", Users: []planUser{owner, rep, finance, finance2, pusher}}
	role := func(r string, prio int) TargetCriterion {
		return TargetCriterion{Type: CriterionRoleMatch, Config: json.RawMessage(`{"role":"` + r + `"}`), Priority: prio}
	}
	rules := func(fbRep, fbOwner bool, cs ...TargetCriterion) targetRules {
		return targetRules{strategy: StrategyOnCreation, criteria: NewTargetCriteria(cs), fallbackRep: fbRep, owner: fbOwner}
	}
	last := planLast{Any: &owner.ID, SameChannel: &pusher.ID}
	for _, tc := range []struct {
		name          string
		rules         targetRules
		typ, channel  string
		last          planLast
		want          *planUser
		reason        string
		contactType   string // "" = none
		whyContaining string // for no pick
	}{
		{"ROLE_MATCH: the oldest user with the role", rules(true, true, role("FINANCE", 0)), "MESSAGE", "WHATSAPP", last, &finance, LockCriteriaMatch, "WHATSAPP", ""},
		{"criteria by priority, lower first", rules(true, true, role("ATTENTION", 5), role("ADMIN", 1)), "TASK", "SALESMAN", last, &finance, LockCriteriaMatch, "", ""},
		{"a user not reachable on the channel is skipped", rules(true, true, role("ADMIN", 0), role("OWNER", 1)), "MESSAGE", "EMAIL", last, &owner, LockCriteriaMatch, "EMAIL", ""},
		{"WHATSAPP prefers a WHATSAPP contact, else a PHONE", rules(false, false, role("COMMERCE_REP", 0)), "MESSAGE", "WHATSAPP", last, &rep, LockCriteriaMatch, "PHONE", ""},
		{"SMS prefers a PHONE", rules(false, false, role("FINANCE", 0)), "MESSAGE", "SMS", last, &finance, LockCriteriaMatch, "PHONE", ""},
		{"PUSH needs an OTHER contact", rules(false, false, role("ATTENTION", 0)), "MESSAGE", "PUSH", last, &pusher, LockCriteriaMatch, "OTHER", ""},
		{"a TASK needs no contact", rules(false, false, role("OWNER", 0)), "TASK", "WHATSAPP", last, &owner, LockCriteriaMatch, "", ""},
		{"LAST_CONTACTED_ALL_CHANNELS", rules(false, false, TargetCriterion{Type: CriterionLastContactedAll}), "TASK", "SALESMAN", last, &owner, LockCriteriaMatch, "", ""},
		{"LAST_CONTACTED_SAME_CHANNEL", rules(false, false, TargetCriterion{Type: CriterionLastContactedChannel}), "MESSAGE", "PUSH", last, &pusher, LockCriteriaMatch, "OTHER", ""},
		{"the last contacted user, unreachable now, does not match", rules(true, false, TargetCriterion{Type: CriterionLastContactedAll}), "MESSAGE", "SMS", last, &rep, LockFallbackCommerceRep, "PHONE", ""},
		{"no last contacted user", rules(false, true, TargetCriterion{Type: CriterionLastContactedChannel}), "TASK", "SALESMAN", planLast{}, &owner, LockFallbackOwner, "", ""},
		{"no criterion matches: COMMERCE_REP first", rules(true, true, role("ORDERS", 0)), "TASK", "SALESMAN", last, &rep, LockFallbackCommerceRep, "", ""},
		{"then OWNER", rules(true, true, role("ORDERS", 0)), "MESSAGE", "EMAIL", last, &owner, LockFallbackOwner, "EMAIL", ""},
		{"fallback off", rules(false, true, role("ORDERS", 0)), "TASK", "SALESMAN", last, &owner, LockFallbackOwner, "", ""},
		{"nothing matches", rules(true, true, role("ORDERS", 0)), "MESSAGE", "PUSH", planLast{}, nil, "", "",
			"no active user of commerce Almacen matches ROLE_MATCH ORDERS, fallback COMMERCE_REP, fallback OWNER with an active OTHER contact (PUSH needs one)"},
		{"nothing to try", rules(false, false), "TASK", "SALESMAN", last, nil, "", "", "no criterion or fallback is configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, why := chooseTarget(c, tc.rules, tc.last, tc.typ, tc.channel)
			if tc.want == nil {
				if p.user != nil || !strings.Contains(why, tc.whyContaining) {
					t.Fatalf("picked %v, why %q", p.user, why)
				}
				return
			}
			if p.user == nil || p.user.ID != tc.want.ID || p.reason != tc.reason {
				t.Fatalf("picked %+v (%s), want %s (%s); why %q", p.user, p.reason, *tc.want.FirstName, tc.reason, why)
			}
			if got := ""; p.contact != nil {
				got = p.contact.Type
				if got != tc.contactType {
					t.Errorf("contact %s, want %s", got, tc.contactType)
				}
			} else if tc.contactType != "" {
				t.Errorf("no contact, want %s", tc.contactType)
			}
		})
	}
}

// TestRunAttribute: every strategy and resolver of attribute resolution, with and without the
// caller's value and fallback.
func TestRunAttribute(t *testing.T) {
	t.Parallel()
	internal, hook := ResolverInternal, ResolverClientHook
	c := &planCommerce{ID: uuid.New(), Name: "Almacen", ExternalID: ptrTo("C-1"), Metadata: json.RawMessage(`{"promotions":["2x1"]}`)}
	bare := &planCommerce{ID: uuid.New(), Name: "Bare", Metadata: json.RawMessage(`{}`)}
	in := func(value, fallback string) *attributeInput {
		return &attributeInput{Key: "k", Value: json.RawMessage(value), Fallback: json.RawMessage(fallback)}
	}
	now := time.Now()
	for _, tc := range []struct {
		name       string
		key        string
		pol        planPolicy
		com        *planCommerce
		input      *attributeInput
		hook       *HookResult
		needsHook  bool
		status     string
		value      string
		resolver   *string
		errMessage string
	}{
		{"commerce_info", AttributeCommerceInfo, planPolicy{Strategy: StrategyUpfront, ResolverType: &internal}, c, nil, nil, false, ResolutionResolved,
			`{"id":"` + c.ID.String() + `","name":"Almacen","externalId":"C-1","taxId":null,"metadata":{"promotions":["2x1"]},"primaryAddress":null}`, &internal, ""},
		{"promotions from the metadata", AttributePromotions, planPolicy{Strategy: StrategyOnDispatch, ResolverType: &internal}, c, nil, nil, false, ResolutionResolved, `["2x1"]`, &internal, ""},
		{"no promotions: FAILED", AttributePromotions, planPolicy{Strategy: StrategyUpfront, ResolverType: &internal}, bare, nil, nil, false, ResolutionFailed, "", &internal, "has no promotions"},
		{"no promotions, a fallback: FALLBACK", AttributePromotions, planPolicy{Strategy: StrategyUpfront, ResolverType: &internal}, bare, in(`"ignored"`, `[]`), nil, false, ResolutionFallback, `[]`, &internal, "has no promotions"},
		{"caller's value", "tier", planPolicy{Strategy: StrategyCallerProvided, ResolverType: &internal}, c, in(`{"a": 1}`, `"x"`), nil, false, ResolutionResolved, `{"a":1}`, nil, ""},
		{"caller's fallback", "tier", planPolicy{Strategy: StrategyCallerProvided}, c, in(`null`, `"x"`), nil, false, ResolutionFallback, `"x"`, nil, "no value was given"},
		{"caller gave nothing", "tier", planPolicy{Strategy: StrategyCallerProvided}, c, nil, nil, false, ResolutionFailed, "", nil, "no value was given"},
		{"a hook not called yet", "tier", planPolicy{Strategy: StrategyUpfront, ResolverType: &hook}, c, nil, nil, true, ResolutionPending, "", nil, ""},
		{"a hook's answer", "tier", planPolicy{Strategy: StrategyUpfront, ResolverType: &hook}, c, nil, &HookResult{Value: json.RawMessage(`{ "gold" : true }`)}, false, ResolutionResolved, `{"gold":true}`, &hook, ""},
		{"a hook that failed, a fallback", "tier", planPolicy{Strategy: StrategyOnDispatch, ResolverType: &hook}, c, in(``, `"bronze"`), &HookResult{Error: "the hook answered 500"}, false, ResolutionFallback, `"bronze"`, &hook, "answered 500"},
		{"an internal resolver for another key", "tier", planPolicy{Strategy: StrategyUpfront, ResolverType: &internal}, c, nil, nil, false, ResolutionFailed, "", &internal, "no internal resolver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ResolvedAttribute{Key: tc.key, Status: ResolutionPending, Strategy: tc.pol.Strategy, Value: json.RawMessage("null")}
			if got := runAttribute(&e, tc.pol, tc.com, tc.input, tc.hook, now); got != tc.needsHook {
				t.Fatalf("needs hook %v", got)
			}
			if e.Status != tc.status || (tc.value != "" && string(e.Value) != tc.value) {
				t.Fatalf("status %s value %s, want %s %s", e.Status, e.Value, tc.status, tc.value)
			}
			if tc.status == ResolutionPending {
				return
			}
			if (e.ResolverType == nil) != (tc.resolver == nil) || (e.ResolverType != nil && *e.ResolverType != *tc.resolver) {
				t.Errorf("resolver %v, want %v", e.ResolverType, tc.resolver)
			}
			if tc.errMessage == "" && e.ErrorMessage != nil || tc.errMessage != "" && (e.ErrorMessage == nil || !strings.Contains(*e.ErrorMessage, tc.errMessage)) {
				t.Errorf("error message %v, want %q", e.ErrorMessage, tc.errMessage)
			}
			if (e.ResolvedAt != nil) != (tc.status != ResolutionFailed) {
				t.Errorf("resolvedAt %v for %s", e.ResolvedAt, e.Status)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
