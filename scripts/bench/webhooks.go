package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store"
)

// webhookBench measures the Webhooks API and its delivery engine, everything on this machine
// (PostgreSQL durable, server, workers, receiver and load generator):
//
//   - sustained rate: rate messages/s for d, each to one endpoint; p50/p95/p99 from the 202 to
//     the receiver's arrival, and none lost;
//   - throughput: 32 senders as fast as they can for d2; accepted and delivered per second;
//   - fan-out: one message to 100 endpoints; time from the 202 until all 100 have it.
func webhookBench(rate int, d, d2 time.Duration) error {
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	dsn, db, base, quiet := st.dsn, st.db, st.base, st.quiet
	runner, err := worker.Start(ctx, dsn, db, worker.Options{Logger: quiet, AllowPrivate: true})
	if err != nil {
		return err
	}
	defer func() { _ = runner.Stop(ctx) }()

	recv := newHookReceiver(ctx)
	defer recv.Close()
	_, key, err := st.workspace(ctx)
	if err != nil {
		return err
	}
	c := &hookClient{base: base, key: key, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	app, err := c.json(ctx, "POST", "/api/v1/apps", `{"name":"bench"}`)
	if err != nil {
		return err
	}
	appPath := "/api/v1/apps/" + app["appId"].(string)
	if _, err := c.json(ctx, "PUT", appPath+"/event-types/order.created", `{}`); err != nil {
		return err
	}
	for _, r := range []string{"one", "fan"} {
		if _, err := c.json(ctx, "POST", appPath+"/recipients", `{"recipientId":"`+r+`"}`); err != nil {
			return err
		}
	}
	if _, err := c.json(ctx, "POST", appPath+"/recipients/one/endpoints", `{"url":"`+recv.url+`/one"}`); err != nil {
		return err
	}
	for i := range 100 {
		if _, err := c.json(ctx, "POST", appPath+"/recipients/fan/endpoints", fmt.Sprintf(`{"url":"%s/fan/%d"}`, recv.url, i)); err != nil {
			return err
		}
	}
	fmt.Printf("webhooks bench: PostgreSQL durable, server, workers, receiver and load on one machine (%d CPUs)\n", runtimeCPUs(ctx))

	// 1. Sustained rate, open model: a send starts every 1/rate s whatever the answers do.
	send := func(id string, recipient string) (time.Time, bool) {
		ok := c.send(ctx, appPath, `{"recipientId":"`+recipient+`","eventType":"order.created","data":{"id":"`+id+`"},"messageId":"`+id+`"}`)
		return time.Now(), ok
	}
	var accepted sync.Map // id → time of the 202
	var nOK, nErr atomic.Int64
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	cpu0 := cpuNow()
	start := time.Now()
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("s%d", i)
			if at, ok := send(id, "one"); ok {
				accepted.Store(id, at)
				nOK.Add(1)
			} else {
				nErr.Add(1)
			}
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	drainUntil := time.Now().Add(2 * time.Minute)
	for recv.count("s") < int(nOK.Load()) && time.Now().Before(drainUntil) {
		time.Sleep(50 * time.Millisecond)
	}
	cpu := cpuNow().sub(cpu0)
	var lat []time.Duration
	lost := 0
	accepted.Range(func(k, v any) bool {
		if at, ok := recv.arrival(k.(string)); ok {
			lat = append(lat, max(0, at.Sub(v.(time.Time))))
		} else {
			lost++
		}
		return true
	})
	p := percentiles(lat)
	fmt.Printf("sustained: %d messages offered at %d/s over %s (%.0f/s achieved), %d accepted (202), %d errors\n",
		total, rate, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), nOK.Load(), nErr.Load())
	fmt.Printf("sustained: 202 → arrival p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; %d lost, %d duplicates (target p99 <= 250 ms, none lost)\n",
		p(0.50), p(0.95), p(0.99), p(1), lost, recv.duplicates())
	if n := float64(nOK.Load()); n > 0 {
		fmt.Printf("sustained: CPU per message (accepted, delivered): PostgreSQL %.0f µs, server+workers+receiver+load %.0f µs\n",
			cpu.postgres/n*1e6, cpu.client/n*1e6)
	}

	// 2. Throughput: 32 closed-loop senders for d2.
	if os.Getenv("BENCH_WAITS") != "" {
		go sampleWaits(db, d2)
	}
	if os.Getenv("BENCH_STATEMENTS") != "" {
		_, _ = db.SQL().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
		_, _ = db.SQL().ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	}
	var n2 atomic.Int64
	before := recv.count("t")
	start = time.Now()
	stop := start.Add(d2)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				if _, ok := send(fmt.Sprintf("t%d_%d", g, i), "one"); ok {
					n2.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	deliveredDuring := recv.count("t") - before
	drainUntil = time.Now().Add(2 * time.Minute)
	for recv.count("t") < int(n2.Load()) && time.Now().Before(drainUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	fmt.Printf("throughput (32 senders, %s): %.0f messages/s accepted; %.0f deliveries/s while sending; all %d delivered in %s: %.0f deliveries/s end to end (goal >= 2000/s)\n",
		d2, float64(n2.Load())/sent.Seconds(), float64(deliveredDuring)/sent.Seconds(), recv.count("t"), all.Round(time.Millisecond),
		float64(recv.count("t"))/all.Seconds())
	if os.Getenv("BENCH_STATEMENTS") != "" {
		printStatements(db)
	}

	// 3. Fan-out: one message to 100 endpoints, five times.
	var fans []time.Duration
	for i := range 5 {
		id := fmt.Sprintf("f%d", i)
		at, ok := send(id, "fan")
		if !ok {
			return fmt.Errorf("fan-out send failed")
		}
		until := time.Now().Add(time.Minute)
		for recv.count(id) < 100 && time.Now().Before(until) {
			time.Sleep(2 * time.Millisecond)
		}
		last, _ := recv.arrival(id)
		fans = append(fans, last.Sub(at))
		time.Sleep(200 * time.Millisecond)
	}
	sort.Slice(fans, func(i, j int) bool { return fans[i] < fans[j] })
	fmt.Printf("fan-out: 1 message to 100 endpoints, 202 → last of 100 arrivals: median %.1f ms, worst %.1f ms (5 runs)\n",
		ms(fans[2]), ms(fans[4]))
	if lost > 0 {
		return fmt.Errorf("%d accepted messages were not delivered", lost)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentiles(all []time.Duration) func(float64) float64 {
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return ms(all[int(p*float64(len(all)-1))])
	}
}

type hookClient struct {
	base, key string
	http      *http.Client
}

func (c *hookClient) do(ctx context.Context, method, path, body string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	return c.http.Do(req)
}

func (c *hookClient) json(ctx context.Context, method, path, body string) (map[string]any, error) {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out, nil
}

func (c *hookClient) send(ctx context.Context, appPath, body string) bool {
	resp, err := c.do(ctx, "POST", appPath+"/messages", body)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

// hookReceiver is a local webhook endpoint recording when each message arrived.
type hookReceiver struct {
	srv  *http.Server
	url  string
	mu   sync.Mutex
	seen map[string]bool      // webhook-id and path of every arrival
	last map[string]time.Time // webhook-id → last arrival
	n    map[string]int       // webhook-id → distinct arrivals
	by   map[string]int       // first letter of the id → distinct arrivals
	dups int
}

func newHookReceiver(ctx context.Context) *hookReceiver {
	r := &hookReceiver{seen: map[string]bool{}, last: map[string]time.Time{}, n: map[string]int{}, by: map[string]int{}}
	ln, _ := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	r.url = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		now := time.Now()
		id := req.Header.Get("webhook-id")
		key := id + " " + req.URL.Path
		r.mu.Lock()
		if r.seen[key] {
			r.dups++
		} else {
			r.seen[key] = true
			r.last[id] = now
			r.n[id]++
			r.by[id[:1]]++
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r
}

func (r *hookReceiver) Close() { r.srv.Close() }

// count is the number of distinct arrivals of ids starting with prefix (one letter), or of
// the id itself when it is longer.
func (r *hookReceiver) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(prefix) == 1 {
		return r.by[prefix]
	}
	return r.n[prefix]
}

// total is the number of distinct arrivals.
func (r *hookReceiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *hookReceiver) arrival(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.last[id]
	return t, ok
}

func (r *hookReceiver) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dups
}

// sampleWaits prints, three times during d, what PostgreSQL's busy backends wait on.
func sampleWaits(db *store.DB, d time.Duration) {
	for range 3 {
		time.Sleep(d / 4)
		var rows []struct {
			Event string `db:"event"`
			Query string `db:"query"`
			N     int    `db:"n"`
		}
		_ = db.SQL().Select(&rows, `SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') AS event, left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query, count(*) AS n
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND state <> 'idle' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10`)
		for _, r := range rows {
			fmt.Printf("  waits: %3d %-28s %s\n", r.N, r.Event, r.Query)
		}
		fmt.Println("  --")
	}
}
