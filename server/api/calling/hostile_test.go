package calling_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestInvalidRequestsAnswerAList: every 400 of the Calling API is FastAPI's list of {loc, msg,
// type}, whatever refused the request — a single-valued query parameter given twice, a body
// its handler could not decode after validation (1e0 for an integer), a duplicate key, a NUL,
// unknown keys in telephony_config — and nothing is written.
func TestInvalidRequestsAnswerAList(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	h := []string{"Authorization", "Bearer " + key}
	create := strings.TrimSuffix(strings.TrimSpace(seedCreate), "}")
	cases := []struct {
		name, method, path, body, loc string
	}{
		{"a repeated query parameter", "GET", "/calling/configurations?reseller_id=a&reseller_id=b", "", "query.reseller_id"},
		{"1e0 for an integer", "POST", "/calling/configurations", strings.Replace(seedCreate, `"max_retry": 3`, `"max_retry": 1e0`, 1), "body.max_retry"},
		{"1.0 for an integer", "POST", "/calling/configurations", strings.Replace(seedCreate, `"max_retry": 3`, `"max_retry": 3.0`, 1), "body.max_retry"},
		{"a duplicate key", "POST", "/calling/configurations", create + `, "template": "tpl_2"}`, "body.template"},
		{"trailing bytes", "POST", "/calling/configurations", seedCreate + ` {}`, "body"},
		{"NUL in a string", "POST", "/calling/configurations", strings.Replace(seedCreate, `"tpl_xyz789"`, `"tpl\u0000"`, 1), "body.template"},
		{"unknown telephony_config keys", "POST", "/calling/configurations", create + `, "telephony_config": {"applet_app_id": "a", "k1": 1}}`, "body.telephony_config.k1"},
		{"an integer past its column", "POST", "/calling/configurations", strings.Replace(seedCreate, `"max_retry": 3`, `"max_retry": 2147483648`, 1), "body.max_retry"},
	}
	for _, c := range cases {
		status, body := env.Do(t, c.method, c.path, c.body, h...)
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", c.name, status, body)
			continue
		}
		if _, ok := issues(t, body)[c.loc]; !ok {
			t.Errorf("%s: no issue at %s: %s", c.name, c.loc, body)
		}
	}
	if n := env.Count(t, "calling_configs"); n != 0 {
		t.Errorf("%d configurations written", n)
	}
}

// TestDecisionAtTheEdgesOfTime: a decision's at drives arithmetic (the rate-limit window, the
// deferral, the next attempt a year of retry_offset later): at the ends of its range it is
// decided, past them (9999-12-31 answered 500: the times computed from it overflowed JSON) a
// 400 naming at.
func TestDecisionAtTheEdgesOfTime(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	h := []string{"Authorization", "Bearer " + key}
	// Every computation on: outside hours (a deferral), a retry a year later, a rate limit.
	status, body := env.Do(t, "POST", "/calling/configurations", strings.NewReplacer(`"retry_offset": 3600`, `"retry_offset": 31536000`,
		`"call_start_time": "09:00"`, `"call_start_time": "23:58"`, `"call_end_time": "21:00"`, `"call_end_time": "23:59"`).Replace(seedCreate), h...)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	id := servertest.Decode[map[string]any](t, body)["id"].(string)
	decide := func(at string) (int, []byte) {
		return env.Do(t, "POST", "/calling/configurations/"+id+"/decisions",
			`{"direction":"outbound","number":"+919812345678","attempt":1,"at":"`+at+`"}`, h...)
	}
	for _, at := range []string{"1970-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2199-12-31T18:28:30Z"} {
		if status, body := decide(at); status != http.StatusOK {
			t.Errorf("at %s: %d %s", at, status, body)
		}
	}
	for _, at := range []string{"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59+05:30", "2200-01-01T00:00:00Z",
		"1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z"} {
		status, body := decide(at)
		if status != http.StatusBadRequest {
			t.Errorf("at %s: %d %s", at, status, body)
			continue
		}
		if _, ok := issues(t, body)["body.at"]; !ok {
			t.Errorf("at %s: %s", at, body)
		}
	}
}
