package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// AttemptRecord is the outcome of one attempt.
type AttemptRecord struct {
	DeliveryID         uuid.UUID
	Number             int
	Trigger            string
	Succeeded          bool
	ResponseStatusCode *int
	ResponseBody       *string
	Duration           time.Duration
	Error              *string
	// NextAttemptAt is when the next scheduled attempt is, if there is one.
	NextAttemptAt *time.Time
}

// RecordAttempt stores an attempt of a delivery (to an endpoint or a destination alike) and
// moves the delivery on: delivered on success; otherwise pending while a next attempt is
// scheduled, else failed (a failed replay leaves a delivery pending whose scheduled retry is
// still ahead). Concurrent calls (the delivery workers') are written together, one statement
// per batch (see batch.go): per delivery, PostgreSQL then starts no executor and commits no
// transaction of its own, and the worker makes no round trip of its own.
func (s *DB) RecordAttempt(ctx context.Context, a AttemptRecord) error {
	_, err := s.attempts.do(ctx, a)
	return err
}

// attemptRow is one attempt as recordAttemptsQuery reads it.
type attemptRow struct {
	DeliveryID uuid.UUID  `json:"delivery_id"`
	ID         uuid.UUID  `json:"id"`
	Trigger    string     `json:"trigger"`
	Succeeded  bool       `json:"succeeded"`
	Code       *int       `json:"code"`
	Body       *string    `json:"body"`
	DurationMS int        `json:"duration_ms"`
	Error      *string    `json:"error"`
	NextAt     *time.Time `json:"next_at"`
	Number     int        `json:"number"`
	Status     string     `json:"status"`
}

// recordAttempts writes a batch of attempts. Two attempts of one delivery (a replay made while
// its scheduled attempt runs) go in separate statements, in order: one UPDATE cannot move a
// row twice.
func (s *DB) recordAttempts(ctx context.Context, in []AttemptRecord) ([]batchResult[struct{}], error) {
	n := len(in)
	for len(in) > 0 {
		seen := make(map[uuid.UUID]bool, len(in))
		var now, later []AttemptRecord
		for _, a := range in {
			if seen[a.DeliveryID] {
				later = append(later, a)
				continue
			}
			seen[a.DeliveryID] = true
			now = append(now, a)
		}
		rows := make([]attemptRow, len(now))
		for i, a := range now {
			status := "failed"
			if a.Succeeded {
				status = "succeeded"
			}
			var next *time.Time
			if a.NextAttemptAt != nil {
				t := a.NextAttemptAt.UTC()
				next = &t
			}
			rows[i] = attemptRow{DeliveryID: a.DeliveryID, ID: newID(), Trigger: a.Trigger, Succeeded: a.Succeeded, Code: a.ResponseStatusCode,
				Body: a.ResponseBody, DurationMS: int(a.Duration.Milliseconds()), Error: a.Error, NextAt: next, Number: a.Number, Status: status}
		}
		doc, err := json.Marshal(rows)
		if err != nil {
			return nil, err
		}
		// Not prepared: planned for each batch, on the tables as they are (a plan cached while
		// they were small would scan them once they have grown).
		ids := make([]string, len(now))
		for i, a := range now {
			ids[i] = a.DeliveryID.String()
		}
		if _, err := s.async.ExecContext(ctx, recordAttemptsQuery, string(doc), pq.Array(ids)); err != nil {
			return nil, err
		}
		in = later
	}
	return make([]batchResult[struct{}], n), nil
}

// recordAttemptsQuery moves each delivery of a batch on and stores its attempt (see
// RecordAttempt). The id list (w.id = ANY($2), the batch's delivery ids) makes PostgreSQL find
// the deliveries by their primary key: joined only with the batch, whose size it cannot know,
// it may scan the whole table instead, a cost that grows with the table. Being a parameter, it
// also prunes webhook_deliveries to the batch's partitions when the statement is planned. Two batches never hold the same delivery (its job runs in one worker at a
// time), so they cannot deadlock on each other; a deadlock with another statement fails the
// batch, whose attempts are then written one by one (batcher.flush).
const recordAttemptsQuery = `
		WITH i AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(delivery_id uuid, id uuid, trigger text, succeeded bool, code int,
				body text, duration_ms int, error text, next_at timestamptz, number int, status text)
		), d AS (
			UPDATE webhook_deliveries w SET attempts = w.attempts + 1,
				status = CASE WHEN i.succeeded THEN 'delivered'
					WHEN i.next_at IS NOT NULL THEN 'pending'
					WHEN i.trigger = 'replay' AND w.next_attempt_at > now() THEN 'pending'
					ELSE 'failed' END,
				last_status_code = i.code, last_error = i.error,
				next_attempt_at = CASE WHEN i.trigger = 'replay' AND NOT i.succeeded THEN w.next_attempt_at ELSE i.next_at END,
				delivered_at = CASE WHEN i.succeeded THEN now() ELSE w.delivered_at END, updated_at = now()
			FROM i WHERE w.id = i.delivery_id AND w.id = ANY($2::uuid[])
			RETURNING w.id, w.message_pk, w.endpoint_id, w.event_pk, w.destination_id, i.id AS attempt_id, i.number, i.trigger,
				i.status, i.code, i.body, i.duration_ms, i.error, i.next_at
		)
		INSERT INTO webhook_attempts (id, delivery_id, message_pk, endpoint_id, event_pk, destination_id, attempt_number, trigger, status,
			response_status_code, response_body, duration_ms, error, next_attempt_at)
		SELECT attempt_id, id, message_pk, endpoint_id, event_pk, destination_id, number, trigger, status, code, body, duration_ms, error, next_at FROM d`

// Attempt is one HTTP request made to deliver a message to an endpoint.
type Attempt struct {
	ID                 uuid.UUID  `db:"id"`
	DeliveryID         uuid.UUID  `db:"delivery_id"`
	MessageID          string     `db:"message_id"`
	EndpointID         uuid.UUID  `db:"endpoint_id"`
	AttemptNumber      int        `db:"attempt_number"`
	Trigger            string     `db:"trigger"`
	Status             string     `db:"status"`
	ResponseStatusCode *int       `db:"response_status_code"`
	ResponseBody       *string    `db:"response_body"`
	DurationMS         int        `db:"duration_ms"`
	Error              *string    `db:"error"`
	NextAttemptAt      *time.Time `db:"next_attempt_at"`
	CreatedAt          time.Time  `db:"created_at"`
}

const attemptColumns = `t.id, t.delivery_id, m.message_id, t.endpoint_id, t.attempt_number, t.trigger, t.status, t.response_status_code,
	t.response_body, t.duration_ms, t.error, t.next_attempt_at, t.created_at`

// ListMessageAttempts returns up to limit attempts of a message (with endpointID, at that
// endpoint only), newest first, older than the attempt before (uuid.Nil = newest).
func (s *DB) ListMessageAttempts(ctx context.Context, workspaceID, appID uuid.UUID, messageID, recipientID string, endpointID *uuid.UUID, before uuid.UUID, limit int) ([]Attempt, error) {
	m, err := s.findMessage(ctx, workspaceID, appID, messageID, recipientID)
	if err != nil {
		return nil, err
	}
	out := []Attempt{}
	// A message's attempts are made after it: their ids start at its millisecond, which leaves
	// out the partitions older than the message (webhook_owner_lo is every id for a message
	// older than migration 0018).
	err = s.db.SelectContext(ctx, &out, `SELECT `+attemptColumns+` FROM webhook_attempts t CROSS JOIN (SELECT $5::text AS message_id) m
		WHERE t.message_pk = $1 AND t.id >= webhook_owner_lo($1) AND ($2::uuid IS NULL OR t.endpoint_id = $2) AND ($3::uuid IS NULL OR t.id < $3)
		ORDER BY t.id DESC LIMIT $4`, m.ID, endpointID, nullUUID(before), limit, m.MessageID)
	return out, err
}

// ListEndpointAttempts returns up to limit attempts at an endpoint (with status, when not
// ""), newest first, older than the attempt before (uuid.Nil = newest).
func (s *DB) ListEndpointAttempts(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, endpointID uuid.UUID, status string, before uuid.UUID, limit int) ([]Attempt, error) {
	if _, err := s.GetEndpoint(ctx, workspaceID, appID, recipientID, endpointID); err != nil {
		return nil, err
	}
	out := []Attempt{}
	type attemptRow struct {
		Attempt
		MessagePK uuid.UUID `db:"message_pk"`
	}
	var rows []attemptRow
	// The attempts first, and then their messages' ids, by primary key within the page's
	// range of messages: joined in one statement, every partition of webhook_messages would be
	// planned for each page. The attempts newest first in two steps, as ListMessages
	// (recentSplit).
	split := s.recentSplit(before)
	for _, bound := range [][2]*string{{&split, nil}, {nil, &split}} {
		var page []attemptRow
		err := s.db.SelectContext(ctx, &page, `SELECT `+attemptColumns+`, t.message_pk FROM webhook_attempts t CROSS JOIN (SELECT ''::text AS message_id) m
		WHERE t.endpoint_id = $1 AND ($2 = '' OR t.status = $2) AND ($3::uuid IS NULL OR t.id < $3)
			AND ($5::uuid IS NULL OR t.id >= $5) AND ($6::uuid IS NULL OR t.id < $6)
		ORDER BY t.id DESC LIMIT $4`, endpointID, status, nullUUID(before), limit-len(rows), bound[0], bound[1])
		if err != nil {
			return out, err
		}
		if rows = append(rows, page...); len(rows) == limit {
			break
		}
	}
	if len(rows) == 0 {
		return out, nil
	}
	pks := make([]string, len(rows))
	owners := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		pks[i], owners[i] = r.MessagePK.String(), r.MessagePK
	}
	lo, hi := idSpan(owners)
	var ids []struct {
		PK        uuid.UUID `db:"id"`
		MessageID string    `db:"message_id"`
	}
	if err := s.db.SelectContext(ctx, &ids, `SELECT id, message_id FROM webhook_messages WHERE id = ANY($1::uuid[]) AND id BETWEEN $2 AND $3`,
		pq.StringArray(pks), lo, hi); err != nil {
		return out, err
	}
	messageID := make(map[uuid.UUID]string, len(ids))
	for _, m := range ids {
		messageID[m.PK] = m.MessageID
	}
	for _, r := range rows {
		// An attempt whose message was deleted meanwhile (retention) is left out, as the join did.
		if id, ok := messageID[r.MessagePK]; ok {
			r.MessageID = id
			out = append(out, r.Attempt)
		}
	}
	return out, nil
}

// MinuteCount is how many delivery attempts of one minute succeeded and failed.
type MinuteCount struct {
	Minute    time.Time `db:"minute"`
	Succeeded int       `db:"succeeded"`
	Failed    int       `db:"failed"`
}

// StatsWindowMax is the longest window DeliveryStats counts over.
const StatsWindowMax = 24 * time.Hour

// StatsWindow is the window a delivery-stats read counts over, from a request's optional
// bounds: until defaults to now, since to three hours before until. Since after until, or a
// window longer than StatsWindowMax, is ErrInvalid naming the query's since.
func StatsWindow(now time.Time, since, until *time.Time) (time.Time, time.Time, error) {
	hi := now
	if until != nil {
		hi = *until
	}
	lo := hi.Add(-3 * time.Hour)
	if since != nil {
		lo = *since
	}
	switch {
	case lo.After(hi):
		return lo, hi, &Error{Kind: ErrInvalid, Message: "since must not be after until", Field: "query.since"}
	case hi.Sub(lo) > StatsWindowMax:
		return lo, hi, &Error{Kind: ErrInvalid, Message: "The window must be at most 24 hours long", Field: "query.since"}
	}
	return lo, hi, nil
}

// deliveryStats counts, per minute from since to until (both truncated to the minute, every
// minute listed), the attempts the subquery's WHERE (on a, the attempts) selects.
func (s *DB) deliveryStats(ctx context.Context, where string, since, until time.Time, args ...any) ([]MinuteCount, error) {
	out := []MinuteCount{}
	// The window as a range of attempt ids ($3, $4), which prunes the partitions of
	// webhook_attempts outside it. An attempt's id is made by the server and its created_at by
	// PostgreSQL: a minute's slack each side covers their clocks' difference.
	lo, hi := idAt(since.Truncate(time.Minute).Add(-time.Minute)), idAt(until.Truncate(time.Minute).Add(2*time.Minute))
	err := s.db.SelectContext(ctx, &out, `
		WITH w AS (SELECT date_trunc('minute', $1::timestamptz) AS lo, date_trunc('minute', $2::timestamptz) AS hi),
		counted AS (
			SELECT date_trunc('minute', a.created_at) AS minute,
				count(*) FILTER (WHERE a.status = 'succeeded') AS succeeded,
				count(*) FILTER (WHERE a.status = 'failed') AS failed
			FROM webhook_attempts a, w
			WHERE a.id >= $3::uuid AND a.id < $4::uuid AND a.created_at >= w.lo AND a.created_at < w.hi + interval '1 minute' AND `+where+`
			GROUP BY 1)
		SELECT m.minute, coalesce(c.succeeded, 0) AS succeeded, coalesce(c.failed, 0) AS failed
		FROM w, generate_series(w.lo, w.hi, interval '1 minute') AS m(minute)
		LEFT JOIN counted c ON c.minute = m.minute
		ORDER BY m.minute`, append([]any{since, until, lo, hi}, args...)...)
	return out, err
}

// AppDeliveryStats counts an app's attempts (at every endpoint) per minute. ErrNotFound if the
// workspace has no such app.
func (s *DB) AppDeliveryStats(ctx context.Context, workspaceID, appID uuid.UUID, since, until time.Time) ([]MinuteCount, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return nil, err
	}
	return s.deliveryStats(ctx, `a.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE workspace_id = $5 AND app_id = $6)`,
		since, until, workspaceID, appID)
}

// DestinationDeliveryStats counts an Ingest destination's attempts per minute. ErrNotFound if
// the workspace has no such destination.
func (s *DB) DestinationDeliveryStats(ctx context.Context, workspaceID, destinationID uuid.UUID, since, until time.Time) ([]MinuteCount, error) {
	if _, err := s.GetDestination(ctx, workspaceID, destinationID); err != nil {
		return nil, err
	}
	return s.deliveryStats(ctx, `a.destination_id = $5`, since, until, destinationID)
}
