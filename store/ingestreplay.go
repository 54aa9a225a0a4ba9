package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Replay statuses: what a bulk replay sends again.
const (
	ReplayFailed    = "failed"    // deliveries that failed
	ReplayDelivered = "delivered" // deliveries that were delivered
	ReplayAll       = "all"       // every delivery
	ReplayRejected  = "rejected"  // rejected events, routed to their source's destinations
	replayPending   = "pending"   // deliveries still pending (a backpressure issue's)
	replayFailing   = "failing"   // deliveries that failed or are retrying after a failure (a delivery issue's)
)

// IngestReplayFilter selects what a bulk replay of events sends again.
type IngestReplayFilter struct {
	SourceID      *uuid.UUID `json:"sourceId,omitempty"`
	DestinationID *uuid.UUID `json:"destinationId,omitempty"`
	Status        string     `json:"status"`
	Since         *time.Time `json:"since,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	Search        string     `json:"search,omitempty"`
	IssueID       *uuid.UUID `json:"issueId,omitempty"`
	// What an issue narrows the replay to (set from IssueID): its failure reason
	// (verification) or rejection cause (request), and the delivery status to replay.
	Reason         string     `json:"reason,omitempty"`
	Cause          string     `json:"cause,omitempty"`
	DeliveryStatus string     `json:"deliveryStatus,omitempty"`
	IssueFirstSeen *time.Time `json:"issueFirstSeen,omitempty"`
}

// Scan reads the jsonb column.
func (f *IngestReplayFilter) Scan(src any) error { return scanJSON(src, f) }

// IngestReplay is a bulk replay of events, worked through in the background.
type IngestReplay struct {
	ID          uuid.UUID          `db:"id"`
	Filter      IngestReplayFilter `db:"filter"`
	Status      string             `db:"status"`
	Replayed    int                `db:"replayed"`
	CreatedAt   time.Time          `db:"created_at"`
	CompletedAt *time.Time         `db:"completed_at"`
}

const ingestReplayColumns = `id, filter, status, replayed, created_at, completed_at`

// CreateIngestReplay stores a bulk replay and its job, in one transaction. Until defaults to
// now. With IssueID, the issue decides what is replayed (see the Ingest API's replayIssue);
// an unknown issue, source or destination is an ErrNotFound.
func (s *DB) CreateIngestReplay(ctx context.Context, workspaceID uuid.UUID, f IngestReplayFilter) (IngestReplay, error) {
	if f.Status == "" {
		f.Status = ReplayFailed
	}
	if f.Until == nil {
		now := s.now().UTC()
		f.Until = &now
	}
	if f.IssueID != nil {
		is, err := s.GetIssue(ctx, workspaceID, *f.IssueID)
		if err != nil {
			return IngestReplay{}, err
		}
		// A rejected request's issue was first seen when it was received; a delivery issue when
		// the first attempt failed, after the event came in: its destination's failed (or, for
		// backpressure, pending) deliveries are replayed whenever their events arrived.
		first := is.FirstSeenAt.UTC()
		switch is.Type {
		case IssueDelivery:
			f.DestinationID, f.DeliveryStatus = is.DestinationID, replayFailing
		case IssueBackpressure:
			f.DestinationID, f.DeliveryStatus = is.DestinationID, replayPending
		case IssueVerification:
			f.SourceID, f.Reason, f.DeliveryStatus, f.IssueFirstSeen = is.SourceID, is.Kind, ReplayRejected, &first
		case IssueRequest:
			f.SourceID, f.Cause, f.DeliveryStatus, f.IssueFirstSeen = is.SourceID, is.Kind, ReplayRejected, &first
		}
	}
	if f.SourceID != nil {
		if _, err := s.GetSource(ctx, workspaceID, *f.SourceID); err != nil {
			return IngestReplay{}, err
		}
	}
	if f.DestinationID != nil {
		if _, err := s.GetDestination(ctx, workspaceID, *f.DestinationID); err != nil {
			return IngestReplay{}, err
		}
	}
	filter, _ := json.Marshal(f)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return IngestReplay{}, err
	}
	defer tx.Rollback()
	var r IngestReplay
	if err := tx.GetContext(ctx, &r, `INSERT INTO ingest_replays (id, workspace_id, filter) VALUES ($1, $2, $3) RETURNING `+ingestReplayColumns,
		newID(), workspaceID, string(filter)); err != nil {
		return IngestReplay{}, err
	}
	if _, err := s.jobs.InsertTx(ctx, tx.Tx, IngestBulkReplayArgs{ReplayID: r.ID}, nil); err != nil {
		return IngestReplay{}, fmt.Errorf("insert replay job: %w", err)
	}
	return r, tx.Commit()
}

// GetIngestReplay returns a workspace's bulk replay, or ErrNotFound.
func (s *DB) GetIngestReplay(ctx context.Context, workspaceID, id uuid.UUID) (IngestReplay, error) {
	var r IngestReplay
	err := s.db.GetContext(ctx, &r, `SELECT `+ingestReplayColumns+` FROM ingest_replays WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	return r, orNotFound(err, "Replay")
}

// Route says which destinations (of those given) each event goes to: routing with the
// destinations' filters, for replays of rejected events.
type Route func(events []EventToRoute, destinations map[uuid.UUID][]RouteDestination) [][]uuid.UUID

// RunIngestReplayBatch replays the next batch (up to n events) of a bulk replay, in one
// transaction that also records its progress, and reports whether the replay is complete. Run
// it until it is; a crash between batches loses nothing and repeats nothing. route decides
// where rejected events go (they have no deliveries to replay).
func (s *DB) RunIngestReplayBatch(ctx context.Context, replayID uuid.UUID, n int, route Route) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var r struct {
		IngestReplay
		WorkspaceID uuid.UUID  `db:"workspace_id"`
		AfterID     *uuid.UUID `db:"after_id"`
	}
	if err := tx.GetContext(ctx, &r, `SELECT `+ingestReplayColumns+`, workspace_id, after_id FROM ingest_replays WHERE id = $1 FOR UPDATE`,
		replayID); err != nil {
		if noRows(err) {
			return true, nil // its workspace was deleted
		}
		return false, err
	}
	if r.Status == "completed" {
		return true, nil
	}
	f := r.Filter
	mode := f.Status
	if f.DeliveryStatus != "" {
		mode = f.DeliveryStatus
	}
	since := f.Since
	if f.IssueFirstSeen != nil && (since == nil || f.IssueFirstSeen.After(*since)) {
		since = f.IssueFirstSeen
	}
	// The next events, in id order, and what of each is replayed.
	var events []EventToRoute
	if err := tx.SelectContext(ctx, &events, `SELECT v.id, v.source_id, v.event_type, v.content_type,
			CASE WHEN $11 = 'rejected' THEN v.body END AS body,
			coalesce((SELECT array_agg(d.destination_id::text ORDER BY d.destination_id) FROM webhook_deliveries d WHERE `+deliveriesOfEvent+`
				AND ($3::uuid IS NULL OR d.destination_id = $3)
				AND ($11 = 'all' OR d.status = $11 OR ($11 = 'failing' AND (d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0))))), '{}') AS delivered
		FROM ingest_events v
		WHERE v.workspace_id = $1 AND ($2::uuid IS NULL OR v.source_id = $2)
			AND ($4::timestamptz IS NULL OR v.received_at >= $4) AND v.received_at < $5
			AND ($6 = '' OR position(convert_to($6, 'UTF8') IN v.body) > 0)
			AND ($7 = '' OR v.failure_reason = $7) AND ($8 = '' OR v.rejection_cause = $8)
			AND ($9::uuid IS NULL OR v.id > $9)
			AND CASE WHEN $11 = 'rejected' THEN v.status = 'rejected'
				ELSE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE `+deliveriesOfEvent+` AND ($3::uuid IS NULL OR d.destination_id = $3)
					AND ($11 = 'all' OR d.status = $11 OR ($11 = 'failing' AND (d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0))))) END
		ORDER BY v.id LIMIT $10`,
		r.WorkspaceID, f.SourceID, f.DestinationID, since, f.Until, f.Search, f.Reason, f.Cause, r.AfterID, n, mode); err != nil {
		return false, err
	}
	ids := make([]string, len(events))
	dests := make([][]string, len(events))
	if mode == ReplayRejected && len(events) > 0 {
		bySource := map[uuid.UUID][]RouteDestination{}
		for _, e := range events {
			if _, ok := bySource[e.SourceID]; ok {
				continue
			}
			ds, err := s.sourceDestinationsTx(ctx, tx, e.SourceID)
			if err != nil {
				return false, err
			}
			if f.DestinationID != nil {
				kept := ds[:0]
				for _, d := range ds {
					if d.ID == *f.DestinationID {
						kept = append(kept, d)
					}
				}
				ds = kept
			}
			bySource[e.SourceID] = ds
		}
		routed := route(events, bySource)
		for i := range events {
			for _, d := range routed[i] {
				dests[i] = append(dests[i], d.String())
			}
		}
	} else {
		for i, e := range events {
			dests[i] = e.Delivered
		}
	}
	for i, e := range events {
		ids[i] = e.ID.String()
	}
	replayed, err := s.replayDeliveries(ctx, tx, ids, dests)
	if err != nil {
		return false, err
	}
	done := len(events) < n
	var last *uuid.UUID
	if len(events) > 0 {
		last = &events[len(events)-1].ID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE ingest_replays SET replayed = replayed + $2, after_id = coalesce($3, after_id),
		status = CASE WHEN $4 THEN 'completed' ELSE status END, completed_at = CASE WHEN $4 THEN now() END WHERE id = $1`,
		replayID, replayed, last, done); err != nil {
		return false, err
	}
	return done, tx.Commit()
}

// sourceDestinationsTx is SourceDestinations in tx, without the workspace check (the replay's
// events are its workspace's).
func (s *DB) sourceDestinationsTx(ctx context.Context, tx *sqlx.Tx, sourceID uuid.UUID) ([]RouteDestination, error) {
	var doc JSONDoc
	if err := tx.GetContext(ctx, &doc, `SELECT coalesce(json_agg(json_build_object('id', t.id, 'eventTypes', t.event_types,
			'bodyFilter', t.body_filter, 'updatedAt', t.updated_at) ORDER BY t.id), '[]')
		FROM ingest_destination_sources ds JOIN ingest_destinations t ON t.id = ds.destination_id
		WHERE ds.source_id = $1 AND t.status <> 'disabled'`, sourceID); err != nil {
		return nil, err
	}
	var out []RouteDestination
	return out, json.Unmarshal(doc, &out)
}

// IngestPruneResult counts what PruneIngest deleted.
type IngestPruneResult struct {
	Events, Deliveries, Attempts, DedupKeys, Replays int64
}

// PruneIngest applies the retention to the Ingest ledger, in every workspace: the bulk replays
// completed before cutoff, expired deduplication keys, and the events received before cutoff
// none of whose deliveries is pending or held and that no running bulk replay may still reach,
// with their deliveries and attempts; in transactions of at most batch rows each. Sources,
// destinations and issues are kept.
func (s *DB) PruneIngest(ctx context.Context, cutoff time.Time, batch int) (IngestPruneResult, error) {
	var res IngestPruneResult
	for _, step := range []struct {
		query string
		n     *int64
	}{
		{`DELETE FROM ingest_replays WHERE id IN (SELECT id FROM ingest_replays WHERE status = 'completed' AND completed_at < $1
			ORDER BY id LIMIT $2)`, &res.Replays},
		{`DELETE FROM ingest_dedup WHERE ctid IN (SELECT ctid FROM ingest_dedup WHERE expires_at < now() AND $1::timestamptz IS NOT NULL
			LIMIT $2)`, &res.DedupKeys},
	} {
		for {
			r, err := s.db.ExecContext(ctx, step.query, cutoff, batch)
			if err != nil {
				return res, err
			}
			k, _ := r.RowsAffected()
			*step.n += k
			if k < int64(batch) {
				break
			}
		}
	}
	// Event ids are version 7 UUIDs made when the request arrived: those received before
	// cutoff are a range of the primary key.
	bound, after := idAfter(cutoff), uuid.Nil.String()
	for {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return res, err
		}
		var ids []string
		err = tx.SelectContext(ctx, &ids, `SELECT v.id FROM ingest_events v
			WHERE v.id > $1 AND v.id < $2 AND v.received_at < $3
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE `+deliveriesOfEvent+` AND d.status IN ('pending', 'held'))
				AND NOT EXISTS (SELECT 1 FROM ingest_replays r WHERE r.workspace_id = v.workspace_id AND r.status = 'running'
					AND (r.filter->>'since' IS NULL OR v.received_at >= (r.filter->>'since')::timestamptz)
					AND v.received_at < (r.filter->>'until')::timestamptz)
			ORDER BY v.id LIMIT $4 FOR UPDATE OF v SKIP LOCKED`, after, bound, cutoff, batch)
		if err == nil && len(ids) > 0 {
			// Deliveries a replay made pending since the candidates were chosen keep their event.
			var keep []string
			if err = tx.SelectContext(ctx, &keep, `WITH d AS MATERIALIZED (
					SELECT event_pk, status FROM webhook_deliveries WHERE event_pk = ANY($1::uuid[]) FOR UPDATE)
				SELECT DISTINCT event_pk::text FROM d WHERE status IN ('pending', 'held')`, pq.StringArray(ids)); err == nil {
				err = deleteEvents(ctx, tx, without(ids, keep), &res)
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return res, err
		}
		if err := tx.Commit(); err != nil {
			return res, err
		}
		if len(ids) < batch {
			return res, nil
		}
		after = ids[len(ids)-1]
	}
}

// deleteEvents deletes events with their attempts and deliveries, in that order, in tx.
func deleteEvents(ctx context.Context, tx *sqlx.Tx, ids []string, res *IngestPruneResult) error {
	if len(ids) == 0 {
		return nil
	}
	for _, step := range []struct {
		query string
		n     *int64
	}{
		{`DELETE FROM webhook_attempts WHERE event_pk = ANY($1::uuid[])`, &res.Attempts},
		{`DELETE FROM webhook_deliveries WHERE event_pk = ANY($1::uuid[])`, &res.Deliveries},
		{`DELETE FROM ingest_events WHERE id = ANY($1::uuid[])`, &res.Events},
	} {
		r, err := tx.ExecContext(ctx, step.query, pq.StringArray(ids))
		if err != nil {
			return err
		}
		k, _ := r.RowsAffected()
		*step.n += k
	}
	return nil
}
