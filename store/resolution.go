package store

// Resolution: who an activity is for (its target user) and the attribute values it carries.
// Both are computed here, in Go, from what one statement reads for a whole batch (loadPlan; on
// the create path often from the plan cache, resolution_cache.go): the create batch
// (activity_create.go), the dispatch worker and retry-resolution (ResolveActivity) decide with
// the same functions, the manual assignment (AssignTargetUser) with the same reachability. What an
// activity resolved is kept on its row (the target and resolved_attributes columns), so a create
// writes one row, as before. Only CLIENT_HOOK attributes need something outside the database:
// their HTTP calls are made by the caller (HookFunc, package server/resolve), never while a
// batch or a lock waits.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Resolution statuses. LOCKED is for target users only (a user fixed for good: assigned by hand,
// or the one the activity was dispatched to); FALLBACK for attributes only (the caller's
// fallback value stands in for one that could not be resolved).
const (
	ResolutionPending  = "PENDING"
	ResolutionResolved = "RESOLVED"
	ResolutionLocked   = "LOCKED"
	ResolutionFailed   = "FAILED"
	ResolutionFallback = "FALLBACK"
)

// Why a target user is the one it is.
const (
	LockCriteriaMatch       = "CRITERIA_MATCH"
	LockFallbackCommerceRep = "FALLBACK_COMMERCE_REP"
	LockFallbackOwner       = "FALLBACK_OWNER"
	LockManualAssignment    = "MANUAL_ASSIGNMENT"
)

// Roles the fallbacks look for.
const (
	RoleCommerceRep = "COMMERCE_REP"
	RoleOwner       = "OWNER"
)

// Status event types of resolution.
const (
	EventResolutionFailed       = "RESOLUTION_FAILED"
	EventResolutionRetrySuccess = "RESOLUTION_RETRY_SUCCESS"
	EventResolutionRetryFailed  = "RESOLUTION_RETRY_FAILED"
)

// ContactTypesFor returns the contact types that make a user reachable for an activity, in the
// order they are preferred, or nil when the activity needs no contact: a MESSAGE on WHATSAPP
// (a WHATSAPP contact, else a PHONE), SMS (a PHONE, else a WHATSAPP number), EMAIL (an EMAIL) or
// PUSH (an OTHER contact: a device token or app user id). TASKs and the SALESMAN and CALLCENTER
// channels reach people some other way.
func ContactTypesFor(activityType, channel string) []string {
	if activityType != "MESSAGE" {
		return nil
	}
	switch channel {
	case "WHATSAPP":
		return []string{"WHATSAPP", "PHONE"}
	case "SMS":
		return []string{"PHONE", "WHATSAPP"}
	case "EMAIL":
		return []string{"EMAIL"}
	case "PUSH":
		return []string{"OTHER"}
	}
	return nil
}

// TargetContact is the contact an activity reaches its target user through.
type TargetContact struct {
	ID    uuid.UUID `json:"id"`
	Type  string    `json:"type"`
	Value string    `json:"value"`
}

// TargetUser is who an activity is for, as resolved (stored in activities.target, absent
// values left out: appendTargetUser writes it). The user's names and contact are as they were
// when the user was picked.
type TargetUser struct {
	ID             uuid.UUID      `json:"id"`
	CommerceUserID *uuid.UUID     `json:"commerce_user_id,omitempty"`
	FirstName      *string        `json:"first_name,omitempty"`
	LastName       *string        `json:"last_name,omitempty"`
	Contact        *TargetContact `json:"contact,omitempty"`
	Status         string         `json:"status"`
	Strategy       string         `json:"strategy"`
	LockReason     *string        `json:"lock_reason,omitempty"`
	ResolvedAt     *time.Time     `json:"resolved_at,omitempty"`
	LockedAt       *time.Time     `json:"locked_at,omitempty"`
	ErrorMessage   *string        `json:"error_message,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// Scan reads the json column.
func (t *TargetUser) Scan(src any) error { return scanJSON(src, t) }

// ResolvedAttribute is one attribute value of an activity, as resolved (an entry of
// activities.resolved_attributes, absent values left out: appendResolvedAttributes writes it).
// Value is a JSON document, null (or empty) while there is none.
type ResolvedAttribute struct {
	ID             uuid.UUID       `json:"id"`
	AttributeKeyID uuid.UUID       `json:"attribute_key_id"`
	Key            string          `json:"key"`
	Value          json.RawMessage `json:"value,omitempty"`
	Status         string          `json:"status"`
	Strategy       string          `json:"strategy"`
	ResolverType   *string         `json:"resolver_type,omitempty"`
	ResolvedAt     *time.Time      `json:"resolved_at,omitempty"`
	ErrorMessage   *string         `json:"error_message,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// ResolvedAttributes is the json array of an activity's attributes.
type ResolvedAttributes []ResolvedAttribute

// Scan reads the json column.
func (a *ResolvedAttributes) Scan(src any) error { return scanJSON(src, a) }

// HookCall is one CLIENT_HOOK call an attribute needs: POST URL, signed with Secrets, within
// Timeout. Activity is the activity as it is (in a create: as it will be created), Commerce its
// commerce as the commerce_info attribute shows it.
type HookCall struct {
	PolicyID       uuid.UUID
	AttributeKeyID uuid.UUID
	Key            string
	URL            string
	Timeout        time.Duration
	Secrets        []string
	Activity       Activity
	Commerce       json.RawMessage
}

// HookResult is what one hook call gave: its JSON answer, or why it gave none.
type HookResult struct {
	Value json.RawMessage
	Error string // "" on success
}

// HookFunc makes hook calls (concurrently, each within its timeout) and returns their results
// in order.
type HookFunc func(ctx context.Context, calls []HookCall) []HookResult

// HooksNeeded is CreateActivity's answer for an activity whose UPFRONT CLIENT_HOOK attributes
// need their calls made: nothing was written. The caller makes Calls and creates again with the
// results (ActivityCreate.ID set to ActivityID, HookResults to the results by attribute key id).
type HooksNeeded struct {
	ActivityID uuid.UUID
	Calls      []HookCall
}

func (h *HooksNeeded) Error() string {
	return fmt.Sprintf("activity %s needs %d attribute hook calls before it can be created", h.ActivityID, len(h.Calls))
}

// hasInternalResolver reports whether the INTERNAL_SERVICE resolver can compute a key.
func hasInternalResolver(key string) bool {
	return key == AttributeCommerceInfo || key == AttributePromotions
}

// attributeInput is one caller-provided entry of an activity's attributes.
type attributeInput struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	Fallback json.RawMessage `json:"fallback"`
}

// decodeInputs reads a request's attributes (written by us from a validated request); most
// creates send none, which needs no decoding.
func decodeInputs(raw json.RawMessage) []attributeInput {
	if isEmptyArray(raw) {
		return nil
	}
	var in []attributeInput
	_ = json.Unmarshal(raw, &in)
	return in
}

// isEmptyArray reports whether raw is absent or [].
func isEmptyArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "[]" || string(raw) == "null"
}

// given reports whether a JSON value was sent and is not null.
func given(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

// parseAttributeInputs reads an activity's stored attributes (the request's, as given).
func parseAttributeInputs(raw json.RawMessage) map[string]attributeInput {
	in := decodeInputs(raw)
	out := make(map[string]attributeInput, len(in))
	for _, a := range in {
		if _, dup := out[a.Key]; !dup {
			out[a.Key] = a
		}
	}
	return out
}

// asksLastContacted reports whether an activity's own target_criteria (as stored: the request's)
// have a LAST_CONTACTED criterion.
func asksLastContacted(criteria json.RawMessage) bool {
	return bytes.Contains(criteria, []byte(`"LAST_CONTACTED_`))
}

// attributeNames are the keys an activity resolves: attribute_keys, then the keys of
// attributes not named there, each once, in that order.
func attributeNames(keys []string, attrs json.RawMessage) []string {
	in := decodeInputs(attrs)
	out := make([]string, 0, len(keys)+len(in))
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for _, a := range in {
		if !slices.Contains(out, a.Key) {
			out = append(out, a.Key)
		}
	}
	return out
}

// --- The plan: what one statement reads for a batch of resolutions ---------------------------

type planUser struct {
	ID        uuid.UUID       `json:"id"`
	FirstName *string         `json:"first_name"`
	LastName  *string         `json:"last_name"`
	Roles     []string        `json:"roles"`
	Contacts  []TargetContact `json:"contacts"` // active ones, primary first within a type
}

type planAddress struct {
	ID        uuid.UUID `json:"id"`
	Street    string    `json:"street"`
	City      *string   `json:"city"`
	Latitude  *float64  `json:"latitude"`
	Longitude *float64  `json:"longitude"`
}

type planCommerce struct {
	ID             uuid.UUID       `json:"id"`
	WorkspaceID    uuid.UUID       `json:"workspace_id"`
	Name           string          `json:"name"`
	ExternalID     *string         `json:"external_id"`
	TaxID          *string         `json:"tax_id"`
	Metadata       json.RawMessage `json:"metadata"`
	PrimaryAddress *planAddress    `json:"primary_address"`
	Users          []planUser      `json:"users"` // active ones, oldest first
	info           json.RawMessage // commerceInfo, made when loaded
}

type planKey struct {
	ID          uuid.UUID  `json:"id"`
	WorkspaceID *uuid.UUID `json:"workspace_id"`
	Key         string     `json:"key"`
}

type planPolicy struct {
	ID                    uuid.UUID  `json:"id"`
	WorkspaceID           uuid.UUID  `json:"workspace_id"`
	AttributeKeyID        uuid.UUID  `json:"attribute_key_id"`
	Strategy              string     `json:"strategy"`
	ResolverType          *string    `json:"resolver_type"`
	HookURL               *string    `json:"hook_url"`
	HookTimeoutMS         int        `json:"hook_timeout_ms"`
	HookSecret            *string    `json:"hook_secret"`
	HookPreviousSecret    *string    `json:"hook_previous_secret"`
	HookPreviousExpiresAt *time.Time `json:"hook_previous_expires_at"`
}

type planLast struct {
	CommerceID  uuid.UUID  `json:"commerce_id"`
	Channel     string     `json:"channel"`
	Any         *uuid.UUID `json:"any_channel"`
	SameChannel *uuid.UUID `json:"same_channel"`
}

type planConfig struct {
	ID                    uuid.UUID      `json:"id"`
	WorkspaceID           uuid.UUID      `json:"workspace_id"`
	Strategy              string         `json:"resolution_strategy"`
	FallbackToCommerceRep bool           `json:"fallback_to_commerce_rep"`
	FallbackToOwner       bool           `json:"fallback_to_owner"`
	Priority              int            `json:"priority"`
	Channel               *string        `json:"channel"`
	ActivityType          *string        `json:"activity_type"`
	Criteria              TargetCriteria `json:"criteria"`
}

type lastKey struct {
	commerce uuid.UUID
	channel  string
}

// workspacePlan is what resolution reads of one workspace: its active target configs by
// priority, its own attribute keys, and its policies by key id.
type workspacePlan struct {
	configs  []planConfig
	keys     []planKey
	policies map[uuid.UUID]planPolicy
}

// resolutionPlan is everything a batch of resolutions decides with. Its parts are not changed
// once loaded: the create path shares them through planCache.
type resolutionPlan struct {
	builtin    []planKey
	workspaces map[uuid.UUID]*workspacePlan
	commerces  map[uuid.UUID]*planCommerce
	last       map[lastKey]planLast
}

func newResolutionPlan() *resolutionPlan {
	return &resolutionPlan{workspaces: map[uuid.UUID]*workspacePlan{}, commerces: map[uuid.UUID]*planCommerce{}, last: map[lastKey]planLast{}}
}

// asksLastContacted reports whether a config of the plan's workspaces has a LAST_CONTACTED
// criterion.
func (p *resolutionPlan) asksLastContacted() bool {
	for _, w := range p.workspaces {
		for _, c := range w.configs {
			if c.Criteria.asksLastContacted() {
				return true
			}
		}
	}
	return false
}

// planNeed is one activity a plan is loaded for.
type planNeed struct {
	WorkspaceID, CommerceID uuid.UUID
	Channel                 string
}

// loadPlanSQL reads, for a set of workspaces ($1) and commerces ($2), what resolving their
// activities needs: the built-in attribute keys; the workspaces' active target configs, their
// own keys and their policies; and the commerces with their primary address and active users
// (roles, active contacts). One statement, prepared, with index lookups by the arrays. (Which
// commerce is which workspace's is checked by the caller, planCommerce.WorkspaceID.)
const loadPlanSQL = `
	SELECT
		(SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.priority), '[]') FROM (
			SELECT id, workspace_id, resolution_strategy, fallback_to_commerce_rep, fallback_to_owner, priority, channel,
				activity_type, criteria
			FROM target_resolution_configs WHERE workspace_id = ANY($1::uuid[]) AND is_active) c) AS configs,
		(SELECT coalesce(jsonb_agg(jsonb_build_object('id', k.id, 'workspace_id', k.workspace_id, 'key', k.key)), '[]')
			FROM attribute_keys k WHERE k.workspace_id IS NULL OR k.workspace_id = ANY($1::uuid[])) AS keys,
		(SELECT coalesce(jsonb_agg(to_jsonb(p)), '[]') FROM (
			SELECT id, workspace_id, attribute_key_id, strategy, resolver_type, hook_url, hook_timeout_ms,
				encode(hook_secret, 'base64') AS hook_secret, encode(hook_previous_secret, 'base64') AS hook_previous_secret,
				hook_previous_expires_at
			FROM attribute_policies WHERE workspace_id = ANY($1::uuid[])) p) AS policies,
		(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'workspace_id', c.workspace_id, 'name', c.name,
			'external_id', c.external_id, 'tax_id', c.tax_id, 'metadata', c.metadata,
			'primary_address', (SELECT to_jsonb(a) FROM (
				SELECT id, street, city, latitude, longitude FROM commerce_addresses
				WHERE commerce_id = c.id AND is_primary AND is_active ORDER BY id LIMIT 1) a),
			'users', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'first_name', u.first_name, 'last_name', u.last_name,
				'roles', (SELECT coalesce(jsonb_agg(r.role), '[]') FROM commerce_user_roles r WHERE r.user_id = u.id),
				'contacts', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', ct.id, 'type', ct.type, 'value', ct.value)
						ORDER BY ct.type, ct.is_primary DESC, ct.id), '[]')
					FROM commerce_user_contacts ct WHERE ct.user_id = u.id AND ct.is_active)) ORDER BY u.id), '[]')
				FROM commerce_users u WHERE u.commerce_id = c.id AND u.is_active))), '[]')
			FROM commerces c WHERE c.id = ANY($2::uuid[])) AS commerces`

// lastContactedSQL reads, for each (commerce, channel) of $1 and $2, the user the commerce's
// most recently dispatched activity went to, on any channel and on that channel (the
// LAST_CONTACTED criteria): two probes of the partial indexes activities enter when dispatched.
const lastContactedSQL = `
	SELECT coalesce(jsonb_agg(jsonb_build_object('commerce_id', n.commerce_id, 'channel', n.channel,
		'any_channel', (SELECT a.dispatched_user_id FROM activities a WHERE a.commerce_id = n.commerce_id
			AND a.dispatched_user_id IS NOT NULL ORDER BY a.dispatched_at DESC LIMIT 1),
		'same_channel', (SELECT a.dispatched_user_id FROM activities a WHERE a.commerce_id = n.commerce_id
			AND a.channel = n.channel AND a.dispatched_user_id IS NOT NULL ORDER BY a.dispatched_at DESC LIMIT 1))), '[]')
	FROM unnest($1::uuid[], $2::text[]) AS n(commerce_id, channel)`

// loadPlan reads the plan of workspaces and commerces on pool (the create batch's, DB.generic,
// or the main one for the other resolutions).
func (s *DB) loadPlan(ctx context.Context, pool *sqlx.DB, workspaces, commerces []uuid.UUID) (*resolutionPlan, error) {
	stmt, err := s.prepared(ctx, pool, loadPlanSQL)
	if err != nil {
		return nil, err
	}
	var row struct {
		Configs   []byte `db:"configs"`
		Keys      []byte `db:"keys"`
		Policies  []byte `db:"policies"`
		Commerces []byte `db:"commerces"`
	}
	if err := stmt.GetContext(ctx, &row, uuidArray(workspaces), uuidArray(commerces)); err != nil {
		return nil, err
	}
	var configs []planConfig
	var keys []planKey
	var policies []planPolicy
	var coms []*planCommerce
	for _, d := range []struct {
		raw []byte
		dst any
	}{{row.Configs, &configs}, {row.Keys, &keys}, {row.Policies, &policies}, {row.Commerces, &coms}} {
		if err := json.Unmarshal(d.raw, d.dst); err != nil {
			return nil, fmt.Errorf("store: resolution plan: %w", err)
		}
	}
	p := newResolutionPlan()
	for _, w := range workspaces {
		p.workspaces[w] = &workspacePlan{policies: map[uuid.UUID]planPolicy{}}
	}
	for _, c := range configs {
		w := p.workspaces[c.WorkspaceID]
		w.configs = append(w.configs, c)
	}
	for _, k := range keys {
		if k.WorkspaceID == nil {
			p.builtin = append(p.builtin, k)
		} else {
			w := p.workspaces[*k.WorkspaceID]
			w.keys = append(w.keys, k)
		}
	}
	for _, pol := range policies {
		p.workspaces[pol.WorkspaceID].policies[pol.AttributeKeyID] = pol
	}
	for _, c := range coms {
		c.info = c.makeCommerceInfo() // now: the plan is shared, read-only, once loaded
		p.commerces[c.ID] = c
	}
	return p, nil
}

// uuidArray passes ids as a uuid[] parameter.
func uuidArray(ids []uuid.UUID) pq.StringArray {
	out := make(pq.StringArray, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// loadLastContacted fills the plan's last contacted users for needs.
func (s *DB) loadLastContacted(ctx context.Context, pool *sqlx.DB, p *resolutionPlan, needs []planNeed) error {
	var commerces, channels []string
	for _, n := range needs {
		commerces, channels = append(commerces, n.CommerceID.String()), append(channels, n.Channel)
	}
	var raw []byte
	if err := pool.GetContext(ctx, &raw, lastContactedSQL, pq.StringArray(commerces), pq.StringArray(channels)); err != nil {
		return err
	}
	var last []planLast
	if err := json.Unmarshal(raw, &last); err != nil {
		return fmt.Errorf("store: last contacted users: %w", err)
	}
	for _, l := range last {
		p.last[lastKey{l.CommerceID, l.Channel}] = l
	}
	return nil
}

// commerce returns the workspace's commerce, or nil.
func (p *resolutionPlan) commerce(workspaceID, id uuid.UUID) *planCommerce {
	c := p.commerces[id]
	if c == nil || c.WorkspaceID != workspaceID {
		return nil
	}
	return c
}

// key returns the key of that name the workspace sees (its own, or a built-in one).
func (p *resolutionPlan) key(workspaceID uuid.UUID, name string) (planKey, bool) {
	if w := p.workspaces[workspaceID]; w != nil {
		for _, k := range w.keys {
			if k.Key == name {
				return k, true
			}
		}
	}
	for _, k := range p.builtin {
		if k.Key == name {
			return k, true
		}
	}
	return planKey{}, false
}

// policy returns the workspace's policy for a key, or the key's default: a built-in key is
// UPFRONT with INTERNAL_SERVICE, a workspace's own key CALLER_PROVIDED.
func (p *resolutionPlan) policy(workspaceID uuid.UUID, k planKey) planPolicy {
	if w := p.workspaces[workspaceID]; w != nil {
		if pol, ok := w.policies[k.ID]; ok {
			return pol
		}
	}
	if k.WorkspaceID == nil && hasInternalResolver(k.Key) {
		internal := ResolverInternal
		return planPolicy{WorkspaceID: workspaceID, AttributeKeyID: k.ID, Strategy: StrategyUpfront, ResolverType: &internal}
	}
	return planPolicy{WorkspaceID: workspaceID, AttributeKeyID: k.ID, Strategy: StrategyCallerProvided}
}

// config returns the target config that applies to an activity: the workspace's first active
// one, by priority, for its channel and type; nil when none does.
func (p *resolutionPlan) config(workspaceID uuid.UUID, channel, typ string) *planConfig {
	w := p.workspaces[workspaceID]
	if w == nil {
		return nil
	}
	for i, c := range w.configs {
		if (c.Channel == nil || *c.Channel == channel) && (c.ActivityType == nil || *c.ActivityType == typ) {
			return &w.configs[i]
		}
	}
	return nil
}

// targetRules are how an activity's target user is picked: the criteria (the activity's own
// target_criteria, else its config's) and the fallbacks.
type targetRules struct {
	strategy           string
	criteria           TargetCriteria
	fallbackRep, owner bool
}

// rules returns the target rules of an activity, and false when it has none (no config applies
// and it gave no criteria of its own: it has no target user).
func (p *resolutionPlan) rules(workspaceID uuid.UUID, channel, typ string, own TargetCriteria) (targetRules, bool) {
	cfg := p.config(workspaceID, channel, typ)
	if cfg == nil && len(own) == 0 {
		return targetRules{}, false
	}
	r := targetRules{strategy: StrategyOnCreation, fallbackRep: true, owner: true, criteria: own}
	if cfg != nil {
		r.strategy, r.fallbackRep, r.owner = cfg.Strategy, cfg.FallbackToCommerceRep, cfg.FallbackToOwner
		if len(own) == 0 {
			r.criteria = cfg.Criteria
		}
	}
	return r, true
}

// --- Deciding ----------------------------------------------------------------------------------

// hookCall is the call a CLIENT_HOOK policy makes for an activity.
func (s *DB) hookCall(pol planPolicy, k planKey, a Activity, c *planCommerce) (HookCall, error) {
	secrets, err := s.hookSecrets(pol.ID, pol.HookSecret, pol.HookPreviousSecret, pol.HookPreviousExpiresAt, s.now())
	if err != nil {
		return HookCall{}, err
	}
	timeout := time.Duration(pol.HookTimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	return HookCall{PolicyID: pol.ID, AttributeKeyID: k.ID, Key: k.Key, URL: deref(pol.HookURL), Timeout: timeout,
		Secrets: secrets, Activity: a, Commerce: c.commerceInfo()}, nil
}

// runAttribute resolves e now by pol, in place. input is the caller's entry for the key, if any;
// hook the result of pol's hook call when pol is CLIENT_HOOK. It reports true, changing nothing,
// when pol needs its hook called and hook is nil.
func runAttribute(e *ResolvedAttribute, pol planPolicy, c *planCommerce, input *attributeInput, hook *HookResult, now time.Time) bool {
	var value json.RawMessage
	var why string
	switch {
	case pol.Strategy == StrategyCallerProvided:
		if input != nil && given(input.Value) {
			value = compactJSON(input.Value)
		} else {
			why = "no value was given for it in attributes"
		}
	case pol.ResolverType != nil && *pol.ResolverType == ResolverClientHook:
		if hook == nil {
			return true
		}
		value, why = compactJSON(hook.Value), hook.Error
	case pol.ResolverType != nil && *pol.ResolverType == ResolverInternal:
		value, why = c.internal(e.Key)
	default:
		why = "its policy names no resolver"
	}
	e.UpdatedAt, e.ResolverType = now, nil
	if pol.Strategy != StrategyCallerProvided {
		e.ResolverType = pol.ResolverType
	}
	switch {
	case why == "":
		e.Status, e.Value, e.ErrorMessage, e.ResolvedAt = ResolutionResolved, value, nil, &now
	case input != nil && given(input.Fallback):
		e.Status, e.Value, e.ErrorMessage, e.ResolvedAt = ResolutionFallback, compactJSON(input.Fallback), &why, &now
	default:
		e.Status, e.Value, e.ResolvedAt = ResolutionFailed, nil, nil
		e.ErrorMessage = &why
	}
	return false
}

// compactJSON is v without insignificant space (for values from requests and hook answers; the
// internal resolvers' are compact already).
func compactJSON(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

// internal computes a built-in key from the commerce: commerce_info is its name, external id, tax
// id, metadata and primary address; promotions the "promotions" entry of its metadata. The
// second result says why there is no value.
func (c *planCommerce) internal(key string) (json.RawMessage, string) {
	switch key {
	case AttributeCommerceInfo:
		return c.commerceInfo(), ""
	case AttributePromotions:
		var meta map[string]json.RawMessage
		_ = json.Unmarshal(c.Metadata, &meta)
		if v, ok := meta["promotions"]; ok && given(v) {
			return v, ""
		}
		return nil, fmt.Sprintf("the metadata of commerce %s has no promotions", c.Name)
	}
	return nil, fmt.Sprintf("there is no internal resolver for %s", key)
}

// commerceInfo is the commerce_info value: {id, name, externalId, taxId, metadata, primaryAddress}.
func (c *planCommerce) commerceInfo() json.RawMessage {
	if c.info == nil {
		return c.makeCommerceInfo()
	}
	return c.info
}

func (c *planCommerce) makeCommerceInfo() json.RawMessage {
	type address struct {
		Street    string   `json:"street"`
		City      *string  `json:"city"`
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
	}
	info := struct {
		ID             uuid.UUID       `json:"id"`
		Name           string          `json:"name"`
		ExternalID     *string         `json:"externalId"`
		TaxID          *string         `json:"taxId"`
		Metadata       json.RawMessage `json:"metadata"`
		PrimaryAddress *address        `json:"primaryAddress"`
	}{ID: c.ID, Name: c.Name, ExternalID: c.ExternalID, TaxID: c.TaxID, Metadata: c.Metadata}
	if len(info.Metadata) == 0 {
		info.Metadata = json.RawMessage(`{}`)
	}
	if a := c.PrimaryAddress; a != nil {
		info.PrimaryAddress = &address{Street: a.Street, City: a.City, Latitude: a.Latitude, Longitude: a.Longitude}
	}
	b, _ := json.Marshal(info) // cannot fail: plain values, metadata read from jsonb
	return b
}

// pick is the user a resolution chose.
type pick struct {
	user    *planUser
	contact *TargetContact
	reason  string
}

// chooseTarget picks an activity's target user among the commerce's active users: the criteria
// in order (ROLE_MATCH: the oldest user with the role; LAST_CONTACTED_*: the user the commerce's
// most recent dispatched activity, on any channel or on this one, went to), then the fallbacks
// (a COMMERCE_REP, then an OWNER). A user counts only if reachable (ContactTypesFor): the first
// one who is wins. It returns why none could be picked otherwise.
func chooseTarget(c *planCommerce, r targetRules, last planLast, typ, channel string) (pick, string) {
	types := ContactTypesFor(typ, channel)
	reachable := func(u *planUser) (*TargetContact, bool) {
		if types == nil {
			return nil, true
		}
		for _, t := range types {
			for i := range u.Contacts {
				if u.Contacts[i].Type == t {
					ct := u.Contacts[i]
					return &ct, true
				}
			}
		}
		return nil, false
	}
	withRole := func(role string) (pick, bool) {
		for i := range c.Users {
			if slices.Contains(c.Users[i].Roles, role) {
				if ct, ok := reachable(&c.Users[i]); ok {
					return pick{user: &c.Users[i], contact: ct}, true
				}
			}
		}
		return pick{}, false
	}
	byID := func(id *uuid.UUID) (pick, bool) {
		if id == nil {
			return pick{}, false
		}
		for i := range c.Users {
			if c.Users[i].ID == *id {
				if ct, ok := reachable(&c.Users[i]); ok {
					return pick{user: &c.Users[i], contact: ct}, true
				}
			}
		}
		return pick{}, false
	}
	var tried []string
	for _, cr := range r.criteria {
		var p pick
		var ok bool
		switch cr.Type {
		case CriterionRoleMatch:
			p, ok = withRole(cr.Role())
			tried = append(tried, cr.Type+" "+cr.Role())
		case CriterionLastContactedAll:
			p, ok = byID(last.Any)
			tried = append(tried, cr.Type)
		case CriterionLastContactedChannel:
			p, ok = byID(last.SameChannel)
			tried = append(tried, cr.Type)
		}
		if ok {
			p.reason = LockCriteriaMatch
			return p, ""
		}
	}
	for _, fb := range []struct {
		on     bool
		role   string
		reason string
	}{{r.fallbackRep, RoleCommerceRep, LockFallbackCommerceRep}, {r.owner, RoleOwner, LockFallbackOwner}} {
		if !fb.on {
			continue
		}
		tried = append(tried, "fallback "+fb.role)
		if p, ok := withRole(fb.role); ok {
			p.reason = fb.reason
			return p, ""
		}
	}
	why := "no active user of commerce " + c.Name + " matches"
	if len(tried) == 0 {
		why = "no criterion or fallback is configured to pick a user of commerce " + c.Name
	} else {
		why += " " + strings.Join(tried, ", ")
	}
	if types != nil {
		why += " with an active " + strings.Join(types, " or ") + " contact (" + channel + " needs one)"
	}
	return pick{}, why
}

// runTarget resolves t now by r, in place: RESOLVED with the user picked, or FAILED.
func runTarget(t *TargetUser, c *planCommerce, r targetRules, last planLast, typ, channel string, now time.Time) {
	p, why := chooseTarget(c, r, last, typ, channel)
	t.UpdatedAt = now
	if p.user == nil {
		t.Status, t.CommerceUserID, t.FirstName, t.LastName, t.Contact, t.LockReason, t.ResolvedAt = ResolutionFailed, nil, nil, nil, nil, nil, nil
		t.ErrorMessage = &why
		return
	}
	id := p.user.ID
	t.Status, t.CommerceUserID, t.FirstName, t.LastName, t.Contact = ResolutionResolved, &id, p.user.FirstName, p.user.LastName, p.contact
	t.LockReason, t.ResolvedAt, t.ErrorMessage = &p.reason, &now, nil
}

// resolutionFailure names what an activity could not resolve, as its RESOLUTION_* event says
// it: the error code (TARGET_USER_UNRESOLVED, ATTRIBUTES_UNRESOLVED, or both) and a message with
// each failure; "" when nothing failed. A target user still PENDING under MANUAL counts when
// pendingManual (the activity is due, or retried).
func resolutionFailure(t *TargetUser, attrs ResolvedAttributes, pendingManual bool) (code, msg string) {
	var parts []string
	targetFailed := false
	if t != nil && (t.Status == ResolutionFailed || (pendingManual && t.Status == ResolutionPending && t.Strategy == StrategyManual)) {
		targetFailed = true
		why := "waits for a manual assignment (MANUAL)"
		if t.Status == ResolutionFailed && t.ErrorMessage != nil {
			why = *t.ErrorMessage
		}
		parts = append(parts, "target user: "+why)
	}
	attrFailed := false
	for _, a := range attrs {
		if a.Status == ResolutionFailed {
			attrFailed = true
			parts = append(parts, "attribute "+a.Key+": "+deref(a.ErrorMessage))
		}
	}
	switch {
	case targetFailed && attrFailed:
		code = "TARGET_USER_AND_ATTRIBUTES_UNRESOLVED"
	case targetFailed:
		code = "TARGET_USER_UNRESOLVED"
	case attrFailed:
		code = "ATTRIBUTES_UNRESOLVED"
	default:
		return "", ""
	}
	return code, truncateText(strings.Join(parts, "; "), 2000)
}

// truncateText keeps at most n bytes of s, cut between characters.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// --- At creation -------------------------------------------------------------------------------

// creation is what resolution decided for an activity being created.
type creation struct {
	status       string
	target       *TargetUser
	attrs        ResolvedAttributes
	eventID      uuid.UUID
	code, reason string // the RESOLUTION_FAILED event's, when status is UNRESOLVED
}

// resolveCreate decides an activity's target user and attributes at its creation: ON_CREATION
// targets and UPFRONT attributes are resolved now (CLIENT_HOOK ones from in.HookResults), the
// others wait (PENDING). It returns the hook calls still needed instead (nothing is created
// then), or a refusal: ErrNotFound for a commerce the workspace does not have, ErrInvalid for an
// attribute key it does not see.
func (s *DB) resolveCreate(p *resolutionPlan, in ActivityCreate, a Activity, now time.Time) (creation, []HookCall, error) {
	c := p.commerce(in.WorkspaceID, in.CommerceID)
	if c == nil {
		return creation{}, nil, notFound("Commerce")
	}
	out := creation{status: StatusReady, attrs: ResolvedAttributes{}}
	var own TargetCriteria
	if !isEmptyArray(in.TargetCriteria) {
		var given []TargetCriterion
		_ = json.Unmarshal(in.TargetCriteria, &given) // encoded by the handler from the request
		own = NewTargetCriteria(given)
	}
	if r, ok := p.rules(in.WorkspaceID, in.Channel, in.Type, own); ok {
		out.target = &TargetUser{ID: newID(), Status: ResolutionPending, Strategy: r.strategy, CreatedAt: now, UpdatedAt: now}
		if r.strategy == StrategyOnCreation {
			runTarget(out.target, c, r, p.last[lastKey{c.ID, in.Channel}], in.Type, in.Channel, now)
		}
	}
	a.Target = out.target // what a hook is shown: the activity as it will be created
	inputs := parseAttributeInputs(in.Attributes)
	var calls []HookCall
	for _, name := range attributeNames(in.AttributeKeys, in.Attributes) {
		k, ok := p.key(in.WorkspaceID, name)
		if !ok {
			return creation{}, nil, &Error{Kind: ErrInvalid, Field: attributeField(in, name),
				Message: fmt.Sprintf("Unknown attribute key %q: it is not a key of GET /activity-config/attribute-keys", name)}
		}
		pol := p.policy(in.WorkspaceID, k)
		e := ResolvedAttribute{ID: newID(), AttributeKeyID: k.ID, Key: k.Key, Value: json.RawMessage("null"), Status: ResolutionPending,
			Strategy: pol.Strategy, CreatedAt: now, UpdatedAt: now}
		if pol.Strategy != StrategyCallerProvided {
			e.ResolverType = pol.ResolverType
		}
		if pol.Strategy != StrategyOnDispatch {
			var input *attributeInput
			if v, ok := inputs[k.Key]; ok {
				input = &v
			}
			var hook *HookResult
			if r, ok := in.HookResults[k.ID]; ok {
				hook = &r
			} else if in.FinalRound {
				hook = &HookResult{Error: "its policy changed to CLIENT_HOOK while the activity was being created"}
			}
			if runAttribute(&e, pol, c, input, hook, now) {
				call, err := s.hookCall(pol, k, a, c)
				if err != nil {
					return creation{}, nil, err
				}
				calls = append(calls, call)
			}
		}
		out.attrs = append(out.attrs, e)
	}
	if len(calls) > 0 {
		return creation{}, calls, nil
	}
	if code, msg := resolutionFailure(out.target, out.attrs, false); code != "" {
		out.status, out.code, out.reason, out.eventID = StatusUnresolved, code, msg, newID()
	}
	return out, nil, nil
}

// attributeField names where a key came from in a create request, for its 400.
func attributeField(in ActivityCreate, name string) string {
	for i, k := range in.AttributeKeys {
		if k == name {
			return fmt.Sprintf("attribute_keys[%d]", i)
		}
	}
	var attrs []attributeInput
	_ = json.Unmarshal(in.Attributes, &attrs)
	for i, a := range attrs {
		if a.Key == name {
			return fmt.Sprintf("attributes[%d].key", i)
		}
	}
	return "attribute_keys"
}
