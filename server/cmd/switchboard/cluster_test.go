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
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the test reads River's tables

	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

// node is one `serve` process of a test with several, and what its log said of River's
// leadership.
type node struct {
	name string
	run  *running
	mu   sync.Mutex
	id   string // its River client id (worker_id)
	// leader is what its last "river leadership" line said; since, when it said so.
	leader bool
	since  time.Time
	killed bool
}

func (n *node) watch(line string) {
	var l struct {
		Msg      string `json:"msg"`
		WorkerID string `json:"worker_id"`
		Leader   *bool  `json:"leader"`
	}
	if !strings.Contains(line, `"worker_id"`) || json.Unmarshal([]byte(line), &l) != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case l.Msg == "workers started":
		n.id = l.WorkerID
	case l.Msg == "river leadership" && l.Leader != nil:
		n.leader, n.since = *l.Leader, time.Now()
	}
}

func (n *node) state() (leader bool, since time.Time, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader && !n.killed, n.since, n.id
}

// cluster is the processes of a test and the database they share.
type cluster struct {
	t     *testing.T
	bin   string
	env   []string
	mu    sync.Mutex
	nodes []*node
}

func (c *cluster) start(name string) *node {
	c.t.Helper()
	n := &node{name: name}
	n.run = startEnv(c.t, c.bin, c.env, n.watch)
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n
}

// live returns the processes still running.
func (c *cluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		n.mu.Lock()
		if !n.killed {
			out = append(out, n)
		}
		n.mu.Unlock()
	}
	return out
}

// leaders returns the live processes that say they are River's leader.
func (c *cluster) leaders() []*node {
	var out []*node
	for _, n := range c.live() {
		if l, _, _ := n.state(); l {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) remove(n *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.nodes {
		if m == n {
			c.nodes = append(c.nodes[:i], c.nodes[i+1:]...)
			return
		}
	}
}

// TestSeveralProcessesLoseOne: three `serve` processes of the real binary on one database,
// under a sustained load of webhook messages spread over them. River's leader is SIGKILLed
// and another process restarted (SIGINT, then started again) mid-run. Every message answered
// 202 is delivered; duplicates are counted and reported, and are at most the deliveries the
// killed process had running (River rescues those after SWITCHBOARD_JOB_RESCUE_AFTER, 5 s
// here); exactly one live process is the leader at any time (the one promoting due jobs and
// inserting the periodic jobs), and leadership moves to a survivor when the leader dies, which
// then inserts the periodic retention job again.
func TestSeveralProcessesLoseOne(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("about a minute: a dead leader's term expires before another process is elected")
	}
	began := time.Now()
	root, err := os.MkdirTemp("", "switchboard-cluster-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	pg, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: filepath.Join(root, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	bin := binary(t)
	db, err := sql.Open("postgres", pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ready := time.Now()
	c := &cluster{t: t, bin: bin, env: []string{"DATABASE_URL=" + pg.DSN("postgres"), "SWITCHBOARD_ADMIN_TOKEN=cluster-admin",
		"SWITCHBOARD_ENCRYPTION_KEY=" + seal.GenerateKey(), "SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=true",
		"SWITCHBOARD_DATA_DIR=" + filepath.Join(root, "data"), "SWITCHBOARD_ADDR=127.0.0.1:0",
		"SWITCHBOARD_JOB_RESCUE_AFTER=5s", "SWITCHBOARD_LOG_LEVEL=info"}}
	t.Cleanup(func() {
		for _, n := range c.live() {
			n.run.stop(t)
		}
	})
	// The first applies the migrations; the other two start beside each other.
	c.start("a")
	var wg sync.WaitGroup
	for _, name := range []string{"b", "c"} {
		wg.Add(1)
		go func() { defer wg.Done(); c.start(name) }()
	}
	wg.Wait()

	var mu sync.Mutex
	seen := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // deliveries are in flight when a process dies
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	call := func(base, method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	must := func(status int, out map[string]any) map[string]any {
		t.Helper()
		if status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("setup call: %d %v", status, out)
		}
		return out
	}
	base := c.live()[0].run.base
	ws := must(call(base, "POST", "/admin/v1/workspaces", "cluster-admin", `{"name":"cluster"}`))["id"].(string)
	key := must(call(base, "POST", "/admin/v1/workspaces/"+ws+"/api-keys", "cluster-admin", `{"name":"k","permissions":["*"]}`))["key"].(string)
	app := must(call(base, "POST", "/api/v1/apps", key, `{"name":"cluster"}`))["appId"].(string)
	must(call(base, "PUT", "/api/v1/apps/"+app+"/event-types/order.created", key, `{}`))
	must(call(base, "POST", "/api/v1/apps/"+app+"/recipients", key, `{"recipientId":"c1"}`))
	must(call(base, "POST", "/api/v1/apps/"+app+"/recipients/c1/endpoints", key, `{"url":"`+recv.URL+`"}`))

	// Exactly one of the three is the leader.
	var leader *node
	waitFor(t, 30*time.Second, "a leader", func() bool {
		ls := c.leaders()
		if len(ls) > 1 {
			t.Fatalf("%d processes say they are the leader at once", len(ls))
		}
		if len(ls) == 1 {
			leader = ls[0]
		}
		return leader != nil
	})
	_, _, leaderID := leader.state()

	// Six senders, spread over the live processes, until stopped; only 202s count.
	var accepted sync.Map
	var nAccepted, nRefused atomic.Int64
	var stop atomic.Bool
	var senders sync.WaitGroup
	for g := range 6 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := 0; !stop.Load(); i++ {
				live := c.live()
				if len(live) == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				id := fmt.Sprintf("m%d_%d", g, i)
				status, _ := call(live[(g+i)%len(live)].run.base, "POST", "/api/v1/apps/"+app+"/messages", key,
					`{"recipientId":"c1","eventType":"order.created","data":{"i":1},"messageId":"`+id+`"}`)
				if status == http.StatusAccepted {
					accepted.Store(id, true)
					nAccepted.Add(1)
				} else {
					nRefused.Add(1)
				}
			}
		}()
	}
	waitFor(t, 30*time.Second, "200 messages accepted", func() bool { return nAccepted.Load() >= 200 })
	t.Logf("%.1f s: %d messages accepted, killing the leader %s", time.Since(began).Seconds(), nAccepted.Load(), leaderID)

	// SIGKILL the leader, and count the deliveries it was running.
	leader.mu.Lock()
	leader.killed = true
	leader.mu.Unlock()
	killedAt := time.Now()
	if err := leader.run.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-leader.run.done; err == nil {
		t.Error("the killed leader exited cleanly")
	}
	var inFlight int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'running' AND queue = 'webhooks'
		AND attempted_by[array_length(attempted_by, 1)] = $1`, leaderID).Scan(&inFlight); err != nil {
		t.Fatal(err)
	}
	acceptedAtKill := nAccepted.Load()

	// Restart another process (graceful: its running jobs finish), while the load goes on.
	waitFor(t, 30*time.Second, "200 more messages accepted", func() bool { return nAccepted.Load() >= acceptedAtKill+150 })
	restarted := c.live()[0]
	c.remove(restarted) // no more requests to it
	restarted.run.stop(t)
	c.start(restarted.name + "2")
	waitFor(t, 30*time.Second, "200 more messages accepted after the restart", func() bool {
		return nAccepted.Load() >= acceptedAtKill+300
	})
	// A survivor takes the lead once the dead leader's term expires; never two at once. The
	// load goes on meanwhile.
	var next *node
	waitFor(t, 45*time.Second, "a new leader", func() bool {
		ls := c.leaders()
		if len(ls) > 1 {
			t.Fatalf("%d processes say they are the leader at once", len(ls))
		}
		if len(ls) == 1 {
			next = ls[0]
		}
		return next != nil
	})
	_, electedAt, nextID := next.state()
	if nextID == leaderID {
		t.Fatalf("the new leader has the dead leader's id %s", leaderID)
	}
	var leaderRow string
	if err := db.QueryRow(`SELECT leader_id FROM river_leader`).Scan(&leaderRow); err != nil || leaderRow != nextID {
		t.Errorf("river_leader names %q (%v), the process that says it leads is %s", leaderRow, err, nextID)
	}

	t.Logf("%.1f s: new leader %s", time.Since(began).Seconds(), nextID)
	waitFor(t, 30*time.Second, "100 more messages accepted under the new leader", func() bool {
		return nAccepted.Load() >= acceptedAtKill+400
	})
	stop.Store(true)
	senders.Wait()
	loadEnded := time.Now()
	t.Logf("%.1f s: load stopped", time.Since(began).Seconds())
	// Every accepted message arrives.
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
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
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%.1f s: %d missing", time.Since(began).Seconds(), len(missing))
	// The periodic retention job runs on: the new leader inserts it (RunOnStart), or, when the
	// dead leader was running it, rescues it (River's rescuer runs on the leader); either way a
	// survivor completes one after the kill. Never more than one waits or runs at a time (its
	// unique states).
	var retentionDone, retentionOpen int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := db.QueryRow(`SELECT
				count(*) FILTER (WHERE state = 'completed' AND finalized_at >= $1 AND attempted_by[array_length(attempted_by, 1)] <> $2),
				count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded'))
			FROM river_job WHERE kind = 'webhook_retention'`, killedAt, leaderID).Scan(&retentionDone, &retentionOpen); err != nil {
			t.Fatal(err)
		}
		if retentionOpen > 1 || retentionDone > 0 || time.Now().After(deadline) {
			break
		}
	}
	logRetentionJobs(t, db, killedAt)
	mu.Lock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("%d messages accepted (%d requests refused or cut off by the kill and restart), %d missing, %d delivered twice "+
		"(the killed leader had %d deliveries running); leadership moved from %s to %s %.1f s after the kill (load ended %.1f s after it); "+
		"%d retention runs completed by a survivor since the kill, %d unfinished; %.1f s in all, %.1f s of them to start PostgreSQL and build",
		nAccepted.Load(), nRefused.Load(), len(missing), dups, inFlight, leaderID, nextID, electedAt.Sub(killedAt).Seconds(),
		loadEnded.Sub(killedAt).Seconds(), retentionDone, retentionOpen, time.Since(began).Seconds(), ready.Sub(began).Seconds())
	if len(missing) > 0 {
		t.Errorf("%d messages answered 202 were never delivered, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if dups > inFlight {
		t.Errorf("%d duplicates, more than the %d deliveries the killed process had running", dups, inFlight)
	}
	if retentionDone < 1 {
		t.Error("no survivor ran the periodic retention job after the leader died")
	}
	if retentionOpen > 1 {
		t.Errorf("%d retention jobs unfinished at once", retentionOpen)
	}

	// The real binary's /metrics, with the workers' pool and the deliveries just made.
	status, body := func() (int, string) {
		req, _ := http.NewRequest("GET", next.run.base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer cluster-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}()
	for _, want := range []string{`switchboard_pgx_pool_max_connections{db_name="river"}`,
		`switchboard_webhook_deliveries_total{outcome="delivered",side="dispatch"}`, `switchboard_queue_oldest_due_seconds{queue="webhooks"}`} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET /metrics: %d, no %s", status, want)
		}
	}
}

// waitFor polls cond every 50 ms until it holds, or fails the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logRetentionJobs logs every retention job: when it was inserted, relative to the kill, and
// which processes ran it.
func logRetentionJobs(t *testing.T, db *sql.DB, killedAt time.Time) {
	t.Helper()
	rows, err := db.Query(`SELECT id, state, created_at, coalesce(array_to_string(attempted_by, ','), '') FROM river_job
		WHERE kind = 'webhook_retention' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var state, by string
		var at time.Time
		if err := rows.Scan(&id, &state, &at, &by); err != nil {
			t.Fatal(err)
		}
		t.Logf("retention job %d: %s, inserted %+.1f s from the kill, run by %s", id, state, at.Sub(killedAt).Seconds(), by)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
