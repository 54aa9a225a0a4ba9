package webhooks_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/signature"
)

// TestSeed001Workflow runs seed 001's workflow list over HTTP with the documented bodies:
// create an app and an event type, create a portal session, send a message, list messages and
// attempts while the destination fails, and replay after it comes back.
func TestSeed001Workflow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	_, key := env.Workspace(t, "*")
	h := []string{"Authorization", "Bearer " + key}
	recv := servertest.NewReceiver(t)
	var down atomic.Bool
	down.Store(true)
	recv.SetRespond(func(_ int, w http.ResponseWriter) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("maintenance"))
			return
		}
		w.WriteHeader(http.StatusOK)
	})

	// Create apps and event types during product setup (the documented bodies, verbatim).
	status, body := env.Do(t, "POST", "/api/v1/apps", `{"name":"Billing webhooks","routingKeyBodyPath":"customer.id","routingKeyHeader":"x-customer-id"}`, h...)
	if status != 201 {
		t.Fatalf("create app: %d %s", status, body)
	}
	var app struct {
		AppID              string `json:"appId"`
		Name               string `json:"name"`
		RoutingKeyBodyPath string `json:"routingKeyBodyPath"`
		RoutingKeyHeader   string `json:"routingKeyHeader"`
	}
	_ = json.Unmarshal(body, &app)
	if app.AppID == "" || app.Name != "Billing webhooks" || app.RoutingKeyBodyPath != "customer.id" || app.RoutingKeyHeader != "x-customer-id" {
		t.Fatalf("create app: %s", body)
	}
	base := "/api/v1/apps/" + app.AppID
	status, body = env.Do(t, "PUT", base+"/event-types/invoice.paid", `{"description":"An invoice was paid","examplePayload":{"invoiceId":"inv_123","customer":{"id":"customer_123"}}}`, h...)
	if status != 201 || !strings.Contains(string(body), `"name":"invoice.paid"`) {
		t.Fatalf("publish event type: %d %s\n%s", status, body, env.Logs.String())
	}
	status, body = env.Do(t, "PUT", base+"/event-types/invoice.paid", `{"description":"An invoice was paid in full"}`, h...)
	if status != 200 || !strings.Contains(string(body), `"description":"An invoice was paid in full"`) {
		t.Fatalf("publish again: %d %s", status, body)
	}

	// A customer: the recipient, and its endpoint, created through a portal session.
	if status, body = env.Do(t, "POST", base+"/recipients", `{"recipientId":"customer_123","name":"Acme"}`, h...); status != 201 {
		t.Fatalf("create recipient: %d %s", status, body)
	}
	status, body = env.Do(t, "POST", base+"/recipients/customer_123/portal-sessions", "", h...)
	var session struct {
		URL, Token string
		ExpiresAt  time.Time
	}
	_ = json.Unmarshal(body, &session)
	if status != 201 || !strings.HasPrefix(session.Token, "sb_portal_") || !strings.Contains(session.URL, session.Token) ||
		time.Until(session.ExpiresAt) < 50*time.Minute || time.Until(session.ExpiresAt) > 61*time.Minute {
		t.Fatalf("portal session: %d %s", status, body)
	}
	portal := []string{"Authorization", "Bearer " + session.Token}
	status, body = env.Do(t, "POST", base+"/recipients/customer_123/endpoints", `{"url":"`+recv.URL+`/hooks","eventTypes":["invoice.paid"],"description":"Production"}`, portal...)
	if status != 201 {
		t.Fatalf("create endpoint with the portal session: %d %s", status, body)
	}
	var ep struct {
		EndpointID string `json:"endpointId"`
	}
	_ = json.Unmarshal(body, &ep)
	status, body = env.Do(t, "GET", base+"/recipients/customer_123/endpoints/"+ep.EndpointID+"/secret", "", portal...)
	var secret struct{ Key string }
	_ = json.Unmarshal(body, &secret)
	if status != 200 || !strings.HasPrefix(secret.Key, "whsec_") {
		t.Fatalf("secret: %d %s", status, body)
	}

	// Send a message when a customer-facing event happens: routed by the body path.
	status, body = env.Do(t, "POST", base+"/messages", `{"eventType":"invoice.paid","data":{"invoiceId":"inv_123","customer":{"id":"customer_123"},"amount":4900}}`, h...)
	var msg struct {
		MessageID   string `json:"messageId"`
		RecipientID string `json:"recipientId"`
		Status      string `json:"status"`
	}
	_ = json.Unmarshal(body, &msg)
	if status != 202 || msg.RecipientID != "customer_123" || msg.Status != "pending" {
		t.Fatalf("send: %d %s", status, body)
	}

	// The destination is down: two scheduled attempts fail (maxAttempts 8 would go on; the
	// test's schedule is 200 ms), each signed for the endpoint.
	got := recv.Wait(t, 2, 10*time.Second)
	for _, r := range got {
		if r.Header.Get("webhook-id") != msg.MessageID {
			t.Errorf("webhook-id = %q, want %q", r.Header.Get("webhook-id"), msg.MessageID)
		}
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		want, _ := signature.Sign(secret.Key, msg.MessageID, ts, r.Body)
		if r.Header.Get("webhook-signature") != want {
			t.Errorf("webhook-signature = %q, want %q", r.Header.Get("webhook-signature"), want)
		}
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(r.Body, &env)
		if env.Type != "invoice.paid" || !strings.Contains(string(env.Data), `"amount":4900`) {
			t.Errorf("body = %s", r.Body)
		}
	}

	// List messages and attempts when debugging a delivery issue.
	status, body = env.Do(t, "GET", base+"/messages?recipientId=customer_123&eventType=invoice.paid", "", h...)
	if status != 200 || !strings.Contains(string(body), msg.MessageID) {
		t.Fatalf("list messages: %d %s", status, body)
	}
	var attempts struct {
		Data []struct {
			AttemptNumber      int    `json:"attemptNumber"`
			Trigger            string `json:"trigger"`
			Status             string `json:"status"`
			ResponseStatusCode int    `json:"responseStatusCode"`
			ResponseBody       string `json:"responseBody"`
			Error              string `json:"error"`
		} `json:"data"`
	}
	servertest.Eventually(t, 5*time.Second, "two recorded attempts", func() bool {
		status, body = env.Do(t, "GET", base+"/messages/"+msg.MessageID+"/attempts", "", h...)
		_ = json.Unmarshal(body, &attempts)
		return status == 200 && len(attempts.Data) >= 2
	})
	last := attempts.Data[len(attempts.Data)-1]
	if last.AttemptNumber != 1 || last.Trigger != "scheduled" || last.Status != "failed" || last.ResponseStatusCode != 503 ||
		last.ResponseBody != "maintenance" || !strings.Contains(last.Error, "503") {
		t.Errorf("first attempt: %+v", last)
	}

	// Pause the endpoint so the schedule stops, then the destination comes back: replay.
	if status, body = env.Do(t, "PATCH", base+"/recipients/customer_123/endpoints/"+ep.EndpointID, `{"maxAttempts":1}`, h...); status != 200 {
		t.Fatalf("patch: %d %s", status, body)
	}
	servertest.Eventually(t, 10*time.Second, "the delivery to fail for good", func() bool {
		_, b := env.Do(t, "GET", base+"/messages/"+msg.MessageID, "", h...)
		return strings.Contains(string(b), `"status":"failed"`)
	})
	down.Store(false)
	// Counted before the replay is sent: its attempt may arrive before the 202 is read.
	before := len(recv.Requests())
	status, body = env.Do(t, "POST", base+"/messages/"+msg.MessageID+"/replay", "", h...)
	if status != 202 || !strings.Contains(string(body), `"endpoints":1`) {
		t.Fatalf("replay: %d %s", status, body)
	}
	recv.Wait(t, before+1, 10*time.Second)
	servertest.Eventually(t, 10*time.Second, "the message to be delivered", func() bool {
		_, b := env.Do(t, "GET", base+"/messages/"+msg.MessageID, "", h...)
		return strings.Contains(string(b), `"status":"delivered"`)
	})
	status, body = env.Do(t, "GET", base+"/messages/"+msg.MessageID+"/attempts", "", h...)
	_ = json.Unmarshal(body, &attempts)
	if first := attempts.Data[0]; first.Trigger != "replay" || first.Status != "succeeded" || first.ResponseStatusCode != 200 {
		t.Errorf("replay attempt: %+v", first)
	}
}
