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
// deliveries and attempts move with it. It returns the message's new primary key.
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
	var messageID string
	var key *string
	if err := tx.QueryRow(`SELECT message_id, idempotency_key FROM webhook_messages WHERE id = $1`, id).Scan(&messageID, &key); err != nil {
		t.Fatalf("age message %s: %v", id, err)
	}
	for _, st := range []struct {
		query string
		args  []any
	}{
		// A copy under a free message id, which takes the original's once that is gone.
		{`INSERT INTO webhook_messages (id, app_id, message_id, recipient_pk, recipient_id, event_type, body, created_at)
			SELECT $2, app_id, message_id || '-aged', recipient_pk, recipient_id, event_type, body, $3 FROM webhook_messages WHERE id = $1`,
			[]any{id, aged, at}},
		{`UPDATE webhook_deliveries SET message_pk = $2 WHERE message_pk = $1`, []any{id, aged}},
		{`UPDATE webhook_attempts SET message_pk = $2 WHERE message_pk = $1`, []any{id, aged}},
		{`DELETE FROM webhook_messages WHERE id = $1`, []any{id}},
		{`UPDATE webhook_messages SET message_id = $2, idempotency_key = $3 WHERE id = $1`, []any{aged, messageID, key}},
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
