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
