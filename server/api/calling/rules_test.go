package calling_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/switchboard-dev/switchboard/gen/callingclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

func ptr[T any](v T) *T { return &v }

func nullableOf[T any](v T) nullable.Nullable[T] { return nullable.NewNullableWithValue(v) }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// minimal is a valid configuration with only the required fields: calls 09:00–21:00 (Asia/Kolkata).
func minimal(reseller, template string) callingclient.CreateConfigurationRequest {
	return callingclient.CreateConfigurationRequest{ResellerId: reseller, Template: template, InitialOffset: 0,
		RetryOffset: 3600, CallStartTime: "09:00", CallEndTime: "21:00", MaxRetry: 2, CallingProvider: "TWILIO"}
}

// baseBody is a valid create body as a map, for tests that break one field of it.
func baseBody() map[string]any {
	return map[string]any{"reseller_id": "res_001", "template": "tpl", "initial_offset": 0, "retry_offset": 60,
		"call_start_time": "09:00", "call_end_time": "21:00", "max_retry": 3, "calling_provider": "TWILIO"}
}

func preCheck(fields map[string]any) []any {
	pc := map[string]any{"name": "dnd", "http_request": map[string]any{"url": "https://dnd.example.com/{number}"}}
	for k, v := range fields {
		pc[k] = v
	}
	return []any{pc}
}

// TestCreateRules breaks one documented rule per case: each must be a 400 whose detail names
// the field (loc) with the kind of problem.
func TestCreateRules(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:write")
	cases := []struct {
		name    string
		change  map[string]any
		loc     string
		typ     string
		noField string // a field that must be absent from the body
	}{
		{name: "start time HH:MM", change: map[string]any{"call_start_time": "9:00"}, loc: "body.call_start_time", typ: "string_pattern_mismatch"},
		{name: "end time 24:00", change: map[string]any{"call_end_time": "24:00"}, loc: "body.call_end_time", typ: "string_pattern_mismatch"},
		{name: "inbound start HH:MM", change: map[string]any{"inbound_call_start_time": "09:60", "inbound_call_end_time": "10:00"}, loc: "body.inbound_call_start_time", typ: "string_pattern_mismatch"},
		{name: "inbound start without end", change: map[string]any{"inbound_call_start_time": "09:00"}, loc: "body.inbound_call_end_time", typ: "missing"},
		{name: "inbound end without start", change: map[string]any{"inbound_call_end_time": "18:00"}, loc: "body.inbound_call_start_time", typ: "missing"},
		{name: "block action enum", change: map[string]any{"inbound_block_action": "VOICEMAIL"}, loc: "body.inbound_block_action", typ: "enum"},
		{name: "REDIRECT needs a number", change: map[string]any{"inbound_block_action": "REDIRECT"}, loc: "body.inbound_redirect_number", typ: "missing"},
		{name: "redirect number E.164", change: map[string]any{"inbound_block_action": "REDIRECT", "inbound_redirect_number": "09999999999"}, loc: "body.inbound_redirect_number", typ: "string_pattern_mismatch"},
		{name: "inbound timezone IANA", change: map[string]any{"inbound_call_timezone": "India/Mumbai"}, loc: "body.inbound_call_timezone", typ: "value_error"},
		{name: "call timezone IANA", change: map[string]any{"call_timezone": "Local"}, loc: "body.call_timezone", typ: "value_error"},
		{name: "timezone at most 50 characters", change: map[string]any{"inbound_call_timezone": strings.Repeat("A", 51)}, loc: "body.inbound_call_timezone", typ: "string_too_long"},
		{name: "rate limit needs max calls", change: map[string]any{"rate_limit_enabled": true}, loc: "body.rate_limit_max_calls", typ: "missing"},
		{name: "max calls above 0", change: map[string]any{"rate_limit_enabled": true, "rate_limit_max_calls": 0}, loc: "body.rate_limit_max_calls", typ: "greater_than_equal"},
		{name: "window above 0", change: map[string]any{"rate_limit_window_seconds": 0}, loc: "body.rate_limit_window_seconds", typ: "greater_than_equal"},
		{name: "whitelist E.164", change: map[string]any{"rate_limit_whitelist": []any{"+911234567890", "12345"}}, loc: "body.rate_limit_whitelist.1", typ: "string_pattern_mismatch"},
		{name: "provider enum", change: map[string]any{"calling_provider": "VONAGE"}, loc: "body.calling_provider", typ: "enum"},
		{name: "pre-check timeout at least 1", change: map[string]any{"pre_checks": preCheck(map[string]any{"http_request": map[string]any{"url": "https://x.example.com", "timeout": 0}})}, loc: "body.pre_checks.0.http_request.timeout", typ: "greater_than_equal"},
		{name: "pre-check timeout at most 30", change: map[string]any{"pre_checks": preCheck(map[string]any{"http_request": map[string]any{"url": "https://x.example.com", "timeout": 31}})}, loc: "body.pre_checks.0.http_request.timeout", typ: "less_than_equal"},
		{name: "pre-check retries at least 1", change: map[string]any{"pre_checks": preCheck(map[string]any{"http_request": map[string]any{"url": "https://x.example.com", "max_retries": 0}})}, loc: "body.pre_checks.0.http_request.max_retries", typ: "greater_than_equal"},
		{name: "pre-check retries at most 5", change: map[string]any{"pre_checks": preCheck(map[string]any{"http_request": map[string]any{"url": "https://x.example.com", "max_retries": 6}})}, loc: "body.pre_checks.0.http_request.max_retries", typ: "less_than_equal"},
		{name: "default_on_failure proceed|skip", change: map[string]any{"pre_checks": preCheck(map[string]any{"default_on_failure": "abort"})}, loc: "body.pre_checks.0.default_on_failure", typ: "enum"},
		{name: "pre-check needs a name", change: map[string]any{"pre_checks": []any{map[string]any{"type": "external_api"}}}, loc: "body.pre_checks.0.name", typ: "missing"},
		{name: "pre-check URL", change: map[string]any{"pre_checks": preCheck(map[string]any{"http_request": map[string]any{"url": "ftp://x"}})}, loc: "body.pre_checks.0.http_request.url", typ: "string_pattern_mismatch"},
		{name: "required field", noField: "calling_provider", loc: "body.calling_provider", typ: "missing"},
		{name: "unknown field", change: map[string]any{"enable_calls": true}, loc: "body.enable_calls", typ: "extra_forbidden"},
		{name: "integer type", change: map[string]any{"max_retry": "three"}, loc: "body.max_retry", typ: "type_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := baseBody()
			for k, v := range tc.change {
				body[k] = v
			}
			delete(body, tc.noField)
			b, _ := json.Marshal(body)
			status, resp := env.Do(t, "POST", "/calling/configurations", string(b), "Authorization", "Bearer "+key)
			if status != 400 {
				t.Fatalf("%d %s", status, resp)
			}
			got, ok := issues(t, resp)[tc.loc+"|"+tc.typ]
			if !ok || got.Msg == "" {
				t.Fatalf("want %s (%s) in %s", tc.loc, tc.typ, resp)
			}
		})
	}
}

// TestEveryInvalidFieldNamed: one request with several invalid fields lists them all, and a
// request breaking several rules spanning fields lists those all too.
func TestEveryInvalidFieldNamed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:write")
	body := baseBody()
	body["call_start_time"], body["calling_provider"], body["inbound_call_timezone"] = "25:00", "X", "Mars/Base"
	b, _ := json.Marshal(body)
	status, resp := env.Do(t, "POST", "/calling/configurations", string(b), "Authorization", "Bearer "+key)
	got := issues(t, resp)
	for _, loc := range []string{"body.call_start_time|string_pattern_mismatch", "body.calling_provider|enum", "body.inbound_call_timezone|value_error"} {
		if _, ok := got[loc]; !ok || status != 400 {
			t.Errorf("%s missing from %d %s", loc, status, resp)
		}
	}
	body = baseBody()
	body["inbound_call_start_time"], body["inbound_block_action"], body["rate_limit_enabled"] = "09:00", "REDIRECT", true
	b, _ = json.Marshal(body)
	status, resp = env.Do(t, "POST", "/calling/configurations", string(b), "Authorization", "Bearer "+key)
	got = issues(t, resp)
	for _, loc := range []string{"body.inbound_call_end_time", "body.inbound_redirect_number", "body.rate_limit_max_calls"} {
		if _, ok := got[loc]; !ok || status != 400 {
			t.Errorf("%s missing from %d %s", loc, status, resp)
		}
	}
	if n := env.Count(t, `calling_configs`); n != 0 {
		t.Errorf("%d configurations written by invalid requests", n)
	}
}

func TestUpdateRules(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	c := env.Calling(t, key)
	b := minimal("res_001", "tpl")
	b.MerchantId = nullableOf("mer_1")
	b.InboundCallStartTime, b.InboundCallEndTime = nullableOf("09:00"), nullableOf("18:00")
	created, _ := c.CreateConfigurationWithResponse(ctx, b)
	if created.JSON201 == nil {
		t.Fatalf("create: %s", created.Body)
	}
	id := created.JSON201.Id
	put := func(body string) (int, []byte) {
		return env.Do(t, "PUT", "/calling/configurations/"+id, body, "Authorization", "Bearer "+key)
	}
	for field, body := range map[string]string{
		"reseller_id": `{"reseller_id":"res_002"}`,
		"template":    `{"template":"tpl_other"}`,
		"merchant_id": `{"merchant_id":null}`,
	} {
		status, resp := put(body)
		got, ok := issues(t, resp)["body."+field]
		if status != 400 || !ok || !strings.Contains(got.Msg, "Cannot change "+field) {
			t.Errorf("changing %s: %d %s", field, status, resp)
		}
	}
	status, resp := put(`{"reseller_id":"res_001","template":"tpl","merchant_id":"mer_1","max_retry":7}`)
	if status != 200 || servertest.Decode[map[string]any](t, resp)["max_retry"] != 7.0 || servertest.Decode[map[string]any](t, resp)["retry_offset"] != 3600.0 {
		t.Fatalf("same identity, partial update: %d %s", status, resp)
	}
	// Clearing one inbound time but not the other breaks the both-or-neither rule.
	if status, resp := put(`{"inbound_call_end_time":null}`); status != 400 || issues(t, resp)["body.inbound_call_end_time"].Type != "missing" {
		t.Errorf("clearing one inbound time: %d %s", status, resp)
	}
	status, resp = put(`{"inbound_call_start_time":null,"inbound_call_end_time":null}`)
	if got := servertest.Decode[map[string]any](t, resp); status != 200 || got["inbound_call_start_time"] != nil || got["inbound_call_end_time"] != nil {
		t.Errorf("clearing both: %d %s", status, resp)
	}
	// REDIRECT needs a number: refused without one, then allowed once it is stored.
	if status, resp := put(`{"inbound_block_action":"REDIRECT"}`); status != 400 || issues(t, resp)["body.inbound_redirect_number"].Type != "missing" {
		t.Errorf("REDIRECT without number: %d %s", status, resp)
	}
	if status, resp := put(`{"inbound_redirect_number":"+919999999999"}`); status != 200 {
		t.Fatalf("number: %d %s", status, resp)
	}
	if status, resp := put(`{"inbound_block_action":"REDIRECT"}`); status != 200 {
		t.Errorf("REDIRECT with stored number: %d %s", status, resp)
	}
	if status, resp := put(`{"inbound_redirect_number":null}`); status != 400 || issues(t, resp)["body.inbound_redirect_number"].Type != "missing" {
		t.Errorf("clearing the redirect number under REDIRECT: %d %s", status, resp)
	}
	// A null window resets to the default 1800; null timezone to Asia/Kolkata.
	status, resp = put(`{"rate_limit_window_seconds":null,"inbound_call_timezone":null}`)
	if got := servertest.Decode[map[string]any](t, resp); status != 200 || got["rate_limit_window_seconds"] != 1800.0 || got["inbound_call_timezone"] != "Asia/Kolkata" {
		t.Errorf("resetting to defaults: %d %s", status, resp)
	}
	if status, resp := put(`{"rate_limit_enabled":true}`); status != 400 || issues(t, resp)["body.rate_limit_max_calls"].Type != "missing" {
		t.Errorf("rate limit without max: %d %s", status, resp)
	}
	if status, resp := put(`{"call_end_time":"7pm"}`); status != 400 || issues(t, resp)["body.call_end_time"].Type != "string_pattern_mismatch" {
		t.Errorf("bad time on PUT: %d %s", status, resp)
	}
	// A fetched configuration can be sent back as it is.
	got, _ := c.GetConfigurationWithResponse(ctx, id)
	if status, resp := put(string(got.Body)); status != 200 {
		t.Errorf("round trip: %d %s", status, resp)
	}
}
