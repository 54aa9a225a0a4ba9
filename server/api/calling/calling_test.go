package calling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/gen/callingclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

// seedCreate and seedUpdate are seed 004's request bodies, exactly as documented.
const seedCreate = `{
  "reseller_id": "res_001",
  "template": "tpl_xyz789",
  "merchant_id": "mer_abc",
  "initial_offset": 0,
  "retry_offset": 3600,
  "call_start_time": "09:00",
  "call_end_time": "21:00",
  "max_retry": 3,
  "calling_provider": "TWILIO",
  "enable_calling": true,
  "enable_international_call": false,
  "enable_inbound": false,
  "enforce_blacklist": true,
  "rate_limit_enabled": true,
  "rate_limit_max_calls": 100,
  "rate_limit_window_seconds": 60,
  "rate_limit_whitelist": [],
  "pre_checks": []
}`

const seedUpdate = `{
  "id": "cfg_abc123",
  "reseller_id": "res_001",
  "template": "tpl_xyz789",
  "merchant_id": "mer_abc",
  "initial_offset": 0,
  "retry_offset": 1800,
  "call_start_time": "10:00",
  "call_end_time": "20:00",
  "max_retry": 5,
  "calling_provider": "TWILIO",
  "enable_calling": true,
  "enable_international_call": false,
  "enable_inbound": true,
  "inbound_call_start_time": "09:00",
  "inbound_call_end_time": "22:00",
  "inbound_call_timezone": "Asia/Kolkata",
  "inbound_block_action": "REDIRECT",
  "inbound_redirect_number": "+919999999999",
  "inbound_block_message": "We are currently closed. Redirecting you to support.",
  "enforce_blacklist": true,
  "rate_limit_enabled": true,
  "rate_limit_max_calls": 200,
  "rate_limit_window_seconds": 60,
  "rate_limit_whitelist": ["+911234567890"],
  "pre_checks": [
    {
      "name": "dnd_check",
      "type": "external_api",
      "enabled": true,
      "default_on_failure": "proceed"
    }
  ]
}`

// issue is one entry of a validation error's detail.
type issue struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// issues decodes a 400 body and returns its entries by loc ("body.pre_checks.0.name", the
// first entry for that loc) and by loc and type ("body.max_retry|type_error").
func issues(t *testing.T, body []byte) map[string]issue {
	t.Helper()
	var e struct{ Detail []issue }
	if err := json.Unmarshal(body, &e); err != nil || len(e.Detail) == 0 {
		t.Fatalf("not a validation error body: %s (%v)", body, err)
	}
	out := map[string]issue{}
	for _, i := range e.Detail {
		parts := make([]string, len(i.Loc))
		for j, l := range i.Loc {
			parts[j] = fmt.Sprint(l)
		}
		loc := strings.Join(parts, ".")
		if _, seen := out[loc]; !seen {
			out[loc] = i
		}
		out[loc+"|"+i.Type] = i
	}
	return out
}

// message decodes a non-validation error body's detail string.
func message(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Detail string }
	if err := json.Unmarshal(body, &e); err != nil || e.Detail == "" {
		t.Fatalf("not a {\"detail\": message} body: %s (%v)", body, err)
	}
	return e.Detail
}

// newCalling starts a server and returns a Calling API client of it whose key, of a new
// workspace, holds permissions.
func newCalling(t *testing.T, permissions ...string) *callingclient.ClientWithResponses {
	t.Helper()
	env := servertest.New(t)
	_, key := env.Workspace(t, permissions...)
	return env.Calling(t, key)
}

// TestSeed004Verbatim sends seed 004's create and update bodies exactly as documented, with
// the documented `Authorization: Bearer` header, and checks the documented answers.
func TestSeed004Verbatim(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	h := []string{"Authorization", "Bearer " + key}

	status, body := env.Do(t, "POST", "/calling/configurations", seedCreate, h...)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	created := servertest.Decode[map[string]any](t, body)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "cfg_") {
		t.Errorf("id = %q, want cfg_…", id)
	}
	// The documented response fields, then the rest of the full object.
	for k, v := range map[string]any{"reseller_id": "res_001", "template": "tpl_xyz789", "merchant_id": "mer_abc",
		"calling_provider": "TWILIO", "enable_calling": true, "retry_offset": 3600.0, "max_retry": 3.0,
		"enable_international_call": false, "enable_inbound": false, "rate_limit_max_calls": 100.0,
		"rate_limit_window_seconds": 60.0, "inbound_call_timezone": "Asia/Kolkata", "inbound_block_action": "REJECT"} {
		if created[k] != v {
			t.Errorf("create: %s = %v, want %v", k, created[k], v)
		}
	}
	if _, ok := created["created_at"].(string); !ok {
		t.Errorf("create: no created_at: %s", body)
	}

	status, body = env.Do(t, "GET", "/calling/configurations?reseller_id=res_001&template=tpl_xyz789", "", h...)
	var list []map[string]any
	_ = json.Unmarshal(body, &list)
	if status != 200 || len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("list: %d %s", status, body)
	}

	status, body = env.Do(t, "PUT", "/calling/configurations/"+id, seedUpdate, h...)
	if status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}
	updated := servertest.Decode[map[string]any](t, body)
	for k, v := range map[string]any{"id": id, "retry_offset": 1800.0, "call_start_time": "10:00", "call_end_time": "20:00",
		"max_retry": 5.0, "enable_inbound": true, "inbound_call_start_time": "09:00", "inbound_call_end_time": "22:00",
		"inbound_block_action": "REDIRECT", "inbound_redirect_number": "+919999999999", "rate_limit_max_calls": 200.0,
		"inbound_block_message": "We are currently closed. Redirecting you to support."} {
		if updated[k] != v {
			t.Errorf("update: %s = %v, want %v", k, updated[k], v)
		}
	}
	pcs, _ := updated["pre_checks"].([]any)
	if len(pcs) != 1 || fmt.Sprint(pcs[0].(map[string]any)["name"]) != "dnd_check" || fmt.Sprint(updated["rate_limit_whitelist"]) != "[+911234567890]" {
		t.Fatalf("update: pre_checks/whitelist not stored: %s", body)
	}

	// The seed's pre-check has no http_request: it never blocks a call.
	c := env.Calling(t, key)
	at := mustTime(t, "2025-01-15T12:00:00+05:30")
	d, err := c.DecideCallWithResponse(ctx, id, callingclient.DecisionRequest{Direction: "outbound", Number: "+919812345678", At: &at})
	if err != nil || d.JSON200 == nil {
		t.Fatalf("decide: %v %s", err, d.Body)
	}
	if d.JSON200.Decision != "allow" || len(d.JSON200.PreChecks) != 1 || d.JSON200.PreChecks[0].Outcome != callingclient.NotConfigured {
		t.Fatalf("decide with the seed's pre-check: %s", d.Body)
	}
}

func TestConfigurationsCRUD(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "calling:read", "calling:write")
	c := env.Calling(t, key)
	var ids []string
	for _, m := range []*string{nil, ptr("m1"), ptr("m2")} {
		body := minimal("res_A", "tpl_1")
		if m != nil {
			body.MerchantId = nullableOf(*m)
		}
		res, err := c.CreateConfigurationWithResponse(ctx, body)
		if err != nil || res.JSON201 == nil {
			t.Fatalf("create: %v %s", err, res.Body)
		}
		ids = append(ids, res.JSON201.Id)
	}
	other, _ := c.CreateConfigurationWithResponse(ctx, minimal("res_B", "tpl_2"))
	if other.JSON201 == nil {
		t.Fatalf("create other: %s", other.Body)
	}
	count := func(p callingclient.ListConfigurationsParams) int {
		res, err := c.ListConfigurationsWithResponse(ctx, &p)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %s", err, res.Body)
		}
		return len(*res.JSON200)
	}
	if n := count(callingclient.ListConfigurationsParams{}); n != 4 {
		t.Errorf("all: %d", n)
	}
	if n := count(callingclient.ListConfigurationsParams{ResellerId: ptr("res_A")}); n != 3 {
		t.Errorf("reseller res_A: %d", n)
	}
	if n := count(callingclient.ListConfigurationsParams{ResellerId: ptr("res_A"), MerchantId: ptr("m2")}); n != 1 {
		t.Errorf("merchant m2: %d", n)
	}
	if n := count(callingclient.ListConfigurationsParams{Template: ptr("tpl_2")}); n != 1 {
		t.Errorf("template tpl_2: %d", n)
	}

	got, _ := c.GetConfigurationWithResponse(ctx, ids[1])
	if got.JSON200 == nil || got.JSON200.MerchantId.MustGet() != "m1" {
		t.Fatalf("get: %s", got.Body)
	}
	// Another workspace sees none of it.
	_, otherKey := env.Workspace(t, "*")
	if res, _ := env.Calling(t, otherKey).GetConfigurationWithResponse(ctx, ids[1]); res.StatusCode() != 404 {
		t.Errorf("other workspace get: %d", res.StatusCode())
	}
	if del, _ := c.DeleteConfigurationWithResponse(ctx, ids[1]); del.StatusCode() != 204 {
		t.Fatalf("delete: %d %s", del.StatusCode(), del.Body)
	}
	res, _ := c.GetConfigurationWithResponse(ctx, ids[1])
	if res.StatusCode() != 404 || message(t, res.Body) != "Configuration "+ids[1]+" not found" {
		t.Errorf("get deleted: %d %s", res.StatusCode(), res.Body)
	}
	if del, _ := c.DeleteConfigurationWithResponse(ctx, ids[1]); del.StatusCode() != 404 {
		t.Errorf("delete again: %d", del.StatusCode())
	}
	if up, _ := c.UpdateConfigurationWithResponse(ctx, "cfg_missing", callingclient.UpdateConfigurationRequest{MaxRetry: ptr(1)}); up.StatusCode() != 404 {
		t.Errorf("update missing: %d", up.StatusCode())
	}

	// Permissions: calling:read cannot write; no key is a 401 in the documented body.
	reader := env.Key(t, ws, "calling:read")
	status, body := env.Do(t, "POST", "/calling/configurations", seedCreate, "Authorization", "Bearer "+reader)
	if status != 403 || !strings.Contains(message(t, body), "calling:write") {
		t.Errorf("reader creating: %d %s", status, body)
	}
	if status, _ := env.Do(t, "GET", "/calling/configurations", "", "Authorization", "Bearer "+reader); status != 200 {
		t.Errorf("reader listing: %d", status)
	}
	status, body = env.Do(t, "GET", "/calling/configurations", "")
	if status != 401 || message(t, body) == "" {
		t.Errorf("no key: %d %s", status, body)
	}
}

// TestDefaults creates a configuration with only the required fields and checks every
// documented default.
func TestDefaults(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:write")
	status, body := env.Do(t, "POST", "/calling/configurations", `{"reseller_id":"r","template":"t","initial_offset":0,
		"retry_offset":60,"call_start_time":"09:00","call_end_time":"18:00","max_retry":1,"calling_provider":"EXOTEL",
		"pre_checks":[{"name":"dnd","http_request":{"url":"https://dnd.example.com/{number}"},
		  "response_config":{"response_field":"allowed","response_field_value":true}}]}`, "Authorization", "Bearer "+key)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	c := servertest.Decode[map[string]any](t, body)
	want := map[string]any{
		"merchant_id": nil, "enable_calling": true, "enable_international_call": true, "enable_inbound": true,
		"inbound_call_start_time": nil, "inbound_call_end_time": nil, "inbound_call_timezone": "Asia/Kolkata",
		"call_timezone": "Asia/Kolkata", "domestic_country_code": "91", "inbound_block_action": "REJECT",
		"inbound_redirect_number": nil, "inbound_block_message": nil, "enforce_blacklist": true,
		"rate_limit_enabled": false, "rate_limit_max_calls": nil, "rate_limit_window_seconds": 1800.0,
		"telephony_config": nil,
	}
	for k, v := range want {
		if got, ok := c[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if fmt.Sprint(c["rate_limit_whitelist"]) != "[]" {
		t.Errorf("rate_limit_whitelist = %v", c["rate_limit_whitelist"])
	}
	pc := c["pre_checks"].([]any)[0].(map[string]any)
	hr := pc["http_request"].(map[string]any)
	for k, v := range map[string]any{"type": "external_api", "enabled": true, "default_on_failure": "proceed"} {
		if pc[k] != v {
			t.Errorf("pre_check %s = %v, want %v", k, pc[k], v)
		}
	}
	for k, v := range map[string]any{"method": "GET", "timeout": 10.0, "max_retries": 2.0} {
		if hr[k] != v {
			t.Errorf("http_request %s = %v, want %v", k, hr[k], v)
		}
	}
}

// TestDuplicate: one configuration per reseller + template + merchant (no merchant being a
// value of its own), enforced under concurrency.
func TestDuplicate(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:write")
	h := []string{"Authorization", "Bearer " + key}
	if status, body := env.Do(t, "POST", "/calling/configurations", seedCreate, h...); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	status, body := env.Do(t, "POST", "/calling/configurations", seedCreate, h...)
	if status != 409 || !strings.Contains(message(t, body), "Duplicate reseller + template") {
		t.Fatalf("duplicate: %d %s", status, body)
	}
	other := strings.Replace(seedCreate, `"mer_abc"`, `"mer_other"`, 1)
	if status, body := env.Do(t, "POST", "/calling/configurations", other, h...); status != 201 {
		t.Fatalf("another merchant: %d %s", status, body)
	}
	c := env.Calling(t, key)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.CreateConfigurationWithResponse(ctx, minimal("res_race", "tpl_race"))
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = res.StatusCode()
		}()
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, code := range codes {
		switch code {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != 1 || conflicts != len(codes)-1 {
		t.Fatalf("concurrent creates without merchant: %v", codes)
	}
}

func TestActivation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	c := env.Calling(t, key)
	for _, rm := range [][2]string{{"res_A", "m1"}, {"res_A", "m2"}, {"res_B", "m1"}} {
		b := minimal(rm[0], "tpl")
		b.MerchantId = nullableOf(rm[1])
		if res, _ := c.CreateConfigurationWithResponse(ctx, b); res.JSON201 == nil {
			t.Fatalf("create: %s", res.Body)
		}
	}
	switchOff := func(p callingclient.SetCallingActivationParams) *callingclient.SetCallingActivationResponse {
		res, err := c.SetCallingActivationWithResponse(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := switchOff(callingclient.SetCallingActivationParams{EnableCalling: false, ResellerId: ptr("res_A")})
	if res.JSON200 == nil || res.JSON200.Updated != 2 || res.JSON200.Matched != 2 || res.JSON200.Message != "Updated 2 config(s)" {
		t.Fatalf("switch off res_A: %s", res.Body)
	}
	for _, cfg := range res.JSON200.Configs {
		if cfg.EnableCalling {
			t.Errorf("%s still enabled", cfg.Id)
		}
	}
	if res = switchOff(callingclient.SetCallingActivationParams{EnableCalling: false, ResellerId: ptr("res_A")}); res.JSON200.Updated != 0 || res.JSON200.Matched != 2 {
		t.Errorf("again: %s", res.Body)
	}
	if res = switchOff(callingclient.SetCallingActivationParams{EnableCalling: false, MerchantId: ptr("m1")}); res.JSON200.Updated != 1 || res.JSON200.Matched != 2 {
		t.Errorf("merchant m1: %s", res.Body)
	}
	if res = switchOff(callingclient.SetCallingActivationParams{EnableCalling: true}); res.JSON200.Updated != 3 {
		t.Errorf("all on: %s", res.Body)
	}
	if res = switchOff(callingclient.SetCallingActivationParams{EnableCalling: true, ResellerId: ptr("nobody")}); res.StatusCode() != 404 {
		t.Errorf("no match: %d %s", res.StatusCode(), res.Body)
	}
	if status, body := env.Do(t, "PATCH", "/calling/configurations/calling/activation?reseller_id=res_A", "", "Authorization", "Bearer "+key); status != 400 ||
		issues(t, body)["query.enable_calling"].Type != "missing" {
		t.Errorf("without enable_calling: %d %s", status, body)
	}
}

func TestBlacklist(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	c := env.Calling(t, key)
	add, err := c.AddToBlacklistWithResponse(ctx, callingclient.AddToBlacklistRequest{Numbers: []string{"+919800000001", "+919800000002"}, Reason: ptr("opted out")})
	if err != nil || add.JSON200 == nil || add.JSON200.Added != 2 {
		t.Fatalf("add: %v %s", err, add.Body)
	}
	if add, _ = c.AddToBlacklistWithResponse(ctx, callingclient.AddToBlacklistRequest{Numbers: []string{"+919800000002", "+919800000003"}}); add.JSON200.Added != 1 {
		t.Errorf("add again: %s", add.Body)
	}
	list, _ := c.ListBlacklistWithResponse(ctx)
	if list.JSON200 == nil || len(*list.JSON200) != 3 || (*list.JSON200)[0].Reason.MustGet() != "opted out" {
		t.Fatalf("list: %s", list.Body)
	}
	if del, _ := c.RemoveFromBlacklistWithResponse(ctx, "+919800000003"); del.StatusCode() != 204 {
		t.Fatalf("remove: %d %s", del.StatusCode(), del.Body)
	}
	if del, _ := c.RemoveFromBlacklistWithResponse(ctx, "+919800000003"); del.StatusCode() != 404 {
		t.Errorf("remove again: %d", del.StatusCode())
	}
	if status, body := env.Do(t, "POST", "/calling/blacklist", `{"numbers":["98000"]}`, "Authorization", "Bearer "+key); status != 400 ||
		issues(t, body)["body.numbers.0"].Type != "string_pattern_mismatch" {
		t.Errorf("not E.164: %d %s", status, body)
	}
	// Under enforce_blacklist a listed number is blocked; without it, it is not.
	b := minimal("r", "t")
	cfg, _ := c.CreateConfigurationWithResponse(ctx, b)
	b.Template, b.EnforceBlacklist = "t2", ptr(false)
	lax, _ := c.CreateConfigurationWithResponse(ctx, b)
	at := mustTime(t, "2025-01-15T12:00:00+05:30")
	if d := decide(t, c, cfg.JSON201.Id, "outbound", "+919800000001", at, nil); d.Decision != "block" || d.Reason.MustGet() != "blacklisted" {
		t.Errorf("blacklisted outbound: %+v", d)
	}
	if d := decide(t, c, cfg.JSON201.Id, "inbound", "+919800000001", at, nil); d.Decision != "block" || d.BlockAction.MustGet() != "REJECT" {
		t.Errorf("blacklisted inbound: %+v", d)
	}
	if d := decide(t, c, lax.JSON201.Id, "outbound", "+919800000001", at, nil); d.Decision != "allow" {
		t.Errorf("enforce_blacklist false: %+v", d)
	}
	if d := decide(t, c, cfg.JSON201.Id, "outbound", "+919800000003", at, nil); d.Decision != "allow" {
		t.Errorf("removed number: %+v", d)
	}
}
