package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// The activity-config endpoints (attribute keys, attribute policies, target resolution
// configs) and an activity's resolution: its attributes, target users, manual assignment and
// retry. What resolves, and how, is the store's (store/resolution.go); hook calls are package
// resolve's.

// ListAttributeKeys lists the built-in keys and the workspace's own.
func (h *Handler) ListAttributeKeys(ctx context.Context, _ api.ListAttributeKeysRequestObject) (api.ListAttributeKeysResponseObject, error) {
	ks, err := h.DB.ListAttributeKeys(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := make(api.ListAttributeKeys200JSONResponse, 0, len(ks))
	for _, k := range ks {
		out = append(out, toAttributeKey(k))
	}
	return out, nil
}

// CreateAttributeKey adds a key of the workspace's own.
func (h *Handler) CreateAttributeKey(ctx context.Context, req api.CreateAttributeKeyRequestObject) (api.CreateAttributeKeyResponseObject, error) {
	b := req.Body
	k, err := h.DB.CreateAttributeKey(ctx, auth.FromContext(ctx).WorkspaceID, store.AttributeKeyCreate{Key: b.Key, Label: b.Label, Description: b.Description})
	if err != nil {
		return nil, err
	}
	return api.CreateAttributeKey201JSONResponse(toAttributeKey(k)), nil
}

// DeleteAttributeKey removes one of the workspace's own keys.
func (h *Handler) DeleteAttributeKey(ctx context.Context, req api.DeleteAttributeKeyRequestObject) (api.DeleteAttributeKeyResponseObject, error) {
	if err := h.DB.DeleteAttributeKey(ctx, auth.FromContext(ctx).WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteAttributeKey204Response{}, nil
}

func toAttributeKey(k store.AttributeKey) api.AttributeKey {
	return api.AttributeKey{Id: k.ID, Key: k.Key, Label: k.Label, Description: nullOf(k.Description), IsBuiltIn: k.BuiltIn(),
		CreatedAt: activityjson.NewTime(k.CreatedAt), UpdatedAt: activityjson.NewTime(k.UpdatedAt)}
}

// ListAttributePolicies lists the workspace's policies.
func (h *Handler) ListAttributePolicies(ctx context.Context, _ api.ListAttributePoliciesRequestObject) (api.ListAttributePoliciesResponseObject, error) {
	ps, err := h.DB.ListAttributePolicies(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := make(api.ListAttributePolicies200JSONResponse, 0, len(ps))
	for _, p := range ps {
		out = append(out, toAttributePolicy(p))
	}
	return out, nil
}

// UpsertAttributePolicy creates or replaces the workspace's policy for a key; both documented
// body forms arrive here as one (camelCase keys are renamed by contract; strategy and
// resolution_strategy are the same field).
func (h *Handler) UpsertAttributePolicy(ctx context.Context, req api.UpsertAttributePolicyRequestObject) (api.UpsertAttributePolicyResponseObject, error) {
	b := req.Body
	strategy := b.Strategy
	switch {
	case strategy == nil && b.ResolutionStrategy == nil:
		return nil, problem.Invalid("strategy (or resolution_strategy) is required",
			problem.Detail{Field: "strategy", Message: "is required (as strategy or resolution_strategy)", Type: "required"})
	case strategy != nil && b.ResolutionStrategy != nil && *strategy != *b.ResolutionStrategy:
		return nil, problem.Invalid("strategy and resolution_strategy disagree",
			problem.Detail{Field: "resolution_strategy", Message: fmt.Sprintf("is %s while strategy is %s: send one of them", *b.ResolutionStrategy, *strategy)})
	case strategy == nil:
		strategy = b.ResolutionStrategy
	}
	in := store.AttributePolicyUpsert{AttributeKeyID: b.AttributeKeyId, Strategy: string(*strategy), HookTimeoutMS: b.HookTimeoutMs}
	if b.ResolverType != nil {
		rt := string(*b.ResolverType)
		in.ResolverType = &rt
	}
	var details []problem.Detail
	if *strategy != api.AttributeStrategyCALLERPROVIDED && in.ResolverType == nil {
		details = append(details, problem.Detail{Field: "resolver_type", Message: fmt.Sprintf("is required with strategy %s", *strategy), Type: "required"})
	}
	if in.ResolverType != nil && *in.ResolverType == store.ResolverClientHook {
		if b.HookUrl == nil {
			details = append(details, problem.Detail{Field: "hook_url", Message: "is required with resolver_type CLIENT_HOOK", Type: "required"})
		}
		in.HookURL = b.HookUrl
	} else if b.HookUrl != nil {
		details = append(details, problem.Detail{Field: "hook_url", Message: "is only for resolver_type CLIENT_HOOK"})
	}
	if len(details) > 0 {
		return nil, problem.Invalid(details[0].String(), details...)
	}
	p, _, err := h.DB.UpsertAttributePolicy(ctx, auth.FromContext(ctx).WorkspaceID, in)
	if err != nil {
		return nil, err
	}
	return api.UpsertAttributePolicy200JSONResponse(toAttributePolicy(p)), nil
}

// DeleteAttributePolicy removes a policy.
func (h *Handler) DeleteAttributePolicy(ctx context.Context, req api.DeleteAttributePolicyRequestObject) (api.DeleteAttributePolicyResponseObject, error) {
	if err := h.DB.DeleteAttributePolicy(ctx, auth.FromContext(ctx).WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteAttributePolicy204Response{}, nil
}

// RotateAttributeHookSecret gives a policy a new hook secret, shown once.
func (h *Handler) RotateAttributeHookSecret(ctx context.Context, req api.RotateAttributeHookSecretRequestObject) (api.RotateAttributeHookSecretResponseObject, error) {
	p, err := h.DB.RotateHookSecret(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return api.RotateAttributeHookSecret200JSONResponse(toAttributePolicy(p)), nil
}

func toAttributePolicy(p store.AttributePolicy) api.AttributePolicy {
	out := api.AttributePolicy{Id: p.ID, AttributeKeyId: p.AttributeKeyID, Strategy: api.AttributeStrategy(p.Strategy),
		ResolutionStrategy: api.AttributeStrategy(p.Strategy), HookUrl: nullOf(p.HookURL), HookTimeoutMs: p.HookTimeoutMS,
		CreatedAt: activityjson.NewTime(p.CreatedAt), UpdatedAt: activityjson.NewTime(p.UpdatedAt)}
	out.AttributeKey.Key, out.AttributeKey.Label = p.Key, p.KeyLabel
	out.ResolverType.SetNull()
	if p.ResolverType != nil {
		out.ResolverType.Set(api.ResolverType(*p.ResolverType))
	}
	out.HookSecret.SetNull()
	if p.NewHookSecret != "" {
		out.HookSecret.Set(p.NewHookSecret)
	}
	return out
}

// ListTargetResolutionConfigs lists the workspace's configs.
func (h *Handler) ListTargetResolutionConfigs(ctx context.Context, _ api.ListTargetResolutionConfigsRequestObject) (api.ListTargetResolutionConfigsResponseObject, error) {
	cs, err := h.DB.ListTargetConfigs(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := make(api.ListTargetResolutionConfigs200JSONResponse, 0, len(cs))
	for _, c := range cs {
		out = append(out, toTargetConfig(c))
	}
	return out, nil
}

// CreateTargetResolutionConfig stores a config.
func (h *Handler) CreateTargetResolutionConfig(ctx context.Context, req api.CreateTargetResolutionConfigRequestObject) (api.CreateTargetResolutionConfigResponseObject, error) {
	b := req.Body
	criteria, err := toCriteria(b.Criteria, "criteria")
	if err != nil {
		return nil, err
	}
	c := store.TargetConfig{Strategy: string(b.ResolutionStrategy), FallbackToCommerceRep: b.FallbackToCommerceRep == nil || *b.FallbackToCommerceRep,
		FallbackToOwner: b.FallbackToOwner == nil || *b.FallbackToOwner, Priority: deref(b.Priority), IsActive: b.IsActive == nil || *b.IsActive,
		Criteria: criteria}
	if b.Channel != nil {
		ch := string(*b.Channel)
		c.Channel = &ch
	}
	if b.ActivityType != nil {
		t := string(*b.ActivityType)
		c.ActivityType = &t
	}
	out, err := h.DB.CreateTargetConfig(ctx, auth.FromContext(ctx).WorkspaceID, c)
	if err != nil {
		return nil, err
	}
	return api.CreateTargetResolutionConfig201JSONResponse(toTargetConfig(out)), nil
}

// UpdateTargetResolutionConfig changes the fields given.
func (h *Handler) UpdateTargetResolutionConfig(ctx context.Context, req api.UpdateTargetResolutionConfigRequestObject) (api.UpdateTargetResolutionConfigResponseObject, error) {
	b := req.Body
	var criteria store.TargetCriteria
	if b.Criteria != nil {
		var err error
		if criteria, err = toCriteria(b.Criteria, "criteria"); err != nil {
			return nil, err
		}
	}
	out, err := h.DB.UpdateTargetConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, func(c *store.TargetConfig) error {
		if b.ResolutionStrategy != nil {
			c.Strategy = string(*b.ResolutionStrategy)
		}
		if b.FallbackToCommerceRep != nil {
			c.FallbackToCommerceRep = *b.FallbackToCommerceRep
		}
		if b.FallbackToOwner != nil {
			c.FallbackToOwner = *b.FallbackToOwner
		}
		if b.Priority != nil {
			c.Priority = *b.Priority
		}
		if b.IsActive != nil {
			c.IsActive = *b.IsActive
		}
		if b.Channel.IsNull() {
			c.Channel = nil
		} else if v, err := b.Channel.Get(); err == nil {
			ch := string(v)
			c.Channel = &ch
		}
		if b.ActivityType.IsNull() {
			c.ActivityType = nil
		} else if v, err := b.ActivityType.Get(); err == nil {
			t := string(v)
			c.ActivityType = &t
		}
		if b.Criteria != nil {
			c.Criteria = criteria
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateTargetResolutionConfig200JSONResponse(toTargetConfig(out)), nil
}

// DeleteTargetResolutionConfig removes a config.
func (h *Handler) DeleteTargetResolutionConfig(ctx context.Context, req api.DeleteTargetResolutionConfigRequestObject) (api.DeleteTargetResolutionConfigResponseObject, error) {
	if err := h.DB.DeleteTargetConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteTargetResolutionConfig204Response{}, nil
}

func toTargetConfig(c store.TargetConfig) api.TargetResolutionConfig {
	out := api.TargetResolutionConfig{Id: c.ID, ResolutionStrategy: api.TargetResolutionStrategy(c.Strategy),
		FallbackToCommerceRep: c.FallbackToCommerceRep, FallbackToOwner: c.FallbackToOwner, Priority: c.Priority, IsActive: c.IsActive,
		Criteria: make([]api.ConfiguredCriterion, 0, len(c.Criteria)), CreatedAt: activityjson.NewTime(c.CreatedAt),
		UpdatedAt: activityjson.NewTime(c.UpdatedAt)}
	out.Channel.SetNull()
	if c.Channel != nil {
		out.Channel.Set(api.Channel(*c.Channel))
	}
	out.ActivityType.SetNull()
	if c.ActivityType != nil {
		out.ActivityType.Set(api.ActivityType(*c.ActivityType))
	}
	for _, cr := range c.Criteria {
		cfg := map[string]any{}
		_ = json.Unmarshal(cr.Config, &cfg) // stored by us from a validated object
		out.Criteria = append(out.Criteria, api.ConfiguredCriterion{Id: cr.ID, CriteriaType: api.TargetCriterionType(cr.Type),
			CriteriaConfig: cfg, Priority: cr.Priority})
	}
	return out
}

// toCriteria checks criteria from a request (field names where they came from) and makes them
// the store's: a ROLE_MATCH needs config.role, a commerce user role.
func toCriteria(in *[]api.TargetCriterion, field string) (store.TargetCriteria, error) {
	if in == nil {
		return store.TargetCriteria{}, nil
	}
	out := make([]store.TargetCriterion, 0, len(*in))
	var details []problem.Detail
	for i, c := range *in {
		cfg := map[string]any{}
		if c.Config != nil {
			cfg = *c.Config
		}
		if c.Type == api.ROLEMATCH {
			if role, _ := cfg["role"].(string); !slices.Contains(store.CommerceUserRoles, role) {
				details = append(details, problem.Detail{Field: fmt.Sprintf("%s[%d].config.role", field, i),
					Message: "ROLE_MATCH needs a role, one of " + strings.Join(store.CommerceUserRoles, ", ")})
			}
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, store.TargetCriterion{Type: string(c.Type), Config: raw, Priority: deref(c.Priority)})
	}
	if len(details) > 0 {
		return nil, problem.Invalid(details[0].String(), details...)
	}
	return store.NewTargetCriteria(out), nil
}

// ListActivityAttributes lists an activity's resolved attributes.
func (h *Handler) ListActivityAttributes(ctx context.Context, req api.ListActivityAttributesRequestObject) (api.ListActivityAttributesResponseObject, error) {
	a, err := h.DB.GetActivity(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	out := make(api.ListActivityAttributes200JSONResponse, 0, len(a.ResolvedAttributes))
	for _, e := range a.ResolvedAttributes {
		out = append(out, toAttribute(a.ID, e))
	}
	return out, nil
}

// ListActivityTargetUsers lists an activity's target user (none or one).
func (h *Handler) ListActivityTargetUsers(ctx context.Context, req api.ListActivityTargetUsersRequestObject) (api.ListActivityTargetUsersResponseObject, error) {
	a, err := h.DB.GetActivity(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	out := api.ListActivityTargetUsers200JSONResponse{}
	if a.Target != nil {
		out = append(out, toTargetUser(*a.Target))
	}
	return out, nil
}

// ResolveActivityTargetUser assigns a target user by hand.
func (h *Handler) ResolveActivityTargetUser(ctx context.Context, req api.ResolveActivityTargetUserRequestObject) (api.ResolveActivityTargetUserResponseObject, error) {
	t, err := h.DB.AssignTargetUser(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.TargetUserId, req.Body.CommerceUserId)
	if err != nil {
		return nil, err
	}
	return api.ResolveActivityTargetUser200JSONResponse(toTargetUser(t)), nil
}

// RetryActivityResolution runs an UNRESOLVED activity's failed resolutions again.
func (h *Handler) RetryActivityResolution(ctx context.Context, req api.RetryActivityResolutionRequestObject) (api.RetryActivityResolutionResponseObject, error) {
	a, _, err := h.DB.ResolveActivity(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, store.ResolveRetry, h.Hooks.Call)
	if err != nil {
		return nil, err
	}
	return api.RetryActivityResolution200JSONResponse(ToAPI(a)), nil
}

func toTargetUser(t store.TargetUser) api.TargetUser {
	out := api.TargetUser{Id: t.ID, CommerceUserId: nullOf(t.CommerceUserID), ResolutionStatus: api.TargetUserResolutionStatus(t.Status),
		ResolutionStrategy: api.TargetResolutionStrategy(t.Strategy), ErrorMessage: nullOf(t.ErrorMessage),
		ResolvedAt: nullOf(activityjson.TimePtr(t.ResolvedAt)), LockedAt: nullOf(activityjson.TimePtr(t.LockedAt)),
		CreatedAt: activityjson.NewTime(t.CreatedAt), UpdatedAt: activityjson.NewTime(t.UpdatedAt)}
	out.LockReason.SetNull()
	if t.LockReason != nil {
		out.LockReason.Set(*t.LockReason)
	}
	out.CommerceUser.SetNull()
	if t.CommerceUserID != nil {
		out.CommerceUser.Set(api.CommerceUserName{FirstName: nullOf(t.FirstName), LastName: nullOf(t.LastName)})
	}
	out.Contact.SetNull()
	if c := t.Contact; c != nil {
		out.Contact.Set(api.TargetContact{Id: c.ID, Type: api.ContactType(c.Type), Value: c.Value})
	}
	return out
}

func toAttribute(activityID uuid.UUID, e store.ResolvedAttribute) api.ActivityAttribute {
	out := api.ActivityAttribute{Id: e.ID, ActivityId: activityID, AttributeKeyId: e.AttributeKeyID, Key: e.Key,
		ResolutionStatus: api.ActivityAttributeResolutionStatus(e.Status), ResolutionStrategy: api.AttributeStrategy(e.Strategy),
		ResolvedAt: nullOf(activityjson.TimePtr(e.ResolvedAt)), ErrorMessage: nullOf(e.ErrorMessage),
		CreatedAt: activityjson.NewTime(e.CreatedAt), UpdatedAt: activityjson.NewTime(e.UpdatedAt)}
	out.ResolverType.SetNull()
	if e.ResolverType != nil {
		out.ResolverType.Set(api.ResolverType(*e.ResolverType))
	}
	// The union type keeps the JSON as it is: stored by us, valid.
	value := e.Value
	if len(value) == 0 {
		value = json.RawMessage("null")
	}
	_ = out.Value.UnmarshalJSON(value)
	return out
}

// checkAttributes refuses a key named twice in a create's attributes. (A NUL character, which
// PostgreSQL's text and jsonb refuse, never gets here: the validation middleware refuses it in
// every body string and key, naming the field.)
func checkAttributes(in *[]api.AttributeInput) error {
	var details []problem.Detail
	if in == nil {
		in = &[]api.AttributeInput{}
	}
	seen := map[string]int{}
	for i, a := range *in {
		if j, dup := seen[a.Key]; dup {
			details = append(details, problem.Detail{Field: fmt.Sprintf("attributes[%d].key", i), Message: fmt.Sprintf("repeats attributes[%d].key", j)})
		}
		seen[a.Key] = i
	}
	if len(details) > 0 {
		return problem.Invalid(details[0].String(), details...)
	}
	return nil
}
