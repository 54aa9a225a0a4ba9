package activities_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/signature"
)

// fixture is a workspace (a key holding *) with a commerce, for resolution tests.
type fixture struct {
	env      *servertest.Env
	ws       uuid.UUID
	key      string
	c        *activitiesclient.ClientWithResponses
	commerce uuid.UUID
}

func newFixture(t *testing.T, env *servertest.Env) *fixture {
	t.Helper()
	ws, key := env.Workspace(t, "*")
	c := env.Activities(t, key)
	return &fixture{env: env, ws: ws, key: key, c: c, commerce: newAPICommerce(t, c, "Almacen Don Pepe", "C-1001")}
}

// do sends a raw request with the fixture's key.
func (f *fixture) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	return f.env.Do(t, method, "/api"+path, body, "x-api-key", f.key)
}

// user adds a commerce user with roles and contacts ("TYPE:value").
func (f *fixture) user(t *testing.T, name string, roles []activitiesclient.CommerceUserRole, contacts ...string) uuid.UUID {
	t.Helper()
	body := activitiesclient.CreateCommerceUserRequest{Name: &name}
	if roles != nil {
		body.Roles = &roles
	}
	res, err := f.c.CreateCommerceUserWithResponse(ctx, f.commerce, nil, body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create user: %v %s", err, res.Body)
	}
	for _, ct := range contacts {
		typ, value, _ := strings.Cut(ct, ":")
		r, err := f.c.CreateCommerceUserContactWithResponse(ctx, f.commerce, res.JSON201.Id, nil, activitiesclient.CreateContactRequest{
			ContactType: activitiesclient.ContactType(typ), Value: value, Source: activitiesclient.RETEN})
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create contact: %v %s", err, r.Body)
		}
	}
	return res.JSON201.Id
}

// targetConfig creates a target resolution config from a raw body.
func (f *fixture) targetConfig(t *testing.T, body string) activitiesclient.TargetResolutionConfig {
	t.Helper()
	status, b := f.do(t, "POST", "/activity-config/target-resolution", body)
	if status != 201 {
		t.Fatalf("target config: %d %s", status, b)
	}
	return servertest.Decode[activitiesclient.TargetResolutionConfig](t, b)
}

// policy upserts an attribute policy from a raw body.
func (f *fixture) policy(t *testing.T, body string) activitiesclient.AttributePolicy {
	t.Helper()
	status, b := f.do(t, "POST", "/activity-config/attribute-policies", body)
	if status != 200 {
		t.Fatalf("policy: %d %s", status, b)
	}
	return servertest.Decode[activitiesclient.AttributePolicy](t, b)
}

// activity creates an activity of the fixture's commerce from a raw body's other fields (JSON
// members, without braces) and returns it; it must be a 201.
func (f *fixture) activity(t *testing.T, key, channel, typ, more string) activitiesclient.Activity {
	t.Helper()
	status, b := f.create(t, key, channel, typ, more)
	if status != 201 {
		t.Fatalf("create %s: %d %s", key, status, b)
	}
	return servertest.Decode[activitiesclient.Activity](t, b)
}

func (f *fixture) create(t *testing.T, key, channel, typ, more string) (int, []byte) {
	t.Helper()
	body := fmt.Sprintf(`{"type":%q,"reason":"Monthly promotion","channel":%q,"commerce_id":%q,"idempotency_key":%q,"scheduled_at":%q`,
		typ, channel, f.commerce, key, time.Now().UTC().Format(time.RFC3339Nano))
	if more != "" {
		body += "," + more
	}
	return f.do(t, "POST", "/activities", body+"}")
}

func (f *fixture) get(t *testing.T, id uuid.UUID) activitiesclient.Activity {
	t.Helper()
	res, err := f.c.GetActivityWithResponse(ctx, id, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("get: %v %s", err, res.Body)
	}
	return *res.JSON200
}

func (f *fixture) events(t *testing.T, id uuid.UUID) []activitiesclient.ActivityStatusEvent {
	t.Helper()
	res, err := f.c.ListActivityStatusEventsWithResponse(ctx, id, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("events: %v %s", err, res.Body)
	}
	return *res.JSON200
}

// target is an activity's target user; it must have one.
func target(t *testing.T, a activitiesclient.Activity) activitiesclient.TargetUser {
	t.Helper()
	tu, err := a.TargetUser.Get()
	if err != nil {
		t.Fatalf("activity %s has no target user", a.Id)
	}
	return tu
}

// lastEventIs checks an activity's last status event.
func lastEventIs(t *testing.T, evs []activitiesclient.ActivityStatusEvent, typ, from, to, code, msg string) {
	t.Helper()
	ev := evs[len(evs)-1]
	if string(ev.EventType) != typ || ev.FromStatus.MustGet() != from || string(ev.ToStatus) != to {
		t.Fatalf("last event %s %v→%s, want %s %s→%s", ev.EventType, ev.FromStatus, ev.ToStatus, typ, from, to)
	}
	gotCode, _ := ev.ErrorCode.Get()
	gotMsg, _ := ev.ErrorMessage.Get()
	if gotCode != code || !strings.Contains(gotMsg, msg) {
		t.Errorf("last event code %q message %q, want %q containing %q", gotCode, gotMsg, code, msg)
	}
}

// jsonOf is an attribute's value as JSON.
func jsonOf(v activitiesclient.ActivityAttribute_Value) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// millis is how every timestamp of the Activities API is written.
var millis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// checkTimestamps fails for any string of a JSON body that is a time but not written as the
// seed writes them.
func checkTimestamps(t *testing.T, what string, body []byte) int {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
				n++
				if !millis.MatchString(x) {
					t.Errorf("%s: timestamp %q is not written as 2025-01-16T09:00:00.000Z", what, x)
				}
			}
		}
	}
	walk(v)
	return n
}

// TestSeed003Resolution runs seed 003's request verbatim against the seed's commerce (created
// with its id, an extension of POST /commerces): commerce_info resolves to that commerce, and
// every time is written as the seed writes it. An attribute key that names no key is a 400.
func TestSeed003Resolution(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	h := []string{"Authorization", "Bearer " + key, "x-tenant-id", ws.String()}
	commerce := `{"id":"880e8400-e29b-41d4-a716-446655440000","name":"Almacen Don Pepe","external_id":"C-1001","tax_id":"76.123.456-7",
		"metadata":{"segment":"minimarket"},"addresses":[{"street":"Av. Siempre Viva 742","city":"Santiago","is_primary":true}]}`
	status, body := env.Do(t, "POST", "/api/commerces", commerce, h...)
	if status != 201 || servertest.Decode[activitiesclient.CommerceDetail](t, body).Id.String() != seedCommerceID {
		t.Fatalf("commerce: %d %s", status, body)
	}
	if status, body = env.Do(t, "POST", "/api/commerces", commerce, h...); status != 409 || !strings.Contains(string(body), seedCommerceID) {
		t.Fatalf("the same id again: %d %s", status, body)
	}
	_, otherKey := env.Workspace(t, "*")
	if status, body = env.Do(t, "POST", "/api/commerces", commerce, "x-api-key", otherKey); status != 409 {
		t.Fatalf("the id in another workspace: %d %s", status, body)
	}
	status, body = env.Do(t, "POST", "/api/activities", `{
"type": "MESSAGE",
"reason": "Monthly promotion",
"channel": "WHATSAPP",
"commerce_id": "880e8400-e29b-41d4-a716-446655440000",
"idempotency_key": "msg-2025-01-15-001",
"scheduled_at": "2025-01-16T09:00:00.000Z",
"attribute_keys": ["commerce_info"]
}`, h...)
	if status != 201 || !strings.Contains(string(body), `"scheduledAt":"2025-01-16T09:00:00.000Z"`) || !strings.Contains(string(body), `"status":"READY"`) {
		t.Fatalf("seed create: %d %s", status, body)
	}
	created := servertest.Decode[activitiesclient.Activity](t, body)
	checkTimestamps(t, "create", body)

	status, body = env.Do(t, "GET", "/api/activities/"+created.Id.String()+"/attributes", "", h...)
	if status != 200 {
		t.Fatalf("attributes: %d %s", status, body)
	}
	attrs := servertest.Decode[[]map[string]any](t, body)
	if len(attrs) != 1 {
		t.Fatalf("attributes %s", body)
	}
	a := attrs[0]
	want := map[string]any{"key": "commerce_info", "attributeKeyId": "a77e8400-e29b-41d4-a716-446655440001", "activityId": created.Id.String(),
		"resolutionStatus": "RESOLVED", "resolutionStrategy": "UPFRONT", "resolverType": "INTERNAL_SERVICE", "errorMessage": nil}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %v, want %v", k, a[k], v)
		}
	}
	value, _ := json.Marshal(a["value"])
	if string(value) != `{"externalId":"C-1001","id":"880e8400-e29b-41d4-a716-446655440000","metadata":{"segment":"minimarket"},"name":"Almacen Don Pepe",`+
		`"primaryAddress":{"city":"Santiago","latitude":null,"longitude":null,"street":"Av. Siempre Viva 742"},"taxId":"76.123.456-7"}` {
		t.Errorf("commerce_info = %s", value)
	}
	if checkTimestamps(t, "attributes", body) != 3 { // createdAt, resolvedAt, updatedAt
		t.Errorf("attribute timestamps: %s", body)
	}
	if status, body = env.Do(t, "GET", "/api/activities/"+created.Id.String()+"/target-users", "", h...); status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("target users without a config: %d %s", status, body)
	}

	status, body = env.Do(t, "POST", "/api/activities", strings.Replace(activityBody("k2", "2025-01-16T09:00:00.000Z"),
		`"attribute_keys":["commerce_info"]`, `"attribute_keys":["commerce_info","no_such_key"]`, 1), h...)
	if e := servertest.Decode[errorBody](t, body); status != 400 || len(e.Errors) != 1 || !strings.HasPrefix(e.Errors[0], "attribute_keys[1]: ") ||
		!strings.Contains(e.Message, `"no_such_key"`) {
		t.Fatalf("unknown key: %d %s", status, body)
	}
	status, body = env.Do(t, "POST", "/api/activities", strings.Replace(activityBody("k3", "2025-01-16T09:00:00.000Z"),
		`"attribute_keys":["commerce_info"]`, `"attributes":[{"key":"vip","value":true}]`, 1), h...)
	if e := servertest.Decode[errorBody](t, body); status != 400 || len(e.Errors) != 1 || !strings.HasPrefix(e.Errors[0], "attributes[0].key: ") {
		t.Fatalf("unknown key in attributes: %d %s", status, body)
	}
	if n := env.Count(t, `activities WHERE idempotency_key IN ('k2', 'k3')`); n != 0 {
		t.Fatalf("%d refused activities were written", n)
	}
}

// TestTimestampsWithMilliseconds: every answer of the Activities API writes its times as the
// seed does (2025-01-16T09:00:00.000Z), whatever their precision: activities, their events,
// attributes and target users, configs, policies, keys, commerces, catalogs.
func TestTimestampsWithMilliseconds(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	f.user(t, "Rosa Rep", []activitiesclient.CommerceUserRole{"COMMERCE_REP"}, "WHATSAPP:+56911111111")
	cfg := f.targetConfig(t, `{"resolution_strategy":"ON_CREATION","criteria":[{"type":"ROLE_MATCH","config":{"role":"COMMERCE_REP"}}]}`)
	pol := f.policy(t, `{"attributeKeyId":"a77e8400-e29b-41d4-a716-446655440001","strategy":"UPFRONT","resolverType":"INTERNAL_SERVICE"}`)
	if status, b := f.do(t, "POST", "/activity-reasons", `{"code":"visit","label":"Visita"}`); status != 201 {
		t.Fatalf("reason: %d %s", status, b)
	}
	if status, b := f.do(t, "POST", "/user-retention-statuses", `{"code":"at_risk","label":"En Riesgo"}`); status != 201 {
		t.Fatalf("status: %d %s", status, b)
	}
	if status, b := f.do(t, "POST", "/dispatch-configs", `{"dispatch_provider_id":"770e8400-e29b-41d4-a716-446655440000","channel":"WHATSAPP"}`); status != 201 {
		t.Fatalf("dispatch config: %d %s", status, b)
	}
	status, b := f.do(t, "POST", "/activities", fmt.Sprintf(`{"type":"MESSAGE","reason":"Visit","channel":"WHATSAPP","commerce_id":%q,
		"idempotency_key":"t1","scheduled_at":"2031-02-03T04:05:06.123456789+02:00","suggested_execution_time":"2031-02-03T04:05:06Z",
		"user_status":"at_risk","attribute_keys":["commerce_info"]}`, f.commerce))
	if status != 201 || !strings.Contains(string(b), `"scheduledAt":"2031-02-03T02:05:06.123Z"`) || !strings.Contains(string(b), `"suggestedExecutionTime":"2031-02-03T04:05:06.000Z"`) {
		t.Fatalf("create: %d %s", status, b)
	}
	checkTimestamps(t, "create", b)
	id := servertest.Decode[activitiesclient.Activity](t, b).Id
	for _, path := range []string{"/activities/" + id.String(), "/activities?per_page=5", "/activities/" + id.String() + "/status-events",
		"/activities/" + id.String() + "/attributes", "/activities/" + id.String() + "/target-users", "/activity-config/target-resolution",
		"/activity-config/attribute-policies", "/activity-config/attribute-keys", "/dispatch-configs", "/dispatch-providers",
		"/commerces", "/commerces/" + f.commerce.String(), "/user-retention-statuses", "/activity-reasons",
		"/activities/" + id.String() + "/dispatch-attempts"} {
		status, b := f.do(t, "GET", path, "")
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, b)
		}
		if checkTimestamps(t, path, b) == 0 && !strings.HasSuffix(path, "dispatch-attempts") {
			t.Errorf("%s has no timestamps: %s", path, b)
		}
	}
	_, _ = cfg, pol
}

// TestAttributeKeysAndPolicies: the key catalog (built-in keys, a workspace's own) and the
// policy upsert in both documented body forms, with its 400s, the hook secret shown once and
// rotated, and deletes.
func TestAttributeKeysAndPolicies(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	keys, err := f.c.ListAttributeKeysWithResponse(ctx, nil)
	if err != nil || keys.JSON200 == nil || len(*keys.JSON200) != 2 || (*keys.JSON200)[0].Key != "commerce_info" ||
		(*keys.JSON200)[0].Id.String() != "a77e8400-e29b-41d4-a716-446655440001" || !(*keys.JSON200)[1].IsBuiltIn {
		t.Fatalf("built-in keys: %v %s", err, keys.Body)
	}
	tier, err := f.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: "loyalty_tier", Label: "Loyalty tier"})
	if err != nil || tier.JSON201 == nil || tier.JSON201.IsBuiltIn {
		t.Fatalf("create key: %v %s", err, tier.Body)
	}
	tierID := tier.JSON201.Id.String()
	for _, k := range []string{"loyalty_tier", "promotions"} {
		if res, _ := f.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: k, Label: "x"}); res.JSON409 == nil {
			t.Errorf("key %s again: %d %s", k, res.StatusCode(), res.Body)
		}
	}
	if res, _ := f.c.DeleteAttributeKeyWithResponse(ctx, uuid.MustParse("a77e8400-e29b-41d4-a716-446655440002"), nil); res.JSON400 == nil {
		t.Errorf("delete a built-in key: %d %s", res.StatusCode(), res.Body)
	}
	if status, b := f.do(t, "POST", "/activity-config/attribute-keys", `{"key":"Bad Key","label":"x"}`); status != 400 {
		t.Errorf("bad key: %d %s", status, b)
	}

	// The documented (EN) camelCase body, then the (ES) snake_case one: one policy, upserted.
	p1 := f.policy(t, `{"attributeKeyId":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT","resolverType":"INTERNAL_SERVICE"}`)
	p2 := f.policy(t, `{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","resolution_strategy":"ON_DISPATCH","resolver_type":"INTERNAL_SERVICE"}`)
	if p1.Id != p2.Id || p2.Strategy != "ON_DISPATCH" || p2.ResolutionStrategy != "ON_DISPATCH" || p2.AttributeKey.Key != "promotions" ||
		!p2.HookSecret.IsNull() || p2.ResolverType.MustGet() != "INTERNAL_SERVICE" {
		t.Fatalf("upsert: %+v then %+v", p1, p2)
	}
	for body, field := range map[string]string{
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT","resolution_strategy":"ON_DISPATCH","resolver_type":"INTERNAL_SERVICE"}`:            "resolution_strategy",
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","resolver_type":"INTERNAL_SERVICE"}`:                                                                     "strategy",
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT"}`:                                                                                   "resolver_type",
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT","resolver_type":"CLIENT_HOOK"}`:                                                     "hook_url",
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT","resolver_type":"INTERNAL_SERVICE","hook_url":"https://x.example"}`:                 "hook_url",
		`{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"UPFRONT","resolver_type":"CLIENT_HOOK","hook_url":"https://x.example","hook_timeout_ms":50}`: "hook_timeout_ms",
		`{"attribute_key_id":"` + tierID + `","strategy":"UPFRONT","resolver_type":"INTERNAL_SERVICE"}`:                                                                      "",
	} {
		status, b := f.do(t, "POST", "/activity-config/attribute-policies", body)
		e := servertest.Decode[errorBody](t, b)
		if status != 400 || (field != "" && (len(e.Errors) == 0 || !strings.HasPrefix(e.Errors[0], field))) {
			t.Errorf("%s: %d %s, want a 400 naming %s", body, status, b, field)
		}
	}
	if status, b := f.do(t, "POST", "/activity-config/attribute-policies", `{"attribute_key_id":"`+uuid.NewString()+`","strategy":"CALLER_PROVIDED"}`); status != 404 {
		t.Errorf("unknown key: %d %s", status, b)
	}

	// CLIENT_HOOK: the secret in the answer that made it, then never again; rotated on request.
	hooked := f.policy(t, `{"attributeKeyId":"`+tierID+`","strategy":"UPFRONT","resolverType":"CLIENT_HOOK","hookUrl":"https://crm.example.com/tier","hookTimeoutMs":2000}`)
	secret := hooked.HookSecret.MustGet()
	if !strings.HasPrefix(secret, "whsec_") || hooked.HookUrl.MustGet() != "https://crm.example.com/tier" || hooked.HookTimeoutMs != 2000 {
		t.Fatalf("hook policy: %+v", hooked)
	}
	again := f.policy(t, `{"attribute_key_id":"`+tierID+`","strategy":"ON_DISPATCH","resolver_type":"CLIENT_HOOK","hook_url":"https://crm.example.com/tier2"}`)
	if !again.HookSecret.IsNull() || again.HookTimeoutMs != 5000 || again.Id != hooked.Id {
		t.Errorf("update of a hook policy: %+v", again)
	}
	list, _ := f.c.ListAttributePoliciesWithResponse(ctx, nil)
	if list.JSON200 == nil || len(*list.JSON200) != 2 || strings.Contains(string(list.Body), "whsec_") {
		t.Fatalf("list: %s", list.Body)
	}
	rotated, _ := f.c.RotateAttributeHookSecretWithResponse(ctx, hooked.Id, nil)
	if rotated.JSON200 == nil || rotated.JSON200.HookSecret.MustGet() == secret || !strings.HasPrefix(rotated.JSON200.HookSecret.MustGet(), "whsec_") {
		t.Fatalf("rotate: %s", rotated.Body)
	}
	if res, _ := f.c.RotateAttributeHookSecretWithResponse(ctx, p1.Id, nil); res.JSON400 == nil {
		t.Errorf("rotate a policy without a hook: %d %s", res.StatusCode(), res.Body)
	}
	if n := env.Count(t, `attribute_policies WHERE hook_secret::text LIKE '%whsec%' OR hook_previous_secret::text LIKE '%whsec%'`); n != 0 {
		t.Errorf("%d hook secrets stored in plaintext", n)
	}

	viewer := f.env.Key(t, f.ws, "VIEW_ACTIVITIES")
	if status, _ := env.Do(t, "GET", "/api/activity-config/attribute-policies", "", "x-api-key", viewer); status != 200 {
		t.Errorf("list with VIEW_ACTIVITIES: %d", status)
	}
	if status, _ := env.Do(t, "POST", "/api/activity-config/attribute-policies", `{"attribute_key_id":"`+tierID+`","strategy":"CALLER_PROVIDED"}`, "x-api-key", viewer); status != 403 {
		t.Errorf("upsert without MANAGE_ACTIVITY_CONFIG: %d", status)
	}
	if res, _ := f.c.DeleteAttributePolicyWithResponse(ctx, p1.Id, nil); res.StatusCode() != 204 {
		t.Fatalf("delete policy: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := f.c.DeleteAttributeKeyWithResponse(ctx, tier.JSON201.Id, nil); res.StatusCode() != 204 {
		t.Fatalf("delete key: %d %s", res.StatusCode(), res.Body)
	}
	if list, _ = f.c.ListAttributePoliciesWithResponse(ctx, nil); list.JSON200 == nil || len(*list.JSON200) != 0 {
		t.Errorf("policies after deleting one and the key of the other: %s", list.Body)
	}
}

// TestTargetResolutionConfigs: create, list by priority, the 409 on an active priority, PATCH
// (null clears a scope, criteria replaced whole), a ROLE_MATCH without a role, delete.
func TestTargetResolutionConfigs(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	a := f.targetConfig(t, `{"resolution_strategy":"ON_CREATION","priority":5,"channel":"WHATSAPP","criteria":[
		{"type":"LAST_CONTACTED_SAME_CHANNEL","priority":2},{"type":"ROLE_MATCH","config":{"role":"ADMIN"},"priority":1}]}`)
	if !a.FallbackToCommerceRep || !a.FallbackToOwner || !a.IsActive || a.Channel.MustGet() != "WHATSAPP" || !a.ActivityType.IsNull() ||
		len(a.Criteria) != 2 || a.Criteria[0].CriteriaType != "ROLE_MATCH" || a.Criteria[0].CriteriaConfig["role"] != "ADMIN" ||
		a.Criteria[1].CriteriaType != "LAST_CONTACTED_SAME_CHANNEL" || a.Criteria[0].Id == uuid.Nil {
		t.Fatalf("created %+v", a)
	}
	if status, b := f.do(t, "POST", "/activity-config/target-resolution", `{"resolution_strategy":"MANUAL","priority":5}`); status != 409 {
		t.Fatalf("same priority: %d %s", status, b)
	}
	b := f.targetConfig(t, `{"resolution_strategy":"MANUAL","priority":5,"is_active":false,"fallback_to_owner":false}`)
	on := true
	if res, _ := f.c.UpdateTargetResolutionConfigWithResponse(ctx, b.Id, nil, activitiesclient.UpdateTargetResolutionConfigRequest{IsActive: &on}); res.JSON409 == nil {
		t.Fatalf("reactivating onto a taken priority: %d %s", res.StatusCode(), res.Body)
	}
	status, body := f.do(t, "PATCH", "/activity-config/target-resolution/"+a.Id.String(), `{"channel":null,"activity_type":"TASK","criteria":[{"type":"LAST_CONTACTED_ALL_CHANNELS"}]}`)
	if upd := servertest.Decode[activitiesclient.TargetResolutionConfig](t, body); status != 200 || !upd.Channel.IsNull() ||
		upd.ActivityType.MustGet() != "TASK" || len(upd.Criteria) != 1 || upd.Priority != 5 || upd.ResolutionStrategy != "ON_CREATION" {
		t.Fatalf("patch: %d %s", status, body)
	}
	for _, bad := range []string{
		`{"resolution_strategy":"ON_CREATION","priority":7,"criteria":[{"type":"ROLE_MATCH"}]}`,
		`{"resolution_strategy":"ON_CREATION","priority":7,"criteria":[{"type":"ROLE_MATCH","config":{"role":"BOSS"}}]}`,
		`{"resolution_strategy":"ON_CREATION","priority":-1}`,
		`{"resolution_strategy":"ON_CREATION","priority":1000001}`,
		`{"resolution_strategy":"SOMETIMES"}`,
		`{"resolution_strategy":"ON_CREATION","priority":7,"criteria":[{"type":"LAST_CONTACTED_ALL_CHANNELS","config":{"x":"a\u0000b"}}]}`,
	} {
		if status, body := f.do(t, "POST", "/activity-config/target-resolution", bad); status != 400 {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	list, _ := f.c.ListTargetResolutionConfigsWithResponse(ctx, nil)
	if list.JSON200 == nil || len(*list.JSON200) != 2 || (*list.JSON200)[0].Id != a.Id {
		t.Fatalf("list: %s", list.Body)
	}
	if res, _ := f.c.DeleteTargetResolutionConfigWithResponse(ctx, a.Id, nil); res.StatusCode() != 204 {
		t.Fatalf("delete: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := f.c.UpdateTargetResolutionConfigWithResponse(ctx, b.Id, nil, activitiesclient.UpdateTargetResolutionConfigRequest{IsActive: &on}); res.JSON200 == nil {
		t.Fatalf("reactivating once the priority is free: %d %s", res.StatusCode(), res.Body)
	}
}

// TestResolutionOnCreation: ON_CREATION targets and UPFRONT attributes resolve in the create
// request; the config that applies is the first active one by priority matching the channel
// and type; the request's target_criteria replace its criteria; each failure makes the 201
// UNRESOLVED, with a RESOLUTION_FAILED event naming it and no dispatch job.
func TestResolutionOnCreation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	owner := f.user(t, "Olga Owner", []activitiesclient.CommerceUserRole{"OWNER"}, "EMAIL:olga@example.com")
	rep := f.user(t, "Rita Rep", []activitiesclient.CommerceUserRole{"COMMERCE_REP"}, "OTHER:device-token-1")
	admin := f.user(t, "Ana Admin", []activitiesclient.CommerceUserRole{"ADMIN"}, "WHATSAPP:+56933333333")
	f.targetConfig(t, `{"resolution_strategy":"MANUAL","priority":0,"channel":"EMAIL","activity_type":"MESSAGE"}`)
	f.targetConfig(t, `{"resolution_strategy":"ON_CREATION","priority":1,"criteria":[{"type":"ROLE_MATCH","config":{"role":"ADMIN"}}]}`)
	tier, _ := f.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: "loyalty_tier", Label: "Tier"})
	if tier.JSON201 == nil {
		t.Fatalf("key: %s", tier.Body)
	}

	for _, tc := range []struct {
		name, channel, typ, more string
		user                     uuid.UUID // uuid.Nil: no one
		status, reason, contact  string
		strategy                 string
	}{
		{"the config's criterion", "WHATSAPP", "MESSAGE", "", admin, "RESOLVED", "CRITERIA_MATCH", "WHATSAPP", "ON_CREATION"},
		{"unreachable by the criterion: a fallback", "PUSH", "MESSAGE", "", rep, "RESOLVED", "FALLBACK_COMMERCE_REP", "OTHER", "ON_CREATION"},
		{"the request's criteria replace the config's, by priority", "SALESMAN", "TASK", `"target_criteria":[{"type":"ROLE_MATCH","config":{"role":"OWNER"},"priority":2},{"type":"ROLE_MATCH","config":{"role":"COMMERCE_REP"},"priority":1}]`,
			rep, "RESOLVED", "CRITERIA_MATCH", "", "ON_CREATION"},
		{"the MANUAL config for EMAIL messages", "EMAIL", "MESSAGE", "", uuid.Nil, "PENDING", "", "", "MANUAL"},
		{"not for EMAIL tasks", "EMAIL", "TASK", "", admin, "RESOLVED", "CRITERIA_MATCH", "", "ON_CREATION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := f.activity(t, tc.name, tc.channel, tc.typ, tc.more)
			tu := target(t, a)
			if a.Status != "READY" || string(tu.ResolutionStatus) != tc.status || string(tu.ResolutionStrategy) != tc.strategy {
				t.Fatalf("%s, target %s %s", a.Status, tu.ResolutionStatus, tu.ResolutionStrategy)
			}
			if tc.user == uuid.Nil {
				if !tu.CommerceUserId.IsNull() || !tu.CommerceUser.IsNull() || !tu.ResolvedAt.IsNull() {
					t.Errorf("pending target %+v", tu)
				}
				return
			}
			if tu.CommerceUserId.MustGet() != tc.user || string(tu.LockReason.MustGet()) != tc.reason || tu.ResolvedAt.IsNull() || !tu.LockedAt.IsNull() {
				t.Errorf("target %+v", tu)
			}
			if c, err := tu.Contact.Get(); tc.contact == "" && err == nil || tc.contact != "" && (err != nil || string(c.Type) != tc.contact) {
				t.Errorf("contact %v, want %q", tu.Contact, tc.contact)
			}
			// What the create answered is what is stored.
			got, _ := json.Marshal(target(t, f.get(t, a.Id)))
			want, _ := json.Marshal(tu)
			if string(got) != string(want) {
				t.Errorf("stored %s\ncreated %s", got, want)
			}
		})
	}
	_ = owner

	unresolved := func(name, channel, more, code, msg string) activitiesclient.Activity {
		t.Helper()
		a := f.activity(t, name, channel, "MESSAGE", more)
		if a.Status != "UNRESOLVED" {
			t.Fatalf("%s: %s", name, a.Status)
		}
		evs := f.events(t, a.Id)
		if len(evs) != 2 || evs[0].EventType != "CREATED" {
			t.Fatalf("%s: events %+v", name, evs)
		}
		lastEventIs(t, evs, "RESOLUTION_FAILED", "READY", "UNRESOLVED", code, msg)
		if n := env.Count(t, `river_job WHERE args->>'activity_id' = $1`, a.Id.String()); n != 0 {
			t.Errorf("%s: %d dispatch jobs for an UNRESOLVED activity", name, n)
		}
		return a
	}
	finance := `"target_criteria":[{"type":"ROLE_MATCH","config":{"role":"FINANCE"}}]`
	a := unresolved("nobody reachable", "SMS", finance, "TARGET_USER_UNRESOLVED", "with an active PHONE or WHATSAPP contact (SMS needs one)")
	if tu := target(t, a); tu.ResolutionStatus != "FAILED" || !strings.Contains(tu.ErrorMessage.MustGet(), "ROLE_MATCH FINANCE, fallback COMMERCE_REP, fallback OWNER") {
		t.Errorf("failed target %+v", tu)
	}
	res, _ := f.c.ListActivityTargetUsersWithResponse(ctx, a.Id, nil)
	if res.JSON200 == nil || len(*res.JSON200) != 1 || (*res.JSON200)[0].ResolutionStatus != "FAILED" {
		t.Errorf("target users of an unresolved activity: %s", res.Body)
	}
	unresolved("no promotions", "WHATSAPP", `"attribute_keys":["promotions"]`, "ATTRIBUTES_UNRESOLVED", "attribute promotions: the metadata of commerce Almacen Don Pepe has no promotions")
	unresolved("nothing given", "WHATSAPP", `"attribute_keys":["loyalty_tier"]`, "ATTRIBUTES_UNRESOLVED", "attribute loyalty_tier: no value was given for it in attributes")
	unresolved("both", "SMS", finance+`,"attribute_keys":["promotions"]`, "TARGET_USER_AND_ATTRIBUTES_UNRESOLVED", "target user: no active user")

	// Caller-provided values and fallbacks (the default policy of a workspace's key); a
	// fallback rescues an internal resolver's failure too.
	a = f.activity(t, "given", "WHATSAPP", "MESSAGE", `"attribute_keys":["commerce_info","promotions"],
		"attributes":[{"key":"loyalty_tier","value":{"tier":"gold"}},{"key":"promotions","fallback":["none"]}]`)
	if a.Status != "READY" || len(a.ResolvedAttributes) != 3 {
		t.Fatalf("given: %s %+v", a.Status, a.ResolvedAttributes)
	}
	for i, want := range []struct{ key, status, strategy, resolver, value string }{
		{"commerce_info", "RESOLVED", "UPFRONT", "INTERNAL_SERVICE", ""},
		{"promotions", "FALLBACK", "UPFRONT", "INTERNAL_SERVICE", `["none"]`},
		{"loyalty_tier", "RESOLVED", "CALLER_PROVIDED", "", `{"tier":"gold"}`},
	} {
		e := a.ResolvedAttributes[i]
		resolver, _ := e.ResolverType.Get()
		value := jsonOf(e.Value)
		if e.Key != want.key || string(e.ResolutionStatus) != want.status || string(e.ResolutionStrategy) != want.strategy ||
			string(resolver) != want.resolver || (want.value != "" && string(value) != want.value) || e.ActivityId != a.Id {
			t.Errorf("attribute %d: %+v (value %s), want %+v", i, e, value, want)
		}
	}
	if msg := a.ResolvedAttributes[1].ErrorMessage.MustGet(); !strings.Contains(msg, "has no promotions") {
		t.Errorf("fallback's reason %q", msg)
	}
	status, body := f.do(t, "GET", "/activities/"+a.Id.String()+"/attributes", "")
	// Both through the client's types and back, so that a time is written alike on both sides
	// (time.Time drops the trailing zeros of .820Z).
	var typed []activitiesclient.ActivityAttribute
	_ = json.Unmarshal(body, &typed)
	var listed, inline []any
	rawListed, _ := json.Marshal(typed)
	_ = json.Unmarshal(rawListed, &listed)
	raw, _ := json.Marshal(a.ResolvedAttributes)
	_ = json.Unmarshal(raw, &inline)
	if status != 200 || len(listed) == 0 || fmt.Sprint(listed) != fmt.Sprint(inline) {
		t.Errorf("GET attributes %s\nthe activity's %s", body, raw)
	}
}

// yomReceiver is a local YOM provider for the fixture's WHATSAPP activities: it answers 200
// with an id and keeps every body.
func (f *fixture) yomReceiver(t *testing.T, channel activitiesclient.Channel) *servertest.Receiver {
	t.Helper()
	r := servertest.NewReceiver(t)
	r.SetRespond(func(n int, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"yom-%d"}`, n)
	})
	cfg := yomSalesman("yom-key")
	cfg.Channel, cfg.BaseUrl = channel, &r.URL
	create(t, f.c, cfg)
	return r
}

// sent returns the body the provider received for an activity, decoded, or nil.
func sent(r *servertest.Receiver, id uuid.UUID) map[string]any {
	for _, req := range r.Requests() {
		var body map[string]any
		if json.Unmarshal(req.Body, &body) == nil && body["id"] == id.String() {
			return body
		}
	}
	return nil
}

// TestResolutionAtDispatch: ON_DISPATCH targets and attributes are resolved by the dispatch job
// before the provider call, which receives the activity with its target user (LOCKED, with the
// contact used) and resolved attributes, exactly as GET shows them afterwards. When resolution
// fails there, or a MANUAL target user is still unassigned, the activity becomes UNRESOLVED
// (not FAILED) and nothing is sent; retry-resolution makes it READY and it is dispatched.
func TestResolutionAtDispatch(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch())
	f := newFixture(t, env)
	yom := f.yomReceiver(t, activitiesclient.ChannelWHATSAPP)
	rep := f.user(t, "Rita Rep", []activitiesclient.CommerceUserRole{"COMMERCE_REP"}, "PHONE:+56922222222", "WHATSAPP:+56944444444")
	if status, b := f.do(t, "PATCH", "/commerces/"+f.commerce.String(), `{"metadata":{"promotions":[{"code":"2x1"}]}}`); status != 200 {
		t.Fatalf("commerce: %d %s", status, b)
	}
	cfg := f.targetConfig(t, `{"resolution_strategy":"ON_DISPATCH","fallback_to_commerce_rep":false,"fallback_to_owner":false,
		"criteria":[{"type":"ROLE_MATCH","config":{"role":"COMMERCE_REP"}}]}`)
	f.policy(t, `{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"ON_DISPATCH","resolver_type":"INTERNAL_SERVICE"}`)

	t.Run("resolved by the dispatch, sent with the activity", func(t *testing.T) {
		a := f.activity(t, "on-dispatch", "WHATSAPP", "MESSAGE", `"attribute_keys":["commerce_info","promotions"]`)
		if tu := target(t, a); a.Status != "READY" || tu.ResolutionStatus != "PENDING" || tu.ResolutionStrategy != "ON_DISPATCH" ||
			a.ResolvedAttributes[0].ResolutionStatus != "RESOLVED" || a.ResolvedAttributes[1].ResolutionStatus != "PENDING" {
			t.Fatalf("created %s, target %+v, attributes %+v", a.Status, tu, a.ResolvedAttributes)
		}
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		body := sent(yom, a.Id)
		if body == nil {
			t.Fatal("the provider did not receive the activity")
		}
		tu := body["targetUser"].(map[string]any)
		contact := tu["contact"].(map[string]any)
		if tu["resolutionStatus"] != "LOCKED" || tu["lockReason"] != "CRITERIA_MATCH" || tu["commerceUserId"] != rep.String() ||
			contact["type"] != "WHATSAPP" || contact["value"] != "+56944444444" || tu["lockedAt"] == nil {
			t.Errorf("target user sent %v", tu)
		}
		attrs := body["resolvedAttributes"].([]any)
		promo := attrs[1].(map[string]any)
		if len(attrs) != 2 || promo["resolutionStatus"] != "RESOLVED" || fmt.Sprint(promo["value"]) != "[map[code:2x1]]" {
			t.Errorf("attributes sent %v", attrs)
		}
		// What was sent is what the API shows once dispatched (but for the dispatch's own fields).
		status, got := f.do(t, "GET", "/activities/"+a.Id.String(), "")
		stored := servertest.Decode[map[string]any](t, got)
		for k := range stored {
			switch k {
			case "status", "dispatchAttemptCount", "externalId", "updatedAt":
				continue
			}
			if fmt.Sprint(stored[k]) != fmt.Sprint(body[k]) {
				t.Errorf("%s: sent %v, stored %v", k, body[k], stored[k])
			}
		}
		if status != 200 || len(stored) != len(body) {
			t.Errorf("sent %d fields, the API shows %d", len(body), len(stored))
		}
	})

	t.Run("the last contacted user, the commerce's and the channel's", func(t *testing.T) {
		a := f.activity(t, "last", "WHATSAPP", "MESSAGE", `"target_criteria":[{"type":"LAST_CONTACTED_SAME_CHANNEL"}]`)
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		if tu := target(t, f.get(t, a.Id)); tu.CommerceUserId.MustGet() != rep || tu.LockReason.MustGet() != "CRITERIA_MATCH" || tu.ResolutionStatus != "LOCKED" {
			t.Errorf("target %+v", tu)
		}
	})

	t.Run("a failure at dispatch: UNRESOLVED, not FAILED, nothing sent; retried", func(t *testing.T) {
		if res, _ := f.c.UpdateTargetResolutionConfigWithResponse(ctx, cfg.Id, nil, activitiesclient.UpdateTargetResolutionConfigRequest{
			Criteria: &[]activitiesclient.TargetCriterion{{Type: activitiesclient.ROLEMATCH, Config: &map[string]any{"role": "FINANCE"}}}}); res.JSON200 == nil {
			t.Fatalf("config: %s", res.Body)
		}
		a := f.activity(t, "fails-at-dispatch", "WHATSAPP", "MESSAGE", "")
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusUNRESOLVED)
		lastEventIs(t, f.events(t, a.Id), "RESOLUTION_FAILED", "READY", "UNRESOLVED", "TARGET_USER_UNRESOLVED", "ROLE_MATCH FINANCE")
		attempts, _ := f.c.ListActivityDispatchAttemptsWithResponse(ctx, a.Id, nil)
		if len(*attempts.JSON200) != 0 || sent(yom, a.Id) != nil {
			t.Errorf("%d attempts, sent %v", len(*attempts.JSON200), sent(yom, a.Id) != nil)
		}
		if tu := target(t, f.get(t, a.Id)); tu.ResolutionStatus != "FAILED" {
			t.Errorf("target %+v", tu)
		}
		// The commerce gets a FINANCE user: the retry resolves it and the activity is dispatched.
		finance := f.user(t, "Fede Finance", []activitiesclient.CommerceUserRole{"FINANCE"}, "WHATSAPP:+56955555555")
		res, _ := f.c.RetryActivityResolutionWithResponse(ctx, a.Id, nil)
		if res.JSON200 == nil || res.JSON200.Status != "READY" {
			t.Fatalf("retry: %d %s", res.StatusCode(), res.Body)
		}
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		evs := f.events(t, a.Id)
		lastEventIs(t, evs[:len(evs)-1], "RESOLUTION_RETRY_SUCCESS", "UNRESOLVED", "READY", "", "")
		lastEventIs(t, evs, "DISPATCH_SUCCESS", "READY", "DISPATCHED", "", "")
		if body := sent(yom, a.Id); body == nil || body["targetUser"].(map[string]any)["commerceUserId"] != finance.String() {
			t.Errorf("sent %v", body)
		}
	})

	t.Run("an ON_DISPATCH attribute that fails there: UNRESOLVED, nothing sent", func(t *testing.T) {
		g := newFixture(t, env) // a commerce without promotions in its metadata
		gyom := g.yomReceiver(t, activitiesclient.ChannelWHATSAPP)
		g.policy(t, `{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440002","strategy":"ON_DISPATCH","resolver_type":"INTERNAL_SERVICE"}`)
		a := g.activity(t, "no-promotions-at-dispatch", "WHATSAPP", "MESSAGE", `"attribute_keys":["promotions"]`)
		waitStatus(t, g.c, a.Id, activitiesclient.ActivityStatusUNRESOLVED)
		lastEventIs(t, g.events(t, a.Id), "RESOLUTION_FAILED", "READY", "UNRESOLVED", "ATTRIBUTES_UNRESOLVED", "has no promotions")
		if e := g.get(t, a.Id).ResolvedAttributes[0]; e.ResolutionStatus != "FAILED" || len(gyom.Requests()) != 0 {
			t.Errorf("%+v, %d sent", e, len(gyom.Requests()))
		}
	})

	t.Run("MANUAL, unassigned when due: UNRESOLVED; assigned and retried: dispatched", func(t *testing.T) {
		if res, _ := f.c.UpdateTargetResolutionConfigWithResponse(ctx, cfg.Id, nil, activitiesclient.UpdateTargetResolutionConfigRequest{
			ResolutionStrategy: ptr(activitiesclient.TargetResolutionStrategyMANUAL)}); res.JSON200 == nil {
			t.Fatalf("config: %s", res.Body)
		}
		a := f.activity(t, "manual", "WHATSAPP", "MESSAGE", "")
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusUNRESOLVED)
		lastEventIs(t, f.events(t, a.Id), "RESOLUTION_FAILED", "READY", "UNRESOLVED", "TARGET_USER_UNRESOLVED", "waits for a manual assignment")
		tu := target(t, f.get(t, a.Id))
		if tu.ResolutionStatus != "PENDING" {
			t.Fatalf("target %+v", tu)
		}
		res, _ := f.c.ResolveActivityTargetUserWithResponse(ctx, a.Id, tu.Id, nil, activitiesclient.ResolveTargetUserRequest{CommerceUserId: rep})
		if res.JSON200 == nil || res.JSON200.ResolutionStatus != "LOCKED" || res.JSON200.LockReason.MustGet() != "MANUAL_ASSIGNMENT" {
			t.Fatalf("resolve: %d %s", res.StatusCode(), res.Body)
		}
		if f.get(t, a.Id).Status != "UNRESOLVED" {
			t.Fatal("a manual assignment changed the status")
		}
		if retry, _ := f.c.RetryActivityResolutionWithResponse(ctx, a.Id, nil); retry.JSON200 == nil || retry.JSON200.Status != "READY" {
			t.Fatalf("retry: %s", retry.Body)
		}
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		body := sent(yom, a.Id)
		if body == nil || body["targetUser"].(map[string]any)["lockReason"] != "MANUAL_ASSIGNMENT" ||
			body["targetUser"].(map[string]any)["lockedAt"] != res.JSON200.LockedAt.MustGet().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("sent %v, assigned %+v", body, res.JSON200)
		}
	})
}

// TestRetryResolution: each outcome of a retry, without workers so the dispatch job it schedules
// can be read: still failing (RESOLUTION_RETRY_FAILED, no job), resolved (READY,
// RESOLUTION_RETRY_SUCCESS, one job: at once when scheduled_at has passed, else at
// scheduled_at), and the 400 for any other status.
func TestRetryResolution(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	f.targetConfig(t, `{"resolution_strategy":"ON_CREATION","fallback_to_owner":false,"criteria":[{"type":"ROLE_MATCH","config":{"role":"ORDERS"}}]}`)
	past := f.activity(t, "past", "WHATSAPP", "MESSAGE", `"attribute_keys":["promotions"]`)
	status, b := f.do(t, "POST", "/activities", fmt.Sprintf(`{"type":"MESSAGE","reason":"r","channel":"WHATSAPP","commerce_id":%q,
		"idempotency_key":"future","scheduled_at":"2031-02-03T04:05:06.000Z"}`, f.commerce))
	if status != 201 {
		t.Fatalf("future: %d %s", status, b)
	}
	future := servertest.Decode[activitiesclient.Activity](t, b)
	if past.Status != "UNRESOLVED" || future.Status != "UNRESOLVED" {
		t.Fatalf("created %s and %s", past.Status, future.Status)
	}
	jobs := func(id uuid.UUID) (n int, state string, at time.Time) {
		t.Helper()
		_ = env.DB.SQL().QueryRow(`SELECT count(*) OVER (), state, scheduled_at FROM river_job WHERE args->>'activity_id' = $1`, id.String()).Scan(&n, &state, &at)
		return n, state, at
	}

	res, _ := f.c.RetryActivityResolutionWithResponse(ctx, past.Id, nil)
	if res.JSON200 == nil || res.JSON200.Status != "UNRESOLVED" {
		t.Fatalf("retry that still fails: %d %s", res.StatusCode(), res.Body)
	}
	lastEventIs(t, f.events(t, past.Id), "RESOLUTION_RETRY_FAILED", "UNRESOLVED", "UNRESOLVED", "TARGET_USER_AND_ATTRIBUTES_UNRESOLVED", "attribute promotions")
	if n, _, _ := jobs(past.Id); n != 0 {
		t.Fatalf("%d jobs after a failed retry", n)
	}

	// The causes go away: a user with the role, promotions in the metadata.
	f.user(t, "Omar Orders", []activitiesclient.CommerceUserRole{"ORDERS"}, "WHATSAPP:+56966666666")
	if status, b := f.do(t, "PATCH", "/commerces/"+f.commerce.String(), `{"metadata":{"promotions":"2x1"}}`); status != 200 {
		t.Fatalf("commerce: %d %s", status, b)
	}
	before := time.Now()
	for _, a := range []activitiesclient.Activity{past, future} {
		res, _ := f.c.RetryActivityResolutionWithResponse(ctx, a.Id, nil)
		if res.JSON200 == nil || res.JSON200.Status != "READY" || target(t, *res.JSON200).ResolutionStatus != "RESOLVED" {
			t.Fatalf("retry: %d %s", res.StatusCode(), res.Body)
		}
		lastEventIs(t, f.events(t, a.Id), "RESOLUTION_RETRY_SUCCESS", "UNRESOLVED", "READY", "", "")
	}
	if attrs := f.get(t, past.Id).ResolvedAttributes; attrs[0].ResolutionStatus != "RESOLVED" || jsonOf(attrs[0].Value) != `"2x1"` {
		t.Errorf("attributes after the retry %+v", attrs)
	}
	if n, state, at := jobs(past.Id); n != 1 || state != "available" || at.Before(before.Add(-time.Minute)) {
		t.Errorf("past one: %d jobs, %s at %s", n, state, at)
	}
	if n, state, at := jobs(future.Id); n != 1 || state != "scheduled" || !at.Equal(future.ScheduledAt) {
		t.Errorf("future one: %d jobs, %s at %s (scheduled at %s)", n, state, at, future.ScheduledAt)
	}

	for _, id := range []uuid.UUID{past.Id} {
		res, _ := f.c.RetryActivityResolutionWithResponse(ctx, id, nil)
		if res.JSON400 == nil || res.JSON400.Message != "Activity is not in UNRESOLVED status" {
			t.Errorf("retry of a READY activity: %d %s", res.StatusCode(), res.Body)
		}
	}
	if res, _ := f.c.CancelActivityWithResponse(ctx, future.Id, nil); res.JSON200 == nil {
		t.Fatalf("cancel: %s", res.Body)
	}
	if res, _ := f.c.RetryActivityResolutionWithResponse(ctx, future.Id, nil); res.JSON400 == nil {
		t.Errorf("retry of a CANCELED activity: %d %s", res.StatusCode(), res.Body)
	}
	viewer := env.Key(t, f.ws, "VIEW_ACTIVITIES")
	if status, _ := env.Do(t, "PATCH", "/api/activities/"+past.Id.String()+"/retry-resolution", "", "x-api-key", viewer); status != 403 {
		t.Errorf("retry without CREATE_ACTIVITY: %d", status)
	}
}

// TestManualAssignment: what PATCH …/target-users/{id}/resolve refuses (a target user that is
// RESOLVED or LOCKED, an activity past READY/UNRESOLVED, another commerce's user, an inactive
// or unreachable one) and what it does (LOCKED, MANUAL_ASSIGNMENT, the contact; the status
// unchanged).
func TestManualAssignment(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	f.targetConfig(t, `{"resolution_strategy":"MANUAL","priority":0,"activity_type":"MESSAGE"}`)
	f.targetConfig(t, `{"resolution_strategy":"ON_CREATION","priority":1,"criteria":[{"type":"ROLE_MATCH","config":{"role":"OWNER"}}]}`)
	owner := f.user(t, "Olga Owner", []activitiesclient.CommerceUserRole{"OWNER"}, "EMAIL:olga@example.com", "PHONE:+56977777777")
	mute := f.user(t, "Mudo", []activitiesclient.CommerceUserRole{"ADMIN"}, "EMAIL:mudo@example.com")
	gone := f.user(t, "Ida", nil, "WHATSAPP:+56988888888")
	if res, _ := f.c.UpdateCommerceUserWithResponse(ctx, f.commerce, gone, nil, activitiesclient.UpdateCommerceUserRequest{IsActive: ptr(false)}); res.JSON200 == nil {
		t.Fatalf("deactivate: %s", res.Body)
	}
	other := newAPICommerce(t, f.c, "Otro", "C-2")
	res, _ := f.c.CreateCommerceUserWithResponse(ctx, other, nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("Otra")})
	stranger := res.JSON201.Id

	a := f.activity(t, "manual", "WHATSAPP", "MESSAGE", "")
	tu := target(t, a)
	if a.Status != "READY" || tu.ResolutionStatus != "PENDING" || tu.ResolutionStrategy != "MANUAL" {
		t.Fatalf("created %s %+v", a.Status, tu)
	}
	resolve := func(activity, targetID, user uuid.UUID) *activitiesclient.ResolveActivityTargetUserResponse {
		t.Helper()
		res, err := f.c.ResolveActivityTargetUserWithResponse(ctx, activity, targetID, nil, activitiesclient.ResolveTargetUserRequest{CommerceUserId: user})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for name, tc := range map[string]struct {
		user   uuid.UUID
		status int
		msg    string
	}{
		"another commerce's user": {stranger, 400, "not a user of the activity's commerce"},
		"an unknown user":         {uuid.New(), 400, "not a user of the activity's commerce"},
		"an inactive user":        {gone, 400, "not active"},
		"an unreachable user":     {mute, 400, "no active WHATSAPP or PHONE contact"},
	} {
		if res := resolve(a.Id, tu.Id, tc.user); res.StatusCode() != tc.status || !strings.Contains(string(res.Body), tc.msg) {
			t.Errorf("%s: %d %s", name, res.StatusCode(), res.Body)
		}
	}
	if res := resolve(a.Id, uuid.New(), owner); res.JSON404 == nil {
		t.Errorf("an unknown target user: %d %s", res.StatusCode(), res.Body)
	}
	done := resolve(a.Id, tu.Id, owner)
	if done.JSON200 == nil {
		t.Fatalf("resolve: %d %s", done.StatusCode(), done.Body)
	}
	got := *done.JSON200
	if got.Id != tu.Id || got.ResolutionStatus != "LOCKED" || got.LockReason.MustGet() != "MANUAL_ASSIGNMENT" || got.CommerceUserId.MustGet() != owner ||
		got.Contact.MustGet().Type != "PHONE" || got.CommerceUser.MustGet().FirstName.MustGet() != "Olga" || !got.LockedAt.MustGet().Equal(got.ResolvedAt.MustGet()) {
		t.Errorf("assigned %+v", got)
	}
	if a2 := f.get(t, a.Id); a2.Status != "READY" || target(t, a2).ResolutionStatus != "LOCKED" {
		t.Errorf("after: %s %+v", a2.Status, a2.TargetUser)
	}
	if res := resolve(a.Id, tu.Id, owner); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "LOCKED") {
		t.Errorf("assigning a LOCKED target user again: %d %s", res.StatusCode(), res.Body)
	}
	resolved := f.activity(t, "resolved", "SALESMAN", "TASK", "")
	if res := resolve(resolved.Id, target(t, resolved).Id, owner); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "RESOLVED") {
		t.Errorf("assigning a RESOLVED target user: %d %s", res.StatusCode(), res.Body)
	}
	canceled := f.activity(t, "canceled", "WHATSAPP", "MESSAGE", "")
	if res, _ := f.c.CancelActivityWithResponse(ctx, canceled.Id, nil); res.JSON200 == nil {
		t.Fatalf("cancel: %s", res.Body)
	}
	if res := resolve(canceled.Id, target(t, canceled).Id, owner); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "CANCELED") {
		t.Errorf("assigning the target user of a CANCELED activity: %d %s", res.StatusCode(), res.Body)
	}
}

// TestClientHooks: CLIENT_HOOK attributes call a real local HTTP server: a signed POST
// (Standard Webhooks, verifiable with the secret the policy showed once, by each secret after a
// rotation) of the key, the activity and its commerce, whose JSON answer is the value; a
// non-2xx answer, a timeout, an answer that is not JSON, a refused destination fail the
// attribute (or give its fallback). UPFRONT in the create request, ON_DISPATCH in the dispatch
// job, again on retry.
func TestClientHooks(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch())
	f := newFixture(t, env)
	if status, b := f.do(t, "POST", "/dispatch-configs", `{"dispatch_provider_id":"770e8400-e29b-41d4-a716-446655440000","channel":"WHATSAPP"}`); status != 201 {
		t.Fatalf("dispatch config: %d %s", status, b)
	}
	hook := servertest.NewReceiver(t)
	answer := func(status int, body string, delay time.Duration) {
		hook.SetRespond(func(_ int, w http.ResponseWriter) {
			time.Sleep(delay)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		})
	}
	answer(200, `{"tier": "gold", "points": 1200}`, 0)
	key, _ := f.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: "loyalty_tier", Label: "Tier"})
	keyID := key.JSON201.Id.String()
	policy := func(strategy string, timeoutMS int) activitiesclient.AttributePolicy {
		return f.policy(t, fmt.Sprintf(`{"attributeKeyId":%q,"strategy":%q,"resolverType":"CLIENT_HOOK","hookUrl":%q,"hookTimeoutMs":%d}`,
			keyID, strategy, hook.URL+"/tier", timeoutMS))
	}
	secret, previous := policy("UPFRONT", 2000).HookSecret.MustGet(), ""
	verify := func(t *testing.T, req servertest.Received, secrets ...string) {
		t.Helper()
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		sigs := strings.Fields(req.Header.Get("webhook-signature"))
		unix, _ := strconv.ParseInt(ts, 10, 64)
		if len(sigs) != len(secrets) || !strings.HasPrefix(id, "hook_") || time.Since(time.Unix(unix, 0)) > time.Minute || req.RequestURI != "/tier" {
			t.Fatalf("headers %v for %s", req.Header, req.RequestURI)
		}
		for i, s := range secrets {
			if want, _ := signature.Sign(s, id, unix, req.Body); sigs[i] != want {
				t.Errorf("signature %d %s, want %s", i, sigs[i], want)
			}
		}
	}
	attribute := func(t *testing.T, a activitiesclient.Activity) activitiesclient.ActivityAttribute {
		t.Helper()
		if len(a.ResolvedAttributes) != 1 {
			t.Fatalf("attributes %+v", a.ResolvedAttributes)
		}
		return a.ResolvedAttributes[0]
	}

	t.Run("UPFRONT: called in the create, its answer the value", func(t *testing.T) {
		a := f.activity(t, "hooked", "WHATSAPP", "MESSAGE", `"attribute_keys":["loyalty_tier"]`)
		e := attribute(t, a)
		if a.Status != "READY" || e.ResolutionStatus != "RESOLVED" || e.ResolverType.MustGet() != "CLIENT_HOOK" ||
			jsonOf(e.Value) != `{"tier":"gold","points":1200}` {
			t.Fatalf("%s %+v", a.Status, e)
		}
		reqs := hook.Requests()
		verify(t, reqs[len(reqs)-1], secret)
		body := servertest.Decode[map[string]any](t, reqs[len(reqs)-1].Body)
		activity, commerce := body["activity"].(map[string]any), body["commerce"].(map[string]any)
		if body["type"] != "attribute.resolve" || body["attributeKey"] != "loyalty_tier" || body["attributeKeyId"] != keyID ||
			activity["id"] != a.Id.String() || activity["idempotencyKey"] != "hooked" || commerce["name"] != "Almacen Don Pepe" || commerce["externalId"] != "C-1001" {
			t.Errorf("hook body %v", body)
		}
	})

	for _, tc := range []struct {
		name   string
		status int
		body   string
		delay  time.Duration
		msg    string
	}{
		{"a 500", 500, "boom", 0, "the hook answered 500: boom"},
		{"a timeout", 200, `{}`, 700 * time.Millisecond, "the hook did not answer within 200ms"},
		{"not JSON", 200, "gold", 0, "the hook answer is not JSON: gold"},
		{"a redirect", 302, "", 0, "the hook answered 302"},
	} {
		t.Run("UPFRONT, "+tc.name+": UNRESOLVED, or the fallback", func(t *testing.T) {
			policy("UPFRONT", 200)
			answer(tc.status, tc.body, tc.delay)
			a := f.activity(t, "fail-"+tc.name, "WHATSAPP", "MESSAGE", `"attribute_keys":["loyalty_tier"]`)
			if e := attribute(t, a); a.Status != "UNRESOLVED" || e.ResolutionStatus != "FAILED" || e.ErrorMessage.MustGet() != tc.msg || jsonOf(e.Value) != "null" {
				t.Fatalf("%s %+v", a.Status, e)
			}
			lastEventIs(t, f.events(t, a.Id), "RESOLUTION_FAILED", "READY", "UNRESOLVED", "ATTRIBUTES_UNRESOLVED", "attribute loyalty_tier: "+tc.msg)
			a = f.activity(t, "fallback-"+tc.name, "WHATSAPP", "MESSAGE", `"attributes":[{"key":"loyalty_tier","fallback":"bronze"}]`)
			if e := attribute(t, a); a.Status != "READY" || e.ResolutionStatus != "FALLBACK" || jsonOf(e.Value) != `"bronze"` || e.ErrorMessage.MustGet() != tc.msg {
				t.Fatalf("%s %+v", a.Status, e)
			}
		})
	}

	t.Run("rotated: signed by both secrets", func(t *testing.T) {
		answer(200, `"silver"`, 0)
		rotated, _ := f.c.RotateAttributeHookSecretWithResponse(ctx, policy("UPFRONT", 2000).Id, nil)
		a := f.activity(t, "rotated", "WHATSAPP", "MESSAGE", `"attribute_keys":["loyalty_tier"]`)
		if jsonOf(attribute(t, a).Value) != `"silver"` {
			t.Fatalf("%+v", a.ResolvedAttributes)
		}
		reqs := hook.Requests()
		verify(t, reqs[len(reqs)-1], rotated.JSON200.HookSecret.MustGet(), secret)
		secret, previous = rotated.JSON200.HookSecret.MustGet(), secret
	})

	t.Run("ON_DISPATCH: called by the dispatch; a failure there, then a retry", func(t *testing.T) {
		policy("ON_DISPATCH", 2000)
		answer(200, `{"tier":"platinum"}`, 0)
		calls := len(hook.Requests())
		a := f.activity(t, "at-dispatch", "WHATSAPP", "MESSAGE", `"attribute_keys":["loyalty_tier"]`)
		if attribute(t, a).ResolutionStatus != "PENDING" {
			t.Fatalf("created %+v", a.ResolvedAttributes)
		}
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		if e := attribute(t, f.get(t, a.Id)); e.ResolutionStatus != "RESOLVED" || jsonOf(e.Value) != `{"tier":"platinum"}` || len(hook.Requests()) != calls+1 {
			t.Errorf("dispatched with %+v after %d calls", e, len(hook.Requests())-calls)
		}

		answer(503, "down", 0)
		a = f.activity(t, "at-dispatch-down", "WHATSAPP", "MESSAGE", `"attribute_keys":["loyalty_tier"]`)
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusUNRESOLVED)
		lastEventIs(t, f.events(t, a.Id), "RESOLUTION_FAILED", "READY", "UNRESOLVED", "ATTRIBUTES_UNRESOLVED", "the hook answered 503: down")
		answer(200, `{"tier":"back"}`, 0)
		res, _ := f.c.RetryActivityResolutionWithResponse(ctx, a.Id, nil)
		if res.JSON200 == nil || res.JSON200.Status != "READY" || attribute(t, *res.JSON200).ResolutionStatus != "RESOLVED" {
			t.Fatalf("retry: %s", res.Body)
		}
		waitStatus(t, f.c, a.Id, activitiesclient.ActivityStatusDISPATCHED)
		reqs := hook.Requests()
		verify(t, reqs[len(reqs)-1], secret, previous) // the previous one signs for 24 hours
	})

	t.Run("a destination the guard refuses", func(t *testing.T) {
		t.Parallel()
		guarded := servertest.New(t, servertest.RefusePrivateDestinations())
		g := newFixture(t, guarded)
		k, _ := g.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: "tier", Label: "Tier"})
		g.policy(t, fmt.Sprintf(`{"attribute_key_id":%q,"strategy":"UPFRONT","resolver_type":"CLIENT_HOOK","hook_url":%q}`, k.JSON201.Id, hook.URL))
		calls := len(hook.Requests())
		a := g.activity(t, "guarded", "WHATSAPP", "MESSAGE", `"attribute_keys":["tier"]`)
		if e := attribute(t, a); a.Status != "UNRESOLVED" || !strings.Contains(e.ErrorMessage.MustGet(), "the hook was not called: ") ||
			!strings.Contains(e.ErrorMessage.MustGet(), "loopback") || len(hook.Requests()) != calls {
			t.Errorf("%s %+v", a.Status, e)
		}
	})
}

// TestResolutionIsolation: every id-bearing resolution operation refuses another workspace's
// ids (404), and reaches no further.
func TestResolutionIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	f.user(t, "Olga Owner", []activitiesclient.CommerceUserRole{"OWNER"})
	cfg := f.targetConfig(t, `{"resolution_strategy":"MANUAL"}`)
	key, _ := f.c.CreateAttributeKeyWithResponse(ctx, nil, activitiesclient.CreateAttributeKeyRequest{Key: "tier", Label: "Tier"})
	pol := f.policy(t, `{"attribute_key_id":"`+key.JSON201.Id.String()+`","strategy":"UPFRONT","resolver_type":"CLIENT_HOOK","hook_url":"https://x.example"}`)
	a := f.activity(t, "mine", "SALESMAN", "TASK", "")
	tu := target(t, a)
	g := newFixture(t, env)
	mate := g.user(t, "Pepe", []activitiesclient.CommerceUserRole{"OWNER"})
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/activities/" + a.Id.String() + "/attributes", ""},
		{"GET", "/activities/" + a.Id.String() + "/target-users", ""},
		{"PATCH", "/activities/" + a.Id.String() + "/target-users/" + tu.Id.String() + "/resolve", `{"commerce_user_id":"` + mate.String() + `"}`},
		{"PATCH", "/activities/" + a.Id.String() + "/retry-resolution", ""},
		{"DELETE", "/activity-config/attribute-keys/" + key.JSON201.Id.String(), ""},
		{"POST", "/activity-config/attribute-policies", `{"attribute_key_id":"` + key.JSON201.Id.String() + `","strategy":"CALLER_PROVIDED"}`},
		{"DELETE", "/activity-config/attribute-policies/" + pol.Id.String(), ""},
		{"POST", "/activity-config/attribute-policies/" + pol.Id.String() + "/rotate-hook-secret", ""},
		{"PATCH", "/activity-config/target-resolution/" + cfg.Id.String(), `{"is_active":false}`},
		{"DELETE", "/activity-config/target-resolution/" + cfg.Id.String(), ""},
	} {
		if status, b := g.do(t, r.method, r.path, r.body); status != 404 {
			t.Errorf("%s %s from another workspace: %d %s", r.method, r.path, status, b)
		}
	}
	// Nor does the other workspace's user become this one's target user.
	if status, b := f.do(t, "PATCH", "/activities/"+a.Id.String()+"/target-users/"+tu.Id.String()+"/resolve",
		`{"commerce_user_id":"`+mate.String()+`"}`); status != 400 {
		t.Errorf("another workspace's user: %d %s", status, b)
	}
	for _, list := range []string{"/activity-config/target-resolution", "/activity-config/attribute-policies"} {
		if status, b := g.do(t, "GET", list, ""); status != 200 || strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("%s of the other workspace: %d %s", list, status, b)
		}
	}
	if status, b := g.do(t, "GET", "/activity-config/attribute-keys", ""); status != 200 || strings.Contains(string(b), `"tier"`) {
		t.Errorf("keys of the other workspace: %d %s", status, b)
	}
	if n := env.Count(t, `target_resolution_configs WHERE is_active`) + env.Count(t, `attribute_policies`); n != 2 {
		t.Errorf("the other workspace changed something: %d", n)
	}
}

// TestResolutionBadInput: input the database would refuse is a 400 in the documented body,
// never a 500, and nothing is written.
func TestResolutionBadInput(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFixture(t, env)
	for _, r := range []struct{ method, path, body, field string }{
		{"POST", "/activities", fmt.Sprintf(`{"type":"TASK","reason":"r","channel":"SALESMAN","commerce_id":%q,"idempotency_key":"n1",
			"scheduled_at":"2030-01-01T00:00:00Z","attributes":[{"key":"promotions","fallback":"a\u0000b"}]}`, f.commerce), "attributes.0.fallback"},
		{"POST", "/activities", fmt.Sprintf(`{"type":"TASK","reason":"r","channel":"SALESMAN","commerce_id":%q,"idempotency_key":"n2",
			"scheduled_at":"2030-01-01T00:00:00Z","attributes":[{"key":"promotions","fallback":1},{"key":"promotions","fallback":2}]}`, f.commerce), "attributes[1].key"},
		{"POST", "/activities", fmt.Sprintf(`{"type":"TASK","reason":"r","channel":"SALESMAN","commerce_id":%q,"idempotency_key":"n3",
			"scheduled_at":"2030-01-01T00:00:00Z","target_criteria":[{"type":"ROLE_MATCH","config":{"role":"owner"}}]}`, f.commerce), "target_criteria[0].config.role"},
		{"POST", "/activities", fmt.Sprintf(`{"type":"TASK","reason":"r","channel":"SALESMAN","commerce_id":%q,"idempotency_key":"n4",
			"scheduled_at":"2030-01-01T00:00:00Z","attribute_keys":["commerce_info","commerce\u0000info"]}`, f.commerce), "attribute_keys.1"},
		{"POST", "/activity-config/attribute-keys", `{"key":"tier","label":"a\u0000b"}`, ""},
		{"POST", "/activity-config/attribute-policies", `{"attribute_key_id":"a77e8400-e29b-41d4-a716-446655440001","strategy":"UPFRONT",
			"resolver_type":"CLIENT_HOOK","hook_url":"https://x.example/\u0000"}`, ""},
		{"PATCH", "/activities/not-a-uuid/retry-resolution", "", ""},
		{"PATCH", "/activities/" + uuid.NewString() + "/target-users/" + uuid.NewString() + "/resolve", `{"commerce_user_id":"x"}`, "commerce_user_id"},
	} {
		status, b := f.do(t, r.method, r.path, r.body)
		e := servertest.Decode[errorBody](t, b)
		if status != 400 || e.StatusCode != 400 || (r.field != "" && (len(e.Errors) == 0 || !strings.HasPrefix(e.Errors[0], r.field))) {
			t.Errorf("%s %s %s: %d %s", r.method, r.path, r.body, status, b)
		}
	}
	if n := env.Count(t, `activities`) + env.Count(t, `attribute_keys WHERE workspace_id IS NOT NULL`) + env.Count(t, `attribute_policies`); n != 0 {
		t.Errorf("%d rows written", n)
	}
}
