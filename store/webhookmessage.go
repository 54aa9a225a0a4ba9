package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// SendPlan is what a send needs to know before it writes: the app's routing settings, the
// event type (nil when not published) and the workspace's per-minute limit.
type SendPlan struct {
	App               WebhookApp
	EventType         *EventType
	MessagesPerMinute *int
}

// PlanSend looks up, in one query, what SendMessage needs checked first. ErrNotFound if the
// workspace has no such app. Concurrent calls (sends arriving together) are looked up
// together, one statement per batch (see batch.go), each distinct app and event type once.
func (s *DB) PlanSend(ctx context.Context, workspaceID, appID uuid.UUID, eventType string) (SendPlan, error) {
	p, err := s.sendPlans.do(ctx, sendPlanKey{workspaceID, appID, eventType})
	if err != nil {
		return SendPlan{}, err
	}
	if p == nil {
		return SendPlan{}, notFound("App")
	}
	plan := *p
	if plan.EventType != nil { // each caller its own copy
		et := *plan.EventType
		plan.EventType = &et
	}
	return plan, nil
}

// sendPlanKey is what one PlanSend looks up.
type sendPlanKey struct {
	workspace, app uuid.UUID
	eventType      string
}

// planSends looks up a batch of sends' plans: for each key its plan, or nil when the workspace
// has no such app.
func (s *DB) planSends(ctx context.Context, keys []sendPlanKey) ([]batchResult[*SendPlan], error) {
	index := make(map[sendPlanKey]int, len(keys))
	var ws, apps, ets []string
	for _, k := range keys {
		if _, ok := index[k]; !ok {
			index[k] = len(ws)
			ws, apps, ets = append(ws, k.workspace.String()), append(apps, k.app.String()), append(ets, k.eventType)
		}
	}
	var rows []struct {
		N int `db:"n"`
		WebhookApp
		Limit       *int       `db:"messages_per_minute"`
		ETName      *string    `db:"et_name"`
		ETSchema    JSONDoc    `db:"et_schema"`
		ETArchived  *time.Time `db:"et_archived_at"`
		ETUpdatedAt *time.Time `db:"et_updated_at"`
	}
	// Not prepared: planned for each batch, on the tables as they are. On the async pool, whose
	// binary parameters make an unprepared query one round trip instead of two (a read: its
	// commits are irrelevant).
	if err := s.async.SelectContext(ctx, &rows, planSendsQuery, pq.Array(ws), pq.Array(apps), pq.Array(ets)); err != nil {
		return nil, err
	}
	plans := make([]*SendPlan, len(ws))
	for _, r := range rows {
		plan := &SendPlan{App: r.WebhookApp, MessagesPerMinute: r.Limit}
		if r.ETName != nil {
			plan.EventType = &EventType{AppID: r.ID, Name: *r.ETName, Schema: r.ETSchema, ArchivedAt: r.ETArchived, UpdatedAt: *r.ETUpdatedAt}
		}
		plans[r.N-1] = plan
	}
	out := make([]batchResult[*SendPlan], len(keys))
	for i, k := range keys {
		out[i].out = plans[index[k]]
	}
	return out, nil
}

// planSendsQuery reads, for each (workspace, app, event type) of a batch, the app, that event
// type and the workspace's message limit; n is the key's place in the batch, from 1.
const planSendsQuery = `SELECT k.n, a.id, a.workspace_id, a.name, a.routing_key_body_path, a.routing_key_header, a.created_at, a.updated_at,
		(SELECT messages_per_minute FROM workspace_limits WHERE workspace_id = a.workspace_id) AS messages_per_minute,
		et.name AS et_name, et.schema AS et_schema, et.archived_at AS et_archived_at, et.updated_at AS et_updated_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS k(workspace_id, app_id, event_type, n)
		JOIN webhook_apps a ON a.workspace_id = k.workspace_id AND a.id = k.app_id
		LEFT JOIN webhook_event_types et ON et.app_id = a.id AND et.name = k.event_type`

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

// messageStatusOf derives a message's status from its deliveries, the message's primary key
// being id (a column, or a parameter). The id range is the message's millisecond
// (webhook_owner_lo/hi, migration 0018): with id a parameter, the planner prunes each lookup to
// the message's partition of webhook_deliveries, so neither planning nor executing it grows
// with the number of partitions. messageStatuses is the same for a page of messages.
func messageStatusOf(id string) string {
	of := `d.message_pk = ` + id + ` AND d.id BETWEEN webhook_owner_lo(` + id + `) AND webhook_owner_hi(` + id + `)`
	return `CASE
		WHEN NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE ` + of + `) THEN 'no_endpoints'
		WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE ` + of + ` AND d.status IN ('pending', 'held')) THEN 'pending'
		WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE ` + of + ` AND d.status = 'failed') THEN 'failed'
		ELSE 'delivered' END`
}

// deliveriesOfMessage selects the deliveries d of message m, by their id range too (see
// messageStatusOf).
const deliveriesOfMessage = `d.message_pk = m.id AND d.id BETWEEN webhook_owner_lo(m.id) AND webhook_owner_hi(m.id)`

// messageBaseColumns are a message's columns but its status.
const messageBaseColumns = `m.id, m.app_id, m.message_id, m.idempotency_key, m.recipient_id, m.event_type, m.body, m.created_at`

// messageColumns are a message's columns with its status.
var messageColumns = messageBaseColumns + `, ` + messageStatusOf("m.id") + ` AS status`

// SendMessage accepts a message: it stores it with one delivery per matching endpoint of the
// recipient (held for paused endpoints) and inserts the delivery jobs, in one transaction, and
// returns it with created=true. A message whose id or idempotency key the app has already is
// not stored again: the first one is returned with created=false. ErrNotFound if the app has
// no such recipient; a *LimitError past the workspace's messagesPerMinute.
func (s *DB) SendMessage(ctx context.Context, in MessageSend) (Message, bool, error) {
	now := s.now().UTC()
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
	rows, err := st.QueryContext(ctx, string(payload), TriggerScheduled, s.wake.due(WebhookQueue))
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
var sendQuery = `
		WITH item AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, id uuid, app_id uuid, recipient_id text,
				message_id text, idempotency_key text, event_type text, body text, created_at timestamptz)
		), r AS (
			SELECT item.*, rc.id AS recipient_pk FROM item
			JOIN webhook_recipients rc ON rc.app_id = item.app_id AND rc.recipient_id = item.recipient_id
		), k AS (
			-- The message id and idempotency key first (webhook_messages, partitioned, cannot hold
			-- them unique): a message is stored only with the keys it got.
			INSERT INTO webhook_message_keys (app_id, message_id, idempotency_key, message_pk, recipient_pk)
			SELECT app_id, message_id, idempotency_key, id, recipient_pk
			FROM r ORDER BY app_id, message_id -- one lock order for every batch
			ON CONFLICT DO NOTHING RETURNING message_pk
		), m AS (
			INSERT INTO webhook_messages (id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at)
			SELECT id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at
			FROM r WHERE id IN (SELECT message_pk FROM k)
			RETURNING id, recipient_pk, event_type
		), d AS (
			-- Deterministic ids (webhook_delivery_id, migration 0018): each delivery lands in its
			-- message's partition.
			INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status)
			SELECT webhook_delivery_id(m.id, e.id), m.id, e.id, CASE WHEN e.status = 'paused' THEN 'held' ELSE 'pending' END
			FROM m JOIN webhook_endpoints e ON e.recipient_pk = m.recipient_pk
			WHERE e.status <> 'disabled' AND (cardinality(e.event_types) = 0 OR m.event_type = ANY (e.event_types))
			RETURNING id, message_pk, endpoint_id, status
		), job AS (
			-- The delivery jobs, written here rather than by InsertTx (riverJobsSQL): a second
			-- statement, planned each time, was a third of a send's cost.
			` + riverJobsSQL(WebhookDeliveryArgs{}, `jsonb_build_object('delivery_id', d.id, 'trigger', $2::text)`,
	`FROM d WHERE d.status = 'pending'`, "") + `
		), wake AS (
			` + riverWakeSQL(WebhookDeliveryArgs{}, "job", "$3") + `
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
	var pk uuid.UUID
	err := s.db.GetContext(ctx, &pk, `SELECT message_pk FROM webhook_message_keys
		WHERE app_id = $1 AND (message_id = $2 OR idempotency_key = $3) ORDER BY message_pk LIMIT 1`,
		in.AppID, in.MessageID, in.IdempotencyKey)
	if noRows(err) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, err
	}
	m, err := s.messageByPK(ctx, pk, "")
	if noRows(err) {
		return Message{}, false, nil // deleted in between
	}
	if err != nil {
		return Message{}, false, err
	}
	m.Deliveries, err = s.messageDeliveries(ctx, m.ID)
	return m, true, err
}

// messageByPK reads a message by its primary key, with recipientID given only when it is that
// recipient's; sql.ErrNoRows otherwise. The key is a parameter, so that the planner prunes
// every table to the message's partition.
func (s *DB) messageByPK(ctx context.Context, pk uuid.UUID, recipientID string) (Message, error) {
	var m Message
	err := s.db.GetContext(ctx, &m, messageByPKQuery, pk, recipientID)
	return m, err
}

var messageByPKQuery = `SELECT ` + messageBaseColumns + `, ` + messageStatusOf("$1::uuid") + ` AS status
		FROM webhook_messages m WHERE m.id = $1 AND ($2 = '' OR m.recipient_id = $2)`

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
	// Through the key table: one index probe, then the message by its primary key (one
	// partition), where a lookup by message_id would probe, and plan, every partition.
	var pk uuid.UUID
	err := s.db.GetContext(ctx, &pk, `SELECT k.message_pk FROM webhook_message_keys k JOIN webhook_apps a ON a.id = k.app_id
		WHERE a.workspace_id = $1 AND a.id = $2 AND k.message_id = $3`, workspaceID, appID, messageID)
	var m Message
	if err == nil {
		m, err = s.messageByPK(ctx, pk, recipientID)
	}
	if noRows(err) {
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
	// Newest first, in two steps (recentSplit): a busy app's page so costs the same however
	// many partitions are kept.
	split := s.recentSplit(f.Before)
	out, err := s.listMessages(ctx, appID, f, split, "", limit)
	if err != nil || len(out) == limit {
		return out, err
	}
	more, err := s.listMessages(ctx, appID, f, "", split, limit-len(out))
	return append(out, more...), err
}

// listMessages is ListMessages among the messages with ids from lo (included) to hi (not): ""
// is no bound.
func (s *DB) listMessages(ctx context.Context, appID uuid.UUID, f MessageFilter, lo, hi string, limit int) ([]Message, error) {
	out := []Message{}
	where := `m.app_id = $1 AND ($2 = '' OR m.recipient_id = $2) AND ($3 = '' OR m.event_type = $3)
			AND ($4::timestamptz IS NULL OR m.created_at >= $4) AND ($5::timestamptz IS NULL OR m.created_at < $5)
			AND ($6::uuid IS NULL OR m.id < $6) AND ($7::uuid IS NULL OR m.id >= $7) AND ($8::uuid IS NULL OR m.id < $8)`
	args := []any{appID, f.RecipientID, f.EventType, f.Since, f.Until, nullUUID(f.Before), nullString(lo), nullString(hi), limit}
	if f.Status != "" {
		err := s.db.SelectContext(ctx, &out, `SELECT * FROM (SELECT `+messageColumns+` FROM webhook_messages m
		WHERE `+where+` ORDER BY m.id DESC) x WHERE x.status = $10 LIMIT $9`, append(args, f.Status)...)
		return out, err
	}
	err := s.db.SelectContext(ctx, &out, `SELECT `+messageBaseColumns+`, '' AS status FROM webhook_messages m
		WHERE `+where+` ORDER BY m.id DESC LIMIT $9`, args...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	return out, s.messageStatuses(ctx, out)
}

// messageStatusesQuery reads, for the messages $1, whether they have deliveries pending (or
// held) and failed, among the deliveries from $2's millisecond to $3's (the page's oldest and
// newest message).
const messageStatusesQuery = `SELECT d.message_pk, bool_or(d.status IN ('pending', 'held')) AS pending,
			bool_or(d.status = 'failed') AS failed
		FROM webhook_deliveries d
		WHERE d.message_pk = ANY($1::uuid[]) AND d.id >= webhook_owner_lo($2) AND d.id <= greatest(webhook_owner_hi($2), webhook_owner_hi($3))
		GROUP BY d.message_pk`

// idTime is the time of a version 7 UUID (its millisecond).
func idTime(id uuid.UUID) time.Time {
	var ms [8]byte
	copy(ms[2:], id[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:])))
}

// messageStatuses sets the statuses of a page of messages (as messageStatusOf derives them),
// with one lookup of their deliveries whose id range, from the page's oldest message's
// millisecond to its newest's, prunes webhook_deliveries to the page's partitions.
func (s *DB) messageStatuses(ctx context.Context, page []Message) error {
	ids := make([]string, len(page))
	pks := make([]uuid.UUID, len(page))
	for i, m := range page {
		ids[i], pks[i] = m.ID.String(), m.ID
	}
	oldest, newest := idSpan(pks)
	var rows []struct {
		ID      uuid.UUID `db:"message_pk"`
		Pending bool      `db:"pending"`
		Failed  bool      `db:"failed"`
	}
	// webhook_owner_hi of the oldest is every id when it is older than migration 0018.
	if err := s.db.SelectContext(ctx, &rows, messageStatusesQuery, pq.StringArray(ids), oldest, newest); err != nil {
		return err
	}
	status := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		switch {
		case r.Pending:
			status[r.ID] = "pending"
		case r.Failed:
			status[r.ID] = "failed"
		default:
			status[r.ID] = "delivered"
		}
	}
	for i := range page {
		if page[i].Status = status[page[i].ID]; page[i].Status == "" {
			page[i].Status = "no_endpoints"
		}
	}
	return nil
}
