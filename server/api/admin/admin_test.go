package admin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/adminclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	var ids []uuid.UUID
	for _, name := range []string{"a", "b", "c"} {
		res, err := env.Admin.CreateWorkspaceWithResponse(ctx, adminclient.CreateWorkspaceRequest{Name: name})
		if err != nil || res.JSON201 == nil || res.JSON201.Name != name {
			t.Fatalf("create: %v %s", err, res.Body)
		}
		ids = append(ids, res.JSON201.Id)
	}
	limit := 2
	page, err := env.Admin.ListWorkspacesWithResponse(ctx, &adminclient.ListWorkspacesParams{Limit: &limit})
	if err != nil || page.JSON200 == nil || len(page.JSON200.Data) != 2 || page.JSON200.NextCursor == nil {
		t.Fatalf("page 1: %v %s", err, page.Body)
	}
	page2, err := env.Admin.ListWorkspacesWithResponse(ctx, &adminclient.ListWorkspacesParams{Limit: &limit, Cursor: page.JSON200.NextCursor})
	if err != nil || page2.JSON200 == nil || len(page2.JSON200.Data) != 1 || page2.JSON200.NextCursor != nil || page2.JSON200.Data[0].Id != ids[2] {
		t.Fatalf("page 2: %v %s", err, page2.Body)
	}
	bad := "nope"
	if res, _ := env.Admin.ListWorkspacesWithResponse(ctx, &adminclient.ListWorkspacesParams{Cursor: &bad}); res.JSON400 == nil {
		t.Fatalf("bad cursor: %d %s", res.StatusCode(), res.Body)
	}
	name := "renamed"
	up, err := env.Admin.UpdateWorkspaceWithResponse(ctx, ids[0], adminclient.UpdateWorkspaceRequest{Name: &name})
	if err != nil || up.JSON200 == nil || up.JSON200.Name != name {
		t.Fatalf("update: %v %s", err, up.Body)
	}
	got, err := env.Admin.GetWorkspaceWithResponse(ctx, ids[0])
	if err != nil || got.JSON200 == nil || got.JSON200.Name != name {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	if res, _ := env.Admin.GetWorkspaceWithResponse(ctx, uuid.New()); res.JSON404 == nil || res.JSON404.Code != "not_found" {
		t.Fatalf("unknown workspace: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := env.Admin.CreateWorkspaceWithResponse(ctx, adminclient.CreateWorkspaceRequest{Name: ""}); res.JSON400 == nil {
		t.Fatalf("empty name: %d %s", res.StatusCode(), res.Body)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "VIEW_ACTIVITIES")

	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	res, err := env.Admin.CreateApiKeyWithResponse(ctx, ws, adminclient.CreateApiKeyRequest{
		Name: "ci", Permissions: []adminclient.Permission{"app:read", "MANAGE_ACTIVITY_CONFIG"}, ExpiresAt: &future})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create: %v %s", err, res.Body)
	}
	k := res.JSON201
	if !strings.HasPrefix(k.Key, "sb_sk_") || !strings.HasPrefix(k.Key, k.Prefix) || len(k.Key) < 40 || !k.ExpiresAt.MustGet().Equal(future) {
		t.Fatalf("created key %+v", k)
	}
	got, err := env.Admin.GetApiKeyWithResponse(ctx, ws, k.Id)
	if err != nil || got.JSON200 == nil || strings.Contains(string(got.Body), k.Key) || strings.Contains(string(got.Body), `"key"`) {
		t.Fatalf("get shows the secret or failed: %v %s", err, got.Body)
	}
	var stored []byte
	if err := env.DB.SQL().Get(&stored, `SELECT key_hash FROM api_keys WHERE id = $1`, k.Id); err != nil || len(stored) != 32 {
		t.Fatalf("stored hash: %v %d bytes", err, len(stored))
	}
	if plain := env.Count(t, `api_keys WHERE encode(key_hash, 'escape') LIKE '%' || $1 || '%'`, k.Key); plain != 0 {
		t.Fatal("the key is stored in plaintext")
	}

	status, body := env.Do(t, "POST", "/admin/v1/workspaces/"+ws.String()+"/api-keys",
		`{"name":"x","permissions":["VIEW_ACTIVITIES","MAKE_COFFEE"]}`, "Authorization", "Bearer "+servertest.AdminToken)
	var e errorBody
	_ = json.Unmarshal(body, &e)
	if status != 400 || e.Code != "invalid_request" || len(e.Details) != 1 || e.Details[0].Field != "permissions.1" {
		t.Fatalf("unknown permission: %d %s", status, body)
	}
	past := time.Now().Add(-time.Minute)
	if res, _ := env.Admin.CreateApiKeyWithResponse(ctx, ws, adminclient.CreateApiKeyRequest{Name: "x", Permissions: []adminclient.Permission{"*"}, ExpiresAt: &past}); res.JSON400 == nil {
		t.Fatalf("expiry in the past: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := env.Admin.CreateApiKeyWithResponse(ctx, uuid.New(), adminclient.CreateApiKeyRequest{Name: "x", Permissions: []adminclient.Permission{"*"}}); res.JSON404 == nil {
		t.Fatalf("unknown workspace: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := env.Admin.RevokeApiKeyWithResponse(ctx, uuid.New(), k.Id); res.JSON404 == nil {
		t.Fatalf("revoking through another workspace: %d %s", res.StatusCode(), res.Body)
	}
	list, err := env.Admin.ListApiKeysWithResponse(ctx, ws)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 2 || (*list.JSON200)[0].Id != k.Id {
		t.Fatalf("list (newest first): %v %s", err, list.Body)
	}
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "*")
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + key} {
		status, body := env.Do(t, "GET", "/admin/v1/workspaces", "", "Authorization", auth)
		var e errorBody
		_ = json.Unmarshal(body, &e)
		if status != 401 || e.Code != "unauthorized" {
			t.Errorf("Authorization %q: %d %s", auth, status, body)
		}
	}
}

func TestDispatchProviderCatalog(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	p, err := env.Admin.CreateDispatchProviderWithResponse(ctx, adminclient.CreateDispatchProviderRequest{Code: "ACME", Name: "Acme", ProtocolType: adminclient.REST})
	if err != nil || p.JSON201 == nil || !p.JSON201.IsActive || len(p.JSON201.ChannelDefinitions) != 0 {
		t.Fatalf("create: %v %s", err, p.Body)
	}
	if dup, _ := env.Admin.CreateDispatchProviderWithResponse(ctx, adminclient.CreateDispatchProviderRequest{Code: "ACME", Name: "Again", ProtocolType: adminclient.REST}); dup.JSON409 == nil {
		t.Fatalf("duplicate code: %d %s", dup.StatusCode(), dup.Body)
	}
	if bad, _ := env.Admin.CreateDispatchProviderWithResponse(ctx, adminclient.CreateDispatchProviderRequest{Code: "lower", Name: "x", ProtocolType: "SOAP"}); bad.JSON400 == nil || len(*bad.JSON400.Details) != 2 {
		t.Fatalf("invalid provider: %d %s", bad.StatusCode(), bad.Body)
	}
	def := adminclient.PutChannelDefinitionRequest{
		CredentialSchema: []adminclient.FieldDefinition{{Key: "apiKey", Label: "API Key", Type: adminclient.Password, Required: true}},
		SettingsSchema:   []adminclient.FieldDefinition{},
	}
	first, err := env.Admin.PutChannelDefinitionWithResponse(ctx, p.JSON201.Id, adminclient.SMS, def)
	if err != nil || first.JSON200 == nil {
		t.Fatalf("put: %v %s", err, first.Body)
	}
	def.CredentialSchema[0].Required = false
	again, err := env.Admin.PutChannelDefinitionWithResponse(ctx, p.JSON201.Id, adminclient.SMS, def)
	if err != nil || again.JSON200 == nil || again.JSON200.Id != first.JSON200.Id || again.JSON200.CredentialSchema[0].Required {
		t.Fatalf("put again replaces in place: %v %s", err, again.Body)
	}
	def.SettingsSchema = append(def.SettingsSchema, def.CredentialSchema[0], def.CredentialSchema[0])
	if dup, _ := env.Admin.PutChannelDefinitionWithResponse(ctx, p.JSON201.Id, adminclient.SMS, def); dup.JSON400 == nil {
		t.Fatalf("duplicate field keys: %d %s", dup.StatusCode(), dup.Body)
	}
	def.SettingsSchema = []adminclient.FieldDefinition{}
	if missing, _ := env.Admin.PutChannelDefinitionWithResponse(ctx, uuid.New(), adminclient.SMS, def); missing.JSON404 == nil {
		t.Fatalf("unknown provider: %d %s", missing.StatusCode(), missing.Body)
	}
	list, err := env.Admin.ListDispatchProvidersWithResponse(ctx)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 3 || (*list.JSON200)[0].Code != "ACME" || len((*list.JSON200)[0].ChannelDefinitions) != 1 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
}

// TestWorkspaceLimitsErrors: an unknown workspace is a 404 on both methods; a limit outside
// its range (PostgreSQL's int included) is a 400 naming the field, never a 500.
func TestWorkspaceLimitsErrors(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, _ := env.Workspace(t, "*")
	if res, _ := env.Admin.GetWorkspaceLimitsWithResponse(ctx, uuid.New()); res.JSON404 == nil || res.JSON404.Code != "not_found" {
		t.Fatalf("get, unknown workspace: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := env.Admin.SetWorkspaceLimitsWithResponse(ctx, uuid.New(), adminclient.WorkspaceLimits{}); res.JSON404 == nil || res.JSON404.Code != "not_found" {
		t.Fatalf("set, unknown workspace: %d %s", res.StatusCode(), res.Body)
	}
	for body, field := range map[string]string{
		`{"maxApps":-1}`: "maxApps", `{"maxEndpoints":3000000000}`: "maxEndpoints", `{"messagesPerMinute":0}`: "messagesPerMinute",
	} {
		status, b := env.Do(t, "PUT", "/admin/v1/workspaces/"+ws.String()+"/limits", body, "Authorization", "Bearer "+servertest.AdminToken)
		var e errorBody
		_ = json.Unmarshal(b, &e)
		if status != 400 || len(e.Details) != 1 || e.Details[0].Field != field {
			t.Errorf("%s: %d %s", body, status, b)
		}
	}
}

// TestNULRefused: text PostgreSQL cannot store (a NUL character) is refused by validation, as a
// 400 naming the field, and nothing is written.
func TestNULRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	status, b := env.Do(t, "POST", "/admin/v1/workspaces", `{"name":"a\u0000b"}`, "Authorization", "Bearer "+servertest.AdminToken)
	var e errorBody
	_ = json.Unmarshal(b, &e)
	if status != 400 || len(e.Details) != 1 || e.Details[0].Field != "name" || !strings.Contains(e.Details[0].Message, "NUL") {
		t.Fatalf("name with a NUL character: %d %s", status, b)
	}
	if n := env.Count(t, "workspaces"); n != 0 {
		t.Errorf("%d workspaces written", n)
	}
}
