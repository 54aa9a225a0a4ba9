package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// Event statuses (the ledger).
const (
	EventAccepted  = "accepted"
	EventRejected  = "rejected"
	EventDuplicate = "duplicate"
)

// Rejection causes.
const (
	CauseVerificationFailed = "verification_failed"
	CauseMethodNotAllowed   = "method_not_allowed"
	CausePayloadTooLarge    = "payload_too_large"
	CauseSourceDisabled     = "source_disabled"
)

// Issue types.
const (
	IssueDelivery     = "delivery"
	IssueVerification = "verification"
	IssueRequest      = "request"
	IssueBackpressure = "backpressure"
)

// EventReceive is one request a source received, to record.
type EventReceive struct {
	WorkspaceID, SourceID uuid.UUID
	// Status is accepted or rejected (with RejectionCause); an accepted event whose
	// ProviderEventID the source has seen within DedupWindow is recorded as a duplicate.
	Status, RejectionCause                             string
	VerificationStatus, VerificationScheme, FailReason string
	ProviderEventID, EventType                         string
	DedupWindow                                        time.Duration
	Method, Query, ContentType                         string
	// Headers are the request's, credentials already redacted.
	Headers map[string][]string
	// Body is the request's body (nil when it was refused for its size); BodySize its length.
	Body     []byte
	BodySize int
	// DestinationIDs are the destinations the event matched, for an accepted event.
	DestinationIDs []uuid.UUID
	// IssueType and IssueKind name the issue the request counts in ("" = none): a failed
	// verification, or a request rejected for its method or size.
	IssueType, IssueKind string
	// ResolveVerificationIssues resolves the source's open verification issues (the request
	// verified).
	ResolveVerificationIssues bool
}

// Received is how a request was recorded.
type Received struct {
	ID     uuid.UUID
	Status string
}

// eventReceive is one ReceiveEvent call as its batch reads it.
type eventReceive struct {
	in      EventReceive
	id      uuid.UUID
	issueID uuid.UUID
	at      time.Time
}

// ReceiveEvent records a request in the ledger with one delivery (and its job) per matching
// destination, in one statement shared with concurrent receives (the group-commit batcher, as
// webhook sends): when it returns, the event is committed. Deduplication happens in that
// statement too, so two concurrent requests with one provider event id are one accepted event
// and one duplicate.
func (s *DB) ReceiveEvent(ctx context.Context, in EventReceive) (Received, error) {
	call := eventReceive{in: in, id: newID(), at: pgTime(s.now())}
	if in.IssueType != "" {
		call.issueID = newID()
	}
	return s.receives.do(ctx, call)
}

// receiveEvents writes a batch of receives with one statement (receiveQuery).
func (s *DB) receiveEvents(ctx context.Context, batch []eventReceive) ([]batchResult[Received], error) {
	payload := make([]byte, 0, 512*len(batch))
	payload = append(payload, '[')
	for i, r := range batch {
		in := r.in
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, `{"i":`...)
		payload = strconv.AppendInt(payload, int64(i), 10)
		payload = append(payload, `,"id":"`...)
		payload = append(payload, r.id.String()...)
		payload = append(payload, `","workspace_id":"`...)
		payload = append(payload, in.WorkspaceID.String()...)
		payload = append(payload, `","source_id":"`...)
		payload = append(payload, in.SourceID.String()...)
		payload = append(payload, `","status":`...)
		payload = jsonappend.String(payload, in.Status)
		payload = appendOptString(payload, "rejection_cause", in.RejectionCause)
		payload = append(payload, `,"verification_status":`...)
		payload = jsonappend.String(payload, in.VerificationStatus)
		payload = append(payload, `,"verification_scheme":`...)
		payload = jsonappend.String(payload, in.VerificationScheme)
		payload = appendOptString(payload, "failure_reason", in.FailReason)
		payload = appendOptString(payload, "provider_event_id", in.ProviderEventID)
		payload = appendOptString(payload, "event_type", in.EventType)
		payload = append(payload, `,"dedup_seconds":`...)
		payload = strconv.AppendInt(payload, int64(in.DedupWindow/time.Second), 10)
		payload = append(payload, `,"method":`...)
		payload = jsonappend.String(payload, in.Method)
		payload = append(payload, `,"query":`...)
		payload = jsonappend.String(payload, in.Query)
		payload = append(payload, `,"content_type":`...)
		payload = jsonappend.String(payload, in.ContentType)
		payload = append(payload, `,"headers":`...)
		headers, err := json.Marshal(in.Headers)
		if err != nil {
			return nil, err
		}
		payload = append(payload, headers...)
		if in.Body != nil {
			payload = append(payload, `,"body":"`...)
			payload = base64.StdEncoding.AppendEncode(payload, in.Body)
			payload = append(payload, '"')
		}
		payload = append(payload, `,"body_size":`...)
		payload = strconv.AppendInt(payload, int64(in.BodySize), 10)
		payload = append(payload, `,"destinations":[`...)
		for j, d := range in.DestinationIDs {
			if j > 0 {
				payload = append(payload, ',')
			}
			payload = append(payload, '"')
			payload = append(payload, d.String()...)
			payload = append(payload, '"')
		}
		payload = append(payload, ']')
		if in.IssueType != "" {
			payload = appendOptString(payload, "issue_type", in.IssueType)
			payload = appendOptString(payload, "issue_kind", in.IssueKind)
			payload = appendOptString(payload, "issue_id", r.issueID.String())
		}
		if in.ResolveVerificationIssues {
			payload = append(payload, `,"resolve_verification":true`...)
		}
		payload = append(payload, `,"received_at":`...)
		payload = jsonappend.Time(payload, r.at)
		payload = append(payload, '}')
	}
	payload = append(payload, ']')
	st, err := s.prepared(ctx, s.generic, receiveQuery)
	if err != nil {
		return nil, err
	}
	// One statement, in autocommit: atomic by itself, without a BEGIN and a COMMIT round trip.
	rows, err := st.QueryContext(ctx, string(payload), TriggerScheduled, s.wake.due(WebhookQueue))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]batchResult[Received], len(batch))
	for rows.Next() {
		var i int
		var out Received
		if err := rows.Scan(&i, &out.ID, &out.Status); err != nil {
			return nil, err
		}
		results[i] = batchResult[Received]{out: out}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close reads to the end of the statement, its commit included: only then is a request answered.
	return results, rows.Close()
}

func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return jsonappend.String(b, v)
}

// receiveQuery claims each accepted event's dedup key (an unexpired one makes it a
// duplicate), inserts the events, one delivery per matching destination with its job, counts
// failures in their issues and resolves the verification issues of sources that verified
// again; one row per event says how it was recorded.
var receiveQuery = `
		WITH item AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, workspace_id uuid, source_id uuid, status text,
				rejection_cause text, verification_status text, verification_scheme text, failure_reason text, provider_event_id text,
				event_type text, dedup_seconds int, method text, query text, content_type text, headers jsonb, body text, body_size int,
				destinations uuid[], issue_type text, issue_kind text, issue_id uuid, resolve_verification bool, received_at timestamptz)
		), claim AS (
			INSERT INTO ingest_dedup AS k (source_id, provider_event_id, event_pk, expires_at)
			SELECT DISTINCT ON (source_id, provider_event_id) source_id, provider_event_id, id, received_at + dedup_seconds * interval '1 second'
			FROM item WHERE status = 'accepted' AND provider_event_id IS NOT NULL AND dedup_seconds > 0
			ORDER BY source_id, provider_event_id, i -- one lock order for every batch; the first of a batch claims
			ON CONFLICT (source_id, provider_event_id) DO UPDATE SET event_pk = EXCLUDED.event_pk, expires_at = EXCLUDED.expires_at
				WHERE k.expires_at <= now()
			RETURNING event_pk
		), f AS (
			SELECT item.*, CASE WHEN item.status = 'accepted' AND item.provider_event_id IS NOT NULL AND item.dedup_seconds > 0
					AND NOT EXISTS (SELECT 1 FROM claim WHERE claim.event_pk = item.id) THEN 'duplicate' ELSE item.status END AS final
			FROM item
		), ev AS (
			INSERT INTO ingest_events (id, workspace_id, source_id, status, rejection_cause, verification_status, verification_scheme,
				failure_reason, provider_event_id, duplicate_of, event_type, method, query, headers, content_type, body, body_size, received_at)
			SELECT f.id, f.workspace_id, f.source_id, f.final, f.rejection_cause, f.verification_status, f.verification_scheme,
				f.failure_reason, f.provider_event_id,
				CASE WHEN f.final = 'duplicate' THEN coalesce(
					(SELECT g.id FROM f g WHERE g.source_id = f.source_id AND g.provider_event_id = f.provider_event_id AND g.final = 'accepted'),
					(SELECT k.event_pk FROM ingest_dedup k WHERE k.source_id = f.source_id AND k.provider_event_id = f.provider_event_id))
				END,
				f.event_type, f.method, f.query, f.headers, f.content_type, decode(f.body, 'base64'), f.body_size, f.received_at
			FROM f
			RETURNING id
		), d AS (
			-- Deterministic ids (webhook_delivery_id, migration 0018): each delivery lands in its
			-- event's partition.
			INSERT INTO webhook_deliveries (id, event_pk, destination_id, status)
			SELECT webhook_delivery_id(f.id, t.id), f.id, t.id, CASE WHEN t.status = 'paused' THEN 'held' ELSE 'pending' END
			FROM f CROSS JOIN LATERAL unnest(f.destinations) AS dest(id) JOIN ingest_destinations t ON t.id = dest.id
			WHERE f.final = 'accepted' AND t.status <> 'disabled' AND t.workspace_id = f.workspace_id
			RETURNING id, status
		), job AS (
			` + riverJobsSQL(WebhookDeliveryArgs{}, `jsonb_build_object('delivery_id', d.id, 'trigger', $2::text)`,
	`FROM d WHERE d.status = 'pending'`, "") + `
		), wake AS (
			` + riverWakeSQL(WebhookDeliveryArgs{}, "job", "$3") + `
		), iss AS (
			INSERT INTO ingest_issues AS x (id, workspace_id, type, source_id, kind, ref_event_id, occurrences, first_seen_at,
				last_seen_at, opened_at)
			SELECT (array_agg(issue_id ORDER BY i))[1], workspace_id, issue_type, source_id, issue_kind, (array_agg(id ORDER BY i))[1],
				count(*), min(received_at), max(received_at), min(received_at)
			FROM item WHERE issue_type IS NOT NULL
			GROUP BY workspace_id, issue_type, source_id, issue_kind ORDER BY issue_type, source_id, issue_kind
			` + issueConflict + reopenSQL + `
			RETURNING x.id
		), res AS (
			UPDATE ingest_issues SET status = 'resolved', resolved_at = now(), auto_resolved_at = now(), updated_at = now()
			WHERE type = 'verification' AND status IN ('open', 'acknowledged')
				AND source_id IN (SELECT source_id FROM item WHERE resolve_verification)
			RETURNING id
		)
		SELECT f.i, f.id, f.final FROM f
		WHERE (SELECT count(*) FROM wake) + (SELECT count(*) FROM job) + (SELECT count(*) FROM ev) >= 0 -- SELECT CTEs run only when referenced`

// EventDelivery is an event's delivery to one destination, with its latest attempts.
type EventDelivery struct {
	ID             uuid.UUID  `db:"id"`
	DestinationID  uuid.UUID  `db:"destination_id"`
	URL            string     `db:"url"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	LastStatusCode *int       `db:"last_status_code"`
	LastError      *string    `db:"last_error"`
	NextAttemptAt  *time.Time `db:"next_attempt_at"`
	DeliveredAt    *time.Time `db:"delivered_at"`
	AttemptList    []Attempt  `db:"-"`
}

// Event is one request in the ledger.
type Event struct {
	ID                 uuid.UUID  `db:"id"`
	SourceID           uuid.UUID  `db:"source_id"`
	SourceType         string     `db:"source_type"`
	Status             string     `db:"status"`
	RejectionCause     *string    `db:"rejection_cause"`
	VerificationStatus string     `db:"verification_status"`
	VerificationScheme string     `db:"verification_scheme"`
	FailureReason      *string    `db:"failure_reason"`
	ProviderEventID    *string    `db:"provider_event_id"`
	DuplicateOf        *uuid.UUID `db:"duplicate_of"`
	EventType          *string    `db:"event_type"`
	Method             string     `db:"method"`
	Query              string     `db:"query"`
	Headers            JSONDoc    `db:"headers"`
	ContentType        string     `db:"content_type"`
	BodySize           int        `db:"body_size"`
	ReceivedAt         time.Time  `db:"received_at"`
	// Deliveries is filled by GetEvent.
	Deliveries []EventDelivery `db:"-"`
}

// HeaderMap decodes an event's headers.
func (e Event) HeaderMap() map[string][]string {
	var h map[string][]string
	_ = json.Unmarshal(e.Headers, &h)
	return h
}

const eventColumns = `v.id, v.source_id, s.type AS source_type, v.status, v.rejection_cause, v.verification_status,
	v.verification_scheme, v.failure_reason, v.provider_event_id, v.duplicate_of, v.event_type, v.method, v.query, v.headers,
	v.content_type, v.body_size, v.received_at`

// EventFilter narrows ListEvents; zero fields do not filter.
type EventFilter struct {
	SourceID                        uuid.UUID
	Verification, Status, EventType string
	Since, Until                    *time.Time
	// Search is text the raw body must contain (bytes, case-sensitive).
	Search string
	Before uuid.UUID // keyset cursor: events older than this one
}

// ListEvents returns up to limit events of a workspace, newest first.
func (s *DB) ListEvents(ctx context.Context, workspaceID uuid.UUID, f EventFilter, limit int) ([]Event, error) {
	out := []Event{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+eventColumns+` FROM ingest_events v JOIN ingest_sources s ON s.id = v.source_id
		WHERE v.workspace_id = $1 AND ($2::uuid IS NULL OR v.source_id = $2) AND ($3 = '' OR v.verification_status = $3)
			AND ($4 = '' OR v.status = $4) AND ($5 = '' OR v.event_type = $5)
			AND ($6::timestamptz IS NULL OR v.received_at >= $6) AND ($7::timestamptz IS NULL OR v.received_at < $7)
			AND ($8 = '' OR position(convert_to($8, 'UTF8') IN v.body) > 0) AND ($9::uuid IS NULL OR v.id < $9)
		ORDER BY v.id DESC LIMIT $10`,
		workspaceID, nullUUID(f.SourceID), f.Verification, f.Status, f.EventType, f.Since, f.Until, f.Search, nullUUID(f.Before), limit)
	return out, err
}

// GetEvent returns a workspace's event with its deliveries and each one's latest 50 attempts.
func (s *DB) GetEvent(ctx context.Context, workspaceID, id uuid.UUID) (Event, error) {
	var e Event
	err := s.db.GetContext(ctx, &e, `SELECT `+eventColumns+` FROM ingest_events v JOIN ingest_sources s ON s.id = v.source_id
		WHERE v.workspace_id = $1 AND v.id = $2`, workspaceID, id)
	if err != nil {
		return e, orNotFound(err, "Event")
	}
	e.Deliveries = []EventDelivery{}
	if err := s.db.SelectContext(ctx, &e.Deliveries, `SELECT d.id, d.destination_id, t.url, d.status, d.attempts, d.last_status_code,
		d.last_error, d.next_attempt_at, d.delivered_at FROM webhook_deliveries d JOIN ingest_destinations t ON t.id = d.destination_id
		WHERE d.event_pk = $1 AND d.id BETWEEN webhook_owner_lo($1) AND webhook_owner_hi($1) ORDER BY d.destination_id`, id); err != nil {
		return e, err
	}
	var attempts []Attempt
	if err := s.db.SelectContext(ctx, &attempts, `SELECT id, delivery_id, message_id, endpoint_id, attempt_number, trigger, status,
			response_status_code, response_body, duration_ms, error, next_attempt_at, created_at
		FROM (SELECT t.id, t.delivery_id, '' AS message_id, t.destination_id AS endpoint_id,
			t.attempt_number, t.trigger, t.status, t.response_status_code, t.response_body, t.duration_ms, t.error, t.next_attempt_at,
			t.created_at, row_number() OVER (PARTITION BY t.delivery_id ORDER BY t.id DESC) AS n
		FROM webhook_attempts t WHERE t.event_pk = $1 AND t.id >= webhook_owner_lo($1)) a WHERE n <= 50 ORDER BY id DESC`, id); err != nil {
		return e, err
	}
	for i := range e.Deliveries {
		e.Deliveries[i].AttemptList = []Attempt{}
		for _, a := range attempts {
			if a.DeliveryID == e.Deliveries[i].ID {
				e.Deliveries[i].AttemptList = append(e.Deliveries[i].AttemptList, a)
			}
		}
	}
	return e, nil
}

// EventBody returns a workspace's event's raw body and content type; ok=false when the event
// has none (it was refused for its size).
func (s *DB) EventBody(ctx context.Context, workspaceID, id uuid.UUID) (body []byte, contentType string, ok bool, err error) {
	var row struct {
		Body        []byte `db:"body"`
		ContentType string `db:"content_type"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT body, content_type FROM ingest_events WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return nil, "", false, orNotFound(err, "Event")
	}
	return row.Body, row.ContentType, row.Body != nil, nil
}

// EventToRoute is an event with what routing it again needs: its body and type.
type EventToRoute struct {
	ID          uuid.UUID `db:"id"`
	SourceID    uuid.UUID `db:"source_id"`
	EventType   *string   `db:"event_type"`
	ContentType string    `db:"content_type"`
	Body        []byte    `db:"body"`
	// Delivered are the destinations it has a delivery to.
	Delivered pq.StringArray `db:"delivered"`
}

// deliveriesOfEvent selects the deliveries d of event v: the id range is the event's
// millisecond (webhook_owner_lo/hi, migration 0018), which prunes the lookup to the event's
// partition of webhook_deliveries.
const deliveriesOfEvent = `d.event_pk = v.id AND d.id BETWEEN webhook_owner_lo(v.id) AND webhook_owner_hi(v.id)`

// EventForReplay returns a workspace's event for a replay.
func (s *DB) EventForReplay(ctx context.Context, workspaceID, id uuid.UUID) (EventToRoute, error) {
	var e EventToRoute
	err := s.db.GetContext(ctx, &e, `SELECT v.id, v.source_id, v.event_type, v.content_type, v.body,
		coalesce((SELECT array_agg(d.destination_id::text) FROM webhook_deliveries d WHERE `+deliveriesOfEvent+`), '{}') AS delivered
		FROM ingest_events v WHERE v.workspace_id = $1 AND v.id = $2`, workspaceID, id)
	return e, orNotFound(err, "Event")
}

// ReplayEvent sends a workspace's event again, once, to destinations (a delivery made pending
// again, or a new one; held at a paused destination), in one transaction with their jobs. It
// returns how many destinations it goes to; a destination that is not the workspace's is an
// ErrNotFound, a disabled one is skipped.
func (s *DB) ReplayEvent(ctx context.Context, workspaceID, eventID uuid.UUID, destinations []uuid.UUID) (int, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The event stays while this replays it: retention's delete waits for this lock.
	var kept bool
	if err := tx.GetContext(ctx, &kept, `SELECT true FROM ingest_events WHERE workspace_id = $1 AND id = $2 FOR KEY SHARE`,
		workspaceID, eventID); err != nil {
		return 0, orNotFound(err, "Event")
	}
	ids := make([]string, len(destinations))
	for i, d := range destinations {
		ids[i] = d.String()
	}
	var known int
	if err := tx.GetContext(ctx, &known, `SELECT count(*) FROM ingest_destinations WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
		workspaceID, pq.StringArray(ids)); err != nil {
		return 0, err
	}
	if known != len(ids) {
		return 0, notFound("Destination")
	}
	n, err := s.replayDeliveries(ctx, tx, []string{eventID.String()}, [][]string{ids})
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// replayDeliveries makes the deliveries of (event, destination) pairs pending again, or creates
// them (held at a paused destination, none at a disabled one), with a replay job for each
// pending one, in tx; events[i] goes to each of dests[i]. It returns how many deliveries it
// made pending or held.
func (s *DB) replayDeliveries(ctx context.Context, tx *sqlx.Tx, events []string, dests [][]string) (int, error) {
	var evs, ds []string
	for i, e := range events {
		for _, d := range dests[i] {
			evs, ds = append(evs, e), append(ds, d)
		}
	}
	if len(evs) == 0 {
		return 0, nil
	}
	var rows []struct {
		ID     uuid.UUID `db:"id"`
		Status string    `db:"status"`
	}
	// The pairs' deliveries made pending again, looked up by (event, destination): one made
	// before migration 0018 has a random id. The others are created under the id the pair
	// always has (webhook_delivery_id), so a concurrent replay of a pair meets it (ON CONFLICT
	// on the primary key).
	if err := tx.SelectContext(ctx, &rows, `
		WITH pair AS (SELECT DISTINCT e::uuid AS event_pk, d::uuid AS destination_id FROM unnest($1::text[], $2::text[]) AS p(e, d)),
		upd AS (
			UPDATE webhook_deliveries w SET status = CASE WHEN w.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			FROM pair p JOIN ingest_destinations t ON t.id = p.destination_id AND t.status <> 'disabled'
			WHERE w.event_pk = p.event_pk AND w.destination_id = p.destination_id
				AND w.id BETWEEN webhook_owner_lo(p.event_pk) AND webhook_owner_hi(p.event_pk)
			RETURNING w.id, w.status, w.event_pk, w.destination_id
		), ins AS (
			INSERT INTO webhook_deliveries (id, event_pk, destination_id, status)
			SELECT webhook_delivery_id(p.event_pk, t.id), p.event_pk, t.id, CASE WHEN t.status = 'paused' THEN 'held' ELSE 'pending' END
			FROM pair p JOIN ingest_destinations t ON t.id = p.destination_id WHERE t.status <> 'disabled'
				AND NOT EXISTS (SELECT 1 FROM upd WHERE upd.event_pk = p.event_pk AND upd.destination_id = p.destination_id)
			ORDER BY p.event_pk, t.id
			ON CONFLICT (id) DO UPDATE SET
				status = CASE WHEN webhook_deliveries.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			RETURNING id, status
		)
		SELECT id, status FROM upd UNION ALL SELECT id, status FROM ins`, pq.StringArray(evs), pq.StringArray(ds)); err != nil {
		return 0, err
	}
	var pending []uuid.UUID
	for _, r := range rows {
		if r.Status == DeliveryPending {
			pending = append(pending, r.ID)
		}
	}
	return len(rows), s.insertDeliveryJobs(ctx, tx, pending, TriggerReplay)
}
