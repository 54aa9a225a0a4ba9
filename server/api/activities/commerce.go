package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/store"
)

// defaultPageSize is the documented default page size of the paged lists (the integration task
// list has its own, integrationPageSize).
const defaultPageSize = 25

// pageParams resolves the documented page/per_page/limit trio: per_page and its alias limit
// are the page size (size by default), page counts from 1.
func pageParams(page, perPage, limit *int, size int) (int, int) {
	p := 1
	if page != nil {
		p = *page
	}
	if perPage != nil {
		size = *perPage
	} else if limit != nil {
		size = *limit
	}
	return p, size
}

func pageMeta(page, limit, total int) api.PageMeta {
	return api.PageMeta{Page: page, Limit: limit, Total: total, TotalPages: (total + limit - 1) / limit}
}

// ListCommerces pages through the workspace's commerces.
func (h *Handler) ListCommerces(ctx context.Context, req api.ListCommercesRequestObject) (api.ListCommercesResponseObject, error) {
	p := req.Params
	page, limit := pageParams(p.Page, p.PerPage, p.Limit, defaultPageSize)
	cs, total, err := h.DB.ListCommerces(ctx, auth.FromContext(ctx).WorkspaceID, store.CommerceFilter{
		Search: p.Search, ExternalID: p.ExternalId, IsActive: p.IsActive, IsPlaceholder: p.IsPlaceholder}, page, limit)
	if err != nil {
		return nil, err
	}
	return api.ListCommerces200JSONResponse{Data: convertAll[[]api.Commerce](cs, toCommerce), Meta: pageMeta(page, limit, total)}, nil
}

// toCommerce is a commerce as lists show it: its detail without addresses and users.
func toCommerce(c store.Commerce) api.Commerce {
	d := toCommerceDetail(c)
	return api.Commerce{Id: d.Id, Name: d.Name, ExternalId: d.ExternalId, TaxId: d.TaxId,
		IsActive: d.IsActive, IsPlaceholder: d.IsPlaceholder, Metadata: d.Metadata, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// CreateCommerce creates a commerce with its addresses.
func (h *Handler) CreateCommerce(ctx context.Context, req api.CreateCommerceRequestObject) (api.CreateCommerceResponseObject, error) {
	b := req.Body
	in := store.CommerceCreate{ID: deref(b.Id), Name: b.Name, ExternalID: b.ExternalId, TaxID: b.TaxId,
		IsActive: b.IsActive == nil || *b.IsActive, IsPlaceholder: b.IsPlaceholder != nil && *b.IsPlaceholder}
	if b.Metadata != nil {
		in.Metadata = *b.Metadata
	}
	if b.Addresses != nil {
		for _, a := range *b.Addresses {
			in.Addresses = append(in.Addresses, store.Address{Street: a.Street, City: a.City, Latitude: a.Latitude,
				Longitude: a.Longitude, IsPrimary: a.IsPrimary != nil && *a.IsPrimary})
		}
	}
	c, err := h.DB.CreateCommerce(ctx, auth.FromContext(ctx).WorkspaceID, in)
	if err != nil {
		return nil, err
	}
	return api.CreateCommerce201JSONResponse(toCommerceDetail(c)), nil
}

// GetCommerce returns a commerce with its addresses and users, their roles and contacts.
func (h *Handler) GetCommerce(ctx context.Context, req api.GetCommerceRequestObject) (api.GetCommerceResponseObject, error) {
	c, err := h.DB.GetCommerce(ctx, auth.FromContext(ctx).WorkspaceID, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetCommerce200JSONResponse(toCommerceDetail(c)), nil
}

// UpdateCommerce changes a commerce.
func (h *Handler) UpdateCommerce(ctx context.Context, req api.UpdateCommerceRequestObject) (api.UpdateCommerceResponseObject, error) {
	b := req.Body
	c, err := h.DB.UpdateCommerce(ctx, auth.FromContext(ctx).WorkspaceID, req.Id, func(c *store.Commerce) error {
		if b.Name != nil {
			c.Name = *b.Name
		}
		if b.ExternalId != nil {
			c.ExternalID = b.ExternalId
		}
		if b.IsActive != nil {
			c.IsActive = *b.IsActive
		}
		if b.IsPlaceholder != nil {
			c.IsPlaceholder = *b.IsPlaceholder
		}
		if b.TaxId.IsNull() {
			c.TaxID = nil
		} else if v, err := b.TaxId.Get(); err == nil {
			c.TaxID = &v
		}
		if b.Metadata != nil && *b.Metadata != nil {
			meta, err := json.Marshal(*b.Metadata)
			if err != nil {
				return err
			}
			c.Metadata = meta
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateCommerce200JSONResponse(toCommerceDetail(c)), nil
}

// SyncCommerces upserts a batch of commerces by external id.
func (h *Handler) SyncCommerces(ctx context.Context, req api.SyncCommercesRequestObject) (api.SyncCommercesResponseObject, error) {
	out := api.SyncCommerces200JSONResponse{Errors: []api.SyncCommerceError{}}
	fail := func(i int, ext *string, msg string) {
		out.Errors = append(out.Errors, api.SyncCommerceError{Index: i, ExternalId: nullOf(ext), Message: msg})
	}
	seen := make(map[string]bool, len(req.Body.Commerces))
	items := make([]store.CommerceSyncItem, 0, len(req.Body.Commerces))
	// Empty and too long values were refused by the spec's validation (minLength, maxLength).
	for i, it := range req.Body.Commerces {
		switch {
		case it.ExternalId == nil:
			fail(i, nil, "external_id is required")
		case it.Name == nil:
			fail(i, it.ExternalId, "name is required")
		case seen[*it.ExternalId]:
			fail(i, it.ExternalId, fmt.Sprintf("external_id %s appears earlier in the batch", *it.ExternalId))
		default:
			seen[*it.ExternalId] = true
			item := store.CommerceSyncItem{ExternalID: *it.ExternalId, Name: *it.Name, TaxID: it.TaxId, IsActive: it.IsActive}
			if it.Metadata != nil {
				item.Metadata = *it.Metadata
			}
			items = append(items, item)
		}
	}
	created, updated, err := h.DB.SyncCommerces(ctx, auth.FromContext(ctx).WorkspaceID, items)
	if err != nil {
		return nil, err
	}
	out.Created, out.Updated, out.Failed = created, updated, len(out.Errors)
	return out, nil
}

func toCommerceDetail(c store.Commerce) api.CommerceDetail {
	meta := map[string]any{}
	_ = json.Unmarshal(c.Metadata, &meta)
	d := api.CommerceDetail{
		Id: c.ID, Name: c.Name, ExternalId: nullOf(c.ExternalID), TaxId: nullOf(c.TaxID),
		IsActive: c.IsActive, IsPlaceholder: c.IsPlaceholder, Metadata: meta,
		CreatedAt: activityjson.NewTime(c.CreatedAt), UpdatedAt: activityjson.NewTime(c.UpdatedAt),
		Addresses: convertAll[[]api.Address](c.Addresses, toAddress), Users: convertAll[[]api.CommerceUser](c.Users, toCommerceUser),
	}
	return d
}

func toAddress(a store.Address) api.Address {
	return api.Address{Id: a.ID, Street: a.Street, City: nullOf(a.City),
		Latitude: nullOf(a.Latitude), Longitude: nullOf(a.Longitude), IsPrimary: a.IsPrimary, IsActive: a.IsActive}
}

// nullOf is *v as a nullable field: null when v is nil.
func nullOf[T any](v *T) nullable.Nullable[T] {
	if v == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*v)
}
