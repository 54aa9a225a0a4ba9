package webhooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestConcurrentSendsAnswerEachTheirOwn: sends arriving together are written together (see
// store's batcher), and each is still answered with its own message, recipient, deliveries
// and outcome: an unknown recipient is a 404, a repeated messageId is the first message, and
// each endpoint gets exactly its recipient's messages.
func TestConcurrentSendsAnswerEachTheirOwn(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := servertest.NewWebhookApp(t, env, "order.created")
	recv1, recv2 := servertest.NewReceiver(t), servertest.NewReceiver(t)
	ep1 := f.Endpoint(t, recv1.URL)
	f.AddRecipient(t, "customer_2")
	res, err := f.Client.CreateEndpointWithResponse(ctx, f.App, "customer_2", webhooksclient.CreateEndpointRequest{Url: recv2.URL})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create endpoint: %v %s", err, res.Body)
	}
	ep2 := *res.JSON201

	const n = 64
	type answer struct {
		status int
		msg    *webhooksclient.Message
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rid := []string{"nobody", f.Recipient, f.Recipient, "customer_2"}[i%4]
			body := webhooksclient.SendMessageRequest{RecipientId: &rid, EventType: "order.created", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
			if i%4 == 1 {
				body.MessageId = ptr("evt_same")
			}
			res, err := f.Client.SendMessageWithResponse(ctx, f.App, body)
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			answers[i] = answer{res.StatusCode(), res.JSON202}
		}()
	}
	wg.Wait()
	var same string
	distinct := map[string]bool{}
	for i, a := range answers {
		switch i % 4 {
		case 0:
			if a.status != http.StatusNotFound {
				t.Errorf("send %d to an unknown recipient: %d, want 404", i, a.status)
			}
			continue
		case 1:
			if a.status != http.StatusAccepted || a.msg.MessageId != "evt_same" {
				t.Fatalf("send %d with a repeated messageId: %d %+v", i, a.status, a.msg)
			}
			if same == "" {
				same = string(a.msg.Data)
			} else if string(a.msg.Data) != same {
				t.Errorf("send %d with a repeated messageId answered %s, another %s", i, a.msg.Data, same)
			}
			continue
		}
		if a.status != http.StatusAccepted {
			t.Fatalf("send %d: %d", i, a.status)
		}
		wantRecipient, wantEndpoint := f.Recipient, ep1.EndpointId
		if i%4 == 3 {
			wantRecipient, wantEndpoint = "customer_2", ep2.EndpointId
		}
		if got := string(a.msg.Data); got != fmt.Sprintf(`{"n":%d}`, i) || a.msg.RecipientId != wantRecipient || distinct[a.msg.MessageId] {
			t.Errorf("send %d answered data %s, recipient %s, id %s (seen: %v)", i, got, a.msg.RecipientId, a.msg.MessageId, distinct[a.msg.MessageId])
		}
		distinct[a.msg.MessageId] = true
		if a.msg.Deliveries == nil || len(*a.msg.Deliveries) != 1 || (*a.msg.Deliveries)[0].EndpointId != wantEndpoint {
			t.Errorf("send %d answered deliveries %+v, want one to %s", i, a.msg.Deliveries, wantEndpoint)
		}
		if got := f.Message(t, a.msg.MessageId); string(got.Data) != string(a.msg.Data) || got.RecipientId != wantRecipient {
			t.Errorf("message %s reads back as %s for %s", a.msg.MessageId, got.Data, got.RecipientId)
		}
	}
	// Each receiver gets its recipient's messages, each once: 16 + the one evt_same, and 16.
	recv1.Wait(t, n/4+1, 10*time.Second)
	recv2.Wait(t, n/4, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // and no more come
	if got1, got2 := recv1.Requests(), recv2.Requests(); len(got1) != n/4+1 || len(got2) != n/4 {
		t.Errorf("receivers got %d and %d requests, want %d and %d", len(got1), len(got2), n/4+1, n/4)
	}
}

// TestSendInvalidUTF8: data whose strings carry bytes that are not UTF-8 is accepted with
// U+FFFD in their place (as JSON decoders read them), and the answer, the stored message and
// the delivered body agree byte for byte.
func TestSendInvalidUTF8(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := servertest.NewWebhookApp(t, env, "order.created")
	recv := servertest.NewReceiver(t)
	f.Endpoint(t, recv.URL)
	status, body := env.Do(t, http.MethodPost, "/api/v1/apps/"+f.App.String()+"/messages",
		`{"recipientId":"customer_123","eventType":"order.created","messageId":"evt_bad","data":{"name":"caf`+"\xe9"+`"}}`,
		"Authorization", "Bearer "+f.Key)
	if status != http.StatusAccepted {
		t.Fatalf("send: %d %s", status, body)
	}
	var answered webhooksclient.Message
	if err := json.Unmarshal(body, &answered); err != nil {
		t.Fatal(err)
	}
	want := `{"name":"caf` + "\uFFFD" + `"}`
	if string(answered.Data) != want {
		t.Errorf("answered data %s, want %s", answered.Data, want)
	}
	if got := f.Message(t, "evt_bad"); string(got.Data) != want {
		t.Errorf("stored data %s, want %s", got.Data, want)
	}
	got := recv.Wait(t, 1, 10*time.Second)
	var delivered struct{ Data json.RawMessage }
	if err := json.Unmarshal(got[0].Body, &delivered); err != nil || string(delivered.Data) != want {
		t.Errorf("delivered %s (%v), want data %s", got[0].Body, err, want)
	}
}

// TestReplayToTheNilEndpoint: a replay to endpoint 00000000-… is a 404 like any unknown
// endpoint, not a replay to every endpoint.
func TestReplayToTheNilEndpoint(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := servertest.NewWebhookApp(t, env, "order.created")
	f.Endpoint(t, "https://hooks.example.com/a")
	m := f.Send(t, "order.created", `{"id":1}`)
	status, body := env.Do(t, http.MethodPost, "/api/v1/apps/"+f.App.String()+"/messages/"+m.MessageId+"/replay",
		`{"endpointId":"00000000-0000-0000-0000-000000000000"}`, "Authorization", "Bearer "+f.Key)
	if status != http.StatusNotFound {
		t.Fatalf("replay to the nil endpoint: %d %s", status, body)
	}
	if n := env.Count(t, "river_job WHERE kind = 'webhook_delivery'"); n != 1 {
		t.Errorf("%d delivery jobs, want the send's only", n)
	}
}
