package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store"
)

// The loader of the stored-messages benchmark (-webhooks-stored): it fills webhook_messages
// (and their keys, webhook_message_keys), webhook_deliveries and webhook_attempts with n
// messages delivered in the past, each with one delivered delivery and its one successful
// attempt, with COPY (lib/pq's COPY … FROM STDIN) over
// several connections at once, as a user's database looks after weeks of traffic.
//
// What each table gets is in ONE function per table below (messagesTable, deliveriesTable,
// attemptsTable): its name, its column list and how each row's values, ids included, are made
// from a storedItem. A schema change (a new column) is a change to those functions only; the
// rest of the loader only calls them. They follow migration 0018's rules for rows written
// directly: ids as the server makes them, a key row per message, and the days' partitions made
// before the load (loadAndSettle).

// storedTarget is one endpoint stored messages go to: its app, its recipient and the endpoint.
type storedTarget struct {
	App         uuid.UUID `db:"app_id"`
	RecipientPK uuid.UUID `db:"recipient_pk"`
	RecipientID string    `db:"recipient_id"`
	Endpoint    uuid.UUID `db:"endpoint_id"`
}

// storedItem is the i-th stored message with everything its three rows are made of.
type storedItem struct {
	target      storedTarget
	createdAt   time.Time // when the message was accepted
	deliveredAt time.Time // when its one attempt ended
	durationMS  int
	eventType   string
	messagePK   uuid.UUID // version 7, of createdAt: as store.newID makes message ids
	deliveryID  uuid.UUID // store.DeliveryID(messagePK, endpoint): in its message's partition
	attemptID   uuid.UUID // version 7, of deliveredAt: as store.newID makes attempt ids
	messageID   string    // the API's messageId: "msg_" and the id's hex, as for a send without one
	orderNo     uint32
}

// storedEventTypes are the stored messages' event types, one in ten of them rare
// (invoice.paid), which the filtered list benchmarks look for. The send runs use the same mix.
var storedEventTypes = [10]string{"order.created", "order.created", "order.created", "order.created", "order.created",
	"order.created", "order.created", "order.updated", "order.updated", "invoice.paid"}

// v7At is a version 7 UUID of time t: its first 48 bits are t's Unix milliseconds, the rest
// random (with the version and variant bits), as uuid.NewV7 makes at that moment.
func v7At(t time.Time, r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(u[:6], ms[2:])
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	binary.BigEndian.PutUint16(u[6:], uint16(r.Uint32()))
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// loadTable is one table the loader fills with COPY: its name, its columns, and a row's values
// in the order of the columns.
type loadTable struct {
	name    string
	columns []string
	row     func(it *storedItem) []any
}

// messagesTable: one webhook_messages row per stored message. Its id is a version 7 UUID of
// the time it was accepted (so the ids, like real ones, order by time and a time-partitioned
// table finds its partition from created_at or the id); its body is the envelope every attempt
// sent, as SendMessage stores it.
func messagesTable() loadTable {
	return loadTable{name: "webhook_messages",
		columns: []string{"id", "app_id", "message_id", "idempotency_key", "recipient_pk", "recipient_id", "event_type", "body", "created_at"},
		row: func(it *storedItem) []any {
			body := fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":{"id":"ord_%d","amount":%d,"currency":"usd","customer":"cus_%08x","status":"paid"}}`,
				it.eventType, it.createdAt.Format(time.RFC3339Nano), it.orderNo, 100+it.orderNo%90000, it.orderNo*2654435761)
			return []any{it.messagePK, it.target.App, it.messageID, nil, it.target.RecipientPK, it.target.RecipientID, it.eventType, body, it.createdAt}
		}}
}

// keysTable: one webhook_message_keys row per stored message, which keeps (app_id, message_id)
// unique across the partitions and finds the message by its messageId.
func keysTable() loadTable {
	return loadTable{name: "webhook_message_keys",
		columns: []string{"app_id", "message_id", "idempotency_key", "message_pk", "recipient_pk"},
		row: func(it *storedItem) []any {
			return []any{it.target.App, it.messageID, nil, it.messagePK, it.target.RecipientPK}
		}}
}

// deliveriesTable: one webhook_deliveries row per stored message, to its endpoint, delivered
// at the first attempt. Its id is the one the server gives the delivery of that message to that
// endpoint (store.DeliveryID: the message's millisecond, then a hash of the pair), so it lies
// in its message's partition; a Dispatch delivery leaves event_pk and destination_id NULL.
func deliveriesTable() loadTable {
	return loadTable{name: "webhook_deliveries",
		columns: []string{"id", "message_pk", "endpoint_id", "status", "attempts", "last_status_code", "last_error", "next_attempt_at", "delivered_at", "updated_at"},
		row: func(it *storedItem) []any {
			return []any{it.deliveryID, it.messagePK, it.target.Endpoint, "delivered", 1, 200, nil, nil, it.deliveredAt, it.deliveredAt}
		}}
}

// attemptsTable: one webhook_attempts row per stored message, the delivery's one attempt,
// answered 200 with an empty body. Its id is a version 7 UUID of the time the attempt ended (as
// RecordAttempt makes them), which is also its created_at.
func attemptsTable() loadTable {
	return loadTable{name: "webhook_attempts",
		columns: []string{"id", "delivery_id", "message_pk", "endpoint_id", "attempt_number", "trigger", "status",
			"response_status_code", "response_body", "duration_ms", "error", "next_attempt_at", "created_at"},
		row: func(it *storedItem) []any {
			return []any{it.attemptID, it.deliveryID, it.messagePK, it.target.Endpoint, 1, "scheduled", "succeeded",
				200, "", it.durationMS, nil, nil, it.deliveredAt}
		}}
}

// storedItemAt makes the i-th of n stored messages, spread evenly in time from `from` to `to`
// and over the targets; r gives its random parts.
func storedItemAt(i, n int, from, to time.Time, targets []storedTarget, r *rand.Rand, it *storedItem) {
	created := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / float64(n)))
	it.target = targets[r.IntN(len(targets))]
	it.createdAt = created.UTC().Truncate(time.Microsecond)
	it.durationMS = 5 + r.IntN(60)
	it.deliveredAt = it.createdAt.Add(time.Duration(it.durationMS+r.IntN(200)) * time.Millisecond)
	it.eventType = storedEventTypes[i%len(storedEventTypes)]
	it.messagePK = v7At(it.createdAt, r)
	it.deliveryID = store.DeliveryID(it.messagePK, it.target.Endpoint)
	it.attemptID = v7At(it.deliveredAt, r)
	var hexID [32]byte
	hex.Encode(hexID[:], it.messagePK[:])
	it.messageID = "msg_" + string(hexID[:])
	it.orderNo = uint32(i)
}

// storedRows is the rows a stored message is: the message, its key, its delivery, its attempt.
const storedRows = 4

// storedTables are the tables loadStored fills, in the order it fills them.
func storedTables() []loadTable {
	return []loadTable{messagesTable(), keysTable(), deliveriesTable(), attemptsTable()}
}

// loadStored loads n stored messages, their deliveries and attempts (the three tables above),
// accepted between from and to, over conns connections each loading its own slice of the time
// range, in transactions of chunk messages. The rows are made consistent with each other, so
// the load runs with session_replication_role = replica: the foreign-key checks, one lookup
// per row, are skipped, as pg_restore does. It prints its progress every 10 s and returns the
// messages loaded (each is storedRows rows).
func loadStored(ctx context.Context, dsn string, n, conns int, from, to time.Time, targets []storedTarget) (int64, error) {
	tables := storedTables()
	const chunk = 20000
	var done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Printf("  load: %d of %d messages (%.0f%%) in %s, %.0f rows/s, load average %s\n", d, n, 100*float64(d)/float64(n),
					time.Since(start).Round(time.Second), float64(storedRows*d)/time.Since(start).Seconds(), loadAvg())
			}
		}
	}()
	defer close(stop)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for w := range conns {
		lo, hi := n*w/conns, n*(w+1)/conns
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sql.Open("postgres", dsn)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			r := rand.New(rand.NewPCG(uint64(w)+1, 0x5b)) //nolint:gosec // test data, not secrets
			var it storedItem
			for c := lo; c < hi; c += chunk {
				end := min(c+chunk, hi)
				if err := loadChunk(ctx, db, tables, c, end, n, from, to, targets, r, &it); err != nil {
					errs <- err
					return
				}
				done.Add(int64(end - c))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return done.Load(), err
	}
	return done.Load(), nil
}

// loadChunk loads the stored messages [lo, hi) into every table, in one transaction.
func loadChunk(ctx context.Context, db *sql.DB, tables []loadTable, lo, hi, n int, from, to time.Time, targets []storedTarget, r *rand.Rand, it *storedItem) error {
	items := make([]storedItem, 0, hi-lo)
	for i := lo; i < hi; i++ {
		storedItemAt(i, n, from, to, targets, r, it)
		items = append(items, *it)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		return err
	}
	for _, t := range tables {
		if err := copyRows(ctx, tx, t, items); err != nil {
			return fmt.Errorf("COPY %s: %w", t.name, err)
		}
	}
	return tx.Commit()
}

// copyRows copies the items' rows of one table in tx: COPY … FROM STDIN, one Exec per row
// (lib/pq buffers them), and an empty Exec that ends the COPY.
func copyRows(ctx context.Context, tx *sql.Tx, t loadTable, items []storedItem) error {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = pq.QuoteIdentifier(c)
	}
	st, err := tx.PrepareContext(ctx, "COPY "+pq.QuoteIdentifier(t.name)+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range items {
		if _, err := st.ExecContext(ctx, t.row(&items[i])...); err != nil {
			return err
		}
	}
	if _, err := st.ExecContext(ctx); err != nil {
		return err
	}
	return st.Close()
}
