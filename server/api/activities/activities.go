// Package activities implements the Activities API (openapi/activities.yaml, mounted at /api):
// the dispatch provider catalog and a workspace's dispatch configs, commerces and their people,
// the catalogs, activities and their resolution (resolution.go), and the integration API.
package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/server/resolve"
	"github.com/switchboard-dev/switchboard/store"
)

// Handler serves the Activities API.
type Handler struct {
	DB *store.DB
	// Hooks makes attribute policies' CLIENT_HOOK calls (UPFRONT ones in a create, and retries).
	Hooks *resolve.Hooks
	// Users issues the access tokens of signed-in users (Login, RefreshSession).
	Users *auth.Users
	// SecureCookies marks the session cookies Secure: the server is reached over https.
	SecureCookies bool
}

var _ api.StrictServerInterface = (*Handler)(nil)

// ListDispatchProviders lists the global catalog.
func (h *Handler) ListDispatchProviders(ctx context.Context, _ api.ListDispatchProvidersRequestObject) (api.ListDispatchProvidersResponseObject, error) {
	providers, err := h.DB.ListDispatchProviders(ctx)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListDispatchProviders200JSONResponse](providers, toProvider), nil
}

// ListChannelDefinitions lists one provider's channels.
func (h *Handler) ListChannelDefinitions(ctx context.Context, req api.ListChannelDefinitionsRequestObject) (api.ListChannelDefinitionsResponseObject, error) {
	defs, err := h.DB.ListChannelDefinitions(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListChannelDefinitions200JSONResponse](defs, toDefinition), nil
}

// ListDispatchConfigs lists the workspace's configs.
func (h *Handler) ListDispatchConfigs(ctx context.Context, req api.ListDispatchConfigsRequestObject) (api.ListDispatchConfigsResponseObject, error) {
	f := store.DispatchConfigFilter{IsActive: req.Params.IsActive}
	if req.Params.Channel != nil {
		ch := string(*req.Params.Channel)
		f.Channel = &ch
	}
	configs, err := h.DB.ListDispatchConfigs(ctx, auth.FromContext(ctx).WorkspaceID, f)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListDispatchConfigs200JSONResponse](configs, toConfig), nil
}

// CreateDispatchConfig creates a config after checking it against the provider's channel
// definition.
func (h *Handler) CreateDispatchConfig(ctx context.Context, req api.CreateDispatchConfigRequestObject) (api.CreateDispatchConfigResponseObject, error) {
	b := req.Body
	provider, err := h.DB.GetDispatchProvider(ctx, b.DispatchProviderId)
	if err != nil {
		return nil, err
	}
	if !provider.IsActive {
		return nil, problem.Invalid(fmt.Sprintf("Dispatch provider %s is not active", provider.Code),
			problem.Detail{Field: "dispatch_provider_id", Message: "names an inactive provider"})
	}
	def, err := channelDefinition(provider, string(b.Channel))
	if err != nil {
		return nil, err
	}
	creds := map[string]string(deref(b.Credentials))
	settings := map[string]any(deref(b.Settings))
	if err := checkRequired(provider, def, creds, settings, true, true); err != nil {
		return nil, err
	}
	in := store.DispatchConfigCreate{
		WorkspaceID:        auth.FromContext(ctx).WorkspaceID,
		DispatchProviderID: provider.ID,
		Channel:            string(b.Channel),
		BaseURL:            b.BaseUrl,
		Settings:           settings,
	}
	if b.Credentials != nil {
		in.Credentials = creds
	}
	c, err := h.DB.CreateDispatchConfig(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.CreateDispatchConfig201JSONResponse(toConfig(c)), nil
}

// GetDispatchConfig fetches one config.
func (h *Handler) GetDispatchConfig(ctx context.Context, req api.GetDispatchConfigRequestObject) (api.GetDispatchConfigResponseObject, error) {
	c, err := h.DB.GetDispatchConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetDispatchConfig200JSONResponse(toConfig(c)), nil
}

// UpdateDispatchConfig changes a config; new credentials or settings are checked against the
// channel definition again.
func (h *Handler) UpdateDispatchConfig(ctx context.Context, req api.UpdateDispatchConfigRequestObject) (api.UpdateDispatchConfigResponseObject, error) {
	ws := auth.FromContext(ctx).WorkspaceID
	current, err := h.DB.GetDispatchConfig(ctx, ws, req.Id)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var creds map[string]string
	var settings map[string]any
	if b.Credentials != nil || b.Settings != nil {
		provider, err := h.DB.GetDispatchProvider(ctx, current.DispatchProviderID)
		if err != nil {
			return nil, err
		}
		def, err := channelDefinition(provider, current.Channel)
		if err != nil {
			return nil, err
		}
		if b.Credentials != nil {
			creds = map[string]string(*b.Credentials)
		}
		if b.Settings != nil {
			settings = map[string]any(*b.Settings)
		}
		if err := checkRequired(provider, def, creds, settings, b.Credentials != nil, b.Settings != nil); err != nil {
			return nil, err
		}
	}
	c, err := h.DB.UpdateDispatchConfig(ctx, ws, req.Id, func(c *store.DispatchConfigEdit) error {
		if b.IsActive != nil {
			c.IsActive = *b.IsActive
		}
		if b.BaseUrl.IsNull() {
			c.BaseURL = nil
		} else if v, err := b.BaseUrl.Get(); err == nil {
			c.BaseURL = &v
		}
		if creds != nil {
			c.Credentials = creds
		}
		if settings != nil {
			raw, err := json.Marshal(settings)
			if err != nil {
				return err
			}
			c.Settings = raw
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateDispatchConfig200JSONResponse(toConfig(c)), nil
}

// DeactivateDispatchConfig soft-deletes a config.
func (h *Handler) DeactivateDispatchConfig(ctx context.Context, req api.DeactivateDispatchConfigRequestObject) (api.DeactivateDispatchConfigResponseObject, error) {
	if err := h.DB.DeactivateDispatchConfig(ctx, auth.FromContext(ctx).WorkspaceID, req.Id); err != nil {
		return nil, err
	}
	return api.DeactivateDispatchConfig204Response{}, nil
}

// channelDefinition returns the provider's definition of a channel, or the 400 the seed
// documents when the provider does not support it.
func channelDefinition(p store.DispatchProvider, channel string) (store.ChannelDefinition, error) {
	for _, d := range p.ChannelDefinitions {
		if d.Channel == channel {
			return d, nil
		}
	}
	supported := make([]string, 0, len(p.ChannelDefinitions))
	for _, d := range p.ChannelDefinitions {
		supported = append(supported, d.Channel)
	}
	return store.ChannelDefinition{}, problem.Invalid(
		fmt.Sprintf("Dispatch provider %s does not support channel %s", p.Code, channel),
		problem.Detail{Field: "channel", Message: fmt.Sprintf("is not supported by %s (supported: %s)", p.Code, strings.Join(supported, ", "))})
}

// checkRequired reports, in one 400, every required field of the definition missing from the
// credentials and settings being written (an empty string counts as missing); checkCreds and
// checkSettings say which of the two are being written.
func checkRequired(p store.DispatchProvider, d store.ChannelDefinition, creds map[string]string, settings map[string]any, checkCreds, checkSettings bool) error {
	var details []problem.Detail
	if checkCreds {
		for _, f := range d.CredentialSchema {
			if f.Required && creds[f.Key] == "" {
				details = append(details, problem.Detail{Field: "credentials." + f.Key,
					Message: fmt.Sprintf("is required by the %s %s channel definition", p.Code, d.Channel)})
			}
		}
	}
	if checkSettings {
		for _, f := range d.SettingsSchema {
			v, ok := settings[f.Key]
			if f.Required && (!ok || v == nil || v == "") {
				details = append(details, problem.Detail{Field: "settings." + f.Key,
					Message: fmt.Sprintf("is required by the %s %s channel definition", p.Code, d.Channel)})
			}
		}
	}
	if len(details) == 0 {
		return nil
	}
	msgs := make([]string, len(details))
	for i, dt := range details {
		msgs[i] = dt.Field + " " + dt.Message
	}
	return problem.Invalid(strings.Join(msgs, "; "), details...)
}

// deref is *p, or T's zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
