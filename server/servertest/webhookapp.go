package servertest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
)

// WebhookApp is a Webhooks API app made for a test: a workspace with a key holding every
// permission, an app, its published event types and one recipient.
type WebhookApp struct {
	Env       *Env
	Client    *webhooksclient.ClientWithResponses
	Workspace uuid.UUID
	Key       string
	App       uuid.UUID
	Recipient string
}

// NewWebhookApp makes a WebhookApp whose recipient is customer_123, publishing eventTypes.
func NewWebhookApp(t testing.TB, env *Env, eventTypes ...string) *WebhookApp {
	t.Helper()
	return NewWebhookAppFor(t, env, "customer_123", eventTypes...)
}

// NewWebhookAppFor makes a WebhookApp whose recipient is recipientID, publishing eventTypes.
func NewWebhookAppFor(t testing.TB, env *Env, recipientID string, eventTypes ...string) *WebhookApp {
	t.Helper()
	ctx := context.Background()
	ws, key := env.Workspace(t, "*")
	c := env.Webhooks(t, key)
	app, err := c.CreateAppWithResponse(ctx, webhooksclient.CreateAppRequest{Name: "Billing webhooks"})
	if err != nil || app.JSON201 == nil {
		t.Fatalf("create app: %v %s", err, app.Body)
	}
	f := &WebhookApp{Env: env, Client: c, Workspace: ws, Key: key, App: app.JSON201.AppId, Recipient: recipientID}
	for _, et := range eventTypes {
		res, err := c.PublishEventTypeWithResponse(ctx, f.App, et, webhooksclient.PublishEventTypeRequest{})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("publish %s: %v %s", et, err, res.Body)
		}
	}
	f.AddRecipient(t, recipientID)
	return f
}

// AddRecipient creates a recipient id of the app; it fails the test unless the answer is 201.
func (f *WebhookApp) AddRecipient(t testing.TB, id string) {
	t.Helper()
	r, err := f.Client.CreateRecipientWithResponse(context.Background(), f.App, webhooksclient.CreateRecipientRequest{RecipientId: id})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create recipient %s: %v %s", id, err, r.Body)
	}
}

// Endpoint creates an endpoint of the recipient at url, edited by edit.
func (f *WebhookApp) Endpoint(t testing.TB, url string, edit ...func(*webhooksclient.CreateEndpointRequest)) webhooksclient.Endpoint {
	t.Helper()
	body := webhooksclient.CreateEndpointRequest{Url: url}
	for _, e := range edit {
		e(&body)
	}
	res, err := f.Client.CreateEndpointWithResponse(context.Background(), f.App, f.Recipient, body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create endpoint: %v %s", err, res.Body)
	}
	return *res.JSON201
}

// Send sends a message of eventType with data to the recipient; it fails the test unless the
// answer is 202.
func (f *WebhookApp) Send(t testing.TB, eventType string, data string, edit ...func(*webhooksclient.SendMessageRequest)) webhooksclient.Message {
	t.Helper()
	rid := f.Recipient
	body := webhooksclient.SendMessageRequest{RecipientId: &rid, EventType: eventType, Data: json.RawMessage(data)}
	for _, e := range edit {
		e(&body)
	}
	res, err := f.Client.SendMessageWithResponse(context.Background(), f.App, body)
	if err != nil || res.JSON202 == nil {
		t.Fatalf("send: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON202
}

// Message gets a message by id.
func (f *WebhookApp) Message(t testing.TB, id string) webhooksclient.Message {
	t.Helper()
	res, err := f.Client.GetMessageWithResponse(context.Background(), f.App, id)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("get message: %v %s", err, res.Body)
	}
	return *res.JSON200
}

// Attempts lists a message's attempts, newest first.
func (f *WebhookApp) Attempts(t testing.TB, id string) []webhooksclient.Attempt {
	t.Helper()
	res, err := f.Client.ListMessageAttemptsWithResponse(context.Background(), f.App, id, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list attempts: %v %s", err, res.Body)
	}
	return res.JSON200.Data
}

// WaitStatus waits up to within for message id to reach status, or fails the test.
func (f *WebhookApp) WaitStatus(t testing.TB, id string, status webhooksclient.MessageStatus, within time.Duration) {
	t.Helper()
	Eventually(t, within, "message "+id+" "+string(status), func() bool { return f.Message(t, id).Status == status })
}
