package activities_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestHostileInputRefused: values the database cannot store or a column cannot hold, and bodies
// that are more than one JSON value, are a 400 from validation naming the field, and nothing
// is written — a NUL in a body string or key, bytes that are not UTF-8 in a query parameter,
// a score past the int4 column, trailing bytes, two documents, a duplicate key.
func TestHostileInputRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	newCommerce(t, env, ws, seedCommerceID, "Almacen Don Pepe")
	h := []string{"Authorization", "Bearer " + key}
	activity := activityBody("hostile-1", "2030-01-01T00:00:00Z")
	withField := func(field string) string { return strings.TrimSuffix(activity, "}") + "," + field + "}" }
	cases := []struct {
		name, method, path, body, field string
	}{
		{"NUL in a string", "POST", "/api/commerces", `{"name":"Almacen\u0000","external_id":"C-1"}`, "name"},
		{"NUL in a key", "POST", "/api/commerces", `{"name":"Almacen","external_id":"C-1","metadata":{"a\u0000":1}}`, "metadata"},
		{"NUL in a query parameter", "GET", "/api/commerces?search=a%00", "", "query.search"},
		{"invalid UTF-8 in a query parameter", "GET", "/api/activities?search=%FF", "", "query.search"},
		{"a surrogate in a path parameter", "GET", "/api/activities/%ED%A0%80", "", "path.id"},
		{"a score past int4", "POST", "/api/activities", withField(`"score":2147483648`), "score"},
		{"a score below int4", "POST", "/api/activities", withField(`"score":-2147483649`), "score"},
		{"a page past its bound", "GET", "/api/activities?page=2147483648", "", "query.page"},
		{"trailing bytes", "POST", "/api/activities", activity + " garbage", "body"},
		{"two documents", "POST", "/api/activities", activity + activity, "body"},
		{"a duplicate key", "POST", "/api/activities", withField(`"idempotency_key":"hostile-2"`), "idempotency_key"},
	}
	for _, c := range cases {
		status, b := env.Do(t, c.method, c.path, c.body, h...)
		var e errorBody
		_ = json.Unmarshal(b, &e)
		named := false
		for _, msg := range e.Errors {
			named = named || strings.HasPrefix(msg, c.field+": ")
		}
		if status != http.StatusBadRequest || !named {
			t.Errorf("%s: %d %s, want a 400 naming %s", c.name, status, b, c.field)
		}
	}
	if n := env.Count(t, "commerces WHERE workspace_id = $1", ws); n != 1 {
		t.Errorf("%d commerces, want the fixture's only", n)
	}
	if n := env.Count(t, "activities WHERE workspace_id = $1", ws); n != 0 {
		t.Errorf("%d activities written", n)
	}
}

// TestNilUUIDNamesNothing: the nil UUID is no "any user" from a path: a commerce's user
// 00000000-… is a 404 like any unknown id (it read the commerce's first user, and adding a
// contact to it failed with a 500).
func TestNilUUIDNamesNothing(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "MANAGE_COMMERCES")
	c := env.Activities(t, key)
	commerce := newAPICommerce(t, c, "Almacen Don Pepe", "C-1").String()
	h := []string{"Authorization", "Bearer " + key}
	if status, b := env.Do(t, "POST", "/api/commerces/"+commerce+"/users", `{"name":"Maria Garcia","external_id":"usr-001"}`, h...); status != 201 {
		t.Fatalf("create user: %d %s", status, b)
	}
	const nilUser = "/users/00000000-0000-0000-0000-000000000000"
	for _, r := range []struct{ method, path, body string }{
		{"GET", nilUser, ""},
		{"PATCH", nilUser, `{"first_name":"Ana"}`},
		{"DELETE", nilUser, ""},
		{"POST", nilUser + "/contacts", `{"contact_type":"PHONE","value":"+56912345678","source":"RETEN"}`},
		{"POST", nilUser + "/roles", `{"role":"OWNER"}`},
	} {
		status, b := env.Do(t, r.method, "/api/commerces/"+commerce+r.path, r.body, h...)
		if e := servertest.Decode[errorBody](t, b); status != http.StatusNotFound || e.Message != "Commerce user not found" {
			t.Errorf("%s %s: %d %s", r.method, r.path, status, b)
		}
	}
	if n := env.Count(t, "commerce_user_contacts"); n != 0 {
		t.Errorf("%d contacts written", n)
	}
}
