package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// ResolveMode says which resolutions ResolveActivity runs, and what follows.
type ResolveMode int

const (
	// ResolveAtDispatch runs, for a READY activity being dispatched, what waits for dispatch: a
	// PENDING target user (ON_DISPATCH; a MANUAL one still unassigned fails) and PENDING
	// attributes. On failure the activity becomes UNRESOLVED, with a RESOLUTION_FAILED event.
	ResolveAtDispatch ResolveMode = iota + 1
	// ResolveRetry runs, for an UNRESOLVED activity, every resolution that failed. On success the
	// activity becomes READY (RESOLUTION_RETRY_SUCCESS) and its dispatch is scheduled again, at
	// its scheduled time or at once if that has passed; otherwise it stays UNRESOLVED
	// (RESOLUTION_RETRY_FAILED).
	ResolveRetry
)

// ErrNotUnresolved is the documented refusal of a retry: the activity is in another status.
const ErrNotUnresolved = "Activity is not in UNRESOLVED status"

// ResolveActivity runs the resolutions mode names for a workspace's activity, with the rules in
// force now (the workspace's current target config and policies; the activity's own
// target_criteria and attributes as it was created with). CLIENT_HOOK attributes are called
// through hooks, with no lock held. It returns the activity as it is afterwards and whether
// everything resolved: for ResolveAtDispatch, true means the activity is READY and may be sent;
// false that it is not (UNRESOLVED now, or moved on meanwhile). ErrNotFound if the workspace has
// no such activity; for ResolveRetry, ErrInvalid (ErrNotUnresolved) if it is not UNRESOLVED.
func (s *DB) ResolveActivity(ctx context.Context, workspaceID, id uuid.UUID, mode ResolveMode, hooks HookFunc) (Activity, bool, error) {
	// Written only if the activity did not change in between (its updated_at); one that did is
	// resolved again from what it is now.
	for range 3 {
		a, ok, again, err := s.resolveActivity(ctx, workspaceID, id, mode, hooks)
		if !again {
			return a, ok, err
		}
	}
	return Activity{}, false, &Error{Kind: ErrConflict, Message: "The activity kept changing while it was being resolved; try again"}
}

func (s *DB) resolveActivity(ctx context.Context, workspaceID, id uuid.UUID, mode ResolveMode, hooks HookFunc) (
	a Activity, ok, again bool, err error) {
	a, err = s.GetActivity(ctx, workspaceID, id)
	if err != nil {
		return a, false, false, err
	}
	expected := StatusReady
	if mode == ResolveRetry {
		expected = StatusUnresolved
	}
	if a.Status != expected {
		if mode == ResolveRetry {
			return a, false, false, &Error{Kind: ErrInvalid, Message: ErrNotUnresolved}
		}
		return a, false, false, nil
	}
	target, attrs := a.Target, append(ResolvedAttributes{}, a.ResolvedAttributes...)
	if target != nil {
		t := *target
		target = &t
	}
	runTargetNow := target != nil && ((mode == ResolveAtDispatch && target.Status == ResolutionPending && target.Strategy != StrategyManual) ||
		(mode == ResolveRetry && target.Status == ResolutionFailed))
	var run []int
	for i, e := range attrs {
		if (mode == ResolveAtDispatch && e.Status == ResolutionPending) || (mode == ResolveRetry && e.Status == ResolutionFailed) {
			run = append(run, i)
		}
	}
	if runTargetNow || len(run) > 0 {
		if err := s.rerun(ctx, a, target, runTargetNow, attrs, run, hooks); err != nil {
			return a, false, false, err
		}
	}
	code, msg := resolutionFailure(target, attrs, true)
	ok = code == ""
	status, event := expected, ""
	from := expected
	switch {
	case mode == ResolveAtDispatch && !ok:
		status, event = StatusUnresolved, EventResolutionFailed
	case mode == ResolveRetry && ok:
		status, event = StatusReady, EventResolutionRetrySuccess
	case mode == ResolveRetry:
		event = EventResolutionRetryFailed
	}
	after, written, err := s.writeResolution(ctx, a, target, attrs, status, from, event, code, msg)
	if err != nil || !written {
		return a, false, !written && err == nil, err
	}
	return after, ok, false, nil
}

// rerun resolves, in place, the target user (when withTarget) and the attributes at run, calling
// the hooks they need. It reads the database, not the create path's plan cache.
func (s *DB) rerun(ctx context.Context, a Activity, target *TargetUser, withTarget bool, attrs ResolvedAttributes, run []int,
	hooks HookFunc) error {
	p, err := s.loadPlan(ctx, s.db, []uuid.UUID{a.WorkspaceID}, []uuid.UUID{a.CommerceID})
	if err != nil {
		return err
	}
	if withTarget && (asksLastContacted(a.TargetCriteria) || p.asksLastContacted()) {
		need := []planNeed{{WorkspaceID: a.WorkspaceID, CommerceID: a.CommerceID, Channel: a.Channel}}
		if err := s.loadLastContacted(ctx, s.db, p, need); err != nil {
			return err
		}
	}
	c := p.commerce(a.WorkspaceID, a.CommerceID)
	if c == nil { // deleted with its activities meanwhile
		return notFound("Activity")
	}
	now := pgTime(s.now())
	if withTarget {
		var given []TargetCriterion
		_ = json.Unmarshal(a.TargetCriteria, &given)
		own := NewTargetCriteria(given)
		r, ok := p.rules(a.WorkspaceID, a.Channel, a.Type, own)
		if !ok { // the config that gave the activity a target user is gone: only the fallbacks remain
			r = targetRules{strategy: target.Strategy, fallbackRep: true, owner: true}
		}
		runTarget(target, c, r, p.last[lastKey{c.ID, a.Channel}], a.Type, a.Channel, now)
	}
	// Hooks are shown the activity as this resolution has it so far (its target user just picked).
	a.Target, a.ResolvedAttributes = target, attrs
	inputs := parseAttributeInputs(a.Attributes)
	type waiting struct {
		i   int
		pol planPolicy
	}
	var calls []HookCall
	var wait []waiting
	for _, i := range run {
		e := &attrs[i]
		k, ok := p.key(a.WorkspaceID, e.Key)
		if !ok {
			why := "its attribute key no longer exists"
			e.Status, e.Value, e.ResolvedAt, e.ErrorMessage, e.UpdatedAt = ResolutionFailed, nil, nil, &why, now
			continue
		}
		pol := p.policy(a.WorkspaceID, k)
		var input *attributeInput
		if v, ok := inputs[k.Key]; ok {
			input = &v
		}
		if runAttribute(e, pol, c, input, nil, now) {
			call, err := s.hookCall(pol, k, a, c)
			if err != nil {
				return err
			}
			calls, wait = append(calls, call), append(wait, waiting{i, pol})
		}
	}
	if len(calls) == 0 {
		return nil
	}
	results := hooks(ctx, calls)
	now = pgTime(s.now())
	for j, w := range wait {
		e := &attrs[w.i]
		var input *attributeInput
		if v, ok := inputs[e.Key]; ok {
			input = &v
		}
		runAttribute(e, w.pol, c, input, &results[j], now)
	}
	return nil
}

// writeResolution stores what a resolution decided, if the activity is still as it was read
// (its status and updated_at): the target user, the attributes, the status, the event (when
// event is not "") and, for an activity made READY again, its dispatch job. It returns the
// activity as written (read before the commit: once committed, its dispatch may already have
// moved it on), or false when the activity had changed.
func (s *DB) writeResolution(ctx context.Context, a Activity, target *TargetUser, attrs ResolvedAttributes, status, from, event,
	code, msg string) (Activity, bool, error) {
	var targetJSON any
	if target != nil {
		b, err := json.Marshal(target)
		if err != nil {
			return a, false, err
		}
		targetJSON = string(b)
	}
	attrsJSON, err := json.Marshal(attrs)
	if err != nil {
		return a, false, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return a, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		UPDATE activities SET target = $3::json, resolved_attributes = $4::json, status = $5, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = $6 AND updated_at = $7`,
		a.WorkspaceID, a.ID, targetJSON, string(attrsJSON), status, from, a.UpdatedAt)
	if err != nil {
		return a, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return a, false, nil
	}
	if event != "" {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO activity_status_events (id, activity_id, event_type, from_status, to_status, error_code, error_message)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, newID(), a.ID, event, from, status, nullString(code), nullString(msg)); err != nil {
			return a, false, err
		}
	}
	if status == StatusReady && from == StatusUnresolved {
		// An UNRESOLVED activity has no live dispatch job (none was written for it, or the one
		// that found it unresolvable has ended): this is its only one.
		var opts river.InsertOpts
		if a.ScheduledAt.After(s.now()) {
			opts.ScheduledAt = a.ScheduledAt
		}
		if _, err := s.jobs.InsertTx(ctx, tx.Tx, DispatchActivityArgs{WorkspaceID: a.WorkspaceID, ActivityID: a.ID}, &opts); err != nil {
			return a, false, err
		}
	}
	var after Activity
	if err := tx.GetContext(ctx, &after, activitySelect+` WHERE a.workspace_id = $1 AND a.id = $2`, a.WorkspaceID, a.ID); err != nil {
		return a, false, err
	}
	return after, true, tx.Commit()
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AssignTargetUser makes a commerce user the target user of a workspace's activity, by hand:
// LOCKED, with MANUAL_ASSIGNMENT, reached through the contact ContactTypesFor prefers. Only a
// target user still PENDING or FAILED, and not locked, of a READY or UNRESOLVED activity can be
// assigned; the user must be an active user of the activity's commerce, reachable on its
// channel. The activity's status does not change (an UNRESOLVED one is retried with
// ResolveActivity). ErrNotFound for an activity or target user the workspace does not have;
// ErrInvalid for the rest.
func (s *DB) AssignTargetUser(ctx context.Context, workspaceID, activityID, targetID, userID uuid.UUID) (TargetUser, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return TargetUser{}, err
	}
	defer tx.Rollback()
	var a Activity
	err = tx.GetContext(ctx, &a, activitySelect+` WHERE a.workspace_id = $1 AND a.id = $2 FOR NO KEY UPDATE OF a`, workspaceID, activityID)
	if err != nil {
		return TargetUser{}, orNotFound(err, "Activity")
	}
	if a.Target == nil || a.Target.ID != targetID {
		return TargetUser{}, notFound("Target user")
	}
	t := *a.Target
	switch {
	case a.Status != StatusReady && a.Status != StatusUnresolved:
		return TargetUser{}, &Error{Kind: ErrInvalid, Message: fmt.Sprintf(
			"Activity is %s: only the target user of a READY or UNRESOLVED activity can be assigned", a.Status)}
	case (t.Status != ResolutionPending && t.Status != ResolutionFailed) || t.LockedAt != nil:
		return TargetUser{}, &Error{Kind: ErrInvalid, Message: fmt.Sprintf(
			"Target user is %s: only a PENDING or FAILED target user that is not locked can be assigned", t.Status)}
	}
	users, err := loadCommerceUsers(ctx, tx, a.CommerceID, &userID)
	if err != nil {
		return TargetUser{}, err
	}
	if len(users) == 0 {
		return TargetUser{}, &Error{Kind: ErrInvalid, Field: "commerce_user_id", Message: "commerce_user_id is not a user of the activity's commerce"}
	}
	u := users[0]
	if !u.IsActive {
		return TargetUser{}, &Error{Kind: ErrInvalid, Field: "commerce_user_id", Message: "The commerce user is not active"}
	}
	var contact *TargetContact
	types := ContactTypesFor(a.Type, a.Channel)
	for _, typ := range types {
		for _, c := range u.Contacts { // primary first within a type
			if c.Type == typ && c.IsActive && contact == nil {
				contact = &TargetContact{ID: c.ID, Type: c.Type, Value: c.Value}
			}
		}
	}
	if types != nil && contact == nil {
		return TargetUser{}, &Error{Kind: ErrInvalid, Field: "commerce_user_id", Message: fmt.Sprintf(
			"The commerce user has no active %s contact: a %s on %s needs one", strings.Join(types, " or "), a.Type, a.Channel)}
	}
	now := pgTime(s.now())
	reason := LockManualAssignment
	t.Status, t.CommerceUserID, t.FirstName, t.LastName, t.Contact = ResolutionLocked, &u.ID, u.FirstName, u.LastName, contact
	t.LockReason, t.ResolvedAt, t.LockedAt, t.ErrorMessage, t.UpdatedAt = &reason, &now, &now, nil, now
	b, err := json.Marshal(t)
	if err != nil {
		return TargetUser{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE activities SET target = $2::json, updated_at = now() WHERE id = $1`, a.ID, string(b)); err != nil {
		return TargetUser{}, err
	}
	return t, tx.Commit()
}
