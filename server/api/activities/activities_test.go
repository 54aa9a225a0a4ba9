package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/gen/adminclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// yomID is the YOM provider's id, the one the seed's examples use.
const yomID = "660e8400-e29b-41d4-a716-446655440000"

var ctx = context.Background()

type errorBody struct {
	StatusCode int      `json:"statusCode"`
	Message    string   `json:"message"`
	Error      string   `json:"error"`
	Errors     []string `json:"errors"`
}

// TestSeed000Verbatim runs every call of seed 000 exactly as documented, with the base URL,
// <token>, <tenant-id> and <id> replaced.
func TestSeed000Verbatim(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "VIEW_ACTIVITIES", "MANAGE_ACTIVITY_CONFIG")
	h := []string{"Authorization", "Bearer " + key, "x-tenant-id", ws.String()}

	status, body := env.Do(t, "GET", "/api/dispatch-configs", "", h...)
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("list: %d %s", status, body)
	}

	status, body = env.Do(t, "POST", "/api/dispatch-configs", `{
    "dispatch_provider_id": "660e8400-e29b-41d4-a716-446655440000",
    "channel": "SALESMAN",
    "base_url": "https://provider.example.com",
    "credentials": {
      "apiKey": "sk-xxx"
    }
  }`, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created map[string]any
	_ = json.Unmarshal(body, &created)
	want := map[string]any{
		"dispatchProviderId": yomID, "channel": "SALESMAN", "baseUrl": "https://provider.example.com",
		"settings": map[string]any{}, "isActive": true,
		"dispatchProvider": map[string]any{"code": "YOM", "name": "YOM Provider"},
	}
	for k, v := range want {
		if fmt.Sprint(created[k]) != fmt.Sprint(v) {
			t.Errorf("create: %s = %v, want %v", k, created[k], v)
		}
	}
	if _, ok := created["credentials"]; ok || strings.Contains(string(body), "sk-xxx") {
		t.Errorf("create returned the credentials: %s", body)
	}
	id := created["id"].(string)

	status, body = env.Do(t, "PATCH", "/api/dispatch-configs/"+id, `{
    "baseUrl": "https://new-provider.example.com"
  }`, h...)
	if status != 200 || !strings.Contains(string(body), `"baseUrl":"https://new-provider.example.com"`) {
		t.Fatalf("patch: %d %s", status, body)
	}

	status, body = env.Do(t, "DELETE", "/api/dispatch-configs/"+id, "", h...)
	if status != 204 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}

	status, body = env.Do(t, "GET", "/api/dispatch-configs", "", h...)
	var list []map[string]any
	_ = json.Unmarshal(body, &list)
	if status != 200 || len(list) != 1 || list[0]["id"] != id || list[0]["isActive"] != false {
		t.Fatalf("list after delete: %d %s", status, body)
	}
}

func TestDispatchProviders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "VIEW_ACTIVITIES")
	c := env.Activities(t, key)

	res, err := c.ListDispatchProvidersWithResponse(ctx, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list: %v %s", err, res.Body)
	}
	byCode := map[string]activitiesclient.DispatchProvider{}
	for _, p := range *res.JSON200 {
		byCode[p.Code] = p
	}
	yom, mock := byCode["YOM"], byCode["MOCK"]
	if yom.Id.String() != yomID || yom.ProtocolType != activitiesclient.REST || !yom.IsActive {
		t.Errorf("YOM = %+v", yom)
	}
	var salesman *activitiesclient.ChannelDefinition
	for i, d := range yom.ChannelDefinitions {
		if d.Channel == activitiesclient.ChannelSALESMAN {
			salesman = &yom.ChannelDefinitions[i]
		}
	}
	if salesman == nil || len(salesman.CredentialSchema) != 1 || salesman.CredentialSchema[0].Key != "apiKey" || !salesman.CredentialSchema[0].Required {
		t.Errorf("YOM SALESMAN definition = %+v", salesman)
	}
	if len(mock.ChannelDefinitions) != 6 || mock.ProtocolType != activitiesclient.MOCK {
		t.Errorf("MOCK supports %d channels, want all 6", len(mock.ChannelDefinitions))
	}

	defs, err := c.ListChannelDefinitionsWithResponse(ctx, yom.Id, nil)
	if err != nil || defs.JSON200 == nil || len(*defs.JSON200) != len(yom.ChannelDefinitions) {
		t.Fatalf("channel definitions: %v %s", err, defs.Body)
	}
	missing, err := c.ListChannelDefinitionsWithResponse(ctx, uuid.New(), nil)
	if err != nil || missing.JSON404 == nil || missing.JSON404.Message != "Dispatch provider not found" {
		t.Fatalf("unknown provider: %v %d %s", err, missing.StatusCode(), missing.Body)
	}
}

func create(t testing.TB, c *activitiesclient.ClientWithResponses, body activitiesclient.CreateDispatchConfigRequest) *activitiesclient.CreateDispatchConfigResponse {
	t.Helper()
	res, err := c.CreateDispatchConfigWithResponse(ctx, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func yomSalesman(apiKey string) activitiesclient.CreateDispatchConfigRequest {
	creds := activitiesclient.Credentials{"apiKey": apiKey}
	base := "https://provider.example.com"
	return activitiesclient.CreateDispatchConfigRequest{
		DispatchProviderId: uuid.MustParse(yomID), Channel: activitiesclient.ChannelSALESMAN, BaseUrl: &base, Credentials: &creds,
	}
}

func TestCreateDispatchConfigValidation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Activities(t, key)

	t.Run("missing required credential names the field", func(t *testing.T) {
		res := create(t, c, activitiesclient.CreateDispatchConfigRequest{DispatchProviderId: uuid.MustParse(yomID), Channel: activitiesclient.ChannelSALESMAN})
		if res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "credentials.apiKey") {
			t.Fatalf("%d %s", res.StatusCode(), res.Body)
		}
		empty := yomSalesman("")
		if res := create(t, c, empty); res.JSON400 == nil {
			t.Fatalf("empty apiKey accepted: %d %s", res.StatusCode(), res.Body)
		}
	})
	t.Run("provider must support the channel", func(t *testing.T) {
		body := yomSalesman("k")
		body.Channel = activitiesclient.ChannelSMS
		res := create(t, c, body)
		if res.JSON400 == nil || res.JSON400.Message != "Dispatch provider YOM does not support channel SMS" {
			t.Fatalf("%d %s", res.StatusCode(), res.Body)
		}
	})
	t.Run("unknown provider is 404", func(t *testing.T) {
		body := yomSalesman("k")
		body.DispatchProviderId = uuid.New()
		if res := create(t, c, body); res.JSON404 == nil {
			t.Fatalf("%d %s", res.StatusCode(), res.Body)
		}
	})
	t.Run("middleware lists every problem in the documented body", func(t *testing.T) {
		status, body := env.Do(t, "POST", "/api/dispatch-configs",
			`{"dispatch_provider_id":"not-a-uuid","channel":"FAX","base_url":"ftp://x","extra":1,"credentials":{"apiKey":5}}`,
			"Authorization", "Bearer "+key)
		e := servertest.Decode[errorBody](t, body)
		if status != 400 || e.StatusCode != 400 || e.Error != "Bad Request" || e.Message != "Validation failed" {
			t.Fatalf("%d %s", status, body)
		}
		for _, field := range []string{"dispatch_provider_id:", "channel:", "base_url:", "extra:", "credentials.apiKey:"} {
			found := false
			for _, msg := range e.Errors {
				found = found || strings.HasPrefix(msg, field)
			}
			if !found {
				t.Errorf("no error for %s in %v", field, e.Errors)
			}
		}
	})
	t.Run("required body fields", func(t *testing.T) {
		status, body := env.Do(t, "POST", "/api/dispatch-configs", `{}`, "Authorization", "Bearer "+key)
		e := servertest.Decode[errorBody](t, body)
		if status != 400 || len(e.Errors) != 2 || !strings.Contains(strings.Join(e.Errors, ","), "dispatch_provider_id: is required") {
			t.Fatalf("%d %s", status, body)
		}
		status, body = env.Do(t, "POST", "/api/dispatch-configs", `{not json`, "Authorization", "Bearer "+key)
		if status != 400 || servertest.Decode[errorBody](t, body).StatusCode != 400 {
			t.Fatalf("malformed JSON: %d %s", status, body)
		}
	})
	t.Run("required settings and inactive providers, with an operator-added provider", func(t *testing.T) {
		p, err := env.Admin.CreateDispatchProviderWithResponse(ctx, adminclient.CreateDispatchProviderRequest{
			Code: "ACME_" + strings.ToUpper(ws.String()[:8]), Name: "Acme", ProtocolType: adminclient.REST})
		if err != nil || p.JSON201 == nil {
			t.Fatalf("create provider: %v %s", err, p.Body)
		}
		d, err := env.Admin.PutChannelDefinitionWithResponse(ctx, p.JSON201.Id, adminclient.EMAIL, adminclient.PutChannelDefinitionRequest{
			CredentialSchema: []adminclient.FieldDefinition{{Key: "token", Label: "Token", Type: adminclient.Password, Required: true}},
			SettingsSchema:   []adminclient.FieldDefinition{{Key: "sender", Label: "Sender", Type: adminclient.Email, Required: true}},
		})
		if err != nil || d.JSON200 == nil {
			t.Fatalf("put definition: %v %s", err, d.Body)
		}
		body := activitiesclient.CreateDispatchConfigRequest{DispatchProviderId: p.JSON201.Id, Channel: activitiesclient.ChannelEMAIL}
		res := create(t, c, body)
		if res.JSON400 == nil || len(*res.JSON400.Errors) != 2 || !strings.Contains(res.JSON400.Message, "settings.sender") || !strings.Contains(res.JSON400.Message, "credentials.token") {
			t.Fatalf("%d %s", res.StatusCode(), res.Body)
		}
		body.Credentials = &activitiesclient.Credentials{"token": "t"}
		body.Settings = &activitiesclient.Settings{"sender": "ops@example.com"}
		if res := create(t, c, body); res.JSON201 == nil {
			t.Fatalf("%d %s", res.StatusCode(), res.Body)
		}
		off := false
		if u, err := env.Admin.UpdateDispatchProviderWithResponse(ctx, p.JSON201.Id, adminclient.UpdateDispatchProviderRequest{IsActive: &off}); err != nil || u.JSON200 == nil {
			t.Fatalf("deactivate provider: %v %s", err, u.Body)
		}
		if res := create(t, c, body); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "not active") {
			t.Fatalf("inactive provider: %d %s", res.StatusCode(), res.Body)
		}
	})
}

func TestDispatchConfigConflictAndReactivation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "*")
	c := env.Activities(t, key)

	first := create(t, c, yomSalesman("a"))
	if first.JSON201 == nil {
		t.Fatalf("%d %s", first.StatusCode(), first.Body)
	}
	if res := create(t, c, yomSalesman("b")); res.JSON409 == nil {
		t.Fatalf("second active config: %d %s", res.StatusCode(), res.Body)
	}
	// Another channel, or the same channel of another provider, is no conflict.
	other := yomSalesman("c")
	other.Channel = activitiesclient.ChannelWHATSAPP
	if res := create(t, c, other); res.JSON201 == nil {
		t.Fatalf("%d %s", res.StatusCode(), res.Body)
	}
	if del, err := c.DeactivateDispatchConfigWithResponse(ctx, first.JSON201.Id, nil); err != nil || del.StatusCode() != 204 {
		t.Fatalf("deactivate: %v", err)
	}
	if del, _ := c.DeactivateDispatchConfigWithResponse(ctx, first.JSON201.Id, nil); del.StatusCode() != 204 {
		t.Fatalf("deactivating twice: %d", del.StatusCode())
	}
	second := create(t, c, yomSalesman("b"))
	if second.JSON201 == nil {
		t.Fatalf("after deactivation: %d %s", second.StatusCode(), second.Body)
	}
	on := true
	res, err := c.UpdateDispatchConfigWithResponse(ctx, first.JSON201.Id, nil, activitiesclient.UpdateDispatchConfigRequest{IsActive: &on})
	if err != nil || res.JSON409 == nil {
		t.Fatalf("reactivating into a conflict: %v %d %s", err, res.StatusCode(), res.Body)
	}
	list, err := c.ListDispatchConfigsWithResponse(ctx, &activitiesclient.ListDispatchConfigsParams{IsActive: &on})
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 2 {
		t.Fatalf("active filter: %v %s", err, list.Body)
	}
	sales := activitiesclient.ChannelSALESMAN
	list, _ = c.ListDispatchConfigsWithResponse(ctx, &activitiesclient.ListDispatchConfigsParams{Channel: &sales})
	if list.JSON200 == nil || len(*list.JSON200) != 2 {
		t.Fatalf("channel filter: %s", list.Body)
	}
}

func TestUpdateDispatchConfig(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Activities(t, key)
	cfg := create(t, c, yomSalesman("old-secret")).JSON201

	status, body := env.Do(t, "PATCH", "/api/dispatch-configs/"+cfg.Id.String(), `{"credentials":{}}`, "x-api-key", key)
	if status != 400 || !strings.Contains(string(body), "credentials.apiKey") {
		t.Fatalf("credentials without apiKey: %d %s", status, body)
	}
	status, body = env.Do(t, "PATCH", "/api/dispatch-configs/"+cfg.Id.String(), `{"base_url":"https://a.example","baseUrl":"https://b.example"}`, "x-api-key", key)
	if status != 400 || !strings.Contains(string(body), "base_url: is given twice") {
		t.Fatalf("both spellings: %d %s", status, body)
	}
	status, body = env.Do(t, "PATCH", "/api/dispatch-configs/"+cfg.Id.String(), `{}`, "x-api-key", key)
	if status != 400 {
		t.Fatalf("empty patch: %d %s", status, body)
	}
	status, body = env.Do(t, "PATCH", "/api/dispatch-configs/"+cfg.Id.String(),
		`{"credentials":{"apiKey":"new-secret"},"settings":{"region":"cl"},"base_url":null}`, "x-api-key", key)
	if status != 200 || !strings.Contains(string(body), `"baseUrl":null`) || !strings.Contains(string(body), `"region":"cl"`) {
		t.Fatalf("patch: %d %s", status, body)
	}
	creds, err := env.DB.DispatchConfigCredentials(ctx, ws, cfg.Id)
	if err != nil || creds["apiKey"] != "new-secret" {
		t.Fatalf("stored credentials = %v, %v", creds, err)
	}
	got, err := c.GetDispatchConfigWithResponse(ctx, cfg.Id, nil)
	if err != nil || got.JSON200 == nil || got.JSON200.BaseUrl.IsSpecified() && !got.JSON200.BaseUrl.IsNull() {
		t.Fatalf("get after clearing base URL: %v %s", err, got.Body)
	}
}

// TestCredentialsNeverInPlaintext checks responses, logs and a pg_dump of the database.
func TestCredentialsNeverInPlaintext(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Activities(t, key)
	const secret = "sk-plaintext-must-not-leak-4242"
	res := create(t, c, yomSalesman(secret))
	if res.JSON201 == nil {
		t.Fatalf("%d %s", res.StatusCode(), res.Body)
	}
	for _, path := range []string{"/api/dispatch-configs", "/api/dispatch-configs/" + res.JSON201.Id.String()} {
		if _, body := env.Do(t, "GET", path, "", "x-api-key", key); strings.Contains(string(body), secret) {
			t.Errorf("GET %s returned the secret", path)
		}
	}
	if strings.Contains(env.Logs.String(), secret) {
		t.Error("the secret is in the logs")
	}
	creds, err := env.DB.DispatchConfigCredentials(ctx, ws, res.JSON201.Id)
	if err != nil || creds["apiKey"] != secret {
		t.Fatalf("decrypted credentials = %v, %v", creds, err)
	}
	var dbname string
	if err := env.DB.SQL().Get(&dbname, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("pg_dump not found: %v", err)
	}
	var port int
	if err := env.DB.SQL().Get(&port, `SELECT setting::int FROM pg_settings WHERE name = 'port'`); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pgDump, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "postgres", "--data-only", dbname).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v %s", err, out)
	}
	if !strings.Contains(string(out), res.JSON201.Id.String()) {
		t.Fatal("the dump does not contain the config: it proves nothing")
	}
	if strings.Contains(string(out), secret) {
		t.Error("the database dump contains the credential in plaintext")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, viewer := env.Workspace(t, "VIEW_ACTIVITIES")
	manager := env.Key(t, ws, "MANAGE_ACTIVITY_CONFIG", "VIEW_ACTIVITIES")
	_, stranger := env.Workspace(t, "*")

	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
		message string
	}{
		{"no key", "GET", "/api/dispatch-configs", "", nil, 401, "Missing API key"},
		{"unknown key", "GET", "/api/dispatch-configs", "", []string{"Authorization", "Bearer sb_sk_nope"}, 401, "Invalid API key"},
		{"wrong scheme", "GET", "/api/dispatch-configs", "", []string{"Authorization", "Basic " + viewer}, 401, "Missing API key"},
		{"bearer", "GET", "/api/dispatch-configs", "", []string{"Authorization", "Bearer " + viewer}, 200, ""},
		{"x-api-key", "GET", "/api/dispatch-configs", "", []string{"x-api-key", viewer}, 200, ""},
		{"own tenant", "GET", "/api/dispatch-configs", "", []string{"x-api-key", viewer, "x-tenant-id", ws.String()}, 200, ""},
		{"foreign tenant", "GET", "/api/dispatch-configs", "", []string{"x-api-key", viewer, "x-tenant-id", uuid.NewString()}, 403, "x-tenant-id is not the API key's workspace"},
		{"malformed tenant", "GET", "/api/dispatch-configs", "", []string{"x-api-key", viewer, "x-tenant-id", "acme"}, 403, "x-tenant-id is not the API key's workspace"},
		{"missing permission", "POST", "/api/dispatch-configs", `{"dispatch_provider_id":"` + yomID + `","channel":"SALESMAN","credentials":{"apiKey":"k"}}`, []string{"x-api-key", viewer}, 403, "Missing permission: MANAGE_ACTIVITY_CONFIG"},
		{"permission held", "POST", "/api/dispatch-configs", `{"dispatch_provider_id":"` + yomID + `","channel":"SALESMAN","credentials":{"apiKey":"k"}}`, []string{"x-api-key", manager}, 201, ""},
		{"auth before validation", "POST", "/api/dispatch-configs", `{"bad":1}`, nil, 401, "Missing API key"},
		{"star", "GET", "/api/dispatch-providers", "", []string{"x-api-key", stranger}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := env.Do(t, tc.method, tc.path, tc.body, tc.headers...)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.message != "" {
				if e := servertest.Decode[errorBody](t, body); e.Message != tc.message || e.StatusCode != tc.status {
					t.Fatalf("body %s, want message %q", body, tc.message)
				}
			}
		})
	}
}

func TestRevokedAndExpiredKeys(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "VIEW_ACTIVITIES")
	if status, body := env.Do(t, "GET", "/api/dispatch-configs", "", "x-api-key", key); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	keys, err := env.Admin.ListApiKeysWithResponse(ctx, ws)
	if err != nil || keys.JSON200 == nil || len(*keys.JSON200) != 1 {
		t.Fatalf("list keys: %v %s", err, keys.Body)
	}
	if strings.Contains(string(keys.Body), key) {
		t.Fatal("the key list shows the secret")
	}
	rev, err := env.Admin.RevokeApiKeyWithResponse(ctx, ws, (*keys.JSON200)[0].Id)
	if err != nil || rev.StatusCode() != 204 {
		t.Fatalf("revoke: %v", err)
	}
	status, body := env.Do(t, "GET", "/api/dispatch-configs", "", "x-api-key", key)
	if status != 401 || servertest.Decode[errorBody](t, body).Message != "API key has been revoked" {
		t.Fatalf("revoked key: %d %s", status, body)
	}

	expiring := env.Key(t, ws, "VIEW_ACTIVITIES")
	if _, err := env.DB.SQL().Exec(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE workspace_id = $1 AND revoked_at IS NULL`, ws); err != nil {
		t.Fatal(err)
	}
	status, body = env.Do(t, "GET", "/api/dispatch-configs", "", "x-api-key", expiring)
	if status != 401 || servertest.Decode[errorBody](t, body).Message != "API key has expired" {
		t.Fatalf("expired key: %d %s", status, body)
	}
}

func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, keyA := env.Workspace(t, "*")
	_, keyB := env.Workspace(t, "*")
	a, b := env.Activities(t, keyA), env.Activities(t, keyB)
	cfg := create(t, a, yomSalesman("a")).JSON201

	if res, _ := b.GetDispatchConfigWithResponse(ctx, cfg.Id, nil); res.JSON404 == nil {
		t.Errorf("get another workspace's config: %d", res.StatusCode())
	}
	base := "https://evil.example"
	if res, _ := b.UpdateDispatchConfigWithResponse(ctx, cfg.Id, nil, activitiesclient.UpdateDispatchConfigRequest{BaseUrl: nullableString(base)}); res.JSON404 == nil {
		t.Errorf("patch another workspace's config: %d", res.StatusCode())
	}
	if res, _ := b.DeactivateDispatchConfigWithResponse(ctx, cfg.Id, nil); res.JSON404 == nil {
		t.Errorf("delete another workspace's config: %d", res.StatusCode())
	}
	if res, _ := b.ListDispatchConfigsWithResponse(ctx, nil); res.JSON200 == nil || len(*res.JSON200) != 0 {
		t.Errorf("another workspace's list: %s", res.Body)
	}
	// B can have its own YOM SALESMAN config: uniqueness is per workspace.
	if res := create(t, b, yomSalesman("b")); res.JSON201 == nil {
		t.Errorf("B's own config: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := a.GetDispatchConfigWithResponse(ctx, cfg.Id, nil); res.JSON200 == nil || res.JSON200.BaseUrl.MustGet() != "https://provider.example.com" {
		t.Errorf("A's config changed: %s", res.Body)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "*")
	big := `{"dispatch_provider_id":"` + yomID + `","channel":"SALESMAN","settings":{"blob":"` + strings.Repeat("x", 1<<20) + `"}}`
	status, body := env.Do(t, http.MethodPost, "/api/dispatch-configs", big, "x-api-key", key)
	if status != 413 || servertest.Decode[errorBody](t, body).Error != "Request Entity Too Large" {
		t.Fatalf("%d %s", status, body)
	}
	if n := env.Count(t, `dispatch_configs`); n != 0 {
		t.Fatalf("a refused request wrote %d rows", n)
	}
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "*")
	status, body := env.Do(t, "GET", "/api/nope", "", "x-api-key", key)
	if status != 404 || servertest.Decode[errorBody](t, body).StatusCode != 404 {
		t.Fatalf("%d %s", status, body)
	}
	status, body = env.Do(t, "PUT", "/api/dispatch-configs", "", "x-api-key", key)
	if status != 405 || servertest.Decode[errorBody](t, body).StatusCode != 405 {
		t.Fatalf("%d %s", status, body)
	}
	status, body = env.Do(t, "GET", "/api/dispatch-configs/not-a-uuid", "", "x-api-key", key)
	if e := servertest.Decode[errorBody](t, body); status != 400 || len(e.Errors) != 1 || !strings.HasPrefix(e.Errors[0], "path.id:") {
		t.Fatalf("%d %s", status, body)
	}
}
