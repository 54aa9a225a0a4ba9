package calling_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestPreCheckCredentialsSealed: a pre-check's auth token and password are stored sealed (not
// in pre_checks, not readable in the row), answered as ********, still sent to the pre-check's
// API; ******** sent back keeps the stored value, a new value replaces it, and a mask with
// nothing stored is a 400. Configurations stored in plaintext before are sealed by Migrate.
func TestPreCheckCredentialsSealed(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "calling:read", "calling:write")
	h := []string{"Authorization", "Bearer " + key}
	recv := servertest.NewReceiver(t)
	preChecks := func(token, password string) string {
		return `"pre_checks": [
		  {"name": "bearer", "http_request": {"url": "` + recv.URL + `/b", "auth": {"type": "bearer", "token": "` + token + `"}}},
		  {"name": "basic", "http_request": {"url": "` + recv.URL + `/p", "auth": {"type": "basic", "username": "ops", "password": "` + password + `"}}}]`
	}
	create := strings.Replace(seedCreate, `"pre_checks": []`, preChecks("tok-secret-1", "pw-secret-1"), 1)
	create = strings.Replace(create, `"enable_international_call": false`, `"enable_international_call": true`, 1)
	status, body := env.Do(t, "POST", "/calling/configurations", create, h...)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	id := servertest.Decode[map[string]any](t, body)["id"].(string)
	answered := func(what string, body []byte) {
		t.Helper()
		if strings.Contains(string(body), "secret") || strings.Count(string(body), `"********"`) != 2 {
			t.Errorf("%s answered credentials that are not masked: %s", what, body)
		}
	}
	answered("create", body)
	_, body = env.Do(t, "GET", "/calling/configurations/"+id, "", h...)
	answered("get", body)
	_, body = env.Do(t, "GET", "/calling/configurations", "", h...)
	answered("list", body)
	var row struct {
		PreChecks string `db:"pre_checks"`
		Secrets   []byte `db:"pre_check_secrets"`
	}
	stored := func() {
		t.Helper()
		if err := env.DB.SQL().Get(&row, `SELECT pre_checks::text, pre_check_secrets FROM calling_configs WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.PreChecks, "secret") || strings.Contains(string(row.Secrets), "secret") || len(row.Secrets) == 0 {
			t.Errorf("stored in plaintext: pre_checks %s, secrets %q", row.PreChecks, row.Secrets)
		}
	}
	stored()
	// The pre-checks' API gets the credentials themselves.
	sent := func(token, password string) {
		t.Helper()
		before := len(recv.Requests())
		status, body := env.Do(t, "POST", "/calling/configurations/"+id+"/decisions",
			`{"direction":"outbound","number":"+919812345678","at":"2025-01-15T12:00:00+05:30"}`, h...)
		if status != http.StatusOK {
			t.Fatalf("decide: %d %s", status, body)
		}
		got := map[string]string{}
		for _, r := range recv.Wait(t, before+2, 10*time.Second)[before:] {
			got[strings.TrimPrefix(r.RequestURI, "/")] = r.Header.Get("Authorization")
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+password))
		if got["b"] != "Bearer "+token || got["p"] != basic {
			t.Errorf("the pre-checks were sent %v, want Bearer %s and %s", got, token, basic)
		}
	}
	sent("tok-secret-1", "pw-secret-1")

	// Sent back as answered: kept. A new token: replaced, the masked password kept.
	status, body = env.Do(t, "PUT", "/calling/configurations/"+id, `{`+preChecks("********", "********")+`}`, h...)
	if status != http.StatusOK {
		t.Fatalf("update with masks: %d %s", status, body)
	}
	answered("update", body)
	sent("tok-secret-1", "pw-secret-1")
	if status, body = env.Do(t, "PUT", "/calling/configurations/"+id, `{`+preChecks("tok-secret-2", "********")+`}`, h...); status != http.StatusOK {
		t.Fatalf("update with a new token: %d %s", status, body)
	}
	stored()
	sent("tok-secret-2", "pw-secret-1")

	// A mask with nothing stored: on create, and for a pre-check of another name.
	masked := strings.NewReplacer(`"tpl_xyz789"`, `"tpl_2"`, "tok-secret-1", "********").Replace(create)
	if status, body = env.Do(t, "POST", "/calling/configurations", masked, h...); status != http.StatusBadRequest {
		t.Errorf("create with a mask: %d %s", status, body)
	} else if _, ok := issues(t, body)["body.pre_checks.0.http_request.auth.token"]; !ok {
		t.Errorf("create with a mask: %s", body)
	}
	renamed := strings.Replace(`{`+preChecks("********", "pw")+`}`, `"name": "bearer"`, `"name": "other"`, 1)
	if status, body = env.Do(t, "PUT", "/calling/configurations/"+id, renamed, h...); status != http.StatusBadRequest {
		t.Errorf("a mask for a new pre-check: %d %s", status, body)
	}

	// A configuration stored before credentials were sealed: Migrate seals it.
	if _, err := env.DB.SQL().Exec(`UPDATE calling_configs SET pre_check_secrets = NULL,
		pre_checks = jsonb_set(jsonb_set(pre_checks, '{0,http_request,auth,token}', '"tok-plain"'), '{1,http_request,auth,password}', '"pw-plain"')
		WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	sent("tok-plain", "pw-plain") // read as stored until then
	if err := env.DB.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.SQL().Get(&row, `SELECT pre_checks::text, pre_check_secrets FROM calling_configs WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.PreChecks, "plain") || len(row.Secrets) == 0 {
		t.Errorf("not sealed by Migrate: pre_checks %s", row.PreChecks)
	}
	sent("tok-plain", "pw-plain")
}
