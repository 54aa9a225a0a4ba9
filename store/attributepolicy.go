package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Attribute resolution strategies (when a value is resolved) and resolver types (by whom).
const (
	StrategyUpfront        = "UPFRONT"
	StrategyOnDispatch     = "ON_DISPATCH" // also a target resolution strategy
	StrategyCallerProvided = "CALLER_PROVIDED"
	ResolverInternal       = "INTERNAL_SERVICE"
	ResolverClientHook     = "CLIENT_HOOK"
)

// HookSecretRotationGrace is how long a rotated-out hook secret keeps signing hook calls, next to
// the new one.
const HookSecretRotationGrace = 24 * time.Hour

// DefaultHookTimeout bounds a hook call of a policy that sets no timeout of its own.
const DefaultHookTimeout = 5 * time.Second

// AttributePolicy is how a workspace resolves one attribute key.
type AttributePolicy struct {
	ID             uuid.UUID `db:"id"`
	WorkspaceID    uuid.UUID `db:"workspace_id"`
	AttributeKeyID uuid.UUID `db:"attribute_key_id"`
	Key            string    `db:"key"`
	KeyLabel       string    `db:"key_label"`
	Strategy       string    `db:"strategy"`
	ResolverType   *string   `db:"resolver_type"`
	HookURL        *string   `db:"hook_url"`
	HookTimeoutMS  int       `db:"hook_timeout_ms"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
	// NewHookSecret is the hook signing secret (whsec_…) when the call that returned the policy
	// generated it (a policy becoming CLIENT_HOOK, a rotation): the only time it is shown.
	NewHookSecret string `db:"-"`
}

const attributePolicySelect = `SELECT p.id, p.workspace_id, p.attribute_key_id, k.key, k.label AS key_label, p.strategy,
	p.resolver_type, p.hook_url, p.hook_timeout_ms, p.created_at, p.updated_at
	FROM attribute_policies p JOIN attribute_keys k ON k.id = p.attribute_key_id`

// ListAttributePolicies returns the workspace's policies, by key.
func (s *DB) ListAttributePolicies(ctx context.Context, workspaceID uuid.UUID) ([]AttributePolicy, error) {
	out := []AttributePolicy{}
	err := s.db.SelectContext(ctx, &out, attributePolicySelect+` WHERE p.workspace_id = $1 ORDER BY k.key`, workspaceID)
	return out, err
}

// AttributePolicyUpsert is a policy as POSTed: it replaces the key's policy whole.
type AttributePolicyUpsert struct {
	AttributeKeyID uuid.UUID
	Strategy       string
	ResolverType   *string
	HookURL        *string
	HookTimeoutMS  *int // nil: DefaultHookTimeout
}

// UpsertAttributePolicy creates or replaces the workspace's policy for a key; it says whether it
// created one. A policy that becomes CLIENT_HOOK without a hook secret gets one, returned once in
// NewHookSecret; a policy keeps its secret otherwise (also when it stops being CLIENT_HOOK, so a
// switch back does not change what its receiver verifies with). ErrNotFound for a key the
// workspace does not see; ErrInvalid for INTERNAL_SERVICE on a key without an internal
// resolver (only the built-in keys have one).
func (s *DB) UpsertAttributePolicy(ctx context.Context, workspaceID uuid.UUID, in AttributePolicyUpsert) (AttributePolicy, bool, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	key, err := s.GetAttributeKey(ctx, workspaceID, in.AttributeKeyID)
	if err != nil {
		return AttributePolicy{}, false, err
	}
	if in.ResolverType != nil && *in.ResolverType == ResolverInternal && in.Strategy != StrategyCallerProvided && !hasInternalResolver(key.Key) {
		return AttributePolicy{}, false, &Error{Kind: ErrInvalid, Message: fmt.Sprintf(
			"Attribute key %s has no internal resolver (only %s and %s do): use CLIENT_HOOK or CALLER_PROVIDED", key.Key,
			AttributeCommerceInfo, AttributePromotions)}
	}
	timeout := int(DefaultHookTimeout / time.Millisecond)
	if in.HookTimeoutMS != nil {
		timeout = *in.HookTimeoutMS
	}
	// A first upsert that loses the race to insert the key's policy runs again, as an update.
	for range 2 {
		p, created, inserted, err := s.upsertAttributePolicy(ctx, workspaceID, in, timeout)
		if err != nil || inserted {
			return p, created, err
		}
	}
	return AttributePolicy{}, false, &Error{Kind: ErrConflict, Message: "The attribute policy is being changed by another request; try again"}
}

// upsertAttributePolicy is one try of UpsertAttributePolicy; written is false when the policy
// did not exist and another request inserted it meanwhile.
func (s *DB) upsertAttributePolicy(ctx context.Context, workspaceID uuid.UUID, in AttributePolicyUpsert, timeout int) (
	p AttributePolicy, created, written bool, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return p, false, false, err
	}
	defer tx.Rollback()
	var cur struct {
		ID     uuid.UUID `db:"id"`
		Secret []byte    `db:"hook_secret"`
	}
	err = tx.GetContext(ctx, &cur, `SELECT id, hook_secret FROM attribute_policies WHERE workspace_id = $1 AND attribute_key_id = $2
		FOR NO KEY UPDATE`, workspaceID, in.AttributeKeyID)
	created = noRows(err)
	if err != nil && !created {
		return p, false, false, err
	}
	if created {
		cur.ID = newID()
	}
	var fresh string
	sealed := cur.Secret
	if in.ResolverType != nil && *in.ResolverType == ResolverClientHook && sealed == nil {
		// Sealed bound to the row's id: known here, the row being locked or new.
		fresh = NewWebhookSecret()
		sealed = s.box.Seal([]byte(fresh), hookSecretAAD(cur.ID))
	}
	if created {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO attribute_policies (id, workspace_id, attribute_key_id, strategy, resolver_type, hook_url, hook_timeout_ms, hook_secret)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (workspace_id, attribute_key_id) DO NOTHING`,
			cur.ID, workspaceID, in.AttributeKeyID, in.Strategy, in.ResolverType, in.HookURL, timeout, sealed)
		if err != nil {
			return p, false, false, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return p, false, false, nil
		}
	} else if _, err := tx.ExecContext(ctx, `
		UPDATE attribute_policies SET strategy = $2, resolver_type = $3, hook_url = $4, hook_timeout_ms = $5, hook_secret = $6,
			updated_at = now()
		WHERE id = $1`, cur.ID, in.Strategy, in.ResolverType, in.HookURL, timeout, sealed); err != nil {
		return p, false, false, err
	}
	if err := tx.GetContext(ctx, &p, attributePolicySelect+` WHERE p.id = $1`, cur.ID); err != nil {
		return p, false, false, err
	}
	if err := tx.Commit(); err != nil {
		return p, false, false, err
	}
	p.NewHookSecret = fresh
	return p, created, true, nil
}

// DeleteAttributePolicy removes a policy: its key resolves by its default again. ErrNotFound if
// the workspace has no such policy.
func (s *DB) DeleteAttributePolicy(ctx context.Context, workspaceID, id uuid.UUID) error {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	res, err := s.db.ExecContext(ctx, `DELETE FROM attribute_policies WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("Attribute policy")
	}
	return nil
}

// RotateHookSecret gives a policy a new hook secret, returned once in NewHookSecret; the previous
// one keeps signing hook calls, next to the new, for HookSecretRotationGrace. ErrNotFound if the
// workspace has no such policy; ErrInvalid for a policy that never had a secret (it was never
// CLIENT_HOOK).
func (s *DB) RotateHookSecret(ctx context.Context, workspaceID, id uuid.UUID) (AttributePolicy, error) {
	defer s.plans.changed() // what creates resolve with (resolution_cache.go)
	fresh := NewWebhookSecret()
	res, err := s.db.ExecContext(ctx, `
		UPDATE attribute_policies SET hook_previous_secret = hook_secret, hook_previous_expires_at = $4,
			hook_secret = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND hook_secret IS NOT NULL`,
		workspaceID, id, s.box.Seal([]byte(fresh), hookSecretAAD(id)), s.now().Add(HookSecretRotationGrace))
	if err != nil {
		return AttributePolicy{}, err
	}
	var p AttributePolicy
	if err := s.db.GetContext(ctx, &p, attributePolicySelect+` WHERE p.workspace_id = $1 AND p.id = $2`, workspaceID, id); err != nil {
		return p, orNotFound(err, "Attribute policy")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return p, &Error{Kind: ErrInvalid, Message: "The attribute policy has no hook secret to rotate: it has never been CLIENT_HOOK"}
	}
	p.NewHookSecret = fresh
	return p, nil
}

// hookSecretAAD binds a sealed hook secret to its policy.
func hookSecretAAD(policyID uuid.UUID) []byte {
	return []byte("attribute-policy-hook:" + policyID.String())
}

// hookSecrets opens a policy's secrets as the plan query returns them (base64 of the sealed
// bytes): the current one, and the previous one while it is still valid at now.
func (s *DB) hookSecrets(policyID uuid.UUID, current, previous *string, previousUntil *time.Time, now time.Time) ([]string, error) {
	var out []string
	for i, enc := range []*string{current, previous} {
		if enc == nil || (i == 1 && (previousUntil == nil || !previousUntil.After(now))) {
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(*enc)
		if err != nil {
			return nil, err
		}
		plain, err := s.box.Open(sealed, hookSecretAAD(policyID))
		if err != nil {
			return nil, fmt.Errorf("open hook secret of policy %s: %w", policyID, err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}
