package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Issue statements the delivery engine runs for destinations (webhookendpoint.go's
// TargetFailed and TargetSucceeded); the rest of the issue lifecycle is below them.

// reopenSQL is the ON CONFLICT action of an issue's new occurrence: counted and seen, and, by
// Hookdeck's rules, a resolved issue opens again (with this occurrence as its reference) while
// an ignored one never does. Acknowledged and open issues only count.
const reopenSQL = `DO UPDATE SET occurrences = x.occurrences + EXCLUDED.occurrences, last_seen_at = EXCLUDED.last_seen_at,
		updated_at = now(),
		status = CASE WHEN x.status = 'resolved' THEN 'open' ELSE x.status END,
		opened_at = CASE WHEN x.status = 'resolved' THEN EXCLUDED.opened_at ELSE x.opened_at END,
		ref_event_id = CASE WHEN x.status = 'resolved' THEN EXCLUDED.ref_event_id ELSE x.ref_event_id END,
		ref_attempt_id = CASE WHEN x.status = 'resolved' THEN EXCLUDED.ref_attempt_id ELSE x.ref_attempt_id END,
		acknowledged_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.acknowledged_at END,
		resolved_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.resolved_at END,
		auto_resolved_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.auto_resolved_at END`

// uuidv7SQL makes a version 7 UUID in SQL (PostgreSQL 15 has no uuidv7()): the millisecond
// timestamp over the first 6 bytes of a random UUID, with the version set to 7, so ids made in
// SQL sort with those newID makes.
const uuidv7SQL = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
		substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid`

// issueConflict is the target of every issue upsert: the unique index ingest_issues_group_key.
const issueConflict = `ON CONFLICT (type, coalesce(source_id, destination_id), kind) `

// deliveryIssueSQL counts a failed attempt at destination $1 (delivery $3, failure kind $4) in
// its delivery issue, opening one with id $5 if there is none.
var deliveryIssueSQL = `INSERT INTO ingest_issues AS x (id, workspace_id, type, destination_id, kind, ref_event_id, ref_attempt_id,
			first_seen_at, last_seen_at, opened_at)
		SELECT $5, t.workspace_id, 'delivery', t.id, $4, d.event_pk,
			(SELECT a.id FROM webhook_attempts a WHERE a.delivery_id = $3 AND a.id >= ` + attemptsOfDeliveryFrom + `
				ORDER BY a.id DESC LIMIT 1), now(), now(), now()
		FROM ingest_destinations t JOIN webhook_deliveries d ON d.id = $3 WHERE t.id = $1
		` + issueConflict + reopenSQL + ` RETURNING x.id`

// attemptsOfDeliveryFrom is the least id of delivery $3's attempts: they are made after the
// delivery, whose version 7 id starts with its event's millisecond (webhook_delivery_id), so
// the partitions of webhook_attempts before that are left out; a delivery made before
// migration 0018 has a random (version 4) id, and its attempts may be anywhere.
const attemptsOfDeliveryFrom = `CASE WHEN substr($3::uuid::text, 15, 1) = '7' THEN switchboard_id_floor(switchboard_id_ms($3::uuid))
	ELSE '00000000-0000-0000-0000-000000000000'::uuid END`

// resolveDeliveryIssuesSQL resolves destination $1's open and acknowledged delivery issues
// after a successful attempt (the main statement of a WITH whose CTEs clear its failure record).
const resolveDeliveryIssuesSQL = `UPDATE ingest_issues SET status = 'resolved', resolved_at = now(), auto_resolved_at = now(),
		updated_at = now() WHERE destination_id = $1 AND type = 'delivery' AND status IN ('open', 'acknowledged')`

// Issue statuses.
const (
	IssueOpen         = "open"
	IssueAcknowledged = "acknowledged"
	IssueResolved     = "resolved"
	IssueIgnored      = "ignored"
)

// Issue groups failures of one kind at one source or destination.
type Issue struct {
	ID             uuid.UUID  `db:"id"`
	Type           string     `db:"type"`
	Status         string     `db:"status"`
	SourceID       *uuid.UUID `db:"source_id"`
	DestinationID  *uuid.UUID `db:"destination_id"`
	TargetName     string     `db:"target_name"`
	Kind           string     `db:"kind"`
	RefEventID     *uuid.UUID `db:"ref_event_id"`
	RefAttemptID   *uuid.UUID `db:"ref_attempt_id"`
	Occurrences    int        `db:"occurrences"`
	FirstSeenAt    time.Time  `db:"first_seen_at"`
	LastSeenAt     time.Time  `db:"last_seen_at"`
	OpenedAt       time.Time  `db:"opened_at"`
	AcknowledgedAt *time.Time `db:"acknowledged_at"`
	ResolvedAt     *time.Time `db:"resolved_at"`
	AutoResolvedAt *time.Time `db:"auto_resolved_at"`
	IgnoredAt      *time.Time `db:"ignored_at"`
}

const issueColumns = `i.id, i.type, i.status, i.source_id, i.destination_id,
	coalesce((SELECT s.name FROM ingest_sources s WHERE s.id = i.source_id), (SELECT t.name FROM ingest_destinations t WHERE t.id = i.destination_id), '') AS target_name,
	i.kind, i.ref_event_id, i.ref_attempt_id, i.occurrences, i.first_seen_at, i.last_seen_at, i.opened_at, i.acknowledged_at,
	i.resolved_at, i.auto_resolved_at, i.ignored_at`

// IssueFilter narrows ListIssues and CountIssues; zero fields do not filter.
type IssueFilter struct {
	Status, Type            string
	SourceID, DestinationID uuid.UUID
	Before                  uuid.UUID // keyset cursor: issues older than this one
}

const issueWhere = ` FROM ingest_issues i WHERE i.workspace_id = $1 AND ($2 = '' OR i.status = $2) AND ($3 = '' OR i.type = $3)
	AND ($4::uuid IS NULL OR i.source_id = $4) AND ($5::uuid IS NULL OR i.destination_id = $5)`

// ListIssues returns up to limit issues of a workspace, newest first.
func (s *DB) ListIssues(ctx context.Context, workspaceID uuid.UUID, f IssueFilter, limit int) ([]Issue, error) {
	out := []Issue{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+issueColumns+issueWhere+` AND ($6::uuid IS NULL OR i.id < $6) ORDER BY i.id DESC LIMIT $7`,
		workspaceID, f.Status, f.Type, nullUUID(f.SourceID), nullUUID(f.DestinationID), nullUUID(f.Before), limit)
	return out, err
}

// CountIssues counts a workspace's issues.
func (s *DB) CountIssues(ctx context.Context, workspaceID uuid.UUID, f IssueFilter) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*)`+issueWhere, workspaceID, f.Status, f.Type, nullUUID(f.SourceID), nullUUID(f.DestinationID))
	return n, err
}

// GetIssue returns a workspace's issue, or ErrNotFound.
func (s *DB) GetIssue(ctx context.Context, workspaceID, id uuid.UUID) (Issue, error) {
	var i Issue
	err := s.db.GetContext(ctx, &i, `SELECT `+issueColumns+` FROM ingest_issues i WHERE i.workspace_id = $1 AND i.id = $2`, workspaceID, id)
	return i, orNotFound(err, "Issue")
}

// SetIssueStatus changes an issue's status by hand, stamping when (acknowledged_at,
// resolved_at, ignored_at); one resolved by hand has no auto_resolved_at, one opened again
// is no longer acknowledged, resolved or ignored.
func (s *DB) SetIssueStatus(ctx context.Context, workspaceID, id uuid.UUID, status string) (Issue, error) {
	var i Issue
	err := s.db.GetContext(ctx, &i, `WITH i AS (
			UPDATE ingest_issues SET status = $3, updated_at = now(),
				opened_at = CASE WHEN $3 = 'open' AND status <> 'open' THEN now() ELSE opened_at END,
				acknowledged_at = CASE WHEN $3 = 'acknowledged' THEN coalesce(acknowledged_at, now()) WHEN $3 = 'open' THEN NULL ELSE acknowledged_at END,
				resolved_at = CASE WHEN $3 = 'resolved' THEN now() ELSE NULL END,
				auto_resolved_at = NULL,
				ignored_at = CASE WHEN $3 = 'ignored' THEN coalesce(ignored_at, now()) ELSE NULL END
			WHERE workspace_id = $1 AND id = $2 RETURNING *
		) SELECT `+issueColumns+` FROM i`, workspaceID, id, status)
	return i, orNotFound(err, "Issue")
}

// CheckBackpressure opens (or counts in) a backpressure issue for every destination whose
// oldest due delivery (pending, and due since: never attempted, or its next attempt's time
// passed) has waited longer than threshold, and resolves those of destinations whose backlog
// is gone. It returns how many issues it opened or counted in, and resolved.
func (s *DB) CheckBackpressure(ctx context.Context, threshold time.Duration) (opened, resolved int, err error) {
	var row struct {
		Opened   int `db:"opened"`
		Resolved int `db:"resolved"`
	}
	err = s.db.GetContext(ctx, &row, `
		WITH late AS (
			SELECT d.destination_id, min(coalesce(d.next_attempt_at, d.updated_at)) AS since
			FROM webhook_deliveries d
			WHERE d.destination_id IS NOT NULL AND d.status = 'pending'
				AND coalesce(d.next_attempt_at, d.updated_at) < now() - $1 * interval '1 microsecond'
			GROUP BY d.destination_id
		), up AS (
			INSERT INTO ingest_issues AS x (id, workspace_id, type, destination_id, kind, occurrences, first_seen_at, last_seen_at, opened_at)
			SELECT `+uuidv7SQL+`, t.workspace_id, 'backpressure', t.id, 'backlog', 1, now(), now(), now()
			FROM late JOIN ingest_destinations t ON t.id = late.destination_id ORDER BY t.id
			`+issueConflict+reopenSQL+`
			RETURNING x.id
		), res AS (
			UPDATE ingest_issues SET status = 'resolved', resolved_at = now(), auto_resolved_at = now(), updated_at = now()
			WHERE type = 'backpressure' AND status IN ('open', 'acknowledged') AND destination_id NOT IN (SELECT destination_id FROM late)
			RETURNING id
		)
		SELECT (SELECT count(*) FROM up) AS opened, (SELECT count(*) FROM res) AS resolved`, threshold.Microseconds())
	return row.Opened, row.Resolved, err
}
