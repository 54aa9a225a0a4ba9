package storetest

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// AgeWebhookMessage makes the webhook message whose primary key is id look accepted at: its
// created_at, and its primary key, a version 7 UUID as newID makes, of that time. Its
// deliveries move with it, under the ids they would have had (store.DeliveryID: a delivery's id
// starts with its message's time), their jobs' arguments too, and its attempts. It returns the
// message's new primary key.
func AgeWebhookMessage(t testing.TB, db *store.DB, id uuid.UUID, at time.Time) uuid.UUID {
	t.Helper()
	aged := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(aged[:6], ms[2:])
	tx, err := db.SQL().BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, st := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO webhook_messages (id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at)
			SELECT $2, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, $3 FROM webhook_messages WHERE id = $1`,
			[]any{id, aged, at}},
		{`CREATE TEMP TABLE aged_deliveries ON COMMIT DROP AS
			SELECT id AS old, webhook_delivery_id($2, endpoint_id) AS new FROM webhook_deliveries WHERE message_pk = $1`, []any{id, aged}},
		{`UPDATE webhook_deliveries d SET id = a.new, message_pk = $1 FROM aged_deliveries a WHERE d.id = a.old`, []any{aged}},
		{`UPDATE webhook_attempts t SET delivery_id = a.new, message_pk = $1 FROM aged_deliveries a WHERE t.delivery_id = a.old`, []any{aged}},
		{`UPDATE webhook_attempts SET message_pk = $2 WHERE message_pk = $1`, []any{id, aged}},
		{`UPDATE river_job j SET args = jsonb_set(j.args, '{delivery_id}', to_jsonb(a.new::text)) FROM aged_deliveries a
			WHERE j.kind = 'webhook_delivery' AND j.args->>'delivery_id' = a.old::text`, nil},
		{`UPDATE webhook_message_keys SET message_pk = $2 WHERE message_pk = $1`, []any{id, aged}},
		{`DELETE FROM webhook_messages WHERE id = $1`, []any{id}},
	} {
		if _, err := tx.Exec(st.query, st.args...); err != nil {
			t.Fatalf("age message %s: %v", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return aged
}
