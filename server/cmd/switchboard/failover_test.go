package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

// TestDatabaseFailover: `serve` on a PostgreSQL primary with a synchronous streaming standby,
// both on loopback, given both hosts in DATABASE_URL (target_session_attrs=read-write). Under a
// load of message sends (202) and recipient creations (201), the primary is stopped and, a
// moment later, the standby promoted. Requests during the gap are answered 503 with
// Retry-After in the surface's error body, never a 500 and never a hang; the server reconnects
// by itself, and so do its workers: everything answered 202 or 201 before, during and after
// the failover is there on the new primary, and every message is delivered.
func TestDatabaseFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers and fails over between them")
	}
	began := time.Now()
	root, err := os.MkdirTemp("", "switchboard-failover-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	primary, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(root, "primary", "pg"), Durable: true})
	if err != nil {
		if strings.Contains(err.Error(), "binaries not found") {
			t.Skipf("PostgreSQL's server binaries are not installed: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	standby, err := pgcluster.StartStandby(ctx, primary, pgcluster.Options{DataDir: filepath.Join(root, "standby", "pg"), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop() })
	pdb, err := sql.Open("postgres", primary.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	// Synchronous: a commit returns once the standby has it.
	for _, q := range []string{`ALTER SYSTEM SET synchronous_standby_names = '*'`, `SELECT pg_reload_conf()`} {
		if _, err := pdb.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the standby to be synchronous", func() bool {
		var state string
		return pdb.QueryRow(`SELECT sync_state FROM pg_stat_replication`).Scan(&state) == nil && state == "sync"
	})
	pdb.Close()

	// Both hosts, the writable one chosen at each connection (lib/pq for requests, pgx for
	// River: the same keyword DSN).
	dsn := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres sslmode=disable "+
		"target_session_attrs=read-write connect_timeout=2", primary.Port(), standby.Port())
	var mu sync.Mutex
	seen := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	srv := startEnv(t, binary(t), []string{"DATABASE_URL=" + dsn, "SWITCHBOARD_ADMIN_TOKEN=failover-admin",
		"SWITCHBOARD_ENCRYPTION_KEY=" + seal.GenerateKey(), "SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=true",
		"SWITCHBOARD_DATA_DIR=" + filepath.Join(root, "data"), "SWITCHBOARD_ADDR=127.0.0.1:0",
		"SWITCHBOARD_JOB_RESCUE_AFTER=5s", "SWITCHBOARD_LOG_LEVEL=warn"})
	defer srv.stop(t)
	ready := time.Now()

	// A request that takes longer than this counts as a hang.
	client := &http.Client{Timeout: 15 * time.Second}
	type reply struct {
		status int
		header http.Header
		body   map[string]any
		err    error
	}
	call := func(method, path, token, body string) reply {
		req, _ := http.NewRequest(method, srv.base+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return reply{err: err}
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return reply{status: resp.StatusCode, header: resp.Header, body: out}
	}
	must := func(r reply) map[string]any {
		t.Helper()
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("setup call: %d %v %v", r.status, r.body, r.err)
		}
		return r.body
	}
	ws := must(call("POST", "/admin/v1/workspaces", "failover-admin", `{"name":"failover"}`))["id"].(string)
	key := must(call("POST", "/admin/v1/workspaces/"+ws+"/api-keys", "failover-admin", `{"name":"k","permissions":["*"]}`))["key"].(string)
	app := must(call("POST", "/api/v1/apps", key, `{"name":"failover"}`))["appId"].(string)
	must(call("PUT", "/api/v1/apps/"+app+"/event-types/order.created", key, `{}`))
	must(call("POST", "/api/v1/apps/"+app+"/recipients", key, `{"recipientId":"c1"}`))
	must(call("POST", "/api/v1/apps/"+app+"/recipients/c1/endpoints", key, `{"url":"`+recv.URL+`"}`))

	// Four senders, each alternating a message (202) and a recipient (201), until stopped.
	var accepted, created sync.Map
	var nAccepted, nCreated, n503 atomic.Int64
	var badMu sync.Mutex
	var bad []string
	fail := func(format string, args ...any) {
		badMu.Lock()
		defer badMu.Unlock()
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("f%d_%d", g, i)
				var r reply
				var want int
				if i%2 == 0 {
					want = http.StatusAccepted
					r = call("POST", "/api/v1/apps/"+app+"/messages", key,
						`{"recipientId":"c1","eventType":"order.created","data":{"i":1},"messageId":"`+id+`"}`)
				} else {
					want = http.StatusCreated
					r = call("POST", "/api/v1/apps/"+app+"/recipients", key, `{"recipientId":"`+id+`"}`)
				}
				switch {
				case r.err != nil:
					fail("%s: no answer (%v)", id, r.err)
				case r.status == want && want == http.StatusAccepted:
					accepted.Store(id, true)
					nAccepted.Add(1)
				case r.status == want:
					created.Store(id, true)
					nCreated.Add(1)
				case r.status == http.StatusServiceUnavailable:
					n503.Add(1)
					// The Webhooks API's error body as its spec declares a 503, with the header to retry after.
					if r.header.Get("Retry-After") == "" || r.body["code"] != "unavailable" || r.body["message"] == nil {
						fail("%s: 503 without Retry-After or the surface's error body: %v %v", id, r.header, r.body)
					}
					time.Sleep(100 * time.Millisecond)
				default:
					fail("%s: %d %v", id, r.status, r.body)
				}
			}
		}()
	}
	waitFor(t, 30*time.Second, "100 messages accepted", func() bool { return nAccepted.Load() >= 100 })
	if err := primary.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	acceptedAtStop := nAccepted.Load()
	time.Sleep(1500 * time.Millisecond) // the gap: no writable database
	gap503 := n503.Load()
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	promotedAt := time.Now()
	waitFor(t, 60*time.Second, "100 messages accepted after the promotion", func() bool { return nAccepted.Load() >= acceptedAtStop+100 })
	recoveredAt := time.Now()
	stop.Store(true)
	wg.Wait()

	// Everything answered 202 is delivered (the workers reconnected too), every 201 is there.
	var missing []string
	for deadline := time.Now().Add(75 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		missing = missing[:0]
		mu.Lock()
		accepted.Range(func(k, _ any) bool {
			if seen[k.(string)] == 0 {
				missing = append(missing, k.(string))
			}
			return true
		})
		mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	deliveredAt := time.Now()
	lost := 0
	created.Range(func(k, _ any) bool {
		if r := call("GET", "/api/v1/apps/"+app+"/recipients/"+k.(string), key, ""); r.status != http.StatusOK {
			lost++
			if lost <= 5 {
				t.Errorf("recipient %s answered 201 before, now %d %v", k, r.status, r.body)
			}
		}
		return true
	})
	t.Logf("%d messages accepted (%d before the primary stopped), %d recipients created, %d answers 503 (%d in the 1.5 s gap); "+
		"promoted %.1f s after the stop, 100 more accepted %.1f s after the promotion, every message delivered %.1f s after it "+
		"(%d missing); %d recipients lost; %.1f s in all, %.1f s of them to start PostgreSQL, its standby and serve",
		nAccepted.Load(), acceptedAtStop, nCreated.Load(), n503.Load(), gap503, promotedAt.Sub(stoppedAt).Seconds(),
		recoveredAt.Sub(promotedAt).Seconds(), deliveredAt.Sub(promotedAt).Seconds(), len(missing), lost,
		time.Since(began).Seconds(), ready.Sub(began).Seconds())
	if len(missing) > 0 {
		t.Errorf("%d messages answered 202 were never delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if lost > 0 {
		t.Errorf("%d recipients answered 201 are gone", lost)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if gap503 == 0 {
		t.Error("no request was answered 503 while there was no primary: the gap was not exercised")
	}
}
