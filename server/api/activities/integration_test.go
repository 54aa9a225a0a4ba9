package activities_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// seedCommerceExt is the external id newCommerce gives the seed's commerce.
const seedCommerceExt = "ext-880e8400"

// integrationEnv is a workspace with the seed's commerce, a MOCK dispatch config for SALESMAN
// (so due activities become DISPATCHED within moments) and three result types.
func integrationEnv(t *testing.T) (*servertest.Env, uuid.UUID, *activitiesclient.ClientWithResponses) {
	t.Helper()
	env := servertest.New(t, fastDispatch())
	ws, key := commerceWorkspace(t, env, "Almacen Norte")
	c := env.Activities(t, key)
	providers, _ := c.ListDispatchProvidersWithResponse(ctx, nil)
	for _, p := range *providers.JSON200 {
		if p.Code == "MOCK" {
			if res := create(t, c, activitiesclient.CreateDispatchConfigRequest{DispatchProviderId: p.Id, Channel: activitiesclient.ChannelSALESMAN}); res.JSON201 == nil {
				t.Fatalf("mock config: %s", res.Body)
			}
		}
	}
	for _, rt := range []activitiesclient.CreateTaskResultTypeConfigRequest{
		{Code: "SALE_COMPLETED", Label: "Venta completada"},
		{Code: "NOT_INTERESTED", Label: "No interesado"},
		{Code: "RESCHEDULE", Label: "Reprogramar visita", RequiresFutureScheduledAt: ptr(true)},
	} {
		if res, _ := c.CreateTaskResultTypeConfigWithResponse(ctx, nil, rt); res.JSON201 == nil {
			t.Fatalf("result type: %d %s", res.StatusCode(), res.Body)
		}
	}
	return env, ws, c
}

func newTask(t *testing.T, c *activitiesclient.ClientWithResponses, key string, typ activitiesclient.ActivityType, at time.Time) uuid.UUID {
	t.Helper()
	res, err := c.CreateActivityWithResponse(ctx, nil, activitiesclient.CreateActivityRequest{Type: typ, Reason: "Visita mensual",
		Channel: activitiesclient.ChannelSALESMAN, CommerceId: uuid.MustParse(seedCommerceID), IdempotencyKey: key, ScheduledAt: at})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create activity: %v %s", err, res.Body)
	}
	return res.JSON201.Id
}

func result(id uuid.UUID, status activitiesclient.TaskResultStatus, code string) activitiesclient.SubmitTaskResultRequest {
	b := activitiesclient.SubmitTaskResultRequest{ActivityId: &id, CommerceExternalId: seedCommerceExt,
		OccurredAt: time.Date(2026, 4, 11, 10, 30, 0, 0, time.UTC), Status: status}
	b.TaskResult.Result = code
	return b
}

func submit(t *testing.T, c *activitiesclient.ClientWithResponses, b activitiesclient.SubmitTaskResultRequest) *activitiesclient.SubmitTaskResultResponse {
	t.Helper()
	res, err := c.SubmitTaskResultWithResponse(ctx, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func lastEvent(t *testing.T, c *activitiesclient.ClientWithResponses, id uuid.UUID) (activitiesclient.ActivityStatusEvent, int) {
	t.Helper()
	events, err := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
	if err != nil || events.JSON200 == nil {
		t.Fatalf("events: %v", err)
	}
	es := *events.JSON200
	return es[len(es)-1], len(es)
}

// TestTaskResultLifecycle submits results along every edge: refused on READY, PENDING keeps
// DISPATCHED, EFFECTIVE completes, NOT_EFFECTIVE fails, repeats are idempotent, and overrides
// never leave the status machine.
func TestTaskResultLifecycle(t *testing.T) {
	t.Parallel()
	env, ws, c := integrationEnv(t)
	ready := newTask(t, c, "ready", activitiesclient.TASK, time.Now().Add(time.Hour))
	done := newTask(t, c, "done", activitiesclient.TASK, time.Now())
	failed := newTask(t, c, "failed", activitiesclient.TASK, time.Now())
	message := newTask(t, c, "message", activitiesclient.MESSAGE, time.Now())
	dispatched := waitStatus(t, c, done, activitiesclient.ActivityStatusDISPATCHED)
	waitStatus(t, c, failed, activitiesclient.ActivityStatusDISPATCHED)
	waitStatus(t, c, message, activitiesclient.ActivityStatusDISPATCHED)

	t.Run("READY refuses a result and keeps nothing", func(t *testing.T) {
		res := submit(t, c, result(ready, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED"))
		if res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "is READY") || !strings.Contains(res.JSON400.Message, "DISPATCHED") {
			t.Fatalf("result on READY: %d %s", res.StatusCode(), res.Body)
		}
		var n int
		_ = env.DB.SQL().Get(&n, `SELECT count(*) FROM activity_task_results WHERE activity_id = $1`, ready)
		if a, _ := c.GetActivityWithResponse(ctx, ready, nil); n != 0 || a.JSON200.Status != activitiesclient.ActivityStatusREADY {
			t.Errorf("after a refused result: %d results, status %s", n, a.JSON200.Status)
		}
	})

	t.Run("validation", func(t *testing.T) {
		cases := map[string]struct {
			body  func() activitiesclient.SubmitTaskResultRequest
			field string
		}{
			"unknown result type": {func() activitiesclient.SubmitTaskResultRequest {
				return result(done, activitiesclient.TaskResultStatusEFFECTIVE, "WON_LOTTERY")
			}, "task_result.result: "},
			"reschedule without a date": {func() activitiesclient.SubmitTaskResultRequest {
				return result(done, activitiesclient.TaskResultStatusPENDING, "RESCHEDULE")
			}, "task_result.future_scheduled_at: "},
			"reschedule to the past": {func() activitiesclient.SubmitTaskResultRequest {
				b := result(done, activitiesclient.TaskResultStatusPENDING, "RESCHEDULE")
				b.TaskResult.FutureScheduledAt = ptr(b.OccurredAt.Add(-time.Hour))
				return b
			}, "task_result.future_scheduled_at: "},
			"no activity named": {func() activitiesclient.SubmitTaskResultRequest {
				b := result(done, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
				b.ActivityId = nil
				return b
			}, "activity_id: "},
		}
		for name, tc := range cases {
			res := submit(t, c, tc.body())
			if res.JSON400 == nil || res.JSON400.Errors == nil || !strings.HasPrefix((*res.JSON400.Errors)[0], tc.field) {
				t.Errorf("%s: %d %s", name, res.StatusCode(), res.Body)
			}
		}
		if status, body := env.Do(t, "POST", "/api/integration/activity-results/tasks", `{"activity_id":"`+done.String()+`","status":"DONE"}`,
			"x-api-key", env.Key(t, ws, "SUBMIT_ACTIVITY_RESULT")); status != 400 || len(servertest.Decode[errorBody](t, body).Errors) < 3 {
			t.Errorf("bad body: %d %s", status, body)
		}
		b := result(message, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		if res := submit(t, c, b); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "MESSAGE") {
			t.Errorf("result for a MESSAGE: %d %s", res.StatusCode(), res.Body)
		}
		if a, _ := c.GetActivityWithResponse(ctx, done, nil); a.JSON200.Status != activitiesclient.ActivityStatusDISPATCHED {
			t.Errorf("a refused result moved the activity to %s", a.JSON200.Status)
		}
	})

	t.Run("unknown activity or commerce", func(t *testing.T) {
		if res := submit(t, c, result(uuid.New(), activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")); res.JSON404 == nil || res.JSON404.Message != "Activity not found" {
			t.Errorf("unknown activity: %d %s", res.StatusCode(), res.Body)
		}
		b := result(done, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		b.ActivityId, b.ProviderActivityId = nil, ptr("no-such-provider-id")
		if res := submit(t, c, b); res.JSON404 == nil {
			t.Errorf("unknown provider id: %d %s", res.StatusCode(), res.Body)
		}
		b = result(done, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		b.CommerceExternalId = "nobody"
		if res := submit(t, c, b); res.JSON404 == nil || !strings.Contains(res.JSON404.Message, "nobody") {
			t.Errorf("unknown commerce: %d %s", res.StatusCode(), res.Body)
		}
		newCommerce(t, env, ws, "990e8400-e29b-41d4-a716-446655440000", "Otro")
		b.CommerceExternalId = "ext-990e8400"
		if res := submit(t, c, b); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "ext-990e8400") {
			t.Errorf("another commerce's external id: %d %s", res.StatusCode(), res.Body)
		}
	})

	t.Run("PENDING keeps DISPATCHED, found by provider id", func(t *testing.T) {
		b := result(done, activitiesclient.TaskResultStatusPENDING, "RESCHEDULE")
		b.ActivityId, b.ProviderActivityId = nil, ptr(dispatched.ExternalId.MustGet())
		b.TaskResult.FutureScheduledAt = ptr(b.OccurredAt.Add(24 * time.Hour))
		b.TaskResult.OperatorExternalId = ptr("OP-7")
		res := submit(t, c, b)
		if res.JSON201 == nil || res.JSON201.ActivityId != done || res.JSON201.ActivityStatus != activitiesclient.ActivityStatusDISPATCHED ||
			res.JSON201.TaskResult.ResultLabel != "Reprogramar visita" || !res.JSON201.TaskResult.FutureScheduledAt.MustGet().Equal(*b.TaskResult.FutureScheduledAt) {
			t.Fatalf("pending: %d %s", res.StatusCode(), res.Body)
		}
		if ev, _ := lastEvent(t, c, done); ev.EventType != activitiesclient.ActivityStatusEventEventTypeDISPATCHSUCCESS {
			t.Errorf("a PENDING result recorded %+v", ev)
		}
	})

	t.Run("EFFECTIVE: DISPATCHED to COMPLETED with its event", func(t *testing.T) {
		b := result(done, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		b.TaskResult.Comment, b.TaskResult.OperatorExternalId = ptr("Order placed"), ptr("OP-7")
		b.TaskResult.ContactType = ptr(activitiesclient.OUTBOUND)
		b.RawPayload = &map[string]any{"visit": map[string]any{"minutes": 12.0}}
		res := submit(t, c, b)
		if res.JSON201 == nil || res.JSON201.ActivityStatus != activitiesclient.ActivityStatusCOMPLETED || res.JSON201.Status != activitiesclient.TaskResultStatusEFFECTIVE ||
			res.JSON201.TaskResult.Comment.MustGet() != "Order placed" || fmt.Sprint(res.JSON201.RawPayload["visit"]) != "map[minutes:12]" ||
			!res.JSON201.TaskResult.FutureScheduledAt.IsNull() {
			t.Fatalf("effective: %d %s", res.StatusCode(), res.Body)
		}
		ev, n := lastEvent(t, c, done)
		if ev.EventType != activitiesclient.ActivityStatusEventEventTypeCOMPLETED || ev.FromStatus.MustGet() != "DISPATCHED" || ev.ToStatus != activitiesclient.ActivityStatusCOMPLETED {
			t.Errorf("completion event %+v", ev)
		}

		again := submit(t, c, b)
		if again.JSON200 == nil || again.JSON200.Id != res.JSON201.Id || again.JSON200.ActivityStatus != activitiesclient.ActivityStatusCOMPLETED {
			t.Errorf("same result again: %d %s", again.StatusCode(), again.Body)
		}
		if _, m := lastEvent(t, c, done); m != n {
			t.Errorf("a repeated result added %d events", m-n)
		}

		other := result(done, activitiesclient.TaskResultStatusNOTEFFECTIVE, "NOT_INTERESTED")
		if res := submit(t, c, other); res.JSON409 == nil || !strings.Contains(res.JSON409.Message, "hard_override") {
			t.Errorf("a different result: %d %s", res.StatusCode(), res.Body)
		}
		other.HardOverride = ptr(true)
		if res := submit(t, c, other); res.JSON400 == nil || !strings.Contains(res.JSON400.Message, "COMPLETED") {
			t.Errorf("override towards FAILED: %d %s", res.StatusCode(), res.Body)
		}
		fix := result(done, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		fix.TaskResult.Comment, fix.HardOverride = ptr("Two orders"), ptr(true)
		fixed := submit(t, c, fix)
		if fixed.JSON201 == nil || fixed.JSON201.TaskResult.Comment.MustGet() != "Two orders" || fixed.JSON201.ActivityStatus != activitiesclient.ActivityStatusCOMPLETED {
			t.Errorf("override within COMPLETED: %d %s", fixed.StatusCode(), fixed.Body)
		}
		if _, m := lastEvent(t, c, done); m != n {
			t.Errorf("an override added %d events", m-n)
		}
	})

	t.Run("NOT_EFFECTIVE: DISPATCHED to FAILED with its event", func(t *testing.T) {
		res := submit(t, c, result(failed, activitiesclient.TaskResultStatusNOTEFFECTIVE, "NOT_INTERESTED"))
		if res.JSON201 == nil || res.JSON201.ActivityStatus != activitiesclient.ActivityStatusFAILED {
			t.Fatalf("not effective: %d %s", res.StatusCode(), res.Body)
		}
		ev, _ := lastEvent(t, c, failed)
		if ev.EventType != activitiesclient.ActivityStatusEventEventTypeFAILED || ev.ToStatus != activitiesclient.ActivityStatusFAILED ||
			ev.ErrorCode.MustGet() != "NOT_EFFECTIVE" || !strings.Contains(ev.ErrorMessage.MustGet(), "NOT_INTERESTED") {
			t.Errorf("failure event %+v", ev)
		}
	})

	t.Run("permissions and isolation", func(t *testing.T) {
		viewer := env.Activities(t, env.Key(t, ws, "VIEW_ACTIVITIES"))
		if res := submit(t, viewer, result(ready, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")); res.JSON403 == nil {
			t.Errorf("without SUBMIT_ACTIVITY_RESULT: %d", res.StatusCode())
		}
		submitter := env.Activities(t, env.Key(t, ws, "SUBMIT_ACTIVITY_RESULT"))
		if res, _ := submitter.ListIntegrationTasksWithResponse(ctx, nil); res.JSON403 == nil {
			t.Errorf("list without VIEW_ACTIVITIES: %d", res.StatusCode())
		}
		if res, _ := viewer.CreateTaskResultTypeConfigWithResponse(ctx, nil, activitiesclient.CreateTaskResultTypeConfigRequest{Code: "X", Label: "x"}); res.JSON403 == nil {
			t.Errorf("result type without MANAGE_ACTIVITY_CONFIG: %d", res.StatusCode())
		}
		strangerWS, strangerKey := env.Workspace(t, "*")
		stranger := env.Activities(t, strangerKey)
		newCommerce(t, env, strangerWS, "aa0e8400-e29b-41d4-a716-446655440000", "Ajeno")
		res, err := stranger.CreateTaskResultTypeConfigWithResponse(ctx, nil, activitiesclient.CreateTaskResultTypeConfigRequest{Code: "SALE_COMPLETED", Label: "v"})
		if err != nil {
			t.Fatal(err)
		}
		if res.JSON201 == nil {
			t.Fatalf("another workspace's result type: %d %s", res.StatusCode(), res.Body)
		}
		b := result(failed, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
		b.CommerceExternalId = "ext-aa0e8400"
		if res := submit(t, stranger, b); res.JSON404 == nil || res.JSON404.Message != "Activity not found" {
			t.Errorf("another workspace's activity: %d %s", res.StatusCode(), res.Body)
		}
		if res, _ := stranger.ListIntegrationTasksWithResponse(ctx, nil); res.JSON200 == nil || res.JSON200.Meta.Total != 0 {
			t.Errorf("another workspace's tasks: %s", res.Body)
		}
		if res, _ := stranger.ListTaskResultTypeConfigsWithResponse(ctx, nil); res.JSON200 == nil || len(*res.JSON200) != 1 {
			t.Errorf("another workspace's result types: %s", res.Body)
		}
	})
}

// TestSubmitTaskResultRace sends one result from many goroutines at once: exactly one 201,
// the rest 200, one completion event.
func TestSubmitTaskResultRace(t *testing.T) {
	t.Parallel()
	_, _, c := integrationEnv(t)
	id := newTask(t, c, "race", activitiesclient.TASK, time.Now())
	waitStatus(t, c, id, activitiesclient.ActivityStatusDISPATCHED)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.SubmitTaskResultWithResponse(ctx, nil, result(id, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[res.StatusCode()]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[201] != 1 || statuses[200] != 11 {
		t.Fatalf("statuses %v, want one 201 and eleven 200", statuses)
	}
	events, _ := c.ListActivityStatusEventsWithResponse(ctx, id, nil)
	completed := 0
	for _, e := range *events.JSON200 {
		if e.EventType == activitiesclient.ActivityStatusEventEventTypeCOMPLETED {
			completed++
		}
	}
	if completed != 1 {
		t.Fatalf("%d COMPLETED events", completed)
	}
}

// TestIntegrationTaskList checks the task status mapping, every filter and the pagination.
func TestIntegrationTaskList(t *testing.T) {
	t.Parallel()
	env, ws, c := integrationEnv(t)
	pending := newTask(t, c, "pending", activitiesclient.TASK, time.Now().Add(time.Hour))
	canceled := newTask(t, c, "canceled", activitiesclient.TASK, time.Now().Add(2*time.Hour))
	inProgress := newTask(t, c, "in-progress", activitiesclient.TASK, time.Now().Add(-3*time.Minute))
	effective := newTask(t, c, "effective", activitiesclient.TASK, time.Now().Add(-2*time.Minute))
	notEffective := newTask(t, c, "not-effective", activitiesclient.TASK, time.Now().Add(-time.Minute))
	newTask(t, c, "message", activitiesclient.MESSAGE, time.Now())
	if res, _ := c.CancelActivityWithResponse(ctx, canceled, nil); res.JSON200 == nil {
		t.Fatalf("cancel: %s", res.Body)
	}
	for _, id := range []uuid.UUID{inProgress, effective, notEffective} {
		waitStatus(t, c, id, activitiesclient.ActivityStatusDISPATCHED)
	}
	b := result(effective, activitiesclient.TaskResultStatusEFFECTIVE, "SALE_COMPLETED")
	b.TaskResult.OperatorExternalId = ptr("OP-7")
	if res := submit(t, c, b); res.JSON201 == nil {
		t.Fatalf("effective: %s", res.Body)
	}
	if res := submit(t, c, result(notEffective, activitiesclient.TaskResultStatusNOTEFFECTIVE, "NOT_INTERESTED")); res.JSON201 == nil {
		t.Fatalf("not effective: %s", res.Body)
	}
	// A dispatch failure (READY → FAILED) is a task that will not happen.
	dispatchFailed := newTask(t, c, "dispatch-failed", activitiesclient.TASK, time.Now().Add(3*time.Hour))
	if _, err := env.DB.SQL().Exec(`UPDATE activities SET status = 'FAILED' WHERE id = $1`, dispatchFailed); err != nil {
		t.Fatal(err)
	}

	list := func(p activitiesclient.ListIntegrationTasksParams) []uuid.UUID {
		t.Helper()
		res, err := c.ListIntegrationTasksWithResponse(ctx, &p)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %s", err, res.Body)
		}
		ids := make([]uuid.UUID, len(res.JSON200.Data))
		for i, task := range res.JSON200.Data {
			ids[i] = task.Id
		}
		return ids
	}
	status := func(s activitiesclient.TaskStatus) *activitiesclient.TaskStatus { return &s }
	resultStatus := func(s activitiesclient.TaskResultStatus) *activitiesclient.TaskResultStatus { return &s }
	cases := map[string]struct {
		params activitiesclient.ListIntegrationTasksParams
		want   []uuid.UUID
	}{
		"all tasks, by scheduled time": {activitiesclient.ListIntegrationTasksParams{}, []uuid.UUID{inProgress, effective, notEffective, pending, canceled, dispatchFailed}},
		"PENDING":                      {activitiesclient.ListIntegrationTasksParams{Status: status(activitiesclient.TaskStatusPENDING)}, []uuid.UUID{pending}},
		"IN_PROGRESS":                  {activitiesclient.ListIntegrationTasksParams{Status: status(activitiesclient.TaskStatusINPROGRESS)}, []uuid.UUID{inProgress}},
		"COMPLETED":                    {activitiesclient.ListIntegrationTasksParams{Status: status(activitiesclient.TaskStatusCOMPLETED)}, []uuid.UUID{effective, notEffective}},
		"CANCELLED":                    {activitiesclient.ListIntegrationTasksParams{Status: status(activitiesclient.TaskStatusCANCELLED)}, []uuid.UUID{canceled, dispatchFailed}},
		"result NOT_EFFECTIVE":         {activitiesclient.ListIntegrationTasksParams{ResultStatus: resultStatus(activitiesclient.TaskResultStatusNOTEFFECTIVE)}, []uuid.UUID{notEffective}},
		"operator":                     {activitiesclient.ListIntegrationTasksParams{ExternalOperatorId: ptr("OP-7")}, []uuid.UUID{effective}},
		"commerce":                     {activitiesclient.ListIntegrationTasksParams{ExternalCommerceId: ptr(seedCommerceExt), Status: status(activitiesclient.TaskStatusPENDING)}, []uuid.UUID{pending}},
		"other commerce":               {activitiesclient.ListIntegrationTasksParams{ExternalCommerceId: ptr("ext-nobody")}, []uuid.UUID{}},
		"other channel":                {activitiesclient.ListIntegrationTasksParams{Channel: ptr(activitiesclient.ChannelEMAIL)}, []uuid.UUID{}},
		"scheduled window": {activitiesclient.ListIntegrationTasksParams{ScheduledFrom: ptr(time.Now().Add(30 * time.Minute)),
			ScheduledTo: ptr(time.Now().Add(150 * time.Minute))}, []uuid.UUID{pending, canceled}},
		"second page of two": {activitiesclient.ListIntegrationTasksParams{Page: ptr(2), PerPage: ptr(2)}, []uuid.UUID{notEffective, pending}},
	}
	for name, tc := range cases {
		if got := list(tc.params); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}

	res, _ := c.ListIntegrationTasksWithResponse(ctx, &activitiesclient.ListIntegrationTasksParams{ResultStatus: resultStatus(activitiesclient.TaskResultStatusEFFECTIVE)})
	page := res.JSON200
	if page.Meta.Limit != 20 || page.Meta.Total != 1 || page.Meta.Page != 1 {
		t.Errorf("default page: %+v", page.Meta)
	}
	task := page.Data[0]
	if task.Status != activitiesclient.TaskStatusCOMPLETED || task.ActivityStatus != activitiesclient.ActivityStatusCOMPLETED || task.Type != activitiesclient.TASK ||
		task.ActivityOrigin != activitiesclient.ACTIVITY || task.CommerceExternalId.MustGet() != seedCommerceExt || task.CommerceName != "Almacen Norte" ||
		task.ResultStatus.MustGet() != activitiesclient.TaskResultStatusEFFECTIVE || task.Result.MustGet().Result != "SALE_COMPLETED" ||
		task.Result.MustGet().ResultLabel != "Venta completada" || !task.OccurredAt.MustGet().Equal(b.OccurredAt) ||
		task.ExternalId.MustGet() == "" || task.Reason.Code != "visita_mensual" {
		t.Errorf("task = %s", res.Body)
	}
	if res, _ := c.ListIntegrationTasksWithResponse(ctx, &activitiesclient.ListIntegrationTasksParams{Status: status(activitiesclient.TaskStatusPENDING)}); !res.JSON200.Data[0].Result.IsNull() ||
		!res.JSON200.Data[0].ResultStatus.IsNull() || !res.JSON200.Data[0].OccurredAt.IsNull() {
		t.Errorf("a task without a result: %s", res.Body)
	}
	if status, body := env.Do(t, "GET", "/api/integration/activities/tasks?per_page=101", "", "x-api-key", env.Key(t, ws, "VIEW_ACTIVITIES")); status != 400 {
		t.Errorf("per_page 101: %d %s", status, body)
	}
	if status, body := env.Do(t, "GET", "/api/integration/activities/tasks?status=READY", "", "x-api-key", env.Key(t, ws, "VIEW_ACTIVITIES")); status != 400 {
		t.Errorf("an activity status as task status: %d %s", status, body)
	}

	types, _ := c.ListTaskResultTypeConfigsWithResponse(ctx, nil)
	if types.JSON200 == nil || len(*types.JSON200) != 3 || (*types.JSON200)[0].Code != "NOT_INTERESTED" || !(*types.JSON200)[1].RequiresFutureScheduledAt {
		t.Errorf("result types: %s", types.Body)
	}
	if dup, _ := c.CreateTaskResultTypeConfigWithResponse(ctx, nil, activitiesclient.CreateTaskResultTypeConfigRequest{Code: "RESCHEDULE", Label: "x"}); dup.JSON409 == nil {
		t.Errorf("duplicate result type: %d %s", dup.StatusCode(), dup.Body)
	}
	if off, _ := c.CreateTaskResultTypeConfigWithResponse(ctx, nil, activitiesclient.CreateTaskResultTypeConfigRequest{Code: "OLD", Label: "Old", IsActive: ptr(false)}); off.JSON201 == nil {
		t.Errorf("inactive result type: %d %s", off.StatusCode(), off.Body)
	}
	if types, _ = c.ListTaskResultTypeConfigsWithResponse(ctx, nil); len(*types.JSON200) != 3 {
		t.Errorf("an inactive result type is listed: %s", types.Body)
	}
}
