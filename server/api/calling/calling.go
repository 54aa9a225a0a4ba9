// Package calling implements the Calling API (openapi/calling.yaml, mounted at /calling): call
// execution configurations with their documented defaults and rules, a workspace blacklist, and
// decisions — what a configuration decides for one call at one moment, and why.
package calling

import (
	"context"
	"fmt"
	"time"

	api "github.com/switchboard-dev/switchboard/gen/calling"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Handler serves the Calling API.
type Handler struct {
	DB *store.DB
	// Now is the clock decisions default to; nil = time.Now.
	Now func() time.Time
	// Client makes the pre-checks' HTTP calls; each attempt has its own timeout on top.
	Client *egress.Client
}

var _ api.StrictServerInterface = (*Handler)(nil)

// New returns a Handler whose pre-checks go through the guarded client every call to a
// user-given URL uses (package egress): loopback, private and link-local destinations are
// refused unless allowPrivate, and redirects are not followed.
func New(db *store.DB, now func() time.Time, allowPrivate bool) *Handler {
	if now == nil {
		now = time.Now
	}
	// 35 s bounds an attempt whatever its configured timeout (at most 30 s).
	return &Handler{DB: db, Now: now, Client: egress.New(egress.Options{Timeout: 35 * time.Second, AllowPrivate: allowPrivate,
		MaxResponseBytes: maxAnswer})}
}

// ListConfigurations lists the workspace's configurations, filtered.
func (h *Handler) ListConfigurations(ctx context.Context, req api.ListConfigurationsRequestObject) (api.ListConfigurationsResponseObject, error) {
	p := req.Params
	configs, err := h.DB.ListCallingConfigs(ctx, auth.FromContext(ctx).WorkspaceID,
		store.CallingConfigFilter{ResellerID: p.ResellerId, Template: p.Template, MerchantID: p.MerchantId})
	if err != nil {
		return nil, err
	}
	out := make(api.ListConfigurations200JSONResponse, 0, len(configs))
	for _, c := range configs {
		out = append(out, toConfig(c))
	}
	return out, nil
}

// CreateConfiguration creates a configuration after checking the rules spanning fields.
func (h *Handler) CreateConfiguration(ctx context.Context, req api.CreateConfigurationRequestObject) (api.CreateConfigurationResponseObject, error) {
	c := fromCreate(*req.Body)
	if bad := append(keepMasked(nil, c.PreChecks), checkRules(c)...); len(bad) > 0 {
		return nil, problem.Invalid(problem.ValidationFailed, bad...)
	}
	c.WorkspaceID = auth.FromContext(ctx).WorkspaceID
	created, err := h.DB.CreateCallingConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	return api.CreateConfiguration201JSONResponse(toConfig(created)), nil
}

// GetConfiguration fetches one configuration.
func (h *Handler) GetConfiguration(ctx context.Context, req api.GetConfigurationRequestObject) (api.GetConfigurationResponseObject, error) {
	c, err := h.DB.GetCallingConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetConfiguration200JSONResponse(toConfig(c)), nil
}

// UpdateConfiguration writes the fields given; the result must keep every rule.
func (h *Handler) UpdateConfiguration(ctx context.Context, req api.UpdateConfigurationRequestObject) (api.UpdateConfigurationResponseObject, error) {
	c, err := h.DB.UpdateCallingConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, func(c *store.CallingConfig) error {
		bad := applyUpdate(c, *req.Body)
		bad = append(bad, checkRules(*c)...)
		if len(bad) > 0 {
			return problem.Invalid(problem.ValidationFailed, bad...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateConfiguration200JSONResponse(toConfig(c)), nil
}

// DeleteConfiguration deletes a configuration.
func (h *Handler) DeleteConfiguration(ctx context.Context, req api.DeleteConfigurationRequestObject) (api.DeleteConfigurationResponseObject, error) {
	if err := h.DB.DeleteCallingConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteConfiguration204Response{}, nil
}

// SetCallingActivation switches enable_calling on the matching configurations.
func (h *Handler) SetCallingActivation(ctx context.Context, req api.SetCallingActivationRequestObject) (api.SetCallingActivationResponseObject, error) {
	p := req.Params
	configs, changed, err := h.DB.SetCallingEnabled(ctx, auth.FromContext(ctx).WorkspaceID, p.ResellerId, p.MerchantId, p.EnableCalling)
	if err != nil {
		return nil, err
	}
	out := api.SetCallingActivation200JSONResponse{Status: "success", Matched: len(configs), Updated: changed,
		Message: fmt.Sprintf("Updated %d config(s)", changed), Configs: make([]api.CallExecutionConfig, 0, len(configs))}
	for _, c := range configs {
		out.Configs = append(out.Configs, toConfig(c))
	}
	return out, nil
}

// ListBlacklist lists the workspace's blacklist.
func (h *Handler) ListBlacklist(ctx context.Context, _ api.ListBlacklistRequestObject) (api.ListBlacklistResponseObject, error) {
	entries, err := h.DB.ListBlacklist(ctx, auth.FromContext(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := make(api.ListBlacklist200JSONResponse, 0, len(entries))
	for _, e := range entries {
		out = append(out, api.BlacklistEntry{Number: e.Number, Reason: some(e.Reason), CreatedAt: e.CreatedAt.UTC()})
	}
	return out, nil
}

// AddToBlacklist adds numbers to the blacklist.
func (h *Handler) AddToBlacklist(ctx context.Context, req api.AddToBlacklistRequestObject) (api.AddToBlacklistResponseObject, error) {
	n, err := h.DB.AddToBlacklist(ctx, auth.FromContext(ctx).WorkspaceID, req.Body.Numbers, req.Body.Reason)
	if err != nil {
		return nil, err
	}
	return api.AddToBlacklist200JSONResponse{Added: n}, nil
}

// RemoveFromBlacklist removes one number.
func (h *Handler) RemoveFromBlacklist(ctx context.Context, req api.RemoveFromBlacklistRequestObject) (api.RemoveFromBlacklistResponseObject, error) {
	if err := h.DB.RemoveFromBlacklist(ctx, auth.FromContext(ctx).WorkspaceID, req.Number); err != nil {
		return nil, err
	}
	return api.RemoveFromBlacklist204Response{}, nil
}
