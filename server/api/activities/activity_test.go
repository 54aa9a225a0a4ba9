package activities_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/api/activities"
	"github.com/switchboard-dev/switchboard/server/servertest"
	"github.com/switchboard-dev/switchboard/server/worker"
)

// seedCommerce creates a commerce with the id the seed's example uses, so its request works
// verbatim.
const seedCommerceID = "880e8400-e29b-41d4-a716-446655440000"

func newCommerce(t *testing.T, env *servertest.Env, ws uuid.UUID, id string, name string) {
	t.Helper()
	if _, err := env.DB.SQL().Exec(`INSERT INTO commerces (id, workspace_id, name, external_id) VALUES ($1, $2, $3, $4)`,
		id, ws, name, "ext-"+id[:8]); err != nil {
		t.Fatal(err)
	}
}

// commerceWorkspace creates a workspace with a key holding every permission, and in it the
// commerce seedCommerceID named name; it returns the workspace and the key.
func commerceWorkspace(t *testing.T, env *servertest.Env, name string) (uuid.UUID, string) {
	t.Helper()
	ws, key := env.Workspace(t, "*")
	newCommerce(t, env, ws, seedCommerceID, name)
	return ws, key
}

func activityBody(key, scheduledAt string) string {
	return `{"type":"MESSAGE","reason":"Monthly promotion","channel":"WHATSAPP","commerce_id":"` + seedCommerceID +
		`","idempotency_key":"` + key + `","scheduled_at":"` + scheduledAt + `","attribute_keys":["commerce_info"]}`
}

// TestSeed003Verbatim sends seed 003's request as written and checks the documented response.
func TestSeed003Verbatim(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := commerceWorkspace(t, env, "Almacen Don Pepe")
	h := []string{"Authorization", "Bearer " + key, "x-tenant-id", ws.String()}
	if status, body := env.Do(t, "POST", "/api/activity-reasons", `{"code":"monthly_promotion","label":"Promocion Mensual"}`, h...); status != 201 {
		t.Fatalf("reason: %d %s", status, body)
	}
	status, body := env.Do(t, "POST", "/api/activities", `{
"type": "MESSAGE",
"reason": "Monthly promotion",
"channel": "WHATSAPP",
"commerce_id": "880e8400-e29b-41d4-a716-446655440000",
"idempotency_key": "msg-2025-01-15-001",
"scheduled_at": "2025-01-16T09:00:00.000Z",
"attribute_keys": ["commerce_info"]
}`, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	want := map[string]string{
		"type": "MESSAGE", "reason": "map[code:monthly_promotion label:Promocion Mensual]", "channel": "WHATSAPP",
		"status": "READY", "userStatus": "<nil>", "idempotencyKey": "msg-2025-01-15-001", "scheduledAt": "2025-01-16T09:00:00.000Z",
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
	if ca, _ := got["commerceAssignment"].(map[string]any); ca["commerceId"] != seedCommerceID {
		t.Errorf("commerceAssignment = %v", got["commerceAssignment"])
	}
	status, body = env.Do(t, "POST", "/api/activities", activityBody("msg-2025-01-15-001", "2025-01-16T09:00:00.000Z"), h...)
	if status != 409 || servertest.Decode[errorBody](t, body).Message != "Idempotency key already exists" {
		t.Fatalf("repeat: %d %s", status, body)
	}
	other := strings.Replace(activityBody("k2", "2025-01-16T09:00:00.000Z"), seedCommerceID, uuid.NewString(), 1)
	if status, body = env.Do(t, "POST", "/api/activities", other, h...); status != 404 || servertest.Decode[errorBody](t, body).Message != "Commerce not found" {
		t.Fatalf("unknown commerce: %d %s", status, body)
	}
	if status, body = env.Do(t, "POST", "/api/activities", `{"type":"CALL"}`, h...); status != 400 || len(servertest.Decode[errorBody](t, body).Errors) < 5 {
		t.Fatalf("invalid: %d %s", status, body)
	}
}

func TestReasonsAndUserStatuses(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := commerceWorkspace(t, env, "C")
	c := env.Activities(t, key)
	if res, _ := c.CreateUserRetentionStatusWithResponse(ctx, nil, activitiesclient.CreateCatalogEntryRequest{Code: "at_risk", Label: "En Riesgo"}); res.JSON201 == nil {
		t.Fatalf("status: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := c.CreateUserRetentionStatusWithResponse(ctx, nil, activitiesclient.CreateCatalogEntryRequest{Code: "at_risk", Label: "x"}); res.JSON409 == nil {
		t.Fatalf("duplicate status: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := c.CreateActivityReasonWithResponse(ctx, nil, activitiesclient.CreateCatalogEntryRequest{Code: "winback", Label: "Recuperación de clientes"}); res.JSON201 == nil {
		t.Fatalf("reason: %d %s", res.StatusCode(), res.Body)
	}
	mk := func(key, reason string, userStatus *string) *activitiesclient.CreateActivityResponse {
		res, err := c.CreateActivityWithResponse(ctx, nil, activitiesclient.CreateActivityRequest{
			Type: activitiesclient.TASK, Reason: reason, Channel: activitiesclient.ChannelSALESMAN,
			CommerceId: uuid.MustParse(seedCommerceID), IdempotencyKey: key, ScheduledAt: time.Now().Add(time.Hour), UserStatus: userStatus})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	atRisk, unknown := "at_risk", "vip"
	cases := []struct {
		reason, code, label string
	}{
		{"recuperación de CLIENTES", "winback", "Recuperación de clientes"},  // by label
		{"Winback", "winback", "Recuperación de clientes"},                   // by code
		{"Visita de cortesía!", "visita_de_cortesia", "Visita de cortesía!"}, // not in the catalog
	}
	for i, tc := range cases {
		res := mk(fmt.Sprint("r", i), tc.reason, &atRisk)
		if res.JSON201 == nil || res.JSON201.Reason.Code != tc.code || res.JSON201.Reason.Label != tc.label {
			t.Errorf("reason %q: %d %s", tc.reason, res.StatusCode(), res.Body)
			continue
		}
		if us := res.JSON201.UserStatus.MustGet(); us.Code != "at_risk" || us.Label != "En Riesgo" {
			t.Errorf("userStatus = %+v", us)
		}
	}
	if res := mk("bad-status", "x", &unknown); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "vip") {
		t.Fatalf("unknown user_status: %d %s", res.StatusCode(), res.Body)
	}
	if n := env.Count(t, `activities WHERE idempotency_key = 'bad-status'`); n != 0 {
		t.Fatal("a refused activity was written")
	}
	if got := activities.Slug("  Promoción  Mensual -- 2025 "); got != "promocion_mensual_2025" {
		t.Errorf("Slug = %q", got)
	}
}

// TestIdempotencyRace sends the same create from many goroutines at once: exactly one 201.
func TestIdempotencyRace(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := commerceWorkspace(t, env, "C")
	var created, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := env.Do(t, "POST", "/api/activities", activityBody("same-key", "2030-01-01T00:00:00Z"), "x-api-key", key)
			switch status {
			case 201:
				created.Add(1)
			case 409:
				conflicts.Add(1)
			default:
				t.Errorf("status %d %s", status, body)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != 15 {
		t.Fatalf("created %d, conflicts %d", created.Load(), conflicts.Load())
	}
	if jobs := env.Count(t, `river_job WHERE kind = 'dispatch_activity'`); jobs != 1 {
		t.Fatalf("%d dispatch jobs, want 1", jobs)
	}
}

func TestListActivitiesAndCancel(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := commerceWorkspace(t, env, "Almacen Norte")
	c := env.Activities(t, key)
	var ids []uuid.UUID
	for i := range 5 {
		typ := activitiesclient.MESSAGE
		if i%2 == 0 {
			typ = activitiesclient.TASK
		}
		res, err := c.CreateActivityWithResponse(ctx, nil, activitiesclient.CreateActivityRequest{Type: typ, Reason: "r",
			Channel: activitiesclient.ChannelEMAIL, CommerceId: uuid.MustParse(seedCommerceID), IdempotencyKey: fmt.Sprint("k", i),
			ScheduledAt: time.Date(2031, 1, 1+i, 0, 0, 0, 0, time.UTC)})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("create: %v %s", err, res.Body)
		}
		ids = append(ids, res.JSON201.Id)
	}
	limit, page := 2, 2
	task := activitiesclient.TASK
	list, err := c.ListActivitiesWithResponse(ctx, &activitiesclient.ListActivitiesParams{Limit: &limit, Page: &page})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 2 || list.JSON200.Meta.Total != 5 || list.JSON200.Meta.TotalPages != 3 || list.JSON200.Data[0].Id != ids[2] {
		t.Fatalf("page 2: %v %s", err, list.Body)
	}
	from := time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)
	search := "norte"
	list, _ = c.ListActivitiesWithResponse(ctx, &activitiesclient.ListActivitiesParams{Type: &task, ScheduledFrom: &from, Search: &search})
	if list.JSON200 == nil || list.JSON200.Meta.Total != 2 {
		t.Fatalf("filters: %s", list.Body)
	}

	res, err := c.CancelActivityWithResponse(ctx, ids[0], nil)
	if err != nil || res.JSON200 == nil || res.JSON200.Status != activitiesclient.ActivityStatusCANCELED {
		t.Fatalf("cancel: %v %s", err, res.Body)
	}
	again, _ := c.CancelActivityWithResponse(ctx, ids[0], nil)
	if again.JSON400 == nil || !strings.Contains(again.JSON400.Message, "CANCELED") {
		t.Fatalf("cancel twice: %d %s", again.StatusCode(), again.Body)
	}
	events, err := c.ListActivityStatusEventsWithResponse(ctx, ids[0], nil)
	if err != nil || events.JSON200 == nil || len(*events.JSON200) != 2 {
		t.Fatalf("events: %v %s", err, events.Body)
	}
	ev := (*events.JSON200)[1]
	if ev.EventType != activitiesclient.ActivityStatusEventEventTypeCANCELED || ev.FromStatus.MustGet() != string(activitiesclient.ActivityStatusREADY) || ev.ToStatus != activitiesclient.ActivityStatusCANCELED {
		t.Errorf("cancel event = %+v", ev)
	}
	// The status machine holds below the API too: no edge leaves CANCELED.
	if _, err := env.DB.SQL().Exec(`UPDATE activities SET status = 'DISPATCHED' WHERE id = $1`, ids[0]); err == nil || !strings.Contains(err.Error(), "cannot move from CANCELED to DISPATCHED") {
		t.Fatalf("forbidden edge: %v", err)
	}
	viewer := env.Key(t, ws, "VIEW_ACTIVITIES")
	if status, _ := env.Do(t, "PATCH", "/api/activities/"+ids[1].String()+"/cancel", "", "x-api-key", viewer); status != 403 {
		t.Fatalf("cancel without CANCEL_ACTIVITY: %d", status)
	}
	_, strangerKey := env.Workspace(t, "*")
	stranger := env.Activities(t, strangerKey)
	if res, _ := stranger.GetActivityWithResponse(ctx, ids[1], nil); res.JSON404 == nil {
		t.Fatalf("another workspace's activity: %d", res.StatusCode())
	}
	if res, _ := stranger.CancelActivityWithResponse(ctx, ids[1], nil); res.JSON404 == nil {
		t.Fatalf("canceling another workspace's activity: %d", res.StatusCode())
	}
}

// receiver is a local HTTP server acting as a YOM provider.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int // activity id → times received
	keys     []string
	fail     atomic.Int32 // answer 503 to this many requests first
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{received: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.URL.Path != "/activities" || req.Method != "POST" {
			http.Error(w, "wrong path", 404)
			return
		}
		if r.fail.Add(-1) >= 0 {
			http.Error(w, "provider down", http.StatusServiceUnavailable)
			return
		}
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &a)
		r.mu.Lock()
		r.received[a.ID]++
		r.keys = append(r.keys, req.Header.Get("x-api-key"))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"yom-%s"}`, a.ID[:8])
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count(id uuid.UUID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.received[id.String()]
}

func waitStatus(t *testing.T, c *activitiesclient.ClientWithResponses, id uuid.UUID, want activitiesclient.ActivityStatus) activitiesclient.Activity {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.GetActivityWithResponse(ctx, id, nil)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("get: %v", err)
		}
		if res.JSON200.Status == want {
			return *res.JSON200
		}
		if time.Now().After(deadline) {
			t.Fatalf("activity %s is %s, want %s", id, res.JSON200.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastDispatch() servertest.Option {
	return servertest.WithWorkers(worker.Options{Dispatch: worker.DispatchOptions{Workers: 10, Backoff: []time.Duration{50 * time.Millisecond}, Timeout: 2 * time.Second}})
}

// whatsappVia makes a workspace whose WHATSAPP activities go to a YOM provider at baseURL, with
// the seed's commerce; it returns the workspace's client and the config.
func whatsappVia(t *testing.T, env *servertest.Env, baseURL string) (*activitiesclient.ClientWithResponses, *activitiesclient.DispatchConfig) {
	t.Helper()
	_, key := commerceWorkspace(t, env, "C")
	c := env.Activities(t, key)
	cfg := yomSalesman("yom-key-1")
	cfg.Channel = activitiesclient.ChannelWHATSAPP
	cfg.BaseUrl = &baseURL
	return c, create(t, c, cfg).JSON201
}

// message creates a MESSAGE activity of the seed's commerce on channel, due at at.
func message(t *testing.T, c *activitiesclient.ClientWithResponses, key string, channel activitiesclient.Channel, at time.Time) uuid.UUID {
	t.Helper()
	res, err := c.CreateActivityWithResponse(ctx, nil, activitiesclient.CreateActivityRequest{Type: activitiesclient.MESSAGE,
		Reason: "promo", Channel: channel, CommerceId: uuid.MustParse(seedCommerceID), IdempotencyKey: key, ScheduledAt: at})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create: %v %s", err, res.Body)
	}
	return res.JSON201.Id
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch())
	yom := newReceiver(t)
	c, config := whatsappVia(t, env, yom.URL)
	mk := func(k string, channel activitiesclient.Channel, at time.Time) uuid.UUID {
		return message(t, c, k, channel, at)
	}

	t.Run("success through YOM over real HTTP", func(t *testing.T) {
		id := mk("ok", activitiesclient.ChannelWHATSAPP, time.Now())
		a := waitStatus(t, c, id, activitiesclient.ActivityStatusDISPATCHED)
		if a.ExternalId.MustGet() != "yom-"+id.String()[:8] || yom.count(id) != 1 {
			t.Errorf("external id %v, received %d times", a.ExternalId, yom.count(id))
		}
		events, _ := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
		if ev := (*events.JSON200)[len(*events.JSON200)-1]; ev.EventType != activitiesclient.ActivityStatusEventEventTypeDISPATCHSUCCESS {
			t.Errorf("last event %+v", ev)
		}
		if evs := *events.JSON200; len(evs) != 2 || evs[0].EventType != activitiesclient.ActivityStatusEventEventTypeCREATED ||
			evs[0].FromStatus.IsSpecified() && !evs[0].FromStatus.IsNull() || evs[0].ToStatus != "READY" || !evs[0].OccurredAt.Equal(a.CreatedAt) {
			t.Errorf("events %s", events.Body)
		}
		attempts, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
		if len(*attempts.JSON200) != 1 || (*attempts.JSON200)[0].StatusCode.MustGet() != 200 || (*attempts.JSON200)[0].DispatchConfigId.MustGet() != config.Id {
			t.Errorf("attempts %s", attempts.Body)
		}
	})

	t.Run("retried after a 503, then dispatched", func(t *testing.T) {
		yom.fail.Store(1)
		id := mk("retry", activitiesclient.ChannelWHATSAPP, time.Now())
		deadline := time.Now().Add(10 * time.Second)
		for {
			att, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
			if att.JSON200 != nil && len(*att.JSON200) >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no first attempt")
			}
			time.Sleep(5 * time.Millisecond)
		}
		waitStatus(t, c, id, activitiesclient.ActivityStatusDISPATCHED)
		attempts, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
		if n := len(*attempts.JSON200); n != 2 || (*attempts.JSON200)[0].StatusCode.MustGet() != 503 || (*attempts.JSON200)[0].Error.MustGet() == "" {
			t.Errorf("attempts %s", attempts.Body)
		}
	})

	t.Run("three failures: FAILED with the error", func(t *testing.T) {
		yom.fail.Store(3)
		id := mk("fail", activitiesclient.ChannelWHATSAPP, time.Now())
		waitStatus(t, c, id, activitiesclient.ActivityStatusFAILED)
		events, _ := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
		ev := (*events.JSON200)[len(*events.JSON200)-1]
		if ev.EventType != activitiesclient.ActivityStatusEventEventTypeDISPATCHFAILED || ev.ErrorCode.MustGet() != "HTTP_503" || !strings.Contains(ev.ErrorMessage.MustGet(), "provider down") {
			t.Errorf("failure event %+v", ev)
		}
		attempts, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
		if len(*attempts.JSON200) != 3 || yom.count(id) != 0 {
			t.Errorf("%d attempts, received %d", len(*attempts.JSON200), yom.count(id))
		}
	})

	t.Run("no active config for the channel", func(t *testing.T) {
		id := mk("noconfig", activitiesclient.ChannelSMS, time.Now())
		waitStatus(t, c, id, activitiesclient.ActivityStatusFAILED)
		events, _ := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
		if ev := (*events.JSON200)[len(*events.JSON200)-1]; ev.ErrorCode.MustGet() != "NO_ACTIVE_DISPATCH_CONFIG" {
			t.Errorf("event %+v", ev)
		}
	})

	t.Run("canceled before its time is never sent", func(t *testing.T) {
		id := mk("cancel", activitiesclient.ChannelWHATSAPP, time.Now().Add(1500*time.Millisecond))
		if res, _ := c.CancelActivityWithResponse(ctx, id, nil); res.JSON200 == nil {
			t.Fatalf("cancel: %s", res.Body)
		}
		// Wait until River has worked the job (it is completed once due).
		deadline := time.Now().Add(15 * time.Second)
		for {
			var state string
			_ = env.DB.SQL().Get(&state, `SELECT state FROM river_job WHERE args->>'activity_id' = $1`, id.String())
			if state == "completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job state %q", state)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if yom.count(id) != 0 {
			t.Fatal("a canceled activity was sent")
		}
		waitStatus(t, c, id, activitiesclient.ActivityStatusCANCELED)
	})

	t.Run("config changes take effect for the next attempt", func(t *testing.T) {
		other := newReceiver(t)
		if res, _ := c.UpdateDispatchConfigWithResponse(ctx, config.Id, nil, activitiesclient.UpdateDispatchConfigRequest{
			BaseUrl: nullableString(other.URL), Credentials: &activitiesclient.Credentials{"apiKey": "yom-key-2"}}); res.JSON200 == nil {
			t.Fatalf("update: %s", res.Body)
		}
		id := mk("moved", activitiesclient.ChannelWHATSAPP, time.Now())
		waitStatus(t, c, id, activitiesclient.ActivityStatusDISPATCHED)
		if other.count(id) != 1 || yom.count(id) != 0 || other.keys[0] != "yom-key-2" {
			t.Errorf("new receiver got %d (key %v), old %d", other.count(id), other.keys, yom.count(id))
		}
	})
}

// TestTwoProcessesSendEachActivityOnce runs two independent job runners (as two `serve`
// processes would) on one database: every activity reaches the provider exactly once.
func TestTwoProcessesSendEachActivityOnce(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch())
	second, err := worker.Start(ctx, env.DSN, env.DB, worker.Options{Dispatch: worker.DispatchOptions{Workers: 10}, AllowPrivate: true, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Stop(ctx) }()
	_, key := commerceWorkspace(t, env, "C")
	c := env.Activities(t, key)
	yom := newReceiver(t)
	cfg := yomSalesman("k")
	cfg.BaseUrl = &yom.URL
	create(t, c, cfg)
	const n = 200
	ids := make([]uuid.UUID, n)
	for i := range n {
		res, err := c.CreateActivityWithResponse(ctx, nil, activitiesclient.CreateActivityRequest{Type: activitiesclient.TASK, Reason: "visit",
			Channel: activitiesclient.ChannelSALESMAN, CommerceId: uuid.MustParse(seedCommerceID), IdempotencyKey: fmt.Sprint("k", i), ScheduledAt: time.Now()})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("create: %v", err)
		}
		ids[i] = res.JSON201.Id
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dispatched := env.Count(t, `activities WHERE status = 'DISPATCHED'`)
		if dispatched == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d dispatched", dispatched, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, id := range ids {
		if got := yom.count(id); got != 1 {
			t.Errorf("activity %s received %d times", id, got)
		}
	}
}

// TestCreateAnswersWhatIsStored: the 201 body of a create (built from the batch statement's
// answer and the input) is exactly what a later GET reads from the database, for every field.
func TestCreateAnswersWhatIsStored(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := commerceWorkspace(t, env, "Almacen Don Pepe")
	h := []string{"Authorization", "Bearer " + key}
	if status, body := env.Do(t, "POST", "/api/user-retention-statuses", `{"code":"at_risk","label":"En Riesgo"}`, h...); status != 201 {
		t.Fatalf("status: %d %s", status, body)
	}
	status, created := env.Do(t, "POST", "/api/activities", `{
"type": "TASK", "reason": "Visit", "channel": "SALESMAN", "commerce_id": "`+seedCommerceID+`",
"idempotency_key": "all-fields", "scheduled_at": "2031-02-03T04:05:06.123456789+02:00",
"suggested_execution_time": "2031-02-03T10:00:00.5-03:00", "user_status": "at_risk", "score": 7,
"assignment_reason": "route", "target_criteria": [{"type":"ROLE_MATCH","priority":1,"config":{"role":"COMMERCE_REP","b":1,"a":2}}],
"attribute_keys": ["commerce_info", "promotions"], "attributes": [{"key":"promotions","value":"2x1","fallback":"none"}]
}`, h...)
	if status != 201 {
		t.Fatalf("create: %d %s", status, created)
	}
	var c map[string]any
	_ = json.Unmarshal(created, &c)
	status, got := env.Do(t, "GET", "/api/activities/"+fmt.Sprint(c["id"]), "", h...)
	if status != 200 {
		t.Fatalf("get: %d %s", status, got)
	}
	var g map[string]any
	_ = json.Unmarshal(got, &g)
	for k := range g {
		if fmt.Sprint(c[k]) != fmt.Sprint(g[k]) {
			t.Errorf("%s: created %v, stored %v", k, c[k], g[k])
		}
	}
	if len(c) != len(g) || c["scheduledAt"] != "2031-02-03T02:05:06.123Z" {
		t.Errorf("created %s\nstored  %s", created, got)
	}
}

// TestDispatchRefusesPrivateDestinations: with the guard on (serve's default), a config whose
// base URL is on loopback is never reached; each attempt says why, and the activity fails.
func TestDispatchRefusesPrivateDestinations(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch(), servertest.RefusePrivateDestinations())
	yom := newReceiver(t)
	c, _ := whatsappVia(t, env, yom.URL)
	id := message(t, c, "guarded", activitiesclient.ChannelWHATSAPP, time.Now())
	waitStatus(t, c, id, activitiesclient.ActivityStatusFAILED)
	if n := yom.count(id); n != 0 {
		t.Errorf("the loopback receiver got the activity %d times", n)
	}
	attempts, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
	for _, a := range *attempts.JSON200 {
		if msg := a.Error.MustGet(); !strings.Contains(msg, "loopback address") {
			t.Errorf("attempt error %q", msg)
		}
	}
	events, _ := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
	if ev := (*events.JSON200)[len(*events.JSON200)-1]; ev.ErrorCode.MustGet() != "DESTINATION_REFUSED" {
		t.Errorf("last event %+v", ev)
	}
}

// TestDispatchProviderAnswerNotUTF8: a provider's error answer is recorded whatever its bytes
// (PostgreSQL's text refuses invalid UTF-8), also when the excerpt kept is cut mid-character.
func TestDispatchProviderAnswerNotUTF8(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, fastDispatch())
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "x"+strings.Repeat("ó", 300)+"\xff\xfe")
	}))
	t.Cleanup(provider.Close)
	c, _ := whatsappVia(t, env, provider.URL)
	id := message(t, c, "not-utf8", activitiesclient.ChannelWHATSAPP, time.Now())
	waitStatus(t, c, id, activitiesclient.ActivityStatusFAILED)
	attempts, _ := c.ListActivityDispatchAttemptsWithResponse(ctx, id, nil)
	if len(*attempts.JSON200) != 3 {
		t.Fatalf("attempts %s", attempts.Body)
	}
	if msg := (*attempts.JSON200)[0].Error.MustGet(); !strings.HasPrefix(msg, "Provider answered 400: xóó") || !strings.HasSuffix(msg, "…") {
		t.Errorf("attempt error %q", msg)
	}
}
