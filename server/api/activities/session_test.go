package activities_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/gen/adminclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// browser is a client with a cookie jar, as a browser keeps the session cookies; its responses
// are checked against the specs like every test client's.
type browser struct {
	t    *testing.T
	env  *servertest.Env
	http *http.Client
}

func newBrowser(t *testing.T, env *servertest.Env) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, env: env, http: &http.Client{Transport: env.HTTP.Transport, Jar: jar}}
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.env.URL + "/api/auth/refresh")
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// reply is what post returns: the status, the cookies set, the body.
type reply struct {
	StatusCode int
	cookies    []*http.Cookie
}

func (r reply) Cookies() []*http.Cookie { return r.cookies }

// post sends a JSON POST (body may be empty) with headers as name, value pairs.
func (b *browser) post(path, body string, headers ...string) (reply, []byte) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.env.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return reply{StatusCode: resp.StatusCode, cookies: resp.Cookies()}, out
}

type signedIn struct {
	AccessToken string `json:"accessToken"`
	User        struct {
		ID        uuid.UUID `json:"id"`
		Email     string    `json:"email"`
		FirstName string    `json:"firstName"`
		LastName  string    `json:"lastName"`
	} `json:"user"`
}

func loginBody(identifier, password string) string {
	b, _ := json.Marshal(map[string]string{"identifier": identifier, "password": password})
	return string(b)
}

// TestLoginAsDocumented signs in as Reten documents it: 200 {accessToken, user}, the refresh
// token in an HTTP-only cookie for /api/auth that lasts 7 days; the token works as a bearer;
// refresh rotates the refresh token (the old one stops working); logout ends the session and
// its access tokens.
func TestLoginAsDocumented(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	first, last, pw := "Ana", "Silva", "correct horse battery"
	u, err := env.Admin.CreateWorkspaceUserWithResponse(ctx, ws, adminclient.CreateWorkspaceUserJSONRequestBody{
		Email: "Ana@Example.com", Password: &pw, Role: adminclient.ADMIN, FirstName: &first, LastName: &last})
	if err != nil || u.JSON201 == nil {
		t.Fatalf("create user: %v %s", err, u.Body)
	}
	if strings.Contains(string(u.Body), "password") || strings.Contains(string(u.Body), "argon2") {
		t.Fatalf("the password (or its hash) is in the response: %s", u.Body)
	}

	b := newBrowser(t, env)
	resp, body := b.post("/api/auth/login", loginBody("ana@example.COM", pw))
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	s := servertest.Decode[signedIn](t, body)
	if s.User.ID != u.JSON201.Id || s.User.Email != "Ana@Example.com" || s.User.FirstName != "Ana" || s.User.LastName != "Silva" || s.AccessToken == "" {
		t.Fatalf("login body: %s", body)
	}
	var refresh *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "refreshToken" {
			refresh = c
		}
	}
	if refresh == nil || !refresh.HttpOnly || refresh.Path != "/api/auth" || refresh.MaxAge != 7*24*3600 ||
		refresh.SameSite != http.SameSiteStrictMode || refresh.Secure {
		t.Fatalf("refresh cookie: %+v", refresh)
	}

	// The access token is a bearer credential, for the user's role: ADMIN may cancel activities.
	h := []string{"Authorization", "Bearer " + s.AccessToken, "x-tenant-id", ws.String()}
	if status, body := env.Do(t, "GET", "/api/dispatch-configs", "", h...); status != 200 {
		t.Fatalf("list configs with the access token: %d %s", status, body)
	}
	me := servertest.Decode[activitiesclient.CurrentUser](t, must(env.Do(t, "GET", "/api/auth/me", "", h...)))
	if len(me.Workspaces) != 1 || me.Workspaces[0].Id != ws || me.Workspaces[0].Role != "ADMIN" {
		t.Fatalf("me: %+v", me)
	}

	// Refresh: CSRF header required; then a new access token and a new refresh token.
	if resp, body := b.post("/api/auth/refresh", ""); resp.StatusCode != 403 {
		t.Fatalf("refresh without x-csrf-token: %d %s", resp.StatusCode, body)
	}
	old := b.cookie("refreshToken")
	resp, body = b.post("/api/auth/refresh", "", "x-csrf-token", b.cookie("csrfToken"))
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body)
	}
	s2 := servertest.Decode[signedIn](t, body)
	if s2.AccessToken == "" || s2.User.ID != s.User.ID || b.cookie("refreshToken") == old {
		t.Fatalf("refresh did not rotate: %s", body)
	}
	// The old refresh token is spent.
	if status, body := env.Do(t, "POST", "/api/auth/refresh", "", "Cookie", "refreshToken="+old+"; csrfToken=x", "x-csrf-token", "x"); status != 401 {
		t.Fatalf("refresh with the old token: %d %s", status, body)
	}

	// Logout: the session's access tokens stop working, and so does its refresh token.
	if resp, body := b.post("/api/auth/logout", "", "x-csrf-token", b.cookie("csrfToken")); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	h2 := []string{"Authorization", "Bearer " + s2.AccessToken, "x-tenant-id", ws.String()}
	if status, body := env.Do(t, "GET", "/api/dispatch-configs", "", h2...); status != 401 {
		t.Fatalf("after logout: %d %s", status, body)
	}
}

func must(_ int, b []byte) []byte { return b }

// TestLoginFailuresLookAlike: an unknown email and a wrong password get the same 401 body, and
// neither is answered much faster than the other (both check a password hash).
func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	email, _ := env.User(t, ws, "VIEWER")
	timed := func(identifier string) (time.Duration, []byte) {
		best := time.Hour
		var body []byte
		for range 3 {
			start := time.Now()
			status, b := env.Do(t, "POST", "/api/auth/login", loginBody(identifier, "wrong password"))
			if status != 401 {
				t.Fatalf("login %s: %d %s", identifier, status, b)
			}
			best, body = min(best, time.Since(start)), b
		}
		return best, body
	}
	known, kb := timed(email)
	unknown, ub := timed("nobody-" + email)
	if string(kb) != string(ub) || !strings.Contains(string(kb), `"message":"Invalid email or password"`) {
		t.Fatalf("bodies differ: %s vs %s", kb, ub)
	}
	// The hash is most of the work: without one, an unknown email would answer in well under
	// half the time of a known one.
	if unknown < known/3 {
		t.Fatalf("unknown email answered in %s, known in %s: no hash was checked", unknown, known)
	}
	// A password shorter than any user's can be is wrong like any other, not a 400.
	if status, b := env.Do(t, "POST", "/api/auth/login", loginBody(email, "short")); status != 401 || string(b) != string(kb) {
		t.Errorf("login with a short password: %d %s, want the 401 %s", status, b, kb)
	}
}

// TestLoginThrottled: the 6th failure in a row for an account is a 429 with Retry-After, even
// with the right password, while another account (same address) still signs in; a success
// clears the account's count.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	email, pw := env.User(t, ws, "VIEWER")
	other, otherPW := env.User(t, ws, "VIEWER")
	env.Login(t, email, pw)
	for i := range 5 {
		if status, body := env.Do(t, "POST", "/api/auth/login", loginBody(email, "wrong password")); status != 401 {
			t.Fatalf("failure %d: %d %s", i+1, status, body)
		}
	}
	r, body := env.Request(t, "POST", "/api/auth/login", loginBody(strings.ToUpper(email), pw))
	if r.StatusCode != 429 {
		t.Fatalf("6th attempt: %d %s", r.StatusCode, body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 900 {
		t.Fatalf("Retry-After: %q", r.Header.Get("Retry-After"))
	}
	env.Login(t, other, otherPW)
}

// TestPasswordChangeEndsSessions: a new password (Admin API) refuses the access tokens and
// refresh tokens issued before it; the new password signs in.
func TestPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	email, pw := env.User(t, ws, "VIEWER")
	b := newBrowser(t, env)
	resp, body := b.post("/api/auth/login", loginBody(email, pw))
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	token := servertest.Decode[signedIn](t, body).AccessToken
	users, _ := env.Admin.ListWorkspaceUsersWithResponse(ctx, ws)
	newPW := "a new password"
	r, err := env.Admin.UpdateWorkspaceUserWithResponse(ctx, ws, (*users.JSON200)[0].Id, adminclient.UpdateWorkspaceUserJSONRequestBody{Password: &newPW})
	if err != nil || r.JSON200 == nil {
		t.Fatalf("update: %v %s", err, r.Body)
	}
	if status, body := env.Do(t, "GET", "/api/auth/me", "", "Authorization", "Bearer "+token); status != 401 {
		t.Fatalf("old access token: %d %s", status, body)
	}
	if resp, body := b.post("/api/auth/refresh", "", "x-csrf-token", b.cookie("csrfToken")); resp.StatusCode != 401 {
		t.Fatalf("old refresh token: %d %s", resp.StatusCode, body)
	}
	if status, _ := env.Do(t, "POST", "/api/auth/login", loginBody(email, pw)); status != 401 {
		t.Fatalf("old password: %d", status)
	}
	env.Login(t, email, newPW)
}

// TestAccessTokenWorkspaces: x-tenant-id (or {workspaceId}) chooses among the user's
// workspaces, with the role held in each; a workspace the user is not in is a 403; several
// workspaces and none named is a 400; a forged or expired token is a 401.
func TestAccessTokenWorkspaces(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	wsA, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	wsB, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	wsC, _ := env.Workspace(t, "VIEW_ACTIVITIES")
	email, pw := env.User(t, wsA, "ADMIN")
	if r, err := env.Admin.CreateWorkspaceUserWithResponse(ctx, wsB, adminclient.CreateWorkspaceUserJSONRequestBody{
		Email: openapi_types.Email(email), Role: adminclient.VIEWER}); err != nil || r.JSON201 == nil {
		t.Fatalf("add to B: %v %s", err, r.Body)
	}
	// Joining B with a password of their own is refused: the user exists.
	if r, _ := env.Admin.CreateWorkspaceUserWithResponse(ctx, wsC, adminclient.CreateWorkspaceUserJSONRequestBody{
		Email: openapi_types.Email(email), Password: &pw, Role: adminclient.VIEWER}); r.StatusCode() != 409 {
		t.Fatalf("add existing user with a password: %d %s", r.StatusCode(), r.Body)
	}
	token := env.Login(t, email, pw)
	auth := []string{"Authorization", "Bearer " + token}
	cfg := `{"dispatch_provider_id":"` + yomID + `","channel":"SALESMAN","base_url":"https://p.example.com","credentials":{"apiKey":"k"}}`
	for _, c := range []struct {
		ws     string
		method string
		body   string
		want   int
	}{
		{wsA.String(), "POST", cfg, 201}, // ADMIN in A: MANAGE_ACTIVITY_CONFIG
		{wsB.String(), "POST", cfg, 403}, // VIEWER in B
		{wsB.String(), "GET", "", 200},   // VIEWER reads
		{wsC.String(), "GET", "", 403},   // not a member
		{"not-a-uuid", "GET", "", 403},   // not a workspace
		{"", "GET", "", 400},             // two workspaces, none named
	} {
		h := auth
		if c.ws != "" {
			h = append(slicesClone(auth), "x-tenant-id", c.ws)
		}
		if status, body := env.Do(t, c.method, "/api/dispatch-configs", c.body, h...); status != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.ws, status, body, c.want)
		}
	}
	// Bird's path parameter chooses the workspace on the Channels API.
	if status, body := env.Do(t, "GET", "/workspaces/"+wsB.String()+"/channels", "", auth...); status != 200 {
		t.Errorf("channels of B: %d %s", status, body)
	}
	if status, body := env.Do(t, "GET", "/workspaces/"+wsC.String()+"/channels", "", auth...); status != 403 {
		t.Errorf("channels of C: %d %s", status, body)
	}
	// Forged: the signature of another key.
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:]
	if status, body := env.Do(t, "GET", "/api/auth/me", "", "Authorization", "Bearer "+forged); status != 401 {
		t.Errorf("forged token: %d %s", status, body)
	}
	// Removed from A: refused there from the next request.
	users, _ := env.Admin.ListWorkspaceUsersWithResponse(ctx, wsA)
	if r, _ := env.Admin.RemoveWorkspaceUserWithResponse(ctx, wsA, (*users.JSON200)[0].Id); r.StatusCode() != 204 {
		t.Fatalf("remove: %d %s", r.StatusCode(), r.Body)
	}
	if status, body := env.Do(t, "GET", "/api/dispatch-configs", "", append(slicesClone(auth), "x-tenant-id", wsA.String())...); status != 403 {
		t.Errorf("after removal: %d %s", status, body)
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestUserAPIKeys: POST /api/api-keys as documented, with the key shown once and working;
// permissions beyond the caller's role are a 403, unknown ones a 400; an API key cannot create
// keys; list and revoke are the user's own keys.
func TestUserAPIKeys(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, token := env.Member(t, "FDE")
	h := []string{"Authorization", "Bearer " + token, "x-tenant-id", ws.String()}
	status, body := env.Do(t, "POST", "/api/api-keys", `{"name":"Backend","permissions":["VIEW_ACTIVITIES","CREATE_ACTIVITY","endpoint:write"]}`, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	created := servertest.Decode[activitiesclient.CreatedUserApiKey](t, body)
	if !strings.HasPrefix(created.Key, "sb_sk_") || created.Name != "Backend" {
		t.Fatalf("created: %s", body)
	}
	if status, body := env.Do(t, "GET", "/api/dispatch-configs", "", "x-api-key", created.Key); status != 200 {
		t.Fatalf("use the key: %d %s", status, body)
	}
	// The key holds what was asked, not the role: no MANAGE_COMMERCES.
	if status, body := env.Do(t, "POST", "/api/commerces", `{"name":"Acme"}`, "x-api-key", created.Key); status != 403 {
		t.Fatalf("key beyond its permissions: %d %s", status, body)
	}
	for _, c := range []struct {
		perms string
		want  int
	}{
		{`["CANCEL_ACTIVITY"]`, 403}, // ADMIN's
		{`["app:write"]`, 403},       // ADMIN's
		{`["*"]`, 403},               // every permission
		{`["NO_SUCH"]`, 400},
	} {
		if status, body := env.Do(t, "POST", "/api/api-keys", `{"name":"x","permissions":`+c.perms+`}`, h...); status != c.want {
			t.Errorf("permissions %s: %d %s, want %d", c.perms, status, body, c.want)
		}
	}
	if status, body := env.Do(t, "POST", "/api/api-keys", `{"name":"x","permissions":["VIEW_ACTIVITIES"]}`,
		"Authorization", "Bearer "+created.Key); status != 403 {
		t.Fatalf("an API key creating a key: %d %s", status, body)
	}
	list := servertest.Decode[[]activitiesclient.UserApiKey](t, must(env.Do(t, "GET", "/api/api-keys", "", h...)))
	if len(list) != 1 || list[0].Id != created.Id || strings.Contains(string(must(env.Do(t, "GET", "/api/api-keys", "", h...))), created.Key) {
		t.Fatalf("list: %+v", list)
	}
	// Another member of the workspace does not see nor revoke it.
	email2, pw2 := env.User(t, ws, "SUPER_ADMIN")
	h2 := []string{"Authorization", "Bearer " + env.Login(t, email2, pw2), "x-tenant-id", ws.String()}
	if status, _ := env.Do(t, "DELETE", "/api/api-keys/"+created.Id.String(), "", h2...); status != 404 {
		t.Fatalf("another user's revoke: %d", status)
	}
	if status, body := env.Do(t, "POST", "/api/api-keys", `{"name":"all","permissions":["*"]}`, h2...); status != 201 {
		t.Fatalf("SUPER_ADMIN asks for *: %d %s", status, body)
	}
	if status, body := env.Do(t, "DELETE", "/api/api-keys/"+created.Id.String(), "", h...); status != 204 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _ := env.Do(t, "GET", "/api/dispatch-configs", "", "x-api-key", created.Key); status != 401 {
		t.Fatalf("revoked key: %d", status)
	}
}
