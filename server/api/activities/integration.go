package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// integrationPageSize is the documented default page size of the integration task list.
const integrationPageSize = 20

// ListIntegrationTasks pages through the workspace's TASK activities as field systems see them.
func (h *Handler) ListIntegrationTasks(ctx context.Context, req api.ListIntegrationTasksRequestObject) (api.ListIntegrationTasksResponseObject, error) {
	p := req.Params
	page, limit := pageParams(p.Page, p.PerPage, p.Limit, integrationPageSize)
	f := store.IntegrationTaskFilter{TaskStatus: (*string)(p.Status), ResultStatus: (*string)(p.ResultStatus), Channel: (*string)(p.Channel),
		CommerceExternalID: p.ExternalCommerceId, OperatorExternal: p.ExternalOperatorId, ScheduledFrom: stdTime(p.ScheduledFrom), ScheduledTo: stdTime(p.ScheduledTo)}
	tasks, total, err := h.DB.ListIntegrationTasks(ctx, auth.FromContext(ctx).WorkspaceID, f, page, limit)
	if err != nil {
		return nil, err
	}
	return api.ListIntegrationTasks200JSONResponse{Data: convertAll[[]api.IntegrationTask](tasks, toIntegrationTask), Meta: pageMeta(page, limit, total)}, nil
}

func toIntegrationTask(t store.IntegrationTask) api.IntegrationTask {
	it := api.IntegrationTask{
		Id: t.ID, ActivityOrigin: api.ACTIVITY, Type: api.TASK, Status: api.TaskStatus(t.TaskStatus),
		ActivityStatus: api.ActivityStatus(t.Status), Channel: api.Channel(t.Channel),
		Reason:      api.CodeLabel{Code: t.ReasonCode, Label: t.ReasonLabel},
		ScheduledAt: activityjson.NewTime(t.ScheduledAt), CommerceId: t.CommerceID, CommerceExternalId: nullOf(t.CommerceExternalID),
		CommerceName: t.CommerceName, ExternalId: nullOf(t.ExternalID), CreatedAt: activityjson.NewTime(t.CreatedAt), UpdatedAt: activityjson.NewTime(t.UpdatedAt),
		OccurredAt: nullable.NewNullNullable[activityjson.Time](), Result: nullable.NewNullNullable[api.TaskResultDetail](),
		ResultStatus: nullable.NewNullNullable[api.TaskResultStatus](),
	}
	if r := t.Result; r != nil {
		it.OccurredAt.Set(activityjson.NewTime(r.OccurredAt))
		it.Result.Set(toTaskResult(*r).TaskResult)
		it.ResultStatus.Set(api.TaskResultStatus(r.Status))
	}
	return it
}

// SubmitTaskResult records a task result after checking its result type; the store checks the
// activity and moves it.
func (h *Handler) SubmitTaskResult(ctx context.Context, req api.SubmitTaskResultRequestObject) (api.SubmitTaskResultResponseObject, error) {
	ws, b := auth.FromContext(ctx).WorkspaceID, req.Body
	if b.ActivityId == nil && b.ProviderActivityId == nil {
		return nil, problem.Invalid("activity_id or provider_activity_id is required",
			problem.Detail{Field: "activity_id", Message: "or provider_activity_id must name the activity"})
	}
	tr := b.TaskResult
	rt, err := h.DB.GetTaskResultTypeConfig(ctx, ws, tr.Result)
	if errors.Is(err, store.ErrNotFound) {
		return nil, h.unknownResultType(ctx, tr.Result)
	}
	if err != nil {
		return nil, err
	}
	if rt.RequiresFutureScheduledAt {
		if tr.FutureScheduledAt == nil {
			return nil, problem.Invalid(fmt.Sprintf("task_result.future_scheduled_at is required by result type %s", rt.Code),
				problem.Detail{Field: "task_result.future_scheduled_at", Message: fmt.Sprintf("is required by result type %s (requiresFutureScheduledAt)", rt.Code)})
		}
		if !tr.FutureScheduledAt.After(b.OccurredAt.Time) {
			return nil, problem.Invalid("task_result.future_scheduled_at must be later than occurred_at",
				problem.Detail{Field: "task_result.future_scheduled_at", Message: "must be later than occurred_at"})
		}
	}
	in := store.TaskResultSubmit{
		ActivityID: b.ActivityId, ProviderActivityID: b.ProviderActivityId, CommerceExternalID: b.CommerceExternalId,
		OccurredAt: b.OccurredAt.Time, Status: string(b.Status), ExternalStatus: b.ExternalStatus, HardOverride: b.HardOverride != nil && *b.HardOverride,
		ResultCode: rt.Code, ResultLabel: rt.Label, Comment: tr.Comment, ContactType: (*string)(tr.ContactType),
		OperatorExternalID: tr.OperatorExternalId, FutureScheduledAt: stdTime(tr.FutureScheduledAt),
	}
	if b.RawPayload != nil {
		in.RawPayload, _ = json.Marshal(*b.RawPayload)
	}
	if tr.Payload != nil {
		in.Payload, _ = json.Marshal(*tr.Payload)
	}
	r, replayed, err := h.DB.SubmitTaskResult(ctx, ws, in)
	if err != nil {
		return nil, err
	}
	if replayed {
		return api.SubmitTaskResult200JSONResponse(toTaskResult(r)), nil
	}
	return api.SubmitTaskResult201JSONResponse(toTaskResult(r)), nil
}

// unknownResultType is the 400 for a result code the workspace's catalog lacks; it lists the
// codes that would do.
func (h *Handler) unknownResultType(ctx context.Context, code string) error {
	configs, err := h.DB.ListTaskResultTypeConfigs(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return err
	}
	codes := make([]string, len(configs))
	for i, c := range configs {
		codes[i] = c.Code
	}
	known := "none is configured: add them with POST /task-result-type-configs"
	if len(codes) > 0 {
		known = "known: " + strings.Join(codes, ", ")
	}
	return problem.Invalid(fmt.Sprintf("Unknown task result type %q", code),
		problem.Detail{Field: "task_result.result", Message: fmt.Sprintf("%q is not an active result type (%s)", code, known)})
}

// ListTaskResultTypeConfigs lists the workspace's active result types.
func (h *Handler) ListTaskResultTypeConfigs(ctx context.Context, _ api.ListTaskResultTypeConfigsRequestObject) (api.ListTaskResultTypeConfigsResponseObject, error) {
	configs, err := h.DB.ListTaskResultTypeConfigs(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListTaskResultTypeConfigs200JSONResponse](configs, toResultType), nil
}

// CreateTaskResultTypeConfig adds a result type.
func (h *Handler) CreateTaskResultTypeConfig(ctx context.Context, req api.CreateTaskResultTypeConfigRequestObject) (api.CreateTaskResultTypeConfigResponseObject, error) {
	b := req.Body
	c, err := h.DB.CreateTaskResultTypeConfig(ctx, auth.FromContext(ctx).WorkspaceID, store.TaskResultTypeConfig{Code: b.Code, Label: b.Label,
		RequiresFutureScheduledAt: b.RequiresFutureScheduledAt != nil && *b.RequiresFutureScheduledAt, IsActive: b.IsActive == nil || *b.IsActive})
	if err != nil {
		return nil, err
	}
	return api.CreateTaskResultTypeConfig201JSONResponse(toResultType(c)), nil
}

func toResultType(c store.TaskResultTypeConfig) api.TaskResultTypeConfig {
	return api.TaskResultTypeConfig{Id: c.ID, Code: c.Code, Label: c.Label, RequiresFutureScheduledAt: c.RequiresFutureScheduledAt, IsActive: c.IsActive}
}

func toTaskResult(r store.TaskResult) api.TaskResult {
	out := api.TaskResult{Id: r.ID, ActivityId: r.ActivityID, ActivityStatus: api.ActivityStatus(r.ActivityStatus),
		Status: api.TaskResultStatus(r.Status), ExternalStatus: nullOf(r.ExternalStatus), OccurredAt: activityjson.NewTime(r.OccurredAt),
		RawPayload: map[string]any{}, CreatedAt: activityjson.NewTime(r.CreatedAt), UpdatedAt: activityjson.NewTime(r.UpdatedAt),
		TaskResult: api.TaskResultDetail{Result: r.ResultCode, ResultLabel: r.ResultLabel, Comment: nullOf(r.Comment),
			OperatorExternalId: nullOf(r.OperatorExternalID), Payload: map[string]any{}},
	}
	_ = json.Unmarshal(r.RawPayload, &out.RawPayload) // stored by us as a JSON object
	_ = json.Unmarshal(r.Payload, &out.TaskResult.Payload)
	out.TaskResult.ContactType.SetNull()
	if r.ContactType != nil {
		out.TaskResult.ContactType.Set(*r.ContactType)
	}
	out.TaskResult.FutureScheduledAt.SetNull()
	if r.FutureScheduledAt != nil {
		out.TaskResult.FutureScheduledAt.Set(activityjson.NewTime(*r.FutureScheduledAt))
	}
	return out
}
