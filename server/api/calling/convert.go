package calling

import (
	"encoding/json"
	"fmt"

	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"

	api "github.com/switchboard-dev/switchboard/gen/calling"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// The documented defaults (Breeze Buddy docs and source), in one place.
const (
	defaultTimezone       = "Asia/Kolkata"
	defaultCountryCode    = "91" // INF: the vendor serves India first (Asia/Kolkata, EXOTEL)
	defaultBlockAction    = "REJECT"
	defaultWindowSeconds  = 1800
	defaultPreCheckType   = "external_api"
	defaultOnFailure      = "proceed"
	defaultMethod         = "GET"
	defaultTimeoutSeconds = 10
	defaultMaxRetries     = 2
)

func or[T any](p *T, dflt T) T {
	if p == nil {
		return dflt
	}
	return *p
}

// get returns a nullable's value, nil when it is null or absent.
func get[T any](n nullable.Nullable[T]) *T {
	if !n.IsSpecified() || n.IsNull() {
		return nil
	}
	v := n.MustGet()
	return &v
}

func some[T any](p *T) nullable.Nullable[T] {
	if p == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*p)
}

// fromCreate builds a configuration from a create request, filling every documented default.
func fromCreate(b api.CreateConfigurationRequest) store.CallingConfig {
	c := store.CallingConfig{
		ResellerID:              b.ResellerId,
		Template:                b.Template,
		MerchantID:              get(b.MerchantId),
		InitialOffset:           b.InitialOffset,
		RetryOffset:             b.RetryOffset,
		CallStartTime:           b.CallStartTime,
		CallEndTime:             b.CallEndTime,
		CallTimezone:            or(b.CallTimezone, defaultTimezone),
		MaxRetry:                b.MaxRetry,
		CallingProvider:         string(b.CallingProvider),
		EnableCalling:           or(b.EnableCalling, true),
		EnableInternationalCall: or(b.EnableInternationalCall, true),
		DomesticCountryCode:     or(b.DomesticCountryCode, defaultCountryCode),
		EnableInbound:           or(b.EnableInbound, true),
		InboundCallStartTime:    get(b.InboundCallStartTime),
		InboundCallEndTime:      get(b.InboundCallEndTime),
		InboundCallTimezone:     or(get(b.InboundCallTimezone), defaultTimezone),
		InboundBlockAction:      string(or(b.InboundBlockAction, defaultBlockAction)),
		InboundRedirectNumber:   get(b.InboundRedirectNumber),
		InboundBlockMessage:     get(b.InboundBlockMessage),
		EnforceBlacklist:        or(b.EnforceBlacklist, true),
		RateLimitEnabled:        or(b.RateLimitEnabled, false),
		RateLimitMaxCalls:       get(b.RateLimitMaxCalls),
		RateLimitWindowSeconds:  or(get(b.RateLimitWindowSeconds), defaultWindowSeconds),
		RateLimitWhitelist:      or(get(b.RateLimitWhitelist), []string{}),
		PreChecks:               fromPreChecks(or(get(b.PreChecks), nil)),
		TelephonyConfig:         fromTelephony(get(b.TelephonyConfig)),
	}
	return c
}

// applyUpdate writes the fields an update gives onto c: absent fields keep their value, null
// resets a nullable one to its default. Identity fields must match what is stored; every one
// that does not is reported.
func applyUpdate(c *store.CallingConfig, b api.UpdateConfigurationRequest) []problem.Detail {
	var bad []problem.Detail
	immutable := func(field, stored, sent string) {
		if stored != sent {
			bad = append(bad, problem.Detail{Field: field, Type: "frozen_field",
				Message: fmt.Sprintf("Cannot change %s from %s to %s", field, quoteOrNone(stored), quoteOrNone(sent))})
		}
	}
	if b.ResellerId != nil {
		immutable("reseller_id", c.ResellerID, *b.ResellerId)
	}
	if b.Template != nil {
		immutable("template", c.Template, *b.Template)
	}
	if b.MerchantId.IsSpecified() {
		immutable("merchant_id", or(c.MerchantID, ""), or(get(b.MerchantId), ""))
	}
	set(&c.InitialOffset, b.InitialOffset)
	set(&c.RetryOffset, b.RetryOffset)
	set(&c.CallStartTime, b.CallStartTime)
	set(&c.CallEndTime, b.CallEndTime)
	set(&c.CallTimezone, b.CallTimezone)
	set(&c.MaxRetry, b.MaxRetry)
	if b.CallingProvider != nil {
		c.CallingProvider = string(*b.CallingProvider)
	}
	set(&c.EnableCalling, b.EnableCalling)
	set(&c.EnableInternationalCall, b.EnableInternationalCall)
	set(&c.DomesticCountryCode, b.DomesticCountryCode)
	set(&c.EnableInbound, b.EnableInbound)
	setNullable(&c.InboundCallStartTime, b.InboundCallStartTime)
	setNullable(&c.InboundCallEndTime, b.InboundCallEndTime)
	if b.InboundCallTimezone.IsSpecified() {
		c.InboundCallTimezone = or(get(b.InboundCallTimezone), defaultTimezone)
	}
	if b.InboundBlockAction != nil {
		c.InboundBlockAction = string(*b.InboundBlockAction)
	}
	setNullable(&c.InboundRedirectNumber, b.InboundRedirectNumber)
	setNullable(&c.InboundBlockMessage, b.InboundBlockMessage)
	set(&c.EnforceBlacklist, b.EnforceBlacklist)
	set(&c.RateLimitEnabled, b.RateLimitEnabled)
	setNullable(&c.RateLimitMaxCalls, b.RateLimitMaxCalls)
	if b.RateLimitWindowSeconds.IsSpecified() {
		c.RateLimitWindowSeconds = or(get(b.RateLimitWindowSeconds), defaultWindowSeconds)
	}
	if b.RateLimitWhitelist.IsSpecified() {
		c.RateLimitWhitelist = or(get(b.RateLimitWhitelist), []string{})
	}
	if b.PreChecks.IsSpecified() {
		written := fromPreChecks(or(get(b.PreChecks), nil))
		bad = append(bad, keepMasked(c.PreChecks, written)...)
		c.PreChecks = written
	}
	if b.TelephonyConfig.IsSpecified() {
		c.TelephonyConfig = fromTelephony(get(b.TelephonyConfig))
	}
	return bad
}

// set writes an optional field: absent keeps the value.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// setNullable writes a nullable field: absent keeps the value, null clears it.
func setNullable[T any](dst **T, v nullable.Nullable[T]) {
	if v.IsSpecified() {
		*dst = get(v)
	}
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// checkRules reports every documented rule spanning several fields that c breaks (the spec
// checks each field on its own before this runs).
func checkRules(c store.CallingConfig) []problem.Detail {
	var bad []problem.Detail
	switch {
	case c.InboundCallStartTime != nil && c.InboundCallEndTime == nil:
		bad = append(bad, problem.Detail{Field: "inbound_call_end_time", Type: "missing",
			Message: "is required when inbound_call_start_time is set (set both or neither)"})
	case c.InboundCallStartTime == nil && c.InboundCallEndTime != nil:
		bad = append(bad, problem.Detail{Field: "inbound_call_start_time", Type: "missing",
			Message: "is required when inbound_call_end_time is set (set both or neither)"})
	}
	if c.InboundBlockAction == "REDIRECT" && c.InboundRedirectNumber == nil {
		bad = append(bad, problem.Detail{Field: "inbound_redirect_number", Type: "missing",
			Message: "is required when inbound_block_action is REDIRECT"})
	}
	if c.RateLimitEnabled && c.RateLimitMaxCalls == nil {
		bad = append(bad, problem.Detail{Field: "rate_limit_max_calls", Type: "missing",
			Message: "is required (greater than 0) when rate_limit_enabled is true"})
	}
	return bad
}

func fromTelephony(t *api.TelephonyConfig) *store.JSONObject {
	if t == nil {
		return nil
	}
	o := store.JSONObject{}
	if t.AppletAppId != nil {
		o["applet_app_id"] = *t.AppletAppId
	}
	return &o
}

func toTelephony(o *store.JSONObject) nullable.Nullable[api.TelephonyConfig] {
	if o == nil {
		return nullable.NewNullNullable[api.TelephonyConfig]()
	}
	var t api.TelephonyConfig
	if v, ok := (*o)["applet_app_id"].(string); ok {
		t.AppletAppId = &v
	}
	return nullable.NewNullableWithValue(t)
}

// fromPreChecks stores pre-checks with their documented defaults filled in.
func fromPreChecks(in []api.PreCheckConfig) store.PreChecks {
	out := make(store.PreChecks, 0, len(in))
	for _, p := range in {
		pc := store.PreCheck{
			Name:             p.Name,
			Type:             string(or(p.Type, defaultPreCheckType)),
			Enabled:          or(p.Enabled, true),
			DefaultOnFailure: string(or(p.DefaultOnFailure, defaultOnFailure)),
		}
		if id := get(p.CredentialId); id != nil {
			s := id.String()
			pc.CredentialID = &s
		}
		if r := p.HttpRequest; r != nil {
			hr := &store.PreCheckHTTPRequest{
				URL:         r.Url,
				Method:      string(or(r.Method, defaultMethod)),
				Headers:     or(r.Headers, nil),
				Body:        or(r.Body, nil),
				QueryParams: or(r.QueryParams, nil),
				Timeout:     or(r.Timeout, defaultTimeoutSeconds),
				MaxRetries:  or(r.MaxRetries, defaultMaxRetries),
			}
			if a := r.Auth; a != nil {
				hr.Auth = &store.PreCheckAuth{Type: string(a.Type), Token: or(a.Token, ""),
					Username: or(a.Username, ""), Password: or(a.Password, "")}
			}
			pc.HTTPRequest = hr
		}
		if rc := p.ResponseConfig; rc != nil {
			v, _ := json.Marshal(rc.ResponseFieldValue) // decoded from JSON, so it encodes
			pc.ResponseConfig = &store.PreCheckResponseConfig{ResponseField: rc.ResponseField, ResponseFieldValue: v}
		}
		out = append(out, pc)
	}
	return out
}

func nonEmpty[M ~map[string]V, V any](m M) *M {
	if len(m) == 0 {
		return nil
	}
	return &m
}

func toPreChecks(in store.PreChecks) []api.PreCheckConfig {
	out := make([]api.PreCheckConfig, 0, len(in))
	for _, p := range in {
		typ := api.PreCheckConfigType(p.Type)
		enabled := p.Enabled
		onFailure := api.PreCheckConfigDefaultOnFailure(p.DefaultOnFailure)
		pc := api.PreCheckConfig{Name: p.Name, Type: &typ, Enabled: &enabled, DefaultOnFailure: &onFailure,
			CredentialId: nullable.NewNullNullable[openapi_types.UUID]()}
		if p.CredentialID != nil {
			var id openapi_types.UUID
			if id.UnmarshalText([]byte(*p.CredentialID)) == nil {
				pc.CredentialId = nullable.NewNullableWithValue(id)
			}
		}
		if r := p.HTTPRequest; r != nil {
			method := api.PreCheckHttpRequestMethod(r.Method)
			timeout, retries := r.Timeout, r.MaxRetries
			hr := &api.PreCheckHttpRequest{Url: r.URL, Method: &method, Timeout: &timeout, MaxRetries: &retries,
				Headers: nonEmpty(r.Headers), Body: nonEmpty(r.Body), QueryParams: nonEmpty(r.QueryParams)}
			if a := r.Auth; a != nil {
				hr.Auth = &struct {
					Password *string                         `json:"password,omitempty"`
					Token    *string                         `json:"token,omitempty"`
					Type     api.PreCheckHttpRequestAuthType `json:"type"`
					Username *string                         `json:"username,omitempty"`
				}{Type: api.PreCheckHttpRequestAuthType(a.Type), Token: masked(a.Token), Username: nonZero(a.Username), Password: masked(a.Password)}
			}
			pc.HttpRequest = hr
		}
		if rc := p.ResponseConfig; rc != nil {
			var v any
			_ = json.Unmarshal(rc.ResponseFieldValue, &v) // stored by us as JSON
			pc.ResponseConfig = &api.PreCheckResponseConfig{ResponseField: rc.ResponseField, ResponseFieldValue: v}
		}
		out = append(out, pc)
	}
	return out
}

// Mask is what answers show instead of a pre-check's token or password; sent back, it keeps
// the stored value.
const Mask = "********"

// masked is a credential as answers show it: the mask, or nothing when there is none.
func masked(s string) *string {
	if s == "" {
		return nil
	}
	m := Mask
	return &m
}

// keepMasked gives the pre-checks of a write whose token or password is the mask the value
// stored for that pre-check (the same name, the k-th of that name matching the k-th stored);
// a mask with no stored value to keep is reported. stored is nil for a new configuration.
func keepMasked(stored, written store.PreChecks) []problem.Detail {
	var bad []problem.Detail
	seen := map[string]int{}
	for i := range written {
		pc := &written[i]
		k := seen[pc.Name]
		seen[pc.Name]++
		if pc.HTTPRequest == nil || pc.HTTPRequest.Auth == nil {
			continue
		}
		var old *store.PreCheckAuth
		for j, n := 0, 0; j < len(stored); j++ {
			if stored[j].Name != pc.Name {
				continue
			}
			if n == k {
				if stored[j].HTTPRequest != nil {
					old = stored[j].HTTPRequest.Auth
				}
				break
			}
			n++
		}
		a := pc.HTTPRequest.Auth
		for _, f := range []struct {
			name     string
			value    *string
			oldValue func(*store.PreCheckAuth) string
		}{
			{"token", &a.Token, func(o *store.PreCheckAuth) string { return o.Token }},
			{"password", &a.Password, func(o *store.PreCheckAuth) string { return o.Password }},
		} {
			if *f.value != Mask {
				continue
			}
			if old == nil || f.oldValue(old) == "" {
				bad = append(bad, problem.Detail{Field: fmt.Sprintf("pre_checks.%d.http_request.auth.%s", i, f.name), Type: "value_error",
					Message: "is the mask " + Mask + ", but no " + f.name + " is stored for this pre-check"})
				continue
			}
			*f.value = f.oldValue(old)
		}
	}
	return bad
}

func nonZero(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toConfig(c store.CallingConfig) api.CallExecutionConfig {
	whitelist := []string(c.RateLimitWhitelist)
	if whitelist == nil {
		whitelist = []string{}
	}
	return api.CallExecutionConfig{
		Id:                      c.ID,
		ResellerId:              c.ResellerID,
		Template:                c.Template,
		MerchantId:              some(c.MerchantID),
		InitialOffset:           c.InitialOffset,
		RetryOffset:             c.RetryOffset,
		CallStartTime:           c.CallStartTime,
		CallEndTime:             c.CallEndTime,
		CallTimezone:            c.CallTimezone,
		MaxRetry:                c.MaxRetry,
		CallingProvider:         api.CallProvider(c.CallingProvider),
		EnableCalling:           c.EnableCalling,
		EnableInternationalCall: c.EnableInternationalCall,
		DomesticCountryCode:     c.DomesticCountryCode,
		EnableInbound:           c.EnableInbound,
		InboundCallStartTime:    some(c.InboundCallStartTime),
		InboundCallEndTime:      some(c.InboundCallEndTime),
		InboundCallTimezone:     c.InboundCallTimezone,
		InboundBlockAction:      api.InboundBlockAction(c.InboundBlockAction),
		InboundRedirectNumber:   some(c.InboundRedirectNumber),
		InboundBlockMessage:     some(c.InboundBlockMessage),
		EnforceBlacklist:        c.EnforceBlacklist,
		RateLimitEnabled:        c.RateLimitEnabled,
		RateLimitMaxCalls:       some(c.RateLimitMaxCalls),
		RateLimitWindowSeconds:  c.RateLimitWindowSeconds,
		RateLimitWhitelist:      whitelist,
		PreChecks:               toPreChecks(c.PreChecks),
		TelephonyConfig:         toTelephony(c.TelephonyConfig),
		CreatedAt:               c.CreatedAt.UTC(),
		UpdatedAt:               c.UpdatedAt.UTC(),
	}
}
