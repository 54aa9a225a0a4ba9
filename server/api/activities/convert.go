package activities

import (
	"encoding/json"
	"time"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/store"
)

// convertAll converts each of rows with conv, for a response (or a field of one) of type S:
// never nil, so an empty list is [] in JSON.
func convertAll[S ~[]D, T, D any](rows []T, conv func(T) D) S {
	out := make(S, 0, len(rows))
	for _, r := range rows {
		out = append(out, conv(r))
	}
	return out
}

func toField(f store.FieldDefinition) api.FieldDefinition {
	return api.FieldDefinition{Key: f.Key, Label: f.Label, Type: api.FieldDefinitionType(f.Type), Required: f.Required}
}

func toDefinition(d store.ChannelDefinition) api.ChannelDefinition {
	return api.ChannelDefinition{
		Id:                 d.ID,
		DispatchProviderId: d.DispatchProviderID,
		Channel:            api.Channel(d.Channel),
		CredentialSchema:   convertAll[[]api.FieldDefinition](d.CredentialSchema, toField),
		SettingsSchema:     convertAll[[]api.FieldDefinition](d.SettingsSchema, toField),
		CreatedAt:          activityjson.NewTime(d.CreatedAt),
		UpdatedAt:          activityjson.NewTime(d.UpdatedAt),
	}
}

func toProvider(p store.DispatchProvider) api.DispatchProvider {
	return api.DispatchProvider{
		Id:                 p.ID,
		Code:               p.Code,
		Name:               p.Name,
		ProtocolType:       api.DispatchProviderProtocolType(p.ProtocolType),
		IsActive:           p.IsActive,
		ChannelDefinitions: convertAll[[]api.ChannelDefinition](p.ChannelDefinitions, toDefinition),
		CreatedAt:          activityjson.NewTime(p.CreatedAt),
		UpdatedAt:          activityjson.NewTime(p.UpdatedAt),
	}
}

func toConfig(c store.DispatchConfig) api.DispatchConfig {
	settings := map[string]any{}
	_ = json.Unmarshal(c.Settings, &settings) // stored by us as a JSON object
	baseURL := nullable.NewNullNullable[string]()
	if c.BaseURL != nil {
		baseURL = nullable.NewNullableWithValue(*c.BaseURL)
	}
	return api.DispatchConfig{
		Id:                 c.ID,
		DispatchProviderId: c.DispatchProviderID,
		Channel:            api.Channel(c.Channel),
		BaseUrl:            baseURL,
		Settings:           settings,
		IsActive:           c.IsActive,
		DispatchProvider:   api.DispatchProviderSummary{Code: c.ProviderCode, Name: c.ProviderName},
		CreatedAt:          activityjson.NewTime(c.CreatedAt),
		UpdatedAt:          activityjson.NewTime(c.UpdatedAt),
	}
}

// stdTime is an optional request time as the store takes it.
func stdTime(t *activityjson.Time) *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}
