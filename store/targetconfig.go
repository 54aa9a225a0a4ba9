package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Target resolution strategies (StrategyOnDispatch is shared with attribute policies).
const (
	StrategyOnCreation = "ON_CREATION"
	StrategyManual     = "MANUAL"
)

// Target resolution criteria.
const (
	CriterionRoleMatch            = "ROLE_MATCH"
	CriterionLastContactedAll     = "LAST_CONTACTED_ALL_CHANNELS"
	CriterionLastContactedChannel = "LAST_CONTACTED_SAME_CHANNEL"
)

// TargetCriterion is one way to pick an activity's target user; lower priorities are tried
// first. Config is a JSON object (ROLE_MATCH: {"role": "<a commerce user role>"}).
type TargetCriterion struct {
	ID       uuid.UUID       `json:"id"`
	Type     string          `json:"type"`
	Config   json.RawMessage `json:"config"`
	Priority int             `json:"priority"`
}

// Role is the role a ROLE_MATCH criterion asks for ("" when its config names none).
func (c TargetCriterion) Role() string {
	if !bytes.Contains(c.Config, []byte(`"role"`)) { // most criteria: no need to decode
		return ""
	}
	var cfg struct {
		Role string `json:"role"`
	}
	_ = json.Unmarshal(c.Config, &cfg)
	return cfg.Role
}

// TargetCriteria is a jsonb array of criteria.
type TargetCriteria []TargetCriterion

// Scan reads the jsonb column.
func (c *TargetCriteria) Scan(src any) error { return scanJSON(src, c) }

// asksLastContacted reports whether a LAST_CONTACTED criterion is among the criteria.
func (c TargetCriteria) asksLastContacted() bool {
	for _, cr := range c {
		if cr.Type == CriterionLastContactedAll || cr.Type == CriterionLastContactedChannel {
			return true
		}
	}
	return false
}

// NewTargetCriteria gives each criterion an id and orders them as they are tried: by priority,
// ties in the order given.
func NewTargetCriteria(cs []TargetCriterion) TargetCriteria {
	out := make(TargetCriteria, len(cs))
	for i, c := range cs {
		c.ID = newID()
		if len(c.Config) == 0 || string(c.Config) == "null" {
			c.Config = json.RawMessage(`{}`)
		}
		out[i] = c
	}
	slices.SortStableFunc(out, func(a, b TargetCriterion) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// TargetConfig is how a workspace resolves activities' target users. The first active config,
// by priority, whose Channel and ActivityType match an activity (nil matches any) applies to it.
type TargetConfig struct {
	ID                    uuid.UUID      `db:"id"`
	WorkspaceID           uuid.UUID      `db:"workspace_id"`
	Strategy              string         `db:"resolution_strategy"`
	FallbackToCommerceRep bool           `db:"fallback_to_commerce_rep"`
	FallbackToOwner       bool           `db:"fallback_to_owner"`
	Priority              int            `db:"priority"`
	IsActive              bool           `db:"is_active"`
	Channel               *string        `db:"channel"`
	ActivityType          *string        `db:"activity_type"`
	Criteria              TargetCriteria `db:"criteria"`
	CreatedAt             time.Time      `db:"created_at"`
	UpdatedAt             time.Time      `db:"updated_at"`
}

const targetConfigColumns = `id, workspace_id, resolution_strategy, fallback_to_commerce_rep, fallback_to_owner, priority,
	is_active, channel, activity_type, criteria, created_at, updated_at`

func priorityTaken(p int) error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf("An active target resolution config with priority %d already exists", p)}
}

// ListTargetConfigs returns the workspace's configs by priority (inactive ones included).
func (s *DB) ListTargetConfigs(ctx context.Context, workspaceID uuid.UUID) ([]TargetConfig, error) {
	out := []TargetConfig{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+targetConfigColumns+` FROM target_resolution_configs
		WHERE workspace_id = $1 ORDER BY priority, is_active DESC, id`, workspaceID)
	return out, err
}

// GetTargetConfig returns one of the workspace's configs, or ErrNotFound.
func (s *DB) GetTargetConfig(ctx context.Context, workspaceID, id uuid.UUID) (TargetConfig, error) {
	var c TargetConfig
	err := s.db.GetContext(ctx, &c, `SELECT `+targetConfigColumns+` FROM target_resolution_configs
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return c, orNotFound(err, "Target resolution config")
}

// CreateTargetConfig stores a config (its criteria made with NewTargetCriteria). ErrConflict if
// it is active and another active config of the workspace has its priority.
func (s *DB) CreateTargetConfig(ctx context.Context, workspaceID uuid.UUID, c TargetConfig) (TargetConfig, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	crit, err := json.Marshal(nonNilCriteria(c.Criteria))
	if err != nil {
		return TargetConfig{}, err
	}
	var out TargetConfig
	err = s.db.GetContext(ctx, &out, `
		INSERT INTO target_resolution_configs (id, workspace_id, resolution_strategy, fallback_to_commerce_rep, fallback_to_owner,
			priority, is_active, channel, activity_type, criteria)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+targetConfigColumns,
		newID(), workspaceID, c.Strategy, c.FallbackToCommerceRep, c.FallbackToOwner, c.Priority, c.IsActive, c.Channel,
		c.ActivityType, string(crit))
	if isUniqueViolation(err, "target_resolution_configs_priority_key") {
		return out, priorityTaken(c.Priority)
	}
	return out, err
}

// UpdateTargetConfig changes a config with change (see updateRow); every field but the ids and
// times is written back. ErrNotFound if the workspace has no such config; ErrConflict for an
// active config on a priority another active config has.
func (s *DB) UpdateTargetConfig(ctx context.Context, workspaceID, id uuid.UUID, change func(*TargetConfig) error) (TargetConfig, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	return updateRow(ctx, s.db, func(tx *sqlx.Tx) (TargetConfig, error) {
		var c TargetConfig
		err := tx.GetContext(ctx, &c, `SELECT `+targetConfigColumns+` FROM target_resolution_configs
			WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE`, workspaceID, id)
		return c, orNotFound(err, "Target resolution config")
	}, change, func(tx *sqlx.Tx, c *TargetConfig) (TargetConfig, error) {
		crit, err := json.Marshal(nonNilCriteria(c.Criteria))
		if err != nil {
			return TargetConfig{}, err
		}
		var out TargetConfig
		err = tx.GetContext(ctx, &out, `
			UPDATE target_resolution_configs SET resolution_strategy = $3, fallback_to_commerce_rep = $4, fallback_to_owner = $5,
				priority = $6, is_active = $7, channel = $8, activity_type = $9, criteria = $10, updated_at = now()
			WHERE workspace_id = $1 AND id = $2 RETURNING `+targetConfigColumns,
			workspaceID, id, c.Strategy, c.FallbackToCommerceRep, c.FallbackToOwner, c.Priority, c.IsActive, c.Channel,
			c.ActivityType, string(crit))
		if isUniqueViolation(err, "target_resolution_configs_priority_key") {
			return out, priorityTaken(c.Priority)
		}
		return out, err
	})
}

// DeleteTargetConfig removes a config. Activities it resolved keep their target users.
// ErrNotFound if the workspace has no such config.
func (s *DB) DeleteTargetConfig(ctx context.Context, workspaceID, id uuid.UUID) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	res, err := s.db.ExecContext(ctx, `DELETE FROM target_resolution_configs WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Target resolution config")
	}
	return nil
}

func nonNilCriteria(c TargetCriteria) TargetCriteria {
	if c == nil {
		return TargetCriteria{}
	}
	return c
}
