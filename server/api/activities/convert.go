package activities

import (
	"encoding/json"
	"time"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/store"
)

func toFields(fs store.FieldDefinitions) []api.FieldDefinition {
	out := make([]api.FieldDefinition, 0, len(fs))
	for _, f := range fs {
		out = append(out, api.FieldDefinition{Key: f.Key, Label: f.Label, Type: api.FieldDefinitionType(f.Type), Required: f.Required})
	}
	return out
}

func toDefinition(d store.ChannelDefinition) api.ChannelDefinition {
	return api.ChannelDefinition{
		Id:                 d.ID,
		DispatchProviderId: d.DispatchProviderID,
		Channel:            api.Channel(d.Channel),
		CredentialSchema:   toFields(d.CredentialSchema),
		SettingsSchema:     toFields(d.SettingsSchema),
		CreatedAt:          activityjson.NewTime(d.CreatedAt),
		UpdatedAt:          activityjson.NewTime(d.UpdatedAt),
	}
}

func toProvider(p store.DispatchProvider) api.DispatchProvider {
	defs := make([]api.ChannelDefinition, 0, len(p.ChannelDefinitions))
	for _, d := range p.ChannelDefinitions {
		defs = append(defs, toDefinition(d))
	}
	return api.DispatchProvider{
		Id:                 p.ID,
		Code:               p.Code,
		Name:               p.Name,
		ProtocolType:       api.DispatchProviderProtocolType(p.ProtocolType),
		IsActive:           p.IsActive,
		ChannelDefinitions: defs,
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
