package activities_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
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
	res, err := f.c.CreateCommerceUserWithResponse(ctx, f.commerce, nil, activitiesclient.CreateCommerceUserRequest{Name: &name, Roles: &roles})
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
		value, _ := json.Marshal(e.Value.MustGet())
		if e.Key != want.key || string(e.ResolutionStatus) != want.status || string(e.ResolutionStrategy) != want.strategy ||
			string(resolver) != want.resolver || (want.value != "" && string(value) != want.value) || e.ActivityId != a.Id {
			t.Errorf("attribute %d: %+v (value %s), want %+v", i, e, value, want)
		}
	}
	if msg := a.ResolvedAttributes[1].ErrorMessage.MustGet(); !strings.Contains(msg, "has no promotions") {
		t.Errorf("fallback's reason %q", msg)
	}
	status, body := f.do(t, "GET", "/activities/"+a.Id.String()+"/attributes", "")
	var listed, inline []any
	_ = json.Unmarshal(body, &listed)
	raw, _ := json.Marshal(a.ResolvedAttributes)
	_ = json.Unmarshal(raw, &inline)
	if status != 200 || fmt.Sprint(listed) != fmt.Sprint(inline) {
		t.Errorf("GET attributes %s\nthe activity's %s", body, raw)
	}
}
