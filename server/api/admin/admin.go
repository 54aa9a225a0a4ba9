// Package admin implements the operator's Admin API (openapi/admin.yaml, mounted at
// /admin/v1): workspaces, their API keys, and the dispatch provider catalog.
package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/admin"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Handler serves the Admin API.
type Handler struct {
	DB  *store.DB
	Now func() time.Time
}

var _ api.StrictServerInterface = (*Handler)(nil)

// ListWorkspaces pages through workspaces, oldest first.
func (h *Handler) ListWorkspaces(ctx context.Context, req api.ListWorkspacesRequestObject) (api.ListWorkspacesResponseObject, error) {
	limit := 50
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	var after uuid.UUID
	if req.Params.Cursor != nil {
		var err error
		if after, err = uuid.Parse(*req.Params.Cursor); err != nil {
			return nil, problem.Invalid("Invalid cursor", problem.Detail{Field: "query.cursor", Message: "is not a cursor this API returned"})
		}
	}
	// One extra row tells whether there is a next page.
	ws, err := h.DB.ListWorkspaces(ctx, after, limit+1)
	if err != nil {
		return nil, err
	}
	page := api.ListWorkspaces200JSONResponse{Data: []api.Workspace{}}
	for i, w := range ws {
		if i == limit {
			next := ws[i-1].ID.String()
			page.NextCursor = &next
			break
		}
		page.Data = append(page.Data, toWorkspace(w))
	}
	return page, nil
}

// CreateWorkspace creates a workspace.
func (h *Handler) CreateWorkspace(ctx context.Context, req api.CreateWorkspaceRequestObject) (api.CreateWorkspaceResponseObject, error) {
	w, err := h.DB.CreateWorkspace(ctx, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return api.CreateWorkspace201JSONResponse(toWorkspace(w)), nil
}

// GetWorkspace fetches a workspace.
func (h *Handler) GetWorkspace(ctx context.Context, req api.GetWorkspaceRequestObject) (api.GetWorkspaceResponseObject, error) {
	w, err := h.DB.GetWorkspace(ctx, req.WorkspaceId)
	if err != nil {
		return nil, err
	}
	return api.GetWorkspace200JSONResponse(toWorkspace(w)), nil
}

// UpdateWorkspace renames a workspace.
func (h *Handler) UpdateWorkspace(ctx context.Context, req api.UpdateWorkspaceRequestObject) (api.UpdateWorkspaceResponseObject, error) {
	w, err := h.DB.UpdateWorkspace(ctx, req.WorkspaceId, func(w *store.Workspace) error {
		if req.Body.Name != nil {
			w.Name = *req.Body.Name
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateWorkspace200JSONResponse(toWorkspace(w)), nil
}

// ListApiKeys lists a workspace's keys without secrets.
func (h *Handler) ListApiKeys(ctx context.Context, req api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	keys, err := h.DB.ListAPIKeys(ctx, req.WorkspaceId)
	if err != nil {
		return nil, err
	}
	out := make(api.ListApiKeys200JSONResponse, 0, len(keys))
	for _, k := range keys {
		out = append(out, toAPIKey(k))
	}
	return out, nil
}

// CreateApiKey creates a key; its secret is in this response only.
func (h *Handler) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	b := req.Body
	if b.ExpiresAt != nil && !b.ExpiresAt.After(h.Now()) {
		return nil, problem.Invalid("expiresAt must be in the future", problem.Detail{Field: "expiresAt", Message: "must be in the future"})
	}
	perms := make([]string, len(b.Permissions))
	for i, p := range b.Permissions {
		perms[i] = string(p)
	}
	k, secret, err := h.DB.CreateAPIKey(ctx, req.WorkspaceId, b.Name, perms, b.ExpiresAt)
	if err != nil {
		return nil, err
	}
	v := toAPIKey(k)
	return api.CreateApiKey201JSONResponse{
		Id: v.Id, WorkspaceId: v.WorkspaceId, Name: v.Name, Prefix: v.Prefix, Permissions: v.Permissions,
		ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt, CreatedAt: v.CreatedAt, Key: secret,
	}, nil
}

// GetApiKey fetches a key without its secret.
func (h *Handler) GetApiKey(ctx context.Context, req api.GetApiKeyRequestObject) (api.GetApiKeyResponseObject, error) {
	k, err := h.DB.GetAPIKey(ctx, req.WorkspaceId, req.KeyId)
	if err != nil {
		return nil, err
	}
	return api.GetApiKey200JSONResponse(toAPIKey(k)), nil
}

// RevokeApiKey revokes a key.
func (h *Handler) RevokeApiKey(ctx context.Context, req api.RevokeApiKeyRequestObject) (api.RevokeApiKeyResponseObject, error) {
	if err := h.DB.RevokeAPIKey(ctx, req.WorkspaceId, req.KeyId); err != nil {
		return nil, err
	}
	return api.RevokeApiKey204Response{}, nil
}

// ListDispatchProviders lists the whole catalog.
func (h *Handler) ListDispatchProviders(ctx context.Context, _ api.ListDispatchProvidersRequestObject) (api.ListDispatchProvidersResponseObject, error) {
	ps, err := h.DB.ListDispatchProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make(api.ListDispatchProviders200JSONResponse, 0, len(ps))
	for _, p := range ps {
		out = append(out, toProvider(p))
	}
	return out, nil
}

// CreateDispatchProvider adds a provider.
func (h *Handler) CreateDispatchProvider(ctx context.Context, req api.CreateDispatchProviderRequestObject) (api.CreateDispatchProviderResponseObject, error) {
	b := req.Body
	active := b.IsActive == nil || *b.IsActive
	p, err := h.DB.CreateDispatchProvider(ctx, store.DispatchProviderCreate{Code: b.Code, Name: b.Name, ProtocolType: string(b.ProtocolType), IsActive: active})
	if err != nil {
		return nil, err
	}
	return api.CreateDispatchProvider201JSONResponse(toProvider(p)), nil
}

// UpdateDispatchProvider renames or (de)activates a provider.
func (h *Handler) UpdateDispatchProvider(ctx context.Context, req api.UpdateDispatchProviderRequestObject) (api.UpdateDispatchProviderResponseObject, error) {
	p, err := h.DB.UpdateDispatchProvider(ctx, req.ProviderId, func(p *store.DispatchProvider) error {
		if req.Body.Name != nil {
			p.Name = *req.Body.Name
		}
		if req.Body.IsActive != nil {
			p.IsActive = *req.Body.IsActive
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateDispatchProvider200JSONResponse(toProvider(p)), nil
}

// PutChannelDefinition creates or replaces a provider's channel definition.
func (h *Handler) PutChannelDefinition(ctx context.Context, req api.PutChannelDefinitionRequestObject) (api.PutChannelDefinitionResponseObject, error) {
	for _, fields := range [][]api.FieldDefinition{req.Body.CredentialSchema, req.Body.SettingsSchema} {
		seen := map[string]bool{}
		for _, f := range fields {
			if seen[f.Key] {
				return nil, problem.New(http.StatusBadRequest, "Field key %q is defined twice", f.Key)
			}
			seen[f.Key] = true
		}
	}
	d, err := h.DB.PutChannelDefinition(ctx, req.ProviderId, string(req.Channel), fromFields(req.Body.CredentialSchema), fromFields(req.Body.SettingsSchema))
	if err != nil {
		return nil, err
	}
	return api.PutChannelDefinition200JSONResponse(toDefinition(d)), nil
}

func toWorkspace(w store.Workspace) api.Workspace {
	return api.Workspace{Id: w.ID, Name: w.Name, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

func nullTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(t.UTC())
}

func toAPIKey(k store.APIKey) api.ApiKey {
	perms := make([]api.Permission, len(k.Permissions))
	for i, p := range k.Permissions {
		perms[i] = api.Permission(p)
	}
	return api.ApiKey{
		Id: k.ID, WorkspaceId: k.WorkspaceID, Name: k.Name, Prefix: k.Prefix, Permissions: perms,
		ExpiresAt: nullTime(k.ExpiresAt), RevokedAt: nullTime(k.RevokedAt), CreatedAt: k.CreatedAt.UTC(),
	}
}

func fromFields(fs []api.FieldDefinition) store.FieldDefinitions {
	out := make(store.FieldDefinitions, 0, len(fs))
	for _, f := range fs {
		out = append(out, store.FieldDefinition{Key: f.Key, Label: f.Label, Type: string(f.Type), Required: f.Required})
	}
	return out
}

func toFields(fs store.FieldDefinitions) []api.FieldDefinition {
	out := make([]api.FieldDefinition, 0, len(fs))
	for _, f := range fs {
		out = append(out, api.FieldDefinition{Key: f.Key, Label: f.Label, Type: api.FieldDefinitionType(f.Type), Required: f.Required})
	}
	return out
}

func toDefinition(d store.ChannelDefinition) api.ChannelDefinition {
	return api.ChannelDefinition{
		Id: d.ID, DispatchProviderId: d.DispatchProviderID, Channel: api.Channel(d.Channel),
		CredentialSchema: toFields(d.CredentialSchema), SettingsSchema: toFields(d.SettingsSchema),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
}

func toProvider(p store.DispatchProvider) api.DispatchProvider {
	defs := make([]api.ChannelDefinition, 0, len(p.ChannelDefinitions))
	for _, d := range p.ChannelDefinitions {
		defs = append(defs, toDefinition(d))
	}
	return api.DispatchProvider{
		Id: p.ID, Code: p.Code, Name: p.Name, ProtocolType: api.ProtocolType(p.ProtocolType), IsActive: p.IsActive,
		ChannelDefinitions: defs, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

// GetWorkspaceLimits returns a workspace's plan limits.
func (h *Handler) GetWorkspaceLimits(ctx context.Context, req api.GetWorkspaceLimitsRequestObject) (api.GetWorkspaceLimitsResponseObject, error) {
	l, err := h.DB.GetWorkspaceLimits(ctx, req.WorkspaceId)
	if err != nil {
		return nil, err
	}
	return api.GetWorkspaceLimits200JSONResponse(toLimits(l)), nil
}

// SetWorkspaceLimits replaces a workspace's plan limits.
func (h *Handler) SetWorkspaceLimits(ctx context.Context, req api.SetWorkspaceLimitsRequestObject) (api.SetWorkspaceLimitsResponseObject, error) {
	get := func(n nullable.Nullable[int]) *int {
		if v, err := n.Get(); err == nil {
			return &v
		}
		return nil
	}
	l, err := h.DB.SetWorkspaceLimits(ctx, req.WorkspaceId, store.WorkspaceLimits{
		MaxApps: get(req.Body.MaxApps), MaxEndpoints: get(req.Body.MaxEndpoints), MessagesPerMinute: get(req.Body.MessagesPerMinute)})
	if err != nil {
		return nil, err
	}
	return api.SetWorkspaceLimits200JSONResponse(toLimits(l)), nil
}

func toLimits(l store.WorkspaceLimits) api.WorkspaceLimits {
	n := func(v *int) nullable.Nullable[int] {
		if v == nil {
			return nullable.NewNullNullable[int]()
		}
		return nullable.NewNullableWithValue(*v)
	}
	return api.WorkspaceLimits{MaxApps: n(l.MaxApps), MaxEndpoints: n(l.MaxEndpoints), MessagesPerMinute: n(l.MessagesPerMinute)}
}
