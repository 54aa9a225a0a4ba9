package webhooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/switchboard-dev/switchboard/gen/adminclient"
	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestScopes: each operation needs its scope; a key without it gets 403, no key 401.
func TestScopes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	base := "/api/v1/apps/" + f.App.String()
	readOnly := env.Key(t, f.Workspace, "app:read", "message:read")
	cases := []struct {
		method, path, body string
		key                string
		want               int
	}{
		{"GET", "/api/v1/apps", "", readOnly, 200},
		{"POST", "/api/v1/apps", `{"name":"x"}`, readOnly, 403},
		{"GET", base + "/messages", "", readOnly, 200},
		{"POST", base + "/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{}}`, readOnly, 403},
		{"GET", base + "/recipients", "", readOnly, 403},
		{"GET", base + "/event-types", "", readOnly, 403},
		{"GET", base + "/recipients/customer_123/endpoints", "", readOnly, 403},
		{"GET", "/api/v1/apps", "", "", 401},
		{"GET", "/api/v1/apps", "", "sb_sk_nope", 401},
	}
	for _, c := range cases {
		var h []string
		if c.key != "" {
			h = []string{"Authorization", "Bearer " + c.key}
		}
		status, body := env.Do(t, c.method, c.path, c.body, h...)
		if status != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.want)
		}
		if status == 403 && !strings.Contains(servertest.Decode[errorBody](t, body).Message, "Missing permission") {
			t.Errorf("%s %s: 403 body %s", c.method, c.path, body)
		}
	}
	// Another workspace's app is not found.
	_, other := env.Workspace(t, "*")
	if status, body := env.Do(t, "GET", base, "", "Authorization", "Bearer "+other); status != 404 || servertest.Decode[errorBody](t, body).Code != "not_found" {
		t.Errorf("another workspace's app: %d %s", status, body)
	}
}

// TestValidation: bad input is a 400 in the documented body, naming each problem; nothing is
// written.
func TestValidation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	h := []string{"Authorization", "Bearer " + f.Key}
	base := "/api/v1/apps/" + f.App.String()
	cases := []struct {
		method, path, body string
		field              string
	}{
		{"POST", "/api/v1/apps", `{}`, "name"},
		{"POST", "/api/v1/apps", `{"name":"x","routingKeyBodyPath":"a..b"}`, "routingKeyBodyPath"},
		{"POST", "/api/v1/apps", `{"name":"x","extra":1}`, "extra"},
		{"PUT", base + "/event-types/bad%20name", `{}`, "path.eventTypeName"},
		{"PUT", base + "/event-types/invoice.paid", `{"schema":{"type":"nonsense"}}`, "schema"},
		{"PUT", base + "/event-types/invoice.paid", `{"schema":{"type":"object","required":["id"]},"examplePayload":{}}`, "examplePayload"},
		{"POST", base + "/recipients", `{"recipientId":"has space"}`, "recipientId"},
		{"POST", base + "/recipients/customer_123/endpoints", `{"url":"ftp://example.com"}`, "url"},
		{"POST", base + "/recipients/customer_123/endpoints", `{"url":"https://example.com","headers":{"webhook-id":"x"}}`, "headers.webhook-id"},
		{"POST", base + "/recipients/customer_123/endpoints", `{"url":"https://example.com","maxAttempts":0}`, "maxAttempts"},
		{"POST", base + "/recipients/customer_123/endpoints", `{"url":"https://example.com","secret":"whsec_c2hvcnQ="}`, "secret"},
		{"POST", base + "/messages", `{"recipientId":"customer_123","data":{}}`, "eventType"},
		{"POST", base + "/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":[1]}`, "data"},
		{"POST", base + "/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{},"messageId":"a.b"}`, "messageId"},
		{"POST", base + "/messages", `{"recipientId":"customer_123","eventType":"nope","data":{}}`, "eventType"},
		{"POST", base + "/messages", `{"eventType":"invoice.paid","data":{}}`, "recipientId"},
		{"GET", base + "/messages?limit=0", "", "query.limit"},
		{"GET", base + "/messages?cursor=zzz", "", "query.cursor"},
		{"GET", base + "/messages?status=lost", "", "query.status"},
		{"GET", "/api/v1/apps/not-a-uuid", "", "path.appId"},
	}
	for _, c := range cases {
		status, body := env.Do(t, c.method, c.path, c.body, h...)
		if status != 400 {
			t.Errorf("%s %s %s: %d %s, want 400", c.method, c.path, c.body, status, body)
			continue
		}
		e := servertest.Decode[errorBody](t, body)
		found := false
		for _, d := range e.Details {
			found = found || d.Field == c.field
		}
		if e.Code != "invalid_request" || !found {
			t.Errorf("%s %s %s: %s, want a detail for %s", c.method, c.path, c.body, body, c.field)
		}
	}
	res, _ := f.Client.ListMessagesWithResponse(ctx, f.App, nil)
	if len(res.JSON200.Data) != 0 {
		t.Errorf("a refused send stored a message: %s", res.Body)
	}
	// 413 past the send limit (256 KiB), with the documented body.
	big := `{"recipientId":"customer_123","eventType":"invoice.paid","data":{"blob":"` + strings.Repeat("a", 300<<10) + `"}}`
	if status, body := env.Do(t, "POST", base+"/messages", big, h...); status != 413 || servertest.Decode[errorBody](t, body).Code != "payload_too_large" {
		t.Errorf("large send: %d %s", status, body)
	}
	// Not found and conflict.
	for _, p := range []string{base + "/recipients/nobody", base + "/messages/msg_nope", base + "/event-types/nope", base + "/recipients/customer_123/endpoints/" + uuid.NewString()} {
		if status, body := env.Do(t, "GET", p, "", h...); status != 404 || servertest.Decode[errorBody](t, body).Code != "not_found" {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
	}
	// Endpoint writes name what is missing: the endpoint, or its recipient.
	for _, c := range []struct{ recipient, want string }{{"customer_123", "Endpoint not found"}, {"nobody", "Recipient nobody not found"}} {
		ep := base + "/recipients/" + c.recipient + "/endpoints/" + uuid.NewString()
		for _, r := range [][3]string{{"PATCH", ep, `{"status":"paused"}`}, {"DELETE", ep, ""}, {"GET", ep + "/secret", ""}, {"POST", ep + "/rotate-secret", `{}`}} {
			status, body := env.Do(t, r[0], r[1], r[2], h...)
			if e := servertest.Decode[errorBody](t, body); status != 404 || e.Code != "not_found" || e.Message != c.want {
				t.Errorf("%s %s: %d %s, want 404 %q", r[0], r[1], status, body, c.want)
			}
		}
	}
	if status, body := env.Do(t, "POST", base+"/messages", `{"recipientId":"nobody","eventType":"invoice.paid","data":{}}`, h...); status != 404 {
		t.Errorf("send to an unknown recipient: %d %s", status, body)
	}
	if status, body := env.Do(t, "POST", base+"/recipients", `{"recipientId":"customer_123"}`, h...); status != 409 || servertest.Decode[errorBody](t, body).Code != "conflict" {
		t.Errorf("duplicate recipient: %d %s", status, body)
	}
}

// TestEventTypes: PUT is idempotent, the schema is enforced on send, archiving refuses sends
// with a 400 that says so, and publishing restores.
func TestEventTypes(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env)
	schema := json.RawMessage(`{"type":"object","required":["amount"],"properties":{"amount":{"type":"integer","minimum":0}}}`)
	example := json.RawMessage(`{"amount":5}`)
	put := func() *webhooksclient.PublishEventTypeResponse {
		res, err := f.Client.PublishEventTypeWithResponse(ctx, f.App, "invoice.paid", webhooksclient.PublishEventTypeRequest{
			Description: ptr("An invoice was paid"), Schema: &schema, ExamplePayload: &example})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := put(); r.StatusCode() != 201 || string(r.JSON201.Schema.MustGet()) == "" {
		t.Fatalf("first PUT: %d %s", r.StatusCode(), r.Body)
	}
	if r := put(); r.StatusCode() != 200 {
		t.Fatalf("second PUT: %d %s", r.StatusCode(), r.Body)
	}
	h := []string{"Authorization", "Bearer " + f.Key}
	base := "/api/v1/apps/" + f.App.String()
	status, body := env.Do(t, "POST", base+"/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{"amount":-1}}`, h...)
	if e := servertest.Decode[errorBody](t, body); status != 400 || len(e.Details) != 1 || e.Details[0].Field != "data.amount" {
		t.Errorf("schema violation: %d %s", status, body)
	}
	if status, body := env.Do(t, "POST", base+"/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{"amount":3}}`, h...); status != 202 {
		t.Errorf("valid data: %d %s", status, body)
	}
	arch, _ := f.Client.ArchiveEventTypeWithResponse(ctx, f.App, "invoice.paid")
	if arch.JSON200 == nil || !arch.JSON200.Archived {
		t.Fatalf("archive: %s", arch.Body)
	}
	status, body = env.Do(t, "POST", base+"/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{"amount":3}}`, h...)
	if status != 400 || !strings.Contains(servertest.Decode[errorBody](t, body).Message, "archived") {
		t.Errorf("send of an archived type: %d %s", status, body)
	}
	list, _ := f.Client.ListEventTypesWithResponse(ctx, f.App, nil)
	all, _ := f.Client.ListEventTypesWithResponse(ctx, f.App, &webhooksclient.ListEventTypesParams{IncludeArchived: ptr(true)})
	if len(list.JSON200.Data) != 0 || len(all.JSON200.Data) != 1 {
		t.Errorf("lists: %s / %s", list.Body, all.Body)
	}
	if r := put(); r.StatusCode() != 200 || r.JSON200.Archived {
		t.Errorf("publish restores: %s", r.Body)
	}
}

// TestRouting: without recipientId the recipient comes from the app's routing header, else
// from its body path.
func TestRouting(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	f.AddRecipient(t, "customer_456")
	upd, _ := f.Client.UpdateAppWithResponse(ctx, f.App, webhooksclient.UpdateAppRequest{
		RoutingKeyBodyPath: nullable.NewNullableWithValue("customer.id"), RoutingKeyHeader: nullable.NewNullableWithValue("x-customer-id")})
	if upd.JSON200 == nil {
		t.Fatalf("update app: %s", upd.Body)
	}
	h := []string{"Authorization", "Bearer " + f.Key}
	base := "/api/v1/apps/" + f.App.String()
	for _, c := range []struct {
		body   string
		header []string
		want   string
	}{
		{`{"eventType":"invoice.paid","data":{"customer":{"id":"customer_456"}}}`, nil, "customer_456"},
		{`{"eventType":"invoice.paid","data":{"customer":{"id":"customer_456"}}}`, []string{"x-customer-id", "customer_123"}, "customer_123"},
		{`{"recipientId":"customer_456","eventType":"invoice.paid","data":{}}`, []string{"x-customer-id", "customer_123"}, "customer_456"},
	} {
		status, body := env.Do(t, "POST", base+"/messages", c.body, append(h, c.header...)...)
		if status != 202 || !strings.Contains(string(body), `"recipientId":"`+c.want+`"`) {
			t.Errorf("%s %v: %d %s, want recipient %s", c.body, c.header, status, body, c.want)
		}
	}
	// Clearing the routing keys makes recipientId required.
	upd, _ = f.Client.UpdateAppWithResponse(ctx, f.App, webhooksclient.UpdateAppRequest{
		RoutingKeyBodyPath: nullable.NewNullNullable[string](), RoutingKeyHeader: nullable.NewNullNullable[string]()})
	if upd.JSON200 == nil || !upd.JSON200.RoutingKeyBodyPath.IsNull() {
		t.Fatalf("clear routing keys: %s", upd.Body)
	}
	if status, body := env.Do(t, "POST", base+"/messages", `{"eventType":"invoice.paid","data":{"customer":{"id":"customer_456"}}}`, h...); status != 400 {
		t.Errorf("no routing key: %d %s", status, body)
	}
}

// TestPortalSession: the token works for its recipient's endpoints, messages and attempts and
// for nothing else, until it expires.
func TestPortalSession(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	f.AddRecipient(t, "customer_456")
	f.Send(t, "invoice.paid", `{}`)
	other := f.Send(t, "invoice.paid", `{}`, func(b *webhooksclient.SendMessageRequest) { b.RecipientId = ptr("customer_456") })
	ps, err := f.Client.CreatePortalSessionWithResponse(ctx, f.App, f.Recipient, webhooksclient.CreatePortalSessionRequest{ExpiresInSeconds: ptr(60)})
	if err != nil || ps.JSON201 == nil {
		t.Fatalf("portal session: %v %s", err, ps.Body)
	}
	token := ps.JSON201.Token
	h := []string{"Authorization", "Bearer " + token}
	base := "/api/v1/apps/" + f.App.String()
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"GET", base + "/recipients/customer_123", "", 200},
		{"GET", base + "/recipients/customer_123/endpoints", "", 200},
		{"POST", base + "/recipients/customer_123/endpoints", `{"url":"https://example.com/hook"}`, 201},
		{"GET", base + "/event-types", "", 200},
		{"GET", base + "/messages", "", 200},
		{"GET", base + "/messages/" + other.MessageId, "", 404},
		{"GET", base + "/messages/" + other.MessageId + "/attempts", "", 404},
		{"GET", base + "/messages?recipientId=customer_456", "", 403},
		{"GET", base + "/recipients/customer_456/endpoints", "", 403},
		{"POST", base + "/recipients/customer_456/endpoints", `{"url":"https://example.com/hook"}`, 403},
		{"GET", base + "/recipients", "", 403},
		{"POST", base + "/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{}}`, 403},
		{"POST", "/api/v1/apps", `{"name":"x"}`, 403},
		{"GET", "/api/v1/apps", "", 403},
		{"GET", "/api/dispatch-configs", "", 403},
		{"GET", "/admin/v1/workspaces", "", 401},
	}
	for _, c := range cases {
		status, body := env.Do(t, c.method, c.path, c.body, h...)
		if status != c.want {
			t.Errorf("portal %s %s: %d %s, want %d", c.method, c.path, status, body, c.want)
		}
	}
	_, body := env.Do(t, "GET", base+"/messages", "", h...)
	if strings.Contains(string(body), "customer_456") || !strings.Contains(string(body), "customer_123") {
		t.Errorf("portal message list: %s", body)
	}
	// Another app of the workspace: refused.
	app2, _ := f.Client.CreateAppWithResponse(ctx, webhooksclient.CreateAppRequest{Name: "Other"})
	if status, _ := env.Do(t, "GET", "/api/v1/apps/"+app2.JSON201.AppId.String()+"/event-types", "", h...); status != 403 {
		t.Errorf("portal on another app: %d", status)
	}
	// Expired.
	if _, err := env.DB.SQL().Exec(`UPDATE webhook_portal_sessions SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if status, body := env.Do(t, "GET", base+"/recipients/customer_123/endpoints", "", h...); status != 401 || !strings.Contains(string(body), "expired") {
		t.Errorf("expired portal session: %d %s", status, body)
	}
}

// TestPlanLimits: the Admin API sets a workspace's limits; past one, 429 with Retry-After and a
// body naming it.
func TestPlanLimits(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	res, err := env.Admin.SetWorkspaceLimitsWithResponse(ctx, f.Workspace, adminclient.WorkspaceLimits{
		MaxApps: nullable.NewNullableWithValue(1), MaxEndpoints: nullable.NewNullableWithValue(1), MessagesPerMinute: nullable.NewNullableWithValue(3)})
	if err != nil || res.JSON200 == nil || res.JSON200.MessagesPerMinute.MustGet() != 3 {
		t.Fatalf("set limits: %v %s", err, res.Body)
	}
	got, _ := env.Admin.GetWorkspaceLimitsWithResponse(ctx, f.Workspace)
	if got.JSON200 == nil || got.JSON200.MaxApps.MustGet() != 1 {
		t.Fatalf("get limits: %s", got.Body)
	}
	h := []string{"Authorization", "Bearer " + f.Key}
	base := "/api/v1/apps/" + f.App.String()
	check := func(what, method, path, body, limit string) {
		t.Helper()
		status, b := env.Do(t, method, path, body, h...)
		e := servertest.Decode[errorBody](t, b)
		if status != 429 || e.Code != "plan_limit_reached" || len(e.Details) != 1 || e.Details[0].Field != limit || !strings.Contains(e.Message, limit) {
			t.Errorf("%s: %d %s, want 429 naming %s", what, status, b, limit)
		}
	}
	check("second app", "POST", "/api/v1/apps", `{"name":"two"}`, "maxApps")
	if status, body := env.Do(t, "POST", base+"/recipients/customer_123/endpoints", `{"url":"https://example.com/a"}`, h...); status != 201 {
		t.Fatalf("first endpoint: %d %s", status, body)
	}
	check("second endpoint", "POST", base+"/recipients/customer_123/endpoints", `{"url":"https://example.com/b"}`, "maxEndpoints")
	for i := range 3 {
		if status, body := env.Do(t, "POST", base+"/messages", fmt.Sprintf(`{"recipientId":"customer_123","eventType":"invoice.paid","data":{"i":%d}}`, i), h...); status != 202 {
			// The minute may have just turned over; a fourth would then pass too, so skip.
			t.Skipf("send %d: %d %s", i, status, body)
		}
	}
	req, _ := env.HTTP.Do(mustRequest(t, "POST", env.URL+base+"/messages", `{"recipientId":"customer_123","eventType":"invoice.paid","data":{}}`, f.Key))
	if ra := req.Header.Get("Retry-After"); req.StatusCode != 429 || ra == "" || ra == "0" {
		t.Errorf("fourth message this minute: %d Retry-After %q", req.StatusCode, ra)
	}
	req.Body.Close()
	// Raising the limit lifts it at once.
	if _, err := env.Admin.SetWorkspaceLimitsWithResponse(ctx, f.Workspace, adminclient.WorkspaceLimits{}); err != nil {
		t.Fatal(err)
	}
	if status, body := env.Do(t, "POST", "/api/v1/apps", `{"name":"two"}`, h...); status != 201 {
		t.Errorf("after lifting the limits: %d %s", status, body)
	}
}

// TestListMessagesPagination pages newest first with filters.
func TestListMessagesPagination(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid", "invoice.voided")
	var ids []string
	for i := range 5 {
		et := "invoice.paid"
		if i%2 == 1 {
			et = "invoice.voided"
		}
		ids = append(ids, f.Send(t, et, `{}`).MessageId)
	}
	var seen []string
	var cursor *string
	for range 4 {
		res, err := f.Client.ListMessagesWithResponse(ctx, f.App, &webhooksclient.ListMessagesParams{Limit: ptr(2), Cursor: cursor})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %s", err, res.Body)
		}
		for _, m := range res.JSON200.Data {
			seen = append(seen, m.MessageId)
			if m.Status != webhooksclient.MessageStatusNoEndpoints || m.Deliveries != nil {
				t.Errorf("listed message: %+v", m)
			}
		}
		if cursor = res.JSON200.NextCursor; cursor == nil {
			break
		}
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("pages = %v, want %v", seen, want)
	}
	res, _ := f.Client.ListMessagesWithResponse(ctx, f.App, &webhooksclient.ListMessagesParams{EventType: ptr("invoice.voided")})
	if len(res.JSON200.Data) != 2 {
		t.Errorf("eventType filter: %s", res.Body)
	}
	future := time.Now().Add(time.Hour)
	res, _ = f.Client.ListMessagesWithResponse(ctx, f.App, &webhooksclient.ListMessagesParams{Since: &future})
	if len(res.JSON200.Data) != 0 {
		t.Errorf("since filter: %s", res.Body)
	}
	res, _ = f.Client.ListMessagesWithResponse(ctx, f.App, &webhooksclient.ListMessagesParams{Status: ptr(webhooksclient.MessageStatusPending)})
	if len(res.JSON200.Data) != 0 {
		t.Errorf("status filter: %s", res.Body)
	}
}

// TestCRUD covers the rest of the configuration lifecycle.
func TestCRUD(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	apps, _ := f.Client.ListAppsWithResponse(ctx, nil)
	if len(apps.JSON200.Data) != 1 || apps.JSON200.Data[0].AppId != f.App {
		t.Errorf("list apps: %s", apps.Body)
	}
	rec, _ := f.Client.UpdateRecipientWithResponse(ctx, f.App, f.Recipient, webhooksclient.UpdateRecipientRequest{
		Name: nullable.NewNullableWithValue("Acme"), Metadata: &webhooksclient.Metadata{"plan": "pro"}})
	if rec.JSON200 == nil || rec.JSON200.Name.MustGet() != "Acme" || rec.JSON200.Metadata["plan"] != "pro" {
		t.Errorf("update recipient: %s", rec.Body)
	}
	ep := f.Endpoint(t, "https://example.com/hook", func(b *webhooksclient.CreateEndpointRequest) { b.Description = ptr("prod") })
	if ep.Status != webhooksclient.EndpointStatusActive || ep.MaxAttempts != 8 || len(ep.EventTypes) != 0 || !ep.RateLimitPerMinute.IsNull() {
		t.Errorf("endpoint defaults: %+v", ep)
	}
	upd, _ := f.Client.UpdateEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId, webhooksclient.UpdateEndpointRequest{
		Url: ptr("https://example.com/v2"), EventTypes: &[]string{"invoice.paid"}, RateLimitPerMinute: nullable.NewNullableWithValue(10)})
	if upd.JSON200 == nil || upd.JSON200.Url != "https://example.com/v2" || upd.JSON200.EventTypes[0] != "invoice.paid" ||
		upd.JSON200.RateLimitPerMinute.MustGet() != 10 || upd.JSON200.Description != "prod" {
		t.Errorf("update endpoint: %s", upd.Body)
	}
	list, _ := f.Client.ListEndpointsWithResponse(ctx, f.App, f.Recipient)
	if len(list.JSON200.Data) != 1 {
		t.Errorf("list endpoints: %s", list.Body)
	}
	if del, _ := f.Client.DeleteEndpointWithResponse(ctx, f.App, f.Recipient, ep.EndpointId); del.StatusCode() != 204 {
		t.Errorf("delete endpoint: %d", del.StatusCode())
	}
	if del, _ := f.Client.DeleteRecipientWithResponse(ctx, f.App, f.Recipient); del.StatusCode() != 204 {
		t.Errorf("delete recipient: %d", del.StatusCode())
	}
	if del, _ := f.Client.DeleteAppWithResponse(ctx, f.App); del.StatusCode() != 204 {
		t.Errorf("delete app: %d", del.StatusCode())
	}
	if got, _ := f.Client.GetAppWithResponse(ctx, f.App); got.StatusCode() != 404 {
		t.Errorf("deleted app: %d", got.StatusCode())
	}
}

// TestRecipientIDWithEscapedCharacters: a recipient id the spec allows with characters a
// client escapes in a path ("|") is found by its path operations, as created.
func TestRecipientIDWithEscapedCharacters(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env)
	const id = "tenant|eu:1@x"
	f.AddRecipient(t, id)
	got, err := f.Client.GetRecipientWithResponse(ctx, f.App, id)
	if err != nil || got.JSON200 == nil || got.JSON200.RecipientId != id {
		t.Fatalf("get recipient %q: %v %d %s", id, err, got.StatusCode(), got.Body)
	}
	res, err := f.Client.CreateEndpointWithResponse(ctx, f.App, id, webhooksclient.CreateEndpointRequest{Url: "https://example.com/hook"})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create endpoint for %q: %v %d %s", id, err, res.StatusCode(), res.Body)
	}
	// An escaped "/" would make the spec's router and Echo's see different operations (here
	// deleteEndpoint and deleteRecipient): it is a 404, and nothing is deleted.
	status, body := f.Env.Do(t, http.MethodDelete, "/api/v1/apps/"+f.App.String()+"/recipients/x%2Fendpoints%2F"+res.JSON201.EndpointId.String(),
		"", "Authorization", "Bearer "+f.Key)
	if status != http.StatusNotFound {
		t.Errorf("DELETE with an escaped slash: %d %s, want 404", status, body)
	}
	if got, _ := f.Client.GetRecipientWithResponse(ctx, f.App, id); got.StatusCode() != http.StatusOK {
		t.Errorf("recipient after the escaped-slash request: %d", got.StatusCode())
	}
}

// TestPublishRefusesCyclicSchemas: a schema that leads back to itself on the same data
// ({"$ref":"#"} published with 201, and then refused every message of its type) is a 400 naming
// schema at publish, and nothing is stored; a schema recursing into parts of the data (a tree)
// publishes and validates.
func TestPublishRefusesCyclicSchemas(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env)
	base := "/api/v1/apps/" + f.App.String() + "/event-types/"
	h := []string{"Authorization", "Bearer " + f.Key}
	for i, schema := range []string{
		`{"$ref":"#"}`,
		`{"allOf":[{"$ref":"#"}]}`,
		`{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"$ref":"#/$defs/y"},"y":{"anyOf":[{"$ref":"#/$defs/x"}]}}}`,
		`{"$defs":{"x":{"not":{"$ref":"#"}}},"if":{"$ref":"#/$defs/x"}}`,
	} {
		name := fmt.Sprintf("cyclic.%d", i)
		status, body := env.Do(t, "PUT", base+name, `{"schema":`+schema+`}`, h...)
		e := servertest.Decode[errorBody](t, body)
		if status != 400 || len(e.Details) != 1 || e.Details[0].Field != "schema" || !strings.Contains(e.Details[0].Message, "refers back") {
			t.Errorf("%s: %d %s", schema, status, body)
		}
		if status, _ := env.Do(t, "GET", base+name, "", h...); status != 404 {
			t.Errorf("%s: stored (%d)", schema, status)
		}
	}
	tree := `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}`
	if status, body := env.Do(t, "PUT", base+"tree", `{"schema":`+tree+`}`, h...); status != 201 {
		t.Fatalf("a tree: %d %s", status, body)
	}
	if _, err := f.Client.CreateEndpointWithResponse(ctx, f.App, f.Recipient, webhooksclient.CreateEndpointRequest{Url: "https://example.com/in"}); err != nil {
		t.Fatal(err)
	}
	f.Send(t, "tree", `{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}`)
	status, body := env.Do(t, "POST", "/api/v1/apps/"+f.App.String()+"/messages",
		`{"eventType":"tree","recipientId":"customer_123","data":{"children":[{"name":1}]}}`, h...)
	if status != 400 || !strings.Contains(string(body), "data.children.0.name") {
		t.Errorf("a tree's violation: %d %s", status, body)
	}
}
