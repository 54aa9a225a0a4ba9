package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// Delivery triggers: the scheduled attempts of a send (and its retries), or a replay.
const (
	TriggerScheduled = "scheduled"
	TriggerReplay    = "replay"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryHeld      = "held"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// SendPlan is what a send needs to know before it writes: the app's routing settings, the
// event type (nil when not published) and the workspace's per-minute limit.
type SendPlan struct {
	App               WebhookApp
	EventType         *EventType
	MessagesPerMinute *int
}

// PlanSend looks up, in one query, what SendMessage needs checked first. ErrNotFound if the
// workspace has no such app.
func (s *DB) PlanSend(ctx context.Context, workspaceID, appID uuid.UUID, eventType string) (SendPlan, error) {
	var row struct {
		WebhookApp
		Limit       *int       `db:"messages_per_minute"`
		ETName      *string    `db:"et_name"`
		ETSchema    JSONDoc    `db:"et_schema"`
		ETArchived  *time.Time `db:"et_archived_at"`
		ETUpdatedAt *time.Time `db:"et_updated_at"`
	}
	st, err := s.prepared(ctx, s.db, planSendQuery)
	if err != nil {
		return SendPlan{}, err
	}
	err = st.GetContext(ctx, &row, workspaceID, appID, eventType)
	if errors.Is(err, sql.ErrNoRows) {
		return SendPlan{}, notFound("App")
	}
	if err != nil {
		return SendPlan{}, err
	}
	plan := SendPlan{App: row.WebhookApp, MessagesPerMinute: row.Limit}
	if row.ETName != nil {
		plan.EventType = &EventType{AppID: appID, Name: *row.ETName, Schema: row.ETSchema, ArchivedAt: row.ETArchived, UpdatedAt: *row.ETUpdatedAt}
	}
	return plan, nil
}

// planSendQuery reads an app, one of its event types and its workspace's message limit.
const planSendQuery = `SELECT a.id, a.workspace_id, a.name, a.routing_key_body_path, a.routing_key_header, a.created_at, a.updated_at,
		(SELECT messages_per_minute FROM workspace_limits WHERE workspace_id = a.workspace_id) AS messages_per_minute,
		et.name AS et_name, et.schema AS et_schema, et.archived_at AS et_archived_at, et.updated_at AS et_updated_at
		FROM webhook_apps a LEFT JOIN webhook_event_types et ON et.app_id = a.id AND et.name = $3
		WHERE a.workspace_id = $1 AND a.id = $2`

// MessageSend is a message to accept.
type MessageSend struct {
	WorkspaceID       uuid.UUID
	AppID             uuid.UUID
	RecipientID       string
	EventType         string
	Data              json.RawMessage
	MessageID         string // "" = generate
	IdempotencyKey    *string
	MessagesPerMinute *int // the plan limit, from PlanSend
}

// Message is one event sent to one recipient.
type Message struct {
	ID             uuid.UUID `db:"id"`
	AppID          uuid.UUID `db:"app_id"`
	MessageID      string    `db:"message_id"`
	IdempotencyKey *string   `db:"idempotency_key"`
	RecipientID    string    `db:"recipient_id"`
	EventType      string    `db:"event_type"`
	Body           string    `db:"body"`
	Status         string    `db:"status"`
	CreatedAt      time.Time `db:"created_at"`
	// Deliveries is filled by GetMessage and SendMessage.
	Deliveries []Delivery
}

// Data returns the message's payload as it was sent.
func (m Message) Data() json.RawMessage {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal([]byte(m.Body), &env)
	return env.Data
}

// Delivery is where a message stands at one endpoint.
type Delivery struct {
	ID             uuid.UUID  `db:"id"`
	EndpointID     uuid.UUID  `db:"endpoint_id"`
	URL            string     `db:"url"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	LastStatusCode *int       `db:"last_status_code"`
	LastError      *string    `db:"last_error"`
	NextAttemptAt  *time.Time `db:"next_attempt_at"`
	DeliveredAt    *time.Time `db:"delivered_at"`
}

// messageStatus derives a message's status from its deliveries (m is the message row).
const messageStatus = `CASE
		WHEN NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_pk = m.id) THEN 'no_endpoints'
		WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_pk = m.id AND d.status IN ('pending', 'held')) THEN 'pending'
		WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_pk = m.id AND d.status = 'failed') THEN 'failed'
		ELSE 'delivered' END`

const messageColumns = `m.id, m.app_id, m.message_id, m.idempotency_key, m.recipient_id, m.event_type, m.body, m.created_at, ` + messageStatus + ` AS status`

// SendMessage accepts a message: it stores it with one delivery per matching endpoint of the
// recipient (held for paused endpoints) and inserts the delivery jobs, in one transaction, and
// returns it with created=true. A message whose id or idempotency key the app has already is
// not stored again: the first one is returned with created=false. ErrNotFound if the app has
// no such recipient; a *LimitError past the workspace's messagesPerMinute.
func (s *DB) SendMessage(ctx context.Context, in MessageSend) (Message, bool, error) {
	now := time.Now().UTC()
	if in.MessagesPerMinute != nil {
		// A repeat is answered without counting against the limit.
		if m, ok, err := s.findDuplicate(ctx, in); ok || err != nil {
			return m, false, err
		}
		if err := s.countMessage(ctx, in.WorkspaceID, *in.MessagesPerMinute, now); err != nil {
			return Message{}, false, err
		}
	}
	id := newID()
	if in.MessageID == "" {
		in.MessageID = "msg_" + strings.ReplaceAll(id.String(), "-", "")
	}
	body, err := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{in.EventType, now.Format(time.RFC3339Nano), in.Data})
	if err != nil {
		return Message{}, false, &Error{Kind: ErrInvalid, Message: "data is not valid JSON"}
	}
	// The envelope is stored as text and signed as stored: any invalid UTF-8 the data carried
	// is replaced here, so the answer and every attempt send the same bytes.
	call := messageSend{in: in, id: id, body: strings.ToValidUTF8(string(body), "\uFFFD"), at: pgTime(now)}
	var sent sendOutcome
	for try := 0; ; try++ {
		if sent, err = s.sends.do(ctx, call); err != nil {
			return Message{}, false, err
		}
		if !sent.found {
			return Message{}, false, notFound("Recipient " + in.RecipientID)
		}
		if sent.inserted {
			break
		}
		// The app has a message with this id or key (sent before, or by a concurrent send that
		// won the race): answer with it.
		m, ok, err := s.findDuplicate(ctx, in)
		if ok || err != nil {
			return m, false, err
		}
		// It was deleted in between (retention, its recipient deleted): send this one after all.
		if try > 0 {
			return Message{}, false, &Error{Kind: ErrConflict, Message: "A message with this id or idempotency key is being deleted; retry"}
		}
	}
	msg := Message{ID: id, AppID: in.AppID, MessageID: in.MessageID, IdempotencyKey: in.IdempotencyKey, RecipientID: in.RecipientID,
		EventType: in.EventType, Body: sent.body, Status: "no_endpoints", CreatedAt: pgTime(now), Deliveries: []Delivery{}}
	for i := range sent.ids {
		d := Delivery{ID: uuid.MustParse(sent.ids[i]), EndpointID: uuid.MustParse(sent.endpoints[i]), URL: sent.urls[i], Status: sent.statuses[i]}
		msg.Deliveries = append(msg.Deliveries, d)
		msg.Status = "pending"
	}
	return msg, true, nil
}

// messageSend is one SendMessage call as its batch reads it.
type messageSend struct {
	in   MessageSend
	id   uuid.UUID
	body string
	at   time.Time
}

// sendOutcome is what the batch statement did with one message.
type sendOutcome struct {
	found, inserted                bool
	body                           string
	ids, endpoints, statuses, urls []string // the deliveries, by endpoint id
}

// sendMessages writes a batch of sends with one statement (sendQuery), batched like activity
// creates (see batcher): a webhook send is as hot a path.
func (s *DB) sendMessages(ctx context.Context, batch []messageSend) ([]batchResult[sendOutcome], error) {
	payload := make([]byte, 0, 256*len(batch))
	payload = append(payload, '[')
	for i, m := range batch {
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, `{"i":`...)
		payload = strconv.AppendInt(payload, int64(i), 10)
		payload = append(payload, `,"id":"`...)
		payload = append(payload, m.id.String()...)
		payload = append(payload, `","app_id":"`...)
		payload = append(payload, m.in.AppID.String()...)
		payload = append(payload, `","recipient_id":`...)
		payload = jsonappend.String(payload, m.in.RecipientID)
		payload = append(payload, `,"message_id":`...)
		payload = jsonappend.String(payload, m.in.MessageID)
		if m.in.IdempotencyKey != nil {
			payload = append(payload, `,"idempotency_key":`...)
			payload = jsonappend.String(payload, *m.in.IdempotencyKey)
		}
		payload = append(payload, `,"event_type":`...)
		payload = jsonappend.String(payload, m.in.EventType)
		payload = append(payload, `,"body":`...)
		payload = jsonappend.String(payload, m.body)
		payload = append(payload, `,"created_at":`...)
		payload = jsonappend.Time(payload, m.at)
		payload = append(payload, '}')
	}
	payload = append(payload, ']')
	st, err := s.prepared(ctx, s.db, sendQuery)
	if err != nil {
		return nil, err
	}
	// One statement, in autocommit: atomic by itself, without a BEGIN and a COMMIT round trip.
	rows, err := st.QueryContext(ctx, string(payload), TriggerScheduled, WebhookDeliveryArgs{}.Kind(),
		WebhookDeliveryArgs{}.InsertOpts().MaxAttempts, WebhookQueue, s.wake.due(WebhookQueue))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]batchResult[sendOutcome], len(batch))
	for rows.Next() {
		var i int
		var out sendOutcome
		var ids, endpoints, statuses, urls pq.StringArray
		if err := rows.Scan(&i, &out.found, &out.inserted, &ids, &endpoints, &statuses, &urls); err != nil {
			return nil, err
		}
		out.body, out.ids, out.endpoints, out.statuses, out.urls = batch[i].body, ids, endpoints, statuses, urls
		results[i] = batchResult[sendOutcome]{out: out}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close reads to the end of the statement, its commit included: only then is a send answered.
	return results, rows.Close()
}

// sendQuery finds each message's recipient, inserts the message (unless the app has its id or
// key) and one delivery per matching endpoint with its job, and says what it did, one row per
// message.
const sendQuery = `
		WITH item AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, app_id uuid, recipient_id text,
				message_id text, idempotency_key text, event_type text, body text, created_at timestamptz)
		), r AS (
			SELECT item.*, rc.id AS recipient_pk FROM item
			JOIN webhook_recipients rc ON rc.app_id = item.app_id AND rc.recipient_id = item.recipient_id
		), m AS (
			INSERT INTO webhook_messages (id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at)
			SELECT id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at
			FROM r ORDER BY app_id, message_id -- one lock order for every batch
			ON CONFLICT DO NOTHING RETURNING id, recipient_pk, event_type
		), d AS (
			INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status)
			SELECT gen_random_uuid(), m.id, e.id, CASE WHEN e.status = 'paused' THEN 'held' ELSE 'pending' END
			FROM m JOIN webhook_endpoints e ON e.recipient_pk = m.recipient_pk
			WHERE e.status <> 'disabled' AND (cardinality(e.event_types) = 0 OR m.event_type = ANY (e.event_types))
			RETURNING id, message_pk, endpoint_id, status
		), job AS (
			-- The delivery jobs, written as River's InsertTx writes them (a second statement,
			-- planned each time, was a third of a send's cost).
			INSERT INTO river_job (args, kind, max_attempts, priority, queue, scheduled_at, state, tags, metadata)
			SELECT jsonb_build_object('delivery_id', d.id, 'trigger', $2::text), $3, $4, 1, $5, now(), 'available', '{}', '{}'
			FROM d WHERE d.status = 'pending'
			RETURNING id
		), wake AS (
			SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', $5::text)::text)
			WHERE $6 AND EXISTS (SELECT 1 FROM job)
		), dl AS (
			SELECT d.message_pk, array_agg(d.id::text ORDER BY e.id) AS ids, array_agg(d.endpoint_id::text ORDER BY e.id) AS endpoints,
				array_agg(d.status ORDER BY e.id) AS statuses, array_agg(e.url ORDER BY e.id) AS urls
			FROM d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			GROUP BY d.message_pk
		)
		SELECT item.i, r.i IS NOT NULL AS found, m.id IS NOT NULL AS inserted,
			coalesce(dl.ids, '{}'), coalesce(dl.endpoints, '{}'), coalesce(dl.statuses, '{}'), coalesce(dl.urls, '{}')
		FROM item LEFT JOIN r ON r.i = item.i LEFT JOIN m ON m.id = item.id LEFT JOIN dl ON dl.message_pk = m.id
		WHERE (SELECT count(*) FROM wake) + (SELECT count(*) FROM job) >= 0 -- SELECT CTEs run only when referenced`

// findDuplicate returns the app's message with in's id or idempotency key, if there is one.
func (s *DB) findDuplicate(ctx context.Context, in MessageSend) (Message, bool, error) {
	if in.MessageID == "" && in.IdempotencyKey == nil {
		return Message{}, false, nil
	}
	var m Message
	err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM webhook_messages m
		WHERE m.app_id = $1 AND (m.message_id = $2 OR m.idempotency_key = $3) ORDER BY m.id LIMIT 1`,
		in.AppID, in.MessageID, in.IdempotencyKey)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, err
	}
	m.Deliveries, err = s.messageDeliveries(ctx, m.ID)
	return m, true, err
}

func (s *DB) messageDeliveries(ctx context.Context, messagePK uuid.UUID) ([]Delivery, error) {
	out := []Delivery{}
	err := s.db.SelectContext(ctx, &out, `SELECT d.id, d.endpoint_id, e.url, d.status, d.attempts, d.last_status_code, d.last_error,
		d.next_attempt_at, d.delivered_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.message_pk = $1 ORDER BY d.endpoint_id`, messagePK)
	return out, err
}

// GetMessage returns a message of a workspace's app with its deliveries; with recipientID
// given, only when it is that recipient's. ErrNotFound otherwise.
func (s *DB) GetMessage(ctx context.Context, workspaceID, appID uuid.UUID, messageID, recipientID string) (Message, error) {
	m, err := s.findMessage(ctx, workspaceID, appID, messageID, recipientID)
	if err != nil {
		return m, err
	}
	m.Deliveries, err = s.messageDeliveries(ctx, m.ID)
	return m, err
}

// findMessage is GetMessage without the deliveries.
func (s *DB) findMessage(ctx context.Context, workspaceID, appID uuid.UUID, messageID, recipientID string) (Message, error) {
	var m Message
	err := s.db.GetContext(ctx, &m, `SELECT `+messageColumns+` FROM webhook_messages m JOIN webhook_apps a ON a.id = m.app_id
		WHERE a.workspace_id = $1 AND a.id = $2 AND m.message_id = $3 AND ($4 = '' OR m.recipient_id = $4)`, workspaceID, appID, messageID, recipientID)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
			return m, err
		}
		return m, notFound("Message " + messageID)
	}
	return m, err
}

// MessageFilter narrows ListMessages; zero fields do not filter.
type MessageFilter struct {
	RecipientID, EventType, Status string
	Since, Until                   *time.Time
	Before                         uuid.UUID // keyset cursor: messages older than this one
}

// ListMessages returns up to limit messages of an app, newest first.
func (s *DB) ListMessages(ctx context.Context, workspaceID, appID uuid.UUID, f MessageFilter, limit int) ([]Message, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return nil, err
	}
	out := []Message{}
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM (SELECT `+messageColumns+` FROM webhook_messages m
		WHERE m.app_id = $1 AND ($2 = '' OR m.recipient_id = $2) AND ($3 = '' OR m.event_type = $3)
			AND ($4::timestamptz IS NULL OR m.created_at >= $4) AND ($5::timestamptz IS NULL OR m.created_at < $5)
			AND ($6::uuid IS NULL OR m.id < $6)
		ORDER BY m.id DESC) x WHERE $7 = '' OR x.status = $7 LIMIT $8`,
		appID, f.RecipientID, f.EventType, f.Since, f.Until, nullUUID(f.Before), f.Status, limit)
	return out, err
}

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

// ListMessageAttempts returns up to limit attempts of a message (at one endpoint when
// endpointID is not nil), newest first, older than the attempt before (uuid.Nil = newest).
func (s *DB) ListMessageAttempts(ctx context.Context, workspaceID, appID uuid.UUID, messageID, recipientID string, endpointID, before uuid.UUID, limit int) ([]Attempt, error) {
	m, err := s.findMessage(ctx, workspaceID, appID, messageID, recipientID)
	if err != nil {
		return nil, err
	}
	out := []Attempt{}
	err = s.db.SelectContext(ctx, &out, `SELECT `+attemptColumns+` FROM webhook_attempts t JOIN webhook_messages m ON m.id = t.message_pk
		WHERE t.message_pk = $1 AND ($2::uuid IS NULL OR t.endpoint_id = $2) AND ($3::uuid IS NULL OR t.id < $3)
		ORDER BY t.id DESC LIMIT $4`, m.ID, nullUUID(endpointID), nullUUID(before), limit)
	return out, err
}

// ListEndpointAttempts returns up to limit attempts at an endpoint (with status, when not
// ""), newest first, older than the attempt before (uuid.Nil = newest).
func (s *DB) ListEndpointAttempts(ctx context.Context, workspaceID, appID uuid.UUID, recipientID string, endpointID uuid.UUID, status string, before uuid.UUID, limit int) ([]Attempt, error) {
	if _, err := s.GetEndpoint(ctx, workspaceID, appID, recipientID, endpointID); err != nil {
		return nil, err
	}
	out := []Attempt{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+attemptColumns+` FROM webhook_attempts t JOIN webhook_messages m ON m.id = t.message_pk
		WHERE t.endpoint_id = $1 AND ($2 = '' OR t.status = $2) AND ($3::uuid IS NULL OR t.id < $3)
		ORDER BY t.id DESC LIMIT $4`, endpointID, status, nullUUID(before), limit)
	return out, err
}

// ReplayMessage sends a message again, once, to every endpoint it was sent to, or to one
// endpoint of its recipient (which gets a delivery if it had none). It returns how many
// endpoints the replay goes to. ErrNotFound for an unknown message or endpoint.
func (s *DB) ReplayMessage(ctx context.Context, workspaceID, appID uuid.UUID, messageID string, endpointID uuid.UUID) (int, error) {
	m, err := s.findMessage(ctx, workspaceID, appID, messageID, "")
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The message stays while this replays it: retention's delete waits for this lock, and a
	// message it deleted in between is a 404.
	var kept bool
	if err := tx.GetContext(ctx, &kept, `SELECT true FROM webhook_messages WHERE id = $1 FOR KEY SHARE`, m.ID); errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("Message")
	} else if err != nil {
		return 0, err
	}
	var ids []uuid.UUID
	if endpointID != uuid.Nil {
		err = tx.SelectContext(ctx, &ids, `
			INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status)
			SELECT gen_random_uuid(), m.id, e.id, 'pending' FROM webhook_messages m
			JOIN webhook_endpoints e ON e.recipient_pk = m.recipient_pk AND e.id = $2 WHERE m.id = $1
			ON CONFLICT (message_pk, endpoint_id) DO UPDATE SET
				status = CASE WHEN webhook_deliveries.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			RETURNING id`, m.ID, endpointID)
		if err == nil && len(ids) == 0 {
			return 0, notFound("Endpoint")
		}
	} else {
		err = tx.SelectContext(ctx, &ids, `UPDATE webhook_deliveries SET
			status = CASE WHEN status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
			WHERE message_pk = $1 RETURNING id`, m.ID)
	}
	if err != nil {
		return 0, err
	}
	if err := s.insertDeliveryJobs(ctx, tx, ids, TriggerReplay); err != nil {
		return 0, err
	}
	return len(ids), tx.Commit()
}

// ReplayFilter selects the deliveries a bulk replay sends again.
type ReplayFilter struct {
	Since       time.Time  `json:"since"`
	Until       *time.Time `json:"until,omitempty"`
	EventType   string     `json:"eventType,omitempty"`
	RecipientID string     `json:"recipientId,omitempty"`
	EndpointID  *uuid.UUID `json:"endpointId,omitempty"`
	FailedOnly  bool       `json:"failedOnly"`
}

// Scan reads the jsonb column.
func (f *ReplayFilter) Scan(src any) error { return scanJSON(src, f) }

// BulkReplay is a replay of many deliveries, worked through in the background.
type BulkReplay struct {
	ID          uuid.UUID    `db:"id"`
	AppID       uuid.UUID    `db:"app_id"`
	Filter      ReplayFilter `db:"filter"`
	Status      string       `db:"status"`
	Replayed    int          `db:"replayed"`
	CreatedAt   time.Time    `db:"created_at"`
	CompletedAt *time.Time   `db:"completed_at"`
}

const replayColumns = `id, app_id, filter, status, replayed, created_at, completed_at`

// CreateBulkReplay stores a bulk replay and its job, in one transaction.
func (s *DB) CreateBulkReplay(ctx context.Context, workspaceID, appID uuid.UUID, f ReplayFilter) (BulkReplay, error) {
	if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
		return BulkReplay{}, err
	}
	if f.Until == nil {
		now := time.Now().UTC()
		f.Until = &now
	}
	filter, _ := json.Marshal(f)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return BulkReplay{}, err
	}
	defer tx.Rollback()
	var r BulkReplay
	if err := tx.GetContext(ctx, &r, `INSERT INTO webhook_replays (id, app_id, filter) VALUES ($1, $2, $3) RETURNING `+replayColumns,
		newID(), appID, string(filter)); err != nil {
		return BulkReplay{}, err
	}
	if _, err := s.jobs.InsertTx(ctx, tx.Tx, WebhookBulkReplayArgs{ReplayID: r.ID}, nil); err != nil {
		return BulkReplay{}, fmt.Errorf("insert replay job: %w", err)
	}
	return r, tx.Commit()
}

// GetBulkReplay returns a bulk replay of a workspace's app, or ErrNotFound.
func (s *DB) GetBulkReplay(ctx context.Context, workspaceID, appID, id uuid.UUID) (BulkReplay, error) {
	var r BulkReplay
	err := s.db.GetContext(ctx, &r, `SELECT `+replayColumns+` FROM webhook_replays
		WHERE id = $3 AND app_id = (SELECT id FROM webhook_apps WHERE workspace_id = $1 AND id = $2)`, workspaceID, appID, id)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.GetWebhookApp(ctx, workspaceID, appID); err != nil {
			return r, err
		}
		return r, notFound("Replay")
	}
	return r, err
}

// RunBulkReplayBatch replays the next batch (up to n) of a bulk replay's deliveries, in one
// transaction that also records the progress, and reports whether the replay is complete.
// Run it until it is; a crash between batches loses nothing and repeats nothing.
func (s *DB) RunBulkReplayBatch(ctx context.Context, replayID uuid.UUID, n int) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var r struct {
		BulkReplay
		AfterID *uuid.UUID `db:"after_id"`
	}
	if err := tx.GetContext(ctx, &r, `SELECT `+replayColumns+`, after_id FROM webhook_replays WHERE id = $1 FOR UPDATE`, replayID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return true, nil // its app was deleted
		}
		return false, err
	}
	if r.Status == "completed" {
		return true, nil
	}
	f := r.Filter
	var ids []uuid.UUID
	if err := tx.SelectContext(ctx, &ids, `
		WITH sel AS (
			SELECT d.id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_pk
			WHERE m.app_id = $1 AND m.created_at >= $2 AND m.created_at < $3 AND ($4 = '' OR m.event_type = $4)
				AND ($5 = '' OR m.recipient_id = $5) AND ($6::uuid IS NULL OR d.endpoint_id = $6)
				AND (NOT $7 OR d.status = 'failed') AND ($8::uuid IS NULL OR d.id > $8)
			ORDER BY d.id LIMIT $9
		)
		UPDATE webhook_deliveries d SET status = CASE WHEN d.status = 'held' THEN 'held' ELSE 'pending' END, updated_at = now()
		FROM sel WHERE d.id = sel.id RETURNING d.id`,
		r.AppID, f.Since, f.Until, f.EventType, f.RecipientID, f.EndpointID, f.FailedOnly, r.AfterID, n); err != nil {
		return false, err
	}
	if err := s.insertDeliveryJobs(ctx, tx, ids, TriggerReplay); err != nil {
		return false, err
	}
	done := len(ids) < n
	var last *uuid.UUID
	for i := range ids {
		if last == nil || ids[i].String() > last.String() {
			last = &ids[i]
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_replays SET replayed = replayed + $2, after_id = coalesce($3, after_id),
		status = CASE WHEN $4 THEN 'completed' ELSE status END, completed_at = CASE WHEN $4 THEN now() END WHERE id = $1`,
		replayID, len(ids), last, done); err != nil {
		return false, err
	}
	return done, tx.Commit()
}

// DeliveryTask is everything one attempt of a delivery needs.
type DeliveryTask struct {
	DeliveryID     uuid.UUID       `db:"delivery_id"`
	Status         string          `db:"status"`
	Attempts       int             `db:"attempts"`
	MessageID      string          `db:"message_id"`
	Body           string          `db:"body"`
	EndpointID     uuid.UUID       `db:"endpoint_id"`
	URL            string          `db:"url"`
	EndpointStatus string          `db:"endpoint_status"`
	DisabledReason *string         `db:"disabled_reason"`
	Headers        StringMap       `db:"headers"`
	MaxAttempts    int             `db:"max_attempts"`
	RateLimit      *int            `db:"rate_limit_per_minute"`
	FailingSince   *time.Time      `db:"failing_since"`
	Secrets        EndpointSecrets `db:"-"`
}

// LoadDelivery returns a delivery's task; ok=false when the delivery no longer exists (its
// endpoint, recipient or app was deleted).
func (s *DB) LoadDelivery(ctx context.Context, id uuid.UUID) (DeliveryTask, bool, error) {
	var row struct {
		DeliveryTask
		Secret     []byte `db:"secret"`
		OldSecrets []byte `db:"old_secrets"`
	}
	st, err := s.prepared(ctx, s.async, loadDeliveryQuery)
	if err != nil {
		return DeliveryTask{}, false, err
	}
	err = st.GetContext(ctx, &row, id)
	if errors.Is(err, sql.ErrNoRows) {
		return DeliveryTask{}, false, nil
	}
	if err != nil {
		return DeliveryTask{}, false, err
	}
	if row.Secrets, err = s.openSecrets(row.EndpointID, row.Secret, row.OldSecrets, time.Now()); err != nil {
		return DeliveryTask{}, false, err
	}
	return row.DeliveryTask, true, nil
}

// HoldDelivery marks a delivery held if its endpoint is (still) paused, and reports whether it
// did. It takes a share lock on the endpoint row, so it cannot interleave with a resume (which
// releases held deliveries under the row's update lock): a delivery is either held before the
// resume and released by it, or seen active after it.
func (s *DB) HoldDelivery(ctx context.Context, deliveryID, endpointID uuid.UUID) (bool, error) {
	var ids []uuid.UUID
	err := s.async.SelectContext(ctx, &ids, `
		WITH e AS (SELECT id FROM webhook_endpoints WHERE id = $2 AND status = 'paused' FOR SHARE)
		UPDATE webhook_deliveries d SET status = 'held', updated_at = now() FROM e
		WHERE d.id = $1 AND d.endpoint_id = e.id RETURNING d.id`, deliveryID, endpointID)
	return len(ids) > 0, err
}

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

// RecordAttempt stores an attempt and moves its delivery on, in one statement: delivered on
// success; otherwise pending while a next attempt is scheduled, else failed (a failed replay
// leaves a delivery pending whose scheduled retry is still ahead).
func (s *DB) RecordAttempt(ctx context.Context, a AttemptRecord) error {
	status := "failed"
	if a.Succeeded {
		status = "succeeded"
	}
	st, err := s.prepared(ctx, s.async, recordAttemptQuery)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, a.DeliveryID, newID(), a.Trigger, a.Succeeded, a.ResponseStatusCode, a.ResponseBody, int(a.Duration.Milliseconds()),
		a.Error, a.NextAttemptAt, a.Number, status)
	return err
}

// FailDelivery ends a delivery without an attempt (its endpoint is disabled), saying why.
func (s *DB) FailDelivery(ctx context.Context, deliveryID uuid.UUID, reason string) error {
	_, err := s.async.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL,
		updated_at = now() WHERE id = $1`, deliveryID, reason)
	return err
}

// ReserveEndpointSlot takes the next delivery slot of an endpoint limited to perMinute
// deliveries, shared by every process (the generic cell rate algorithm, its state on the
// endpoint's row): slots are 60s/perMinute apart, with a burst of perMinute/60 (at least 1).
// It returns how long to wait for the slot. A slot further away than maxWait is not taken
// (reserved=false): the caller comes back for it later rather than holding it idle.
func (s *DB) ReserveEndpointSlot(ctx context.Context, endpointID uuid.UUID, perMinute int, maxWait time.Duration) (wait time.Duration, reserved bool, err error) {
	if perMinute < 1 {
		return 0, true, nil
	}
	interval := time.Minute / time.Duration(perMinute)
	tolerance := time.Duration(max(1, perMinute/60)-1) * interval
	var row struct {
		WaitUS   int64 `db:"wait_us"`
		Reserved bool  `db:"reserved"`
	}
	st, err := s.prepared(ctx, s.async, reserveSlotQuery)
	if err != nil {
		return 0, false, err
	}
	err = st.GetContext(ctx, &row, endpointID, interval.Microseconds(), tolerance.Microseconds(), maxWait.Microseconds())
	if errors.Is(err, sql.ErrNoRows) { // the endpoint was deleted: nothing to wait for
		return 0, true, nil
	}
	return time.Duration(row.WaitUS) * time.Microsecond, row.Reserved, err
}

// reserveSlotQuery: tat is the endpoint's next slot (now at the earliest); the wait for it,
// less the burst tolerance, is taken (tat moves one interval on) when it is within the limit.
const reserveSlotQuery = `
		WITH p AS (
			SELECT id, greatest(coalesce(rate_tat, now()), now()) AS tat FROM webhook_endpoints WHERE id = $1 FOR UPDATE
		), w AS (
			SELECT id, tat, greatest(tat - now() - $3 * interval '1 microsecond', interval '0') AS wait FROM p
		), u AS (
			UPDATE webhook_endpoints e SET rate_tat = w.tat + $2 * interval '1 microsecond' FROM w
			WHERE e.id = w.id AND w.wait <= $4 * interval '1 microsecond'
			RETURNING e.id
		)
		SELECT (extract(epoch FROM w.wait) * 1000000)::bigint AS wait_us, EXISTS (SELECT 1 FROM u) AS reserved FROM w`

// EndpointSucceeded clears an endpoint's failure record.
func (s *DB) EndpointSucceeded(ctx context.Context, endpointID uuid.UUID) error {
	_, err := s.async.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, endpointID)
	return err
}

// EndpointFailed records a failed attempt at an endpoint: the first failure since its last
// success starts its failure record, and an endpoint failing since before disableBefore is
// disabled, saying since when. It reports whether it disabled the endpoint.
func (s *DB) EndpointFailed(ctx context.Context, endpointID uuid.UUID, disableBefore time.Time) (bool, error) {
	var disabled bool
	err := s.async.GetContext(ctx, &disabled, `
		WITH e AS (
			UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()),
				status = CASE WHEN failing_since < $2 AND status <> 'disabled' THEN 'disabled' ELSE status END,
				disabled_reason = CASE WHEN failing_since < $2 AND status <> 'disabled'
					THEN 'Every delivery failed since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
					ELSE disabled_reason END,
				updated_at = CASE WHEN failing_since < $2 AND status <> 'disabled' THEN now() ELSE updated_at END
			WHERE id = $1 RETURNING status, disabled_reason
		) SELECT coalesce((SELECT status = 'disabled' FROM e), false)`, endpointID, disableBefore)
	return disabled, err
}

// DisableEndpoint disables an endpoint, saying why.
func (s *DB) DisableEndpoint(ctx context.Context, endpointID uuid.UUID, reason string) error {
	_, err := s.async.ExecContext(ctx, `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = now()
		WHERE id = $1`, endpointID, reason)
	return err
}

func nullUUID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

// loadDeliveryQuery reads a delivery with its message and endpoint.
const loadDeliveryQuery = `SELECT d.id AS delivery_id, d.status, d.attempts, m.message_id, m.body,
		e.id AS endpoint_id, e.url, e.status AS endpoint_status, e.disabled_reason, e.headers, e.max_attempts, e.rate_limit_per_minute,
		e.failing_since, e.secret, e.old_secrets
		FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_pk JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.id = $1`

// recordAttemptQuery moves a delivery on and stores its attempt (see RecordAttempt).
const recordAttemptQuery = `
		WITH d AS (
			UPDATE webhook_deliveries SET attempts = attempts + 1,
				status = CASE WHEN $4 THEN 'delivered'
					WHEN $9::timestamptz IS NOT NULL THEN 'pending'
					WHEN $3 = 'replay' AND next_attempt_at > now() THEN 'pending'
					ELSE 'failed' END,
				last_status_code = $5, last_error = $8,
				next_attempt_at = CASE WHEN $3 = 'replay' AND NOT $4 THEN next_attempt_at ELSE $9 END,
				delivered_at = CASE WHEN $4 THEN now() ELSE delivered_at END, updated_at = now()
			WHERE id = $1 RETURNING id, message_pk, endpoint_id
		)
		INSERT INTO webhook_attempts (id, delivery_id, message_pk, endpoint_id, attempt_number, trigger, status, response_status_code,
			response_body, duration_ms, error, next_attempt_at)
		SELECT $2, d.id, d.message_pk, d.endpoint_id, $10, $3, $11, $5, $6, $7, $8, $9 FROM d`
