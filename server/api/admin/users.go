package admin

import (
	"context"
	"strings"

	api "github.com/switchboard-dev/switchboard/gen/admin"
	"github.com/switchboard-dev/switchboard/store"
)

// ListWorkspaceUsers lists a workspace's members.
func (h *Handler) ListWorkspaceUsers(ctx context.Context, req api.ListWorkspaceUsersRequestObject) (api.ListWorkspaceUsersResponseObject, error) {
	ms, err := h.DB.ListWorkspaceUsers(ctx, req.WorkspaceId)
	if err != nil {
		return nil, err
	}
	out := make(api.ListWorkspaceUsers200JSONResponse, 0, len(ms))
	for _, m := range ms {
		out = append(out, toUser(m))
	}
	return out, nil
}

// CreateWorkspaceUser adds a user to a workspace, creating the user when the email is new.
func (h *Handler) CreateWorkspaceUser(ctx context.Context, req api.CreateWorkspaceUserRequestObject) (api.CreateWorkspaceUserResponseObject, error) {
	b := req.Body
	m, err := h.DB.AddWorkspaceUser(ctx, req.WorkspaceId, store.UserCreate{
		Email: strings.TrimSpace(string(b.Email)), Password: deref(b.Password), Role: string(b.Role),
		FirstName: deref(b.FirstName), LastName: deref(b.LastName),
	})
	if err != nil {
		return nil, err
	}
	return api.CreateWorkspaceUser201JSONResponse(toUser(m)), nil
}

// GetWorkspaceUser fetches a member.
func (h *Handler) GetWorkspaceUser(ctx context.Context, req api.GetWorkspaceUserRequestObject) (api.GetWorkspaceUserResponseObject, error) {
	m, err := h.DB.GetWorkspaceUser(ctx, req.WorkspaceId, req.UserId)
	if err != nil {
		return nil, err
	}
	return api.GetWorkspaceUser200JSONResponse(toUser(m)), nil
}

// UpdateWorkspaceUser changes a member's role, names or password.
func (h *Handler) UpdateWorkspaceUser(ctx context.Context, req api.UpdateWorkspaceUserRequestObject) (api.UpdateWorkspaceUserResponseObject, error) {
	b := req.Body
	var role *string
	if b.Role != nil {
		r := string(*b.Role)
		role = &r
	}
	m, err := h.DB.UpdateWorkspaceUser(ctx, req.WorkspaceId, req.UserId, store.MemberUpdate{
		Role: role, Password: b.Password, FirstName: b.FirstName, LastName: b.LastName})
	if err != nil {
		return nil, err
	}
	return api.UpdateWorkspaceUser200JSONResponse(toUser(m)), nil
}

// RemoveWorkspaceUser takes a user out of a workspace.
func (h *Handler) RemoveWorkspaceUser(ctx context.Context, req api.RemoveWorkspaceUserRequestObject) (api.RemoveWorkspaceUserResponseObject, error) {
	if err := h.DB.RemoveWorkspaceUser(ctx, req.WorkspaceId, req.UserId); err != nil {
		return nil, err
	}
	return api.RemoveWorkspaceUser204Response{}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toUser(m store.Member) api.WorkspaceUser {
	return api.WorkspaceUser{
		Id: m.ID, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName, Role: api.Role(m.Role),
		WorkspaceId: m.WorkspaceID, CreatedAt: m.CreatedAt.UTC(), JoinedAt: m.JoinedAt.UTC(),
	}
}
