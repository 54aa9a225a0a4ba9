package channels_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/switchboard-dev/switchboard/gen/channelsclient"
	"github.com/switchboard-dev/switchboard/server/api/channels"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

type requestError struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Details map[string][]string `json:"details"`
}

func decodeError(t *testing.T, b []byte) requestError {
	t.Helper()
	var e requestError
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("not a RequestError: %s (%v)", b, err)
	}
	return e
}

// TestChannelLifecycle creates a channel with every field, reads it back, changes it
// partially, clears nullable fields, and deletes it.
func TestChannelLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "channel:read", "channel:write")
	h := []string{"Authorization", "AccessKey " + key}
	status, body := env.Do(t, "POST", "/workspaces/"+ws.String()+"/channels", fullChannel, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created channelsclient.Channel
	_ = json.Unmarshal(body, &created)
	c := env.Channels(t, key)

	got, err := c.GetChannelWithResponse(ctx, ws, created.Id)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	ch := got.JSON200
	// What was sent comes back (secrets masked); compare as JSON against the create body.
	var sent, back map[string]any
	_ = json.Unmarshal([]byte(fullChannel), &sent)
	_ = json.Unmarshal(got.Body, &back)
	for k, v := range sent {
		if k == "settings" || k == "connectionParams" {
			continue
		}
		if !jsonEqual(v, back[k]) {
			t.Errorf("%s: sent %v, got %v", k, v, back[k])
		}
	}
	wantSettings := []channelsclient.Setting{
		{Key: "greeting", Value: "Hello", DisplayName: ptr("Greeting"), Description: ptr("First message"), Visibility: channelsclient.Public},
		{Key: "webhookSecret", Value: channels.Mask, Visibility: channelsclient.Private},
	}
	if !jsonEqual(*ch.Settings, wantSettings) {
		t.Errorf("settings: %+v", *ch.Settings)
	}
	wantParams := []channelsclient.Setting{
		{Key: "accessToken", Value: channels.Mask, DisplayName: ptr("Access token"), Visibility: channelsclient.Private},
		{Key: "phoneNumberId", Value: "10987654321", Visibility: channelsclient.Public},
	}
	if !jsonEqual(*ch.ConnectionParams, wantParams) {
		t.Errorf("connectionParams: %+v", *ch.ConnectionParams)
	}
	if bytes.Contains(got.Body, []byte("secret")) {
		t.Errorf("a secret value is in the response: %s", got.Body)
	}

	// Secrets are sealed at rest and open with the store's key.
	var raw []byte
	if err := env.DB.SQL().Get(&raw, `SELECT convert_to(settings::text || connection_params::text || coalesce(encode(secrets, 'escape'), ''), 'UTF8') FROM channels WHERE id = $1`, ch.Id); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("whsec-very-secret")) || bytes.Contains(raw, []byte("EAAG-secret-token")) {
		t.Errorf("a secret is stored in the clear: %s", raw)
	}
	settings, params, err := env.DB.ChannelSecrets(ctx, ws, ch.Id)
	if err != nil || settings[1].Value != "whsec-very-secret" || params[0].Value != "EAAG-secret-token" || params[1].Value != "10987654321" {
		t.Fatalf("ChannelSecrets: %+v %+v %v", settings, params, err)
	}

	// PATCH: a partial change; the masked value sent back keeps the secret; null clears.
	up := channelsclient.ChannelUpdate{
		Name:                       ptr("Renamed"),
		PlatformServiceUrlOverride: nullable.NewNullNullable[string](),
		Preferences:                nullable.NewNullNullable[channelsclient.Preferences](),
		Settings: &[]channelsclient.SettingWrite{
			{Key: "webhookSecret", Value: channels.Mask, Visibility: ptr(channelsclient.Private)},
			{Key: "signingKey", Value: "sk-new", Visibility: ptr(channelsclient.Private)},
		},
	}
	res, err := c.UpdateChannelWithResponse(ctx, ws, ch.Id, up)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("update: %v %s", err, res.Body)
	}
	u := res.JSON200
	if u.Name != "Renamed" || !u.PlatformServiceUrlOverride.IsNull() || !u.Preferences.IsNull() ||
		u.PlatformServiceProtocolOverride.MustGet() != "https" || *u.Identifier != "+31612345678" || len(*u.Settings) != 2 ||
		!u.UpdatedAt.After(*ch.UpdatedAt) || !u.CreatedAt.Equal(ch.CreatedAt) {
		t.Errorf("after update: %s", res.Body)
	}
	if !strings.Contains(string(res.Body), `"platformServiceUrlOverride":null`) {
		t.Errorf("a cleared field is not null: %s", res.Body)
	}
	settings, params, _ = env.DB.ChannelSecrets(ctx, ws, ch.Id)
	if len(settings) != 2 || settings[0].Value != "whsec-very-secret" || settings[1].Value != "sk-new" || params[0].Value != "EAAG-secret-token" {
		t.Errorf("secrets after update: %+v %+v", settings, params)
	}

	// The mask for a key with no stored secret is refused, as is a key given twice.
	status, body = env.Do(t, "PATCH", "/workspaces/"+ws.String()+"/channels/"+ch.Id.String(),
		`{"connectionParams":[{"key":"other","value":"********","visibility":"private"},{"key":"x","value":"1"},{"key":"x","value":"2"}]}`, h...)
	if e := decodeError(t, body); status != 400 || e.Code != "InvalidRequest" || len(e.Details["connectionParams.0.value"]) != 1 || len(e.Details["connectionParams.2.key"]) != 1 {
		t.Errorf("mask without a secret: %d %s", status, body)
	}

	// DELETE: hidden from the list, readable by id, listed with status=deleted, frozen.
	if del, err := c.DeleteChannelWithResponse(ctx, ws, ch.Id); err != nil || del.StatusCode() != 204 {
		t.Fatalf("delete: %v %d", err, del.StatusCode())
	}
	if del, _ := c.DeleteChannelWithResponse(ctx, ws, ch.Id); del.StatusCode() != 204 {
		t.Errorf("delete again: %d %s", del.StatusCode(), del.Body)
	}
	list, _ := c.ListChannelsWithResponse(ctx, ws, nil)
	if list.JSON200 == nil || len(list.JSON200.Results) != 0 {
		t.Errorf("default list shows a deleted channel: %s", list.Body)
	}
	list, _ = c.ListChannelsWithResponse(ctx, ws, &channelsclient.ListChannelsParams{Status: &[]channelsclient.ChannelStatus{channelsclient.ChannelStatusDeleted}})
	if list.JSON200 == nil || len(list.JSON200.Results) != 1 {
		t.Errorf("status=deleted: %s", list.Body)
	}
	got, _ = c.GetChannelWithResponse(ctx, ws, ch.Id)
	if got.JSON200 == nil || got.JSON200.Status != channelsclient.ChannelStatusDeleted {
		t.Errorf("get deleted: %s", got.Body)
	}
	res, _ = c.UpdateChannelWithResponse(ctx, ws, ch.Id, channelsclient.ChannelUpdate{Name: ptr("x")})
	if res.JSON409 == nil || res.JSON409.Code != "Conflict" {
		t.Errorf("update deleted: %d %s", res.StatusCode(), res.Body)
	}
	// Its connector is free again.
	again := newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "whatsapp", Name: "again", ConnectorId: &ch.ConnectorId})
	if again.ConnectorId != ch.ConnectorId || again.Status != channelsclient.ChannelStatusActive {
		t.Errorf("recreate on the connector: %+v", again)
	}
}

func ptr[T any](v T) *T { return &v }

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	na, _ := json.Marshal(va)
	nb, _ := json.Marshal(vb)
	return bytes.Equal(na, nb)
}

// TestCreateDefaultsAndConflicts: the minimal body gets a generated connector and status
// active; a connector already used is a 409.
func TestCreateDefaultsAndConflicts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	c := env.Channels(t, key)
	a := newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "sms-messagebird", Name: "SMS"})
	b := newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: "sms-messagebird", Name: "SMS 2"})
	if a.ConnectorId == uuid.Nil || a.ConnectorId == b.ConnectorId || a.Status != channelsclient.ChannelStatusActive ||
		len(*a.Settings) != 0 || len(*a.Suites) != 0 || a.Capabilities != nil || !a.UseCaseType.IsNull() {
		t.Errorf("defaults: %+v %+v", a, b)
	}
	res, _ := c.CreateChannelWithResponse(ctx, ws, channelsclient.ChannelCreate{PlatformId: "sms", Name: "dup", ConnectorId: &a.ConnectorId})
	if res.JSON409 == nil || res.JSON409.Code != "Conflict" {
		t.Errorf("taken connector: %d %s", res.StatusCode(), res.Body)
	}
	// Another workspace may use the same connector id: connectors are per workspace.
	ws2, key2 := env.Workspace(t, "*")
	newChannel(t, env.Channels(t, key2), ws2, channelsclient.ChannelCreate{PlatformId: "sms", Name: "x", ConnectorId: &a.ConnectorId})
}

// TestValidation sends bodies and queries breaking the seed's rules: each is a 400
// RequestError naming the field, and nothing is written.
func TestValidation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	h := []string{"Authorization", "AccessKey " + key}
	base := "/workspaces/" + ws.String()
	cases := []struct{ name, body, field string }{
		{"platform pattern", `{"platformId":"what sapp","name":"x"}`, "platformId"},
		{"platform too short", `{"platformId":"wa","name":"x"}`, "platformId"},
		{"missing name", `{"platformId":"whatsapp"}`, "name"},
		{"url not https", `{"platformId":"whatsapp","name":"x","platformServiceUrlOverride":"http://insecure.example.com"}`, "platformServiceUrlOverride"},
		{"key override pattern", `{"platformId":"whatsapp","name":"x","contactIdentifierKeyOverride":"phone number"}`, "contactIdentifierKeyOverride"},
		{"version enum", `{"platformId":"whatsapp","name":"x","platformServiceVersionOverride":"2.0"}`, "platformServiceVersionOverride"},
		{"protocol enum", `{"platformId":"whatsapp","name":"x","platformServiceProtocolOverride":"ftp"}`, "platformServiceProtocolOverride"},
		{"template engine enum", `{"platformId":"whatsapp","name":"x","platformTemplateEngineOverride":"mustache"}`, "platformTemplateEngineOverride"},
		{"use case enum", `{"platformId":"whatsapp","name":"x","useCaseType":"spam"}`, "useCaseType"},
		{"message type enum", `{"platformId":"whatsapp","name":"x","channelMessageType":"otp"}`, "channelMessageType"},
		{"suite enum", `{"platformId":"whatsapp","name":"x","suites":["golf"]}`, "suites.0"},
		{"status deleted", `{"platformId":"whatsapp","name":"x","status":"deleted"}`, "status"},
		{"visibility enum", `{"platformId":"whatsapp","name":"x","settings":[{"key":"a","value":"b","visibility":"hidden"}]}`, "settings.0.visibility"},
		{"read-only id", `{"platformId":"whatsapp","name":"x","id":"123e4567-e89b-12d3-a456-426614174000"}`, "id"},
		{"capability field", `{"platformId":"whatsapp","name":"x","capabilities":{"voice":{"voice":{"volume":11}}}}`, "capabilities.voice.voice.volume"},
		{"connector not a uuid", `{"platformId":"whatsapp","name":"x","connectorId":"abc"}`, "connectorId"},
	}
	for _, tc := range cases {
		status, body := env.Do(t, "POST", base+"/channels", tc.body, h...)
		e := decodeError(t, body)
		if status != 400 || e.Code != "InvalidRequest" || len(e.Details[tc.field]) == 0 || e.Message != "The request did not pass validation" {
			t.Errorf("%s: %d %s; want 400 with details.%s", tc.name, status, body, tc.field)
		}
	}
	queries := map[string]string{
		"limit=0": "query.limit", "limit=1001": "query.limit", "limit=x": "query.limit",
		"status=gone": "query.status.0", "platform=a%20b": "query.platform.0", "channelIds=nope": "query.channelIds.0",
		"useCaseType=spam": "query.useCaseType", "reverse=maybe": "query.reverse",
	}
	for q, field := range queries {
		status, body := env.Do(t, "GET", base+"/channels?"+q, "", h...)
		if e := decodeError(t, body); status != 400 || len(e.Details[field]) == 0 {
			t.Errorf("?%s: %d %s; want details.%s", q, status, body, field)
		}
	}
	status, body := env.Do(t, "GET", base+"/channels/not-a-uuid", "", h...)
	if e := decodeError(t, body); status != 400 || len(e.Details["path.channelId"]) == 0 {
		t.Errorf("bad channel id: %d %s", status, body)
	}
	if status, body := env.Do(t, "POST", base+"/channels", `{"platformId":`, h...); status != 400 {
		t.Errorf("broken JSON: %d %s", status, body)
	}
	if status, body := env.Do(t, "POST", base+"/channels", `{"platformId":"sms","name":"`+strings.Repeat("x", 2<<20)+`"}`, h...); status != 413 ||
		decodeError(t, body).Code != "PayloadTooLarge" {
		t.Errorf("2 MiB body: %d %s", status, body)
	}
	if n := env.Count(t, `channels`); n != 0 {
		t.Errorf("%d channels written by refused requests", n)
	}
}

// TestAuthAndIsolation: both credential schemes work; a missing or wrong key is a 401; a
// key without the permission or another workspace's id in the path is a 403; another
// workspace's channel is a 404.
func TestAuthAndIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "channel:read", "channel:write")
	other, otherKey := env.Workspace(t, "*")
	readOnly := env.Key(t, ws, "channel:read")
	ch := newChannel(t, env.Channels(t, key), ws, channelsclient.ChannelCreate{PlatformId: "email", Name: "Mail"})
	path := "/workspaces/" + ws.String() + "/channels"

	for _, auth := range []string{"AccessKey " + key, "Bearer " + key, "accesskey " + key} {
		if status, body := env.Do(t, "GET", path, "", "Authorization", auth); status != 200 {
			t.Errorf("%q: %d %s", auth[:9], status, body)
		}
	}
	for _, auth := range []string{"", "AccessKey", "AccessKey nope", "Basic " + key, key} {
		status, body := env.Do(t, "GET", path, "", "Authorization", auth)
		if status != 401 || decodeError(t, body).Code != "Unauthorized" {
			t.Errorf("Authorization %q: %d %s", auth, status, body)
		}
	}
	// A read-only key reads but cannot write.
	if status, _ := env.Do(t, "GET", path+"/"+ch.Id.String(), "", "Authorization", "AccessKey "+readOnly); status != 200 {
		t.Errorf("read-only GET: %d", status)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", path, `{"platformId":"sms","name":"x"}`},
		{"PATCH", path + "/" + ch.Id.String(), `{"name":"x"}`},
		{"DELETE", path + "/" + ch.Id.String(), ""},
		{"POST", "/workspaces/" + ws.String() + "/contacts", `{"identifiers":[{"key":"k","value":"v"}]}`},
	} {
		status, body := env.Do(t, r.method, r.path, r.body, "Authorization", "AccessKey "+readOnly)
		if status != 403 || decodeError(t, body).Code != "Forbidden" {
			t.Errorf("read-only %s %s: %d %s", r.method, r.path, status, body)
		}
	}
	// Another workspace's key, on this workspace's paths: 403, whatever the operation.
	for _, r := range []struct{ method, path string }{
		{"GET", path}, {"GET", path + "/" + ch.Id.String()}, {"DELETE", path + "/" + ch.Id.String()},
		{"GET", path + "/" + ch.Id.String() + "/contacts/" + uuid.NewString()}, {"GET", "/workspaces/" + ws.String() + "/contacts"},
	} {
		status, body := env.Do(t, r.method, r.path, "", "Authorization", "AccessKey "+otherKey)
		if status != 403 || decodeError(t, body).Code != "Forbidden" {
			t.Errorf("foreign workspace %s %s: %d %s", r.method, r.path, status, body)
		}
	}
	// ... and its own paths with this workspace's channel id: 404, the channel is not there.
	oc := env.Channels(t, otherKey)
	if res, _ := oc.GetChannelWithResponse(ctx, other, ch.Id); res.JSON404 == nil ||
		res.JSON404.Message != "The requested resource does not exist: channel not found" {
		t.Errorf("other workspace's channel: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := oc.DeleteChannelWithResponse(ctx, other, ch.Id); res.StatusCode() != 404 {
		t.Errorf("delete other workspace's channel: %d", res.StatusCode())
	}
	if res, _ := oc.ListChannelsWithResponse(ctx, other, nil); res.JSON200 == nil || len(res.JSON200.Results) != 0 {
		t.Errorf("other workspace lists: %s", res.Body)
	}
}
