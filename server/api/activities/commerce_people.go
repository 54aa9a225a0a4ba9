package activities

import (
	"context"
	"regexp"
	"strings"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

var (
	// e164 is an international phone number: "+", a non-zero country digit, up to 15 digits.
	e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
	// email is deliberately loose (one "@", a dot in the domain, no spaces): mailboxes are
	// verified by sending mail, not by a regular expression.
	email = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
)

// checkContactValue returns the 400 for a contact value its type does not allow.
func checkContactValue(typ, value string) error {
	switch {
	case typ == "EMAIL" && !email.MatchString(value):
		return problem.Invalid("value is not a valid email address",
			problem.Detail{Field: "value", Message: "must be an email address such as name@example.com for contact_type EMAIL"})
	case (typ == "PHONE" || typ == "WHATSAPP") && !e164.MatchString(value):
		return problem.Invalid("value is not an E.164 phone number",
			problem.Detail{Field: "value", Message: "must be an E.164 phone number such as +56912345678 (a + and 2 to 15 digits, no spaces) for contact_type " + typ})
	case strings.TrimSpace(value) == "":
		return problem.Invalid("value is blank", problem.Detail{Field: "value", Message: "must not be blank"})
	}
	return nil
}

// splitName splits a full name at its first run of spaces into first and last name.
func splitName(name string) (first, last *string) {
	f, l, _ := strings.Cut(strings.TrimSpace(name), " ")
	l = strings.TrimSpace(l)
	if f != "" {
		first = &f
	}
	if l != "" {
		last = &l
	}
	return first, last
}

// ListCommerceUsers lists a commerce's users.
func (h *Handler) ListCommerceUsers(ctx context.Context, req api.ListCommerceUsersRequestObject) (api.ListCommerceUsersResponseObject, error) {
	users, err := h.DB.ListCommerceUsers(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return convertAll[api.ListCommerceUsers200JSONResponse](users, toCommerceUser), nil
}

// CreateCommerceUser adds a user to a commerce.
func (h *Handler) CreateCommerceUser(ctx context.Context, req api.CreateCommerceUserRequestObject) (api.CreateCommerceUserResponseObject, error) {
	b := req.Body
	in := store.CommerceUserCreate{ExternalID: b.ExternalId, Source: "RETEN", IsActive: b.IsActive == nil || *b.IsActive}
	if b.Name != nil {
		in.FirstName, in.LastName = splitName(*b.Name)
	}
	if b.FirstName != nil {
		in.FirstName = b.FirstName
	}
	if b.LastName != nil {
		in.LastName = b.LastName
	}
	if b.Source != nil {
		in.Source = string(*b.Source)
	}
	if b.Roles != nil {
		for _, r := range *b.Roles {
			in.Roles = append(in.Roles, string(r))
		}
	}
	u, err := h.DB.CreateCommerceUser(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, in)
	if err != nil {
		return nil, err
	}
	return api.CreateCommerceUser201JSONResponse(toCommerceUser(u)), nil
}

// GetCommerceUser fetches one user.
func (h *Handler) GetCommerceUser(ctx context.Context, req api.GetCommerceUserRequestObject) (api.GetCommerceUserResponseObject, error) {
	u, err := h.DB.GetCommerceUser(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId)
	if err != nil {
		return nil, err
	}
	return api.GetCommerceUser200JSONResponse(toCommerceUser(u)), nil
}

// UpdateCommerceUser changes a user.
func (h *Handler) UpdateCommerceUser(ctx context.Context, req api.UpdateCommerceUserRequestObject) (api.UpdateCommerceUserResponseObject, error) {
	b := req.Body
	u, err := h.DB.UpdateCommerceUser(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId, func(u *store.CommerceUser) error {
		if b.IsActive != nil {
			u.IsActive = *b.IsActive
		}
		if b.Name != nil {
			first, last := splitName(*b.Name)
			if first != nil {
				u.FirstName = first
			}
			u.LastName = last // "Maria" alone has no last name
		}
		if b.FirstName != nil {
			u.FirstName = b.FirstName
		}
		if b.LastName.IsNull() {
			u.LastName = nil
		} else if v, err := b.LastName.Get(); err == nil {
			u.LastName = &v
		}
		if b.ExternalId.IsNull() {
			u.ExternalID = nil
		} else if v, err := b.ExternalId.Get(); err == nil {
			u.ExternalID = &v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateCommerceUser200JSONResponse(toCommerceUser(u)), nil
}

// DeleteCommerceUser removes a user.
func (h *Handler) DeleteCommerceUser(ctx context.Context, req api.DeleteCommerceUserRequestObject) (api.DeleteCommerceUserResponseObject, error) {
	if err := h.DB.DeleteCommerceUser(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId); err != nil {
		return nil, err
	}
	return api.DeleteCommerceUser204Response{}, nil
}

// AddCommerceUserRole gives a user a role.
func (h *Handler) AddCommerceUserRole(ctx context.Context, req api.AddCommerceUserRoleRequestObject) (api.AddCommerceUserRoleResponseObject, error) {
	u, err := h.DB.AddCommerceUserRole(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId, string(req.Body.Role))
	if err != nil {
		return nil, err
	}
	return api.AddCommerceUserRole201JSONResponse(toCommerceUser(u)), nil
}

// RemoveCommerceUserRole takes a role from a user.
func (h *Handler) RemoveCommerceUserRole(ctx context.Context, req api.RemoveCommerceUserRoleRequestObject) (api.RemoveCommerceUserRoleResponseObject, error) {
	if err := h.DB.RemoveCommerceUserRole(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId, string(req.Role)); err != nil {
		return nil, err
	}
	return api.RemoveCommerceUserRole204Response{}, nil
}

// CreateCommerceUserContact adds a contact to a user, after checking its value against its type.
func (h *Handler) CreateCommerceUserContact(ctx context.Context, req api.CreateCommerceUserContactRequestObject) (api.CreateCommerceUserContactResponseObject, error) {
	b := req.Body
	if err := checkContactValue(string(b.ContactType), b.Value); err != nil {
		return nil, err
	}
	c, err := h.DB.CreateCommerceContact(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId, store.CommerceContactCreate{
		Type: string(b.ContactType), Value: b.Value, Source: string(b.Source), IsPrimary: b.IsPrimary != nil && *b.IsPrimary})
	if err != nil {
		return nil, err
	}
	return api.CreateCommerceUserContact201JSONResponse(toContact(c)), nil
}

// UpdateCommerceUserContact changes a contact; a new value is checked against the contact's type.
func (h *Handler) UpdateCommerceUserContact(ctx context.Context, req api.UpdateCommerceUserContactRequestObject) (api.UpdateCommerceUserContactResponseObject, error) {
	ws, b := auth.FromContext(ctx).WorkspaceID, req.Body
	c, err := h.DB.UpdateCommerceContact(ctx, ws, req.Id, req.UserId, req.ContactId, func(c *store.CommerceContact) error {
		if b.Value != nil {
			if err := checkContactValue(c.Type, *b.Value); err != nil {
				return err
			}
			c.Value = *b.Value
		}
		if b.IsPrimary != nil {
			c.IsPrimary = *b.IsPrimary
		}
		if b.IsActive != nil {
			c.IsActive = *b.IsActive
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateCommerceUserContact200JSONResponse(toContact(c)), nil
}

// DeleteCommerceUserContact removes a contact.
func (h *Handler) DeleteCommerceUserContact(ctx context.Context, req api.DeleteCommerceUserContactRequestObject) (api.DeleteCommerceUserContactResponseObject, error) {
	if err := h.DB.DeleteCommerceContact(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, req.UserId, req.ContactId); err != nil {
		return nil, err
	}
	return api.DeleteCommerceUserContact204Response{}, nil
}

func toContact(c store.CommerceContact) api.Contact {
	return api.Contact{Id: c.ID, Type: api.ContactType(c.Type), Value: c.Value, Source: api.Source(c.Source),
		IsPrimary: c.IsPrimary, IsActive: c.IsActive, CreatedAt: activityjson.NewTime(c.CreatedAt), UpdatedAt: activityjson.NewTime(c.UpdatedAt)}
}

func toCommerceUser(u store.CommerceUser) api.CommerceUser {
	out := api.CommerceUser{Id: u.ID, CommerceId: u.CommerceID, FirstName: nullOf(u.FirstName), LastName: nullOf(u.LastName),
		ExternalId: nullOf(u.ExternalID), Source: api.Source(u.Source), IsActive: u.IsActive,
		CreatedAt: activityjson.NewTime(u.CreatedAt), UpdatedAt: activityjson.NewTime(u.UpdatedAt), Contacts: make([]api.Contact, 0, len(u.Contacts))}
	out.Name = nullable.NewNullNullable[string]()
	if name := strings.TrimSpace(deref(u.FirstName) + " " + deref(u.LastName)); name != "" {
		out.Name = nullable.NewNullableWithValue(name)
	}
	out.Roles = make([]struct {
		Role api.CommerceUserRole `json:"role"`
	}, len(u.Roles))
	for i, r := range u.Roles {
		out.Roles[i].Role = api.CommerceUserRole(r)
	}
	for _, c := range u.Contacts {
		out.Contacts = append(out.Contacts, toContact(c))
	}
	return out
}
