package channels_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/channelsclient"
	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

// fullChannel is a create body giving every writable field of the seed's Channel schema.
const fullChannel = `{
  "platformId": "whatsapp",
  "name": "Support line",
  "connectorId": "123e4567-e89b-12d3-a456-426614174000",
  "identifier": "+31612345678",
  "status": "active",
  "contactIdentifierKeyOverride": "phonenumber",
  "contactIdentifierFormatOverride": {"type": "none", "pattern": "^\\+[0-9]+$"},
  "platformServiceUrlOverride": "https://wa.example.com/v1",
  "platformServiceVersionOverride": "1.0",
  "platformServiceProtocolOverride": "https",
  "platformMessageJsonSchemaOverride": {"type": "object"},
  "platformTemplateEngineOverride": "liquid",
  "capabilities": {
    "messaging": {"messaging": {
      "displayName": "Messaging", "status": "active", "name": "messaging", "version": 1,
      "updatedAt": "2024-11-21T08:56:12.986Z", "createdAt": "2024-11-21T08:56:12.986Z", "expiresAt": "2025-11-21T08:56:12.986Z",
      "outgoing": {"displayName": "Outgoing", "status": "active", "name": "outgoing", "version": 1,
        "mms": {"displayName": "MMS", "status": "active", "name": "mms", "version": 1, "paused": false},
        "media": {"textFallback": {"displayName": "Text fallback", "status": "active", "name": "textFallback", "version": 1, "paused": true}}},
      "incoming": {"displayName": "Incoming", "status": "active", "name": "incoming", "version": 1,
        "mms": {"displayName": "MMS", "status": "active", "name": "mms", "version": 1, "paused": false}}}},
    "voice": {"voice": {"displayName": "Voice", "status": "active", "name": "voice", "version": 2,
      "recording": {"displayName": "Recording", "status": "active", "name": "recording", "version": 1, "paused": false}}}
  },
  "settings": [
    {"key": "greeting", "value": "Hello", "displayName": "Greeting", "description": "First message", "visibility": "public"},
    {"key": "webhookSecret", "value": "whsec-very-secret", "visibility": "private"}
  ],
  "connectionParams": [
    {"key": "accessToken", "value": "EAAG-secret-token", "displayName": "Access token", "visibility": "private"},
    {"key": "phoneNumberId", "value": "10987654321"}
  ],
  "preferences": {"disableProfileFetching": false, "explicitMarketingOptOut": true, "ignoreSuppressionChecks": false, "isPrivate": false},
  "useCaseId": "support",
  "useCaseType": "conversation",
  "channelMessageType": "conversational",
  "suites": ["marketing", "service"]
}`

// TestSeed002Verbatim sends each of seed 002's requests as written (fetch with
// "Authorization: Bearer jwt", the key in place of jwt) and checks the documented responses.
func TestSeed002Verbatim(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "channel:read", "channel:write")
	h := []string{"Authorization", "Bearer " + key}
	base := "/workspaces/" + ws.String()

	status, body := env.Do(t, "GET", base+"/channels", "", h...)
	if status != 200 || strings.TrimSpace(string(body)) != `{"results":[]}` {
		t.Fatalf("empty list: %d %s", status, body)
	}

	status, body = env.Do(t, "POST", base+"/channels", fullChannel, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(body, &created)

	status, body = env.Do(t, "GET", base+"/channels", "", h...)
	var list map[string]json.RawMessage
	if status != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list: %d %s", status, body)
	}
	if _, ok := list["nextPageToken"]; ok {
		t.Errorf("one channel, yet a nextPageToken: %s", body)
	}

	status, body = env.Do(t, "GET", base+"/channels/"+created.ID, "", h...)
	if status != 200 {
		t.Fatalf("get: %d %s", status, body)
	}
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	// Every field of the seed's example response is there.
	for _, f := range seedChannelFields {
		if _, ok := got[f]; !ok {
			t.Errorf("GET channel lacks %s: %s", f, body)
		}
	}
	if len(got) != len(seedChannelFields) {
		t.Errorf("GET channel has %d fields, the seed's schema %d: %s", len(got), len(seedChannelFields), body)
	}

	// The contact endpoint: a contact who wrote 1 h ago has a window open for 23 h more.
	status, body = env.Do(t, "POST", base+"/contacts", `{"identifiers":[{"key":"phonenumber","value":"+31687654321"}]}`, h...)
	if status != 201 {
		t.Fatalf("contact: %d %s", status, body)
	}
	var contact struct{ ID string }
	_ = json.Unmarshal(body, &contact)
	path := base + "/channels/" + created.ID + "/contacts/" + contact.ID
	if status, body = env.Do(t, "POST", path+"/inbound-messages", `{}`, h...); status != 201 {
		t.Fatalf("inbound: %d %s", status, body)
	}
	status, body = env.Do(t, "GET", path, "", h...)
	var info map[string]any
	if status != 200 || json.Unmarshal(body, &info) != nil || info["serviceWindowExpireAt"] == nil || info["isPermanentSession"] != false {
		t.Fatalf("contact information: %d %s", status, body)
	}
	if status, body = env.Do(t, "GET", base+"/channels/"+created.ID+"/contacts/"+uuid.NewString(), "", h...); status != 404 ||
		!strings.Contains(string(body), `"code":"NotFound"`) {
		t.Fatalf("unknown contact: %d %s", status, body)
	}
}

// seedChannelFields is every field of the Channel the seed documents, in its order.
var seedChannelFields = []string{"id", "platformId", "name", "connectorId", "identifier", "status",
	"contactIdentifierKeyOverride", "contactIdentifierFormatOverride", "platformServiceUrlOverride",
	"platformServiceVersionOverride", "platformServiceProtocolOverride", "platformMessageJsonSchemaOverride",
	"platformTemplateEngineOverride", "capabilities", "settings", "connectionParams", "preferences", "useCaseId",
	"useCaseType", "channelMessageType", "suites", "createdAt", "updatedAt"}

// seedField is what seed 002 says about one field of Channel.
type seedField struct {
	typ, format, pattern string
	required, nullable   bool
	enum                 []string
}

// seedChannel transcribes seed 002's "GET /workspaces/{workspaceId}/channels/{channelId}"
// response body: `name*Type`, `nullable`, `Pattern:` and the enum values listed.
var seedChannel = map[string]seedField{
	"id":                                {typ: "string", format: "uuid", required: true},
	"platformId":                        {typ: "string", pattern: "^[A-Za-z0-9-]+$", required: true},
	"name":                              {typ: "string", required: true},
	"connectorId":                       {typ: "string", format: "uuid", required: true},
	"identifier":                        {typ: "string"},
	"status":                            {typ: "string", required: true, enum: []string{"active", "pending", "setting-up", "failed", "inactive", "deleted", "warning"}},
	"contactIdentifierKeyOverride":      {typ: "string", nullable: true, pattern: "^[A-Za-z0-9_-]+$"},
	"contactIdentifierFormatOverride":   {typ: "object", nullable: true},
	"platformServiceUrlOverride":        {typ: "string", nullable: true, pattern: "^https://"},
	"platformServiceVersionOverride":    {typ: "string", nullable: true, enum: []string{"1.0"}},
	"platformServiceProtocolOverride":   {typ: "string", nullable: true, enum: []string{"http", "https"}},
	"platformMessageJsonSchemaOverride": {typ: "object", nullable: true},
	"platformTemplateEngineOverride":    {typ: "string", nullable: true, enum: []string{"default", "liquid"}},
	"capabilities":                      {typ: "object"},
	"settings":                          {typ: "array"},
	"connectionParams":                  {typ: "array"},
	"preferences":                       {typ: "object", nullable: true},
	"useCaseId":                         {typ: "string", nullable: true},
	"useCaseType":                       {typ: "string", nullable: true, enum: []string{"transactional", "marketing", "conversation"}},
	"channelMessageType":                {typ: "string", enum: []string{"promotional", "2fa", "conversational", "transactional", "emergency"}},
	"suites":                            {typ: "array"},
	"createdAt":                         {typ: "string", format: "date-time", required: true},
	"updatedAt":                         {typ: "string", format: "date-time"},
}

func channelSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	data, err := openapi.YAML("channels")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas["Channel"].Value
}

// resolved folds a property's single-ref allOf (how the spec makes a shared schema nullable)
// into one schema.
func resolved(s *openapi3.Schema) (*openapi3.Schema, bool) {
	nullable := s.Nullable
	if len(s.AllOf) == 1 {
		s = s.AllOf[0].Value
	}
	return s, nullable || s.Nullable
}

// TestChannelSchemaIsTheSeeds holds openapi/channels.yaml's Channel, which every response is
// validated against, to seed 002: the same fields, required ones, types, formats, patterns,
// nullability and enums, and nothing else.
func TestChannelSchemaIsTheSeeds(t *testing.T) {
	t.Parallel()
	ch := channelSchema(t)
	var names []string
	for n := range ch.Properties {
		names = append(names, n)
	}
	want := slices.Clone(seedChannelFields)
	sort.Strings(names)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Fatalf("Channel properties %v, the seed's %v", names, want)
	}
	if ch.AdditionalProperties.Has == nil || *ch.AdditionalProperties.Has {
		t.Error("Channel allows properties the seed does not document")
	}
	for name, f := range seedChannel {
		s, nullable := resolved(ch.Properties[name].Value)
		if got := s.Type.Slice(); len(got) != 1 || got[0] != f.typ {
			t.Errorf("%s: type %v, seed %s", name, got, f.typ)
		}
		if s.Format != f.format || s.Pattern != f.pattern || nullable != f.nullable || slices.Contains(ch.Required, name) != f.required {
			t.Errorf("%s: format %q pattern %q nullable %v required %v; seed %+v", name, s.Format, s.Pattern, nullable, slices.Contains(ch.Required, name), f)
		}
		var enum []string
		for _, v := range s.Enum {
			if v == nil && nullable {
				continue // a nullable enum lists null (OpenAPI 3.0.3 keeps the enum in force)
			}
			enum = append(enum, v.(string))
		}
		if !slices.Equal(enum, f.enum) {
			t.Errorf("%s: enum %v, seed %v", name, enum, f.enum)
		}
	}
	// The nested objects have the seed's fields.
	nested := map[string][]string{
		"Setting":                         {"key", "value", "displayName", "description", "visibility"},
		"Preferences":                     {"disableProfileFetching", "explicitMarketingOptOut", "ignoreSuppressionChecks", "isPrivate"},
		"ContactIdentifierFormatOverride": {"type", "pattern"},
		"PausableCapability":              {"displayName", "status", "name", "version", "paused", "updatedAt", "createdAt", "expiresAt"},
		"MessagingCapability":             {"displayName", "status", "name", "version", "updatedAt", "createdAt", "expiresAt", "outgoing", "incoming"},
		"OutgoingMessagingCapability":     {"displayName", "status", "name", "version", "updatedAt", "createdAt", "expiresAt", "mms", "media"},
		"IncomingMessagingCapability":     {"displayName", "status", "name", "version", "updatedAt", "createdAt", "expiresAt", "mms"},
		"VoiceCapability":                 {"displayName", "status", "name", "version", "updatedAt", "createdAt", "expiresAt", "recording"},
	}
	data, _ := openapi.YAML("channels")
	doc, _ := openapi3.NewLoader().LoadFromData(data)
	for schema, fields := range nested {
		var got []string
		for n := range doc.Components.Schemas[schema].Value.Properties {
			got = append(got, n)
		}
		sort.Strings(got)
		sort.Strings(fields)
		if !slices.Equal(got, fields) {
			t.Errorf("%s: properties %v, seed %v", schema, got, fields)
		}
	}
}

// seedExample is seed 002's example response of GET channel, verbatim.
const seedExample = `{"id":"123e4567-e89b-12d3-a456-426614174000","platformId":"text","name":"text","connectorId":"123e4567-e89b-12d3-a456-426614174000","identifier":"text","status":"active","contactIdentifierKeyOverride":"text","contactIdentifierFormatOverride":{"type":"none","pattern":"text"},"platformServiceUrlOverride":"text","platformServiceVersionOverride":"1.0","platformServiceProtocolOverride":"http","platformTemplateEngineOverride":"default","capabilities":{"messaging":{"messaging":{"displayName":"text","status":"text","name":"text","version":0,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z","outgoing":{"displayName":"text","status":"text","name":"text","version":0,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z","mms":{"displayName":"text","status":"text","name":"text","version":0,"paused":false,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z"},"media":{"textFallback":{"displayName":"text","status":"text","name":"text","version":0,"paused":false,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z"}}},"incoming":{"displayName":"text","status":"text","name":"text","version":0,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z","mms":{"displayName":"text","status":"text","name":"text","version":0,"paused":false,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z"}}}},"voice":{"voice":{"displayName":"text","status":"text","name":"text","version":0,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z","recording":{"displayName":"text","status":"text","name":"text","version":0,"paused":false,"updatedAt":"2024-11-21T08:56:12.986Z","createdAt":"2024-11-21T08:56:12.986Z","expiresAt":"2024-11-21T08:56:12.986Z"}}}},"settings":[{"key":"text","value":"text","displayName":"text","description":"text","visibility":"public"}],"connectionParams":[{"key":"text","value":"text","displayName":"text","description":"text","visibility":"public"}],"preferences":{"disableProfileFetching":false,"explicitMarketingOptOut":false,"ignoreSuppressionChecks":false,"isPrivate":false},"useCaseId":"text","useCaseType":"transactional","channelMessageType":"promotional","suites":["marketing"],"createdAt":"2024-11-21T08:56:12.986Z","updatedAt":"2024-11-21T08:56:12.986Z"}`

// TestSeedExampleValidates checks the seed's own example against the spec's Channel. The
// example breaks one rule of its schema (platformServiceUrlOverride "text" against ^https://);
// that must be the only complaint.
func TestSeedExampleValidates(t *testing.T) {
	t.Parallel()
	data, _ := openapi.YAML("channels")
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["Channel"].Value
	var v map[string]any
	if err := json.Unmarshal([]byte(seedExample), &v); err != nil {
		t.Fatal(err)
	}
	err = schema.VisitJSON(v, openapi3.MultiErrors())
	var me openapi3.MultiError
	if err == nil || !errors.As(err, &me) || len(me) != 1 || !strings.Contains(me[0].Error(), "platformServiceUrlOverride") {
		t.Fatalf("the seed's example: %v; want only its platformServiceUrlOverride refused", err)
	}
	v["platformServiceUrlOverride"] = "https://example.com"
	if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Fatalf("the seed's example with an https URL: %v", err)
	}
}

// newChannel creates a channel through the typed client and returns it.
func newChannel(t *testing.T, c *channelsclient.ClientWithResponses, ws uuid.UUID, body channelsclient.ChannelCreate) channelsclient.Channel {
	t.Helper()
	res, err := c.CreateChannelWithResponse(ctx, ws, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON201 == nil {
		t.Fatalf("create channel: %d %s", res.StatusCode(), res.Body)
	}
	return *res.JSON201
}

// deleteChannel deletes a channel through the typed client (204, also when already deleted).
// It reports with t.Errorf, so it may be called from a goroutine.
func deleteChannel(t *testing.T, c *channelsclient.ClientWithResponses, ws, id uuid.UUID) {
	t.Helper()
	res, err := c.DeleteChannelWithResponse(ctx, ws, id)
	if err != nil {
		t.Errorf("delete channel: %v", err)
		return
	}
	if res.StatusCode() != 204 {
		t.Errorf("delete channel: %d %s", res.StatusCode(), res.Body)
	}
}
