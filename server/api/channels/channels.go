// Package channels implements the Channels API (openapi/channels.yaml, mounted at /workspaces):
// a workspace's channels with keyset pagination, its contacts, and the service window of a
// contact on a channel.
package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/channels"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/pagetoken"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// Mask is what responses show instead of the value of a setting that is not public.
const Mask = "********"

// defaultLimit is the page size when a list request gives none (the seed's default).
const defaultLimit = 10

// Handler serves the Channels API.
type Handler struct {
	DB *store.DB
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Tokens signs and checks page tokens.
	Tokens *pagetoken.Signer
}

// New returns a Handler whose page tokens are signed with a key derived from the store's
// sealing key, so tokens stay valid across restarts and across servers of one deployment.
func New(db *store.DB, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	return &Handler{DB: db, Now: now, Tokens: pagetoken.New(db.DeriveKey("channels-page-token"))}
}

var _ api.StrictServerInterface = (*Handler)(nil)

func workspace(ctx context.Context) uuid.UUID { return auth.FromContext(ctx).WorkspaceID }

// ListChannels pages through the workspace's channels.
func (h *Handler) ListChannels(ctx context.Context, req api.ListChannelsRequestObject) (api.ListChannelsResponseObject, error) {
	ws := workspace(ctx)
	p := req.Params
	f := store.ChannelFilter{Voice: p.Conferencial != nil && *p.Conferencial}
	if p.Platform != nil {
		f.Platforms = canonical(*p.Platform)
	}
	if p.Status != nil {
		f.Statuses = canonical(*p.Status)
	}
	if p.UseCaseType != nil {
		t := string(*p.UseCaseType)
		f.UseCaseType = &t
	}
	var ids []string
	if p.ChannelIds != nil {
		for _, id := range *p.ChannelIds {
			ids = append(ids, id.String())
		}
		ids = canonical(ids)
		for _, id := range ids {
			f.IDs = append(f.IDs, uuid.MustParse(id))
		}
	}
	reverse := p.Reverse != nil && *p.Reverse
	scope := pagetoken.Scope("channels", ws.String(), strconv.FormatBool(reverse), strings.Join(f.Platforms, ","),
		strings.Join(f.Statuses, ","), deref(f.UseCaseType), strings.Join(ids, ","), strconv.FormatBool(f.Voice))
	after, err := h.after(scope, p.PageToken)
	if err != nil {
		return nil, err
	}
	limit := pageSize(p.Limit)
	rows, err := h.DB.ListChannels(ctx, ws, f, after, reverse, limit+1) // one more tells whether a next page exists
	if err != nil {
		return nil, err
	}
	rows, next := page(h.Tokens, scope, rows, limit, func(c store.Channel) uuid.UUID { return c.ID })
	out := api.ListChannels200JSONResponse{Results: make([]api.Channel, 0, len(rows)), NextPageToken: next}
	for _, c := range rows {
		out.Results = append(out.Results, toAPI(c))
	}
	return out, nil
}

// after decodes a request's page token (none or empty: from the start) for the listing scope.
func (h *Handler) after(scope string, token *string) (uuid.UUID, error) {
	if token == nil || *token == "" {
		return uuid.Nil, nil
	}
	id, err := h.Tokens.Decode(scope, *token)
	if err != nil {
		return uuid.Nil, problem.Invalid("Invalid pageToken", problem.Detail{Field: "query.pageToken",
			Message: "is not a nextPageToken issued for this workspace and these filters"})
	}
	return id, nil
}

// page cuts rows, read with one more than limit, to limit; when that extra row shows another
// page follows, it also returns the token of that page.
func page[T any](tokens *pagetoken.Signer, scope string, rows []T, limit int, id func(T) uuid.UUID) ([]T, *string) {
	if len(rows) <= limit {
		return rows, nil
	}
	rows = rows[:limit]
	next := tokens.Encode(scope, id(rows[limit-1]))
	return rows, &next
}

func pageSize(limit *int) int {
	if limit == nil {
		return defaultLimit
	}
	return *limit
}

// canonical sorts and dedupes filter values, so one filter set always signs one scope.
func canonical[T ~string](vs []T) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, string(v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateChannel creates a channel from the writable fields of the body.
func (h *Handler) CreateChannel(ctx context.Context, req api.CreateChannelRequestObject) (api.CreateChannelResponseObject, error) {
	b := req.Body
	c := store.Channel{
		WorkspaceID: workspace(ctx),
		PlatformID:  b.PlatformId,
		ConnectorID: uuid.Must(uuid.NewRandom()),
		Status:      string(api.WritableChannelStatusActive),
	}
	if b.ConnectorId != nil {
		c.ConnectorID = *b.ConnectorId
	}
	// The create body is the update body plus platformId and connectorId; a JSON round trip
	// keeps which nullable fields were null and which absent.
	var u api.ChannelUpdate
	raw, _ := json.Marshal(b) // generated models always marshal
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	if err := apply(&c, u); err != nil {
		return nil, err
	}
	created, err := h.DB.CreateChannel(ctx, c)
	if err != nil {
		return nil, err
	}
	return api.CreateChannel201JSONResponse(toAPI(created)), nil
}

// GetChannel returns one channel, deleted ones too.
func (h *Handler) GetChannel(ctx context.Context, req api.GetChannelRequestObject) (api.GetChannelResponseObject, error) {
	c, err := h.DB.GetChannel(ctx, workspace(ctx), req.ChannelId)
	if err != nil {
		return nil, err
	}
	return api.GetChannel200JSONResponse(toAPI(c)), nil
}

// UpdateChannel changes the fields the body gives.
func (h *Handler) UpdateChannel(ctx context.Context, req api.UpdateChannelRequestObject) (api.UpdateChannelResponseObject, error) {
	c, err := h.DB.UpdateChannel(ctx, workspace(ctx), req.ChannelId, func(c *store.Channel) error { return apply(c, *req.Body) })
	if err != nil {
		return nil, err
	}
	return api.UpdateChannel200JSONResponse(toAPI(c)), nil
}

// DeleteChannel marks a channel deleted.
func (h *Handler) DeleteChannel(ctx context.Context, req api.DeleteChannelRequestObject) (api.DeleteChannelResponseObject, error) {
	if err := h.DB.DeleteChannel(ctx, workspace(ctx), req.ChannelId); err != nil {
		return nil, err
	}
	return api.DeleteChannel204Response{}, nil
}

// apply writes the fields u gives into c: absent fields are left alone, null clears.
func apply(c *store.Channel, u api.ChannelUpdate) error {
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Identifier != nil {
		c.Identifier = u.Identifier
	}
	if u.Status != nil {
		c.Status = string(*u.Status)
	}
	setString(&c.ContactIdentifierKeyOverride, u.ContactIdentifierKeyOverride)
	setJSON(&c.ContactIdentifierFormatOverride, u.ContactIdentifierFormatOverride)
	setString(&c.PlatformServiceURLOverride, u.PlatformServiceUrlOverride)
	setString(&c.PlatformServiceVersionOverride, u.PlatformServiceVersionOverride)
	setString(&c.PlatformServiceProtocolOverride, u.PlatformServiceProtocolOverride)
	setJSON(&c.PlatformMessageJSONSchemaOverride, u.PlatformMessageJsonSchemaOverride)
	setString(&c.PlatformTemplateEngineOverride, u.PlatformTemplateEngineOverride)
	if u.Capabilities != nil {
		c.Capabilities, _ = json.Marshal(*u.Capabilities) // generated models always marshal
	}
	setJSON(&c.Preferences, u.Preferences)
	setString(&c.UseCaseID, u.UseCaseId)
	setString(&c.UseCaseType, u.UseCaseType)
	if u.ChannelMessageType != nil {
		t := string(*u.ChannelMessageType)
		c.ChannelMessageType = &t
	}
	if u.Suites != nil {
		c.Suites = canonical(*u.Suites)
	}
	var details []problem.Detail
	if u.Settings != nil {
		var d []problem.Detail
		c.Settings, d = mergeSettings("settings", c.Settings, *u.Settings)
		details = append(details, d...)
	}
	if u.ConnectionParams != nil {
		var d []problem.Detail
		c.ConnectionParams, d = mergeSettings("connectionParams", c.ConnectionParams, *u.ConnectionParams)
		details = append(details, d...)
	}
	if len(details) > 0 {
		return problem.Invalid("The request did not pass validation", details...)
	}
	return nil
}

// mergeSettings returns the items to store for a list (settings or connectionParams) written
// as items, given the stored list old (with its secret values opened). A non-public item whose
// value is the mask keeps the value stored for its key, so a channel read and written back
// unchanged keeps its secrets.
func mergeSettings(field string, old store.Settings, items []api.SettingWrite) (store.Settings, []problem.Detail) {
	stored := map[string]store.Setting{}
	for _, s := range old {
		stored[s.Key] = s
	}
	var details []problem.Detail
	seen := map[string]bool{}
	out := make(store.Settings, 0, len(items))
	for i, it := range items {
		s := store.Setting{Key: it.Key, Value: it.Value, DisplayName: it.DisplayName, Description: it.Description,
			Visibility: store.VisibilityPublic}
		if it.Visibility != nil {
			s.Visibility = string(*it.Visibility)
		}
		if seen[s.Key] {
			details = append(details, problem.Detail{Field: fmt.Sprintf("%s.%d.key", field, i), Message: "is given twice"})
		}
		seen[s.Key] = true
		if !s.Public() && s.Value == Mask {
			prev, ok := stored[s.Key]
			if !ok || prev.Public() {
				details = append(details, problem.Detail{Field: fmt.Sprintf("%s.%d.value", field, i),
					Message: "is the mask " + Mask + ", but no secret value is stored for this key"})
			}
			s.Value = prev.Value
		}
		out = append(out, s)
	}
	return out, details
}

func setString[T ~string](dst **string, n nullable.Nullable[T]) {
	switch {
	case !n.IsSpecified():
	case n.IsNull():
		*dst = nil
	default:
		v := string(n.MustGet())
		*dst = &v
	}
}

func setJSON[T any](dst *store.JSONDoc, n nullable.Nullable[T]) {
	switch {
	case !n.IsSpecified():
	case n.IsNull():
		*dst = nil
	default:
		*dst, _ = json.Marshal(n.MustGet()) // generated models always marshal
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// toAPI is a channel as the API shows it: every nullable field present (null when unset),
// secret values masked.
func toAPI(c store.Channel) api.Channel {
	out := api.Channel{
		Id:                                c.ID,
		PlatformId:                        c.PlatformID,
		Name:                              c.Name,
		ConnectorId:                       c.ConnectorID,
		Identifier:                        c.Identifier,
		Status:                            api.ChannelStatus(c.Status),
		ContactIdentifierKeyOverride:      nullString[api.ContactIdentifierKeyOverride](c.ContactIdentifierKeyOverride),
		ContactIdentifierFormatOverride:   nullJSON[api.ContactIdentifierFormatOverride](c.ContactIdentifierFormatOverride),
		PlatformServiceUrlOverride:        nullString[api.PlatformServiceUrlOverride](c.PlatformServiceURLOverride),
		PlatformServiceVersionOverride:    nullString[api.PlatformServiceVersionOverride](c.PlatformServiceVersionOverride),
		PlatformServiceProtocolOverride:   nullString[api.PlatformServiceProtocolOverride](c.PlatformServiceProtocolOverride),
		PlatformMessageJsonSchemaOverride: nullJSON[api.PlatformMessageJsonSchemaOverride](c.PlatformMessageJSONSchemaOverride),
		PlatformTemplateEngineOverride:    nullString[api.PlatformTemplateEngineOverride](c.PlatformTemplateEngineOverride),
		Settings:                          ptr(toSettings(c.Settings)),
		ConnectionParams:                  ptr(toSettings(c.ConnectionParams)),
		Preferences:                       nullJSON[api.Preferences](c.Preferences),
		UseCaseId:                         nullString[string](c.UseCaseID),
		UseCaseType:                       nullString[api.NullableUseCaseType](c.UseCaseType),
		CreatedAt:                         c.CreatedAt.UTC(),
		UpdatedAt:                         ptr(c.UpdatedAt.UTC()),
	}
	if len(c.Capabilities) > 0 {
		var caps api.ChannelCapabilities
		if json.Unmarshal(c.Capabilities, &caps) == nil { // stored by us from the same model
			out.Capabilities = &caps
		}
	}
	if c.ChannelMessageType != nil {
		out.ChannelMessageType = ptr(api.ChannelMessageType(*c.ChannelMessageType))
	}
	suites := make([]api.SuiteType, 0, len(c.Suites))
	for _, s := range c.Suites {
		suites = append(suites, api.SuiteType(s))
	}
	out.Suites = &suites
	return out
}

func toSettings(items store.Settings) []api.Setting {
	out := make([]api.Setting, 0, len(items))
	for _, s := range items {
		v := s.Value
		if !s.Public() {
			v = Mask
		}
		out = append(out, api.Setting{Key: s.Key, Value: v, DisplayName: s.DisplayName, Description: s.Description,
			Visibility: api.SettingVisibility(s.Visibility)})
	}
	return out
}

func nullString[T ~string](s *string) nullable.Nullable[T] {
	if s == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(T(*s))
}

func nullJSON[T any](raw store.JSONDoc) nullable.Nullable[T] {
	var v T
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil { // stored by us from the same model
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(v)
}

func ptr[T any](v T) *T { return &v }
