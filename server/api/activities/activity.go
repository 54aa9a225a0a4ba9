package activities

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// ListUserRetentionStatuses lists the workspace's status catalog.
func (h *Handler) ListUserRetentionStatuses(ctx context.Context, req api.ListUserRetentionStatusesRequestObject) (api.ListUserRetentionStatusesResponseObject, error) {
	es, err := h.DB.ListCatalog(ctx, store.UserRetentionStatuses, auth.FromContext(ctx).WorkspaceID, req.Params.ActiveOnly != nil && *req.Params.ActiveOnly)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListUserRetentionStatuses200JSONResponse](es, toUserStatus), nil
}

// CreateUserRetentionStatus adds a status to the catalog.
func (h *Handler) CreateUserRetentionStatus(ctx context.Context, req api.CreateUserRetentionStatusRequestObject) (api.CreateUserRetentionStatusResponseObject, error) {
	e, err := h.DB.CreateCatalogEntry(ctx, store.UserRetentionStatuses, auth.FromContext(ctx).WorkspaceID, catalogEntry(*req.Body))
	if err != nil {
		return nil, err
	}
	return api.CreateUserRetentionStatus201JSONResponse(toUserStatus(e)), nil
}

// ListActivityReasons lists the workspace's reason catalog.
func (h *Handler) ListActivityReasons(ctx context.Context, _ api.ListActivityReasonsRequestObject) (api.ListActivityReasonsResponseObject, error) {
	es, err := h.DB.ListCatalog(ctx, store.ActivityReasons, auth.FromContext(ctx).WorkspaceID, false)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListActivityReasons200JSONResponse](es, toReason), nil
}

// CreateActivityReason adds a reason to the catalog.
func (h *Handler) CreateActivityReason(ctx context.Context, req api.CreateActivityReasonRequestObject) (api.CreateActivityReasonResponseObject, error) {
	e, err := h.DB.CreateCatalogEntry(ctx, store.ActivityReasons, auth.FromContext(ctx).WorkspaceID, catalogEntry(*req.Body))
	if err != nil {
		return nil, err
	}
	return api.CreateActivityReason201JSONResponse(toReason(e)), nil
}

func catalogEntry(b api.CreateCatalogEntryRequest) store.CatalogEntry {
	return store.CatalogEntry{Code: b.Code, Label: b.Label, Description: b.Description, IsActive: b.IsActive == nil || *b.IsActive}
}

func toUserStatus(e store.CatalogEntry) api.UserRetentionStatus {
	return api.UserRetentionStatus{Id: e.ID, Code: e.Code, Label: e.Label, Description: nullOf(e.Description),
		IsActive: e.IsActive, CreatedAt: activityjson.NewTime(e.CreatedAt), UpdatedAt: activityjson.NewTime(e.UpdatedAt)}
}

func toReason(e store.CatalogEntry) api.ActivityReason {
	return api.ActivityReason{Id: e.ID, Code: e.Code, Label: e.Label, IsActive: e.IsActive,
		CreatedAt: activityjson.NewTime(e.CreatedAt), UpdatedAt: activityjson.NewTime(e.UpdatedAt)}
}

// Slug turns free text into a catalog code: "Monthly promotion" → "monthly_promotion";
// accents are dropped ("Promoción" → "promocion") and runs of other characters become one "_".
func Slug(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(unicode.ToLower(r))
		default:
			sep = true
		}
	}
	return b.String()
}

// CreateActivity creates an activity, resolving what resolves on creation (UNRESOLVED when that
// fails), and schedules its dispatch. UPFRONT CLIENT_HOOK attributes are called while the
// request waits: the store answers which calls it needs, and the create is made again with
// their results.
func (h *Handler) CreateActivity(ctx context.Context, req api.CreateActivityRequestObject) (api.CreateActivityResponseObject, error) {
	b := req.Body
	in := store.ActivityCreate{
		WorkspaceID: auth.FromContext(ctx).WorkspaceID, CommerceID: b.CommerceId, Type: string(b.Type), Channel: string(b.Channel),
		Reason: b.Reason, ReasonCode: Slug(b.Reason), UserStatus: b.UserStatus, IdempotencyKey: b.IdempotencyKey,
		ScheduledAt: b.ScheduledAt.Time, SuggestedExecutionTime: stdTime(b.SuggestedExecutionTime), Score: b.Score, AssignmentReason: b.AssignmentReason,
	}
	if in.ReasonCode == "" {
		return nil, problem.Invalid("reason must contain a letter or a digit", problem.Detail{Field: "reason", Message: "must contain a letter or a digit"})
	}
	if b.AttributeKeys != nil {
		in.AttributeKeys = *b.AttributeKeys
	}
	if b.TargetCriteria != nil {
		if _, err := toCriteria(b.TargetCriteria, "target_criteria"); err != nil {
			return nil, err
		}
		in.TargetCriteria, _ = json.Marshal(*b.TargetCriteria) // stored as given: the activity's targetCriteria
	}
	if err := checkAttributes(b.Attributes); err != nil {
		return nil, err
	}
	if b.Attributes != nil {
		in.Attributes, _ = json.Marshal(*b.Attributes)
	}
	for round := 0; ; round++ {
		a, err := h.DB.CreateActivity(ctx, in)
		var need *store.HooksNeeded
		if errors.As(err, &need) {
			results := h.Hooks.Call(ctx, need.Calls)
			if in.HookResults == nil {
				in.HookResults = make(map[uuid.UUID]store.HookResult, len(need.Calls))
			}
			for i, c := range need.Calls {
				in.HookResults[c.AttributeKeyID] = results[i]
			}
			// The same activity (the hooks saw its id); a policy that became CLIENT_HOOK in
			// between fails rather than calling hooks round after round.
			in.ID, in.FinalRound = need.ActivityID, round >= 1
			continue
		}
		if err != nil {
			return nil, err
		}
		return encodeActivity(a), nil
	}
}

// ListActivities pages through the workspace's activities.
func (h *Handler) ListActivities(ctx context.Context, req api.ListActivitiesRequestObject) (api.ListActivitiesResponseObject, error) {
	p := req.Params
	page, limit := pageParams(p.Page, p.PerPage, p.Limit, defaultPageSize)
	f := store.ActivityFilter{Search: p.Search, Status: (*string)(p.Status), Type: (*string)(p.Type), Channel: (*string)(p.Channel),
		CommerceID: p.CommerceId, ScheduledFrom: stdTime(p.ScheduledFrom), ScheduledTo: stdTime(p.ScheduledTo)}
	as, total, err := h.DB.ListActivities(ctx, auth.FromContext(ctx).WorkspaceID, f, page, limit)
	if err != nil {
		return nil, err
	}
	return api.ListActivities200JSONResponse{Data: convertAll[[]api.Activity](as, ToAPI), Meta: pageMeta(page, limit, total)}, nil
}

// GetActivity fetches one activity.
func (h *Handler) GetActivity(ctx context.Context, req api.GetActivityRequestObject) (api.GetActivityResponseObject, error) {
	a, err := h.DB.GetActivity(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetActivity200JSONResponse(ToAPI(a)), nil
}

// ListActivityStatusEvents returns the activity's audit trail.
func (h *Handler) ListActivityStatusEvents(ctx context.Context, req api.ListActivityStatusEventsRequestObject) (api.ListActivityStatusEventsResponseObject, error) {
	es, err := h.DB.ListStatusEvents(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListActivityStatusEvents200JSONResponse](es, toStatusEvent), nil
}

func toStatusEvent(e store.StatusEvent) api.ActivityStatusEvent {
	return api.ActivityStatusEvent{Id: e.ID, EventType: api.ActivityStatusEventEventType(e.EventType), FromStatus: nullOf(e.FromStatus),
		ToStatus: api.ActivityStatus(e.ToStatus), ErrorCode: nullOf(e.ErrorCode), ErrorMessage: nullOf(e.ErrorMessage),
		OccurredAt: activityjson.NewTime(e.OccurredAt)}
}

// ListActivityDispatchAttempts returns the activity's dispatch attempts.
func (h *Handler) ListActivityDispatchAttempts(ctx context.Context, req api.ListActivityDispatchAttemptsRequestObject) (api.ListActivityDispatchAttemptsResponseObject, error) {
	as, err := h.DB.ListDispatchAttempts(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListActivityDispatchAttempts200JSONResponse](as, toDispatchAttempt), nil
}

func toDispatchAttempt(a store.DispatchAttempt) api.DispatchAttempt {
	return api.DispatchAttempt{Id: a.ID, Attempt: a.Attempt, DispatchConfigId: nullOf(a.DispatchConfigID),
		ProviderCode: nullOf(a.ProviderCode), StatusCode: nullOf(a.StatusCode), DurationMs: a.DurationMS,
		Error: nullOf(a.Error), ExternalId: nullOf(a.ExternalID), StartedAt: activityjson.NewTime(a.StartedAt)}
}

// CancelActivity cancels a READY or UNRESOLVED activity.
func (h *Handler) CancelActivity(ctx context.Context, req api.CancelActivityRequestObject) (api.CancelActivityResponseObject, error) {
	a, moved, err := h.DB.TransitionActivity(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, store.Transition{
		From: []string{store.StatusReady, store.StatusUnresolved}, To: store.StatusCanceled, EventType: "CANCELED"})
	if err != nil {
		return nil, err
	}
	if !moved {
		return nil, problem.New(http.StatusBadRequest, "Activity cannot be canceled: its status is %s (only READY or UNRESOLVED activities can be)", a.Status)
	}
	return api.CancelActivity200JSONResponse(ToAPI(a)), nil
}

// ToAPI is an activity as the API shows it (and as it is sent to REST providers).
func ToAPI(a store.Activity) api.Activity {
	out := api.Activity{
		Id: a.ID, Type: api.ActivityType(a.Type), Reason: api.CodeLabel{Code: a.ReasonCode, Label: a.ReasonLabel},
		Channel: api.Channel(a.Channel), Status: api.ActivityStatus(a.Status), IdempotencyKey: a.IdempotencyKey,
		ScheduledAt: activityjson.NewTime(a.ScheduledAt), AttributeKeys: []string(a.AttributeKeys), DispatchAttemptCount: a.DispatchAttemptCount,
		ExternalId: nullOf(a.ExternalID), CreatedAt: activityjson.NewTime(a.CreatedAt), UpdatedAt: activityjson.NewTime(a.UpdatedAt),
		TargetCriteria: []api.TargetCriterion{}, Attributes: []api.AttributeInput{},
	}
	out.CommerceAssignment.CommerceId = a.CommerceID
	out.CommerceAssignment.Commerce = &struct {
		Name string `json:"name"`
	}{Name: a.CommerceName}
	out.CommerceAssignment.AssignmentReason = nullOf(a.AssignmentReason)
	out.UserStatus.SetNull()
	if a.UserStatusCode != nil {
		out.UserStatus.Set(api.UserStatusRef{Code: *a.UserStatusCode, Label: *a.UserStatusLabel})
	}
	out.SuggestedExecutionTime.SetNull()
	if a.SuggestedExecutionTime != nil {
		out.SuggestedExecutionTime.Set(activityjson.NewTime(*a.SuggestedExecutionTime))
	}
	out.Score = nullOf(a.Score)
	_ = json.Unmarshal(a.TargetCriteria, &out.TargetCriteria)
	_ = json.Unmarshal(a.Attributes, &out.Attributes)
	if out.AttributeKeys == nil {
		out.AttributeKeys = []string{}
	}
	out.TargetUser.SetNull()
	if a.Target != nil {
		out.TargetUser.Set(toTargetUser(*a.Target))
	}
	out.ResolvedAttributes = make([]api.ActivityAttribute, 0, len(a.ResolvedAttributes))
	for _, e := range a.ResolvedAttributes {
		out.ResolvedAttributes = append(out.ResolvedAttributes, toAttribute(a.ID, e))
	}
	return out
}
