package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// webhookBench measures the Webhooks API and its delivery engine as a user runs them: the
// serve binary, PostgreSQL durable, and the receiver and this load generator in processes of
// their own, all on this machine:
//
//   - sustained rates: rate messages/s for d, then rate2 messages/s for d2, each to one
//     endpoint, open model; p50/p95/p99 from the 202 to the receiver's arrival, none lost, and
//     the CPU of every process per message;
//   - throughput: 32 senders as fast as they can for burst; accepted and delivered per second,
//     and the CPU of every process per delivered message;
//   - fan-out: one message to 100 endpoints; time from the 202 until all 100 have it.
func webhookBench(rate int, d time.Duration, rate2 int, d2, burst time.Duration) error {
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	db, base := st.db, st.base
	recv, err := startReceiver(ctx)
	if err != nil {
		return err
	}
	defer recv.Close()
	_, key, err := st.workspace(ctx)
	if err != nil {
		return err
	}
	c := &hookClient{base: base, key: key, http: &http.Client{}}
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
	fmt.Printf("webhooks bench: the real `switchboard serve` binary with its default logging, PostgreSQL durable (fsync on), load generator and receiver in their own processes, all on one machine (%d CPUs, load average %s)\n",
		runtimeCPUs(ctx), loadAvg())

	pool := make(chan *rawConn, 512)
	auth := "Authorization: Bearer " + key
	// send posts one message and returns the time of its 202.
	send := func(id string, recipient string) (time.Time, bool) {
		var rc *rawConn
		select {
		case rc = <-pool:
		default:
			rc = newRawConn(base)
		}
		status, err := rc.post(appPath+"/messages", []byte(`{"recipientId":"`+recipient+`","eventType":"order.created","data":{"id":"`+id+`"},"messageId":"`+id+`"}`), auth)
		at := time.Now()
		select {
		case pool <- rc:
		default:
			rc.reset()
		}
		return at, err == nil && status == http.StatusAccepted
	}

	lost := 0
	// 1. Sustained rates, open model: a send starts every 1/rate s whatever the answers do.
	sustained := func(prefix string, rate int, d time.Duration, goalP99 float64) {
		var accepted sync.Map // id → time of the 202
		var nOK, nErr atomic.Int64
		total := int(float64(rate) * d.Seconds())
		interval := time.Second / time.Duration(rate)
		sem := make(chan struct{}, 256)
		var wg sync.WaitGroup
		logged := st.logBytes()
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
				id := fmt.Sprintf("%s%d", prefix, i)
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
		for recv.count(prefix) < int(nOK.Load()) && time.Now().Before(drainUntil) {
			time.Sleep(50 * time.Millisecond)
		}
		cpu := cpuNow().sub(cpu0)
		arrived := recv.arrivals(prefix)
		var lat, early []time.Duration
		missing := 0
		warm := start.Add(3 * time.Second)
		accepted.Range(func(k, v any) bool {
			at, ok := arrived[k.(string)]
			if !ok {
				missing++
				return true
			}
			l := max(0, at.Sub(v.(time.Time)))
			lat = append(lat, l)
			if v.(time.Time).Before(warm) {
				early = append(early, l)
			}
			return true
		})
		lost += missing
		p, pe := percentiles(lat), percentiles(early)
		_, dups, _, _ := recv.stats()
		fmt.Printf("sustained %d/s: %d messages offered over %s (%.0f/s achieved), %d accepted (202), %d errors\n",
			rate, total, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), nOK.Load(), nErr.Load())
		fmt.Printf("sustained %d/s: 202 → arrival p50 %.1f ms, p95 %.1f ms, p99 %.1f ms %s, max %.1f ms; first 3 s p99 %.1f ms; %d lost, %d duplicates so far\n",
			rate, p(0.50), p(0.95), p(0.99), vsGoal(p(0.99), goalP99, false, " ms"), p(1), pe(0.99), missing, dups)
		if n := float64(nOK.Load()); n > 0 {
			fmt.Printf("sustained %d/s: CPU per message (accepted, delivered): %s %s; server log %.0f B per message\n",
				rate, cpu.perItem(n), vsGoal(cpu.all()/n*1e3, 0.45, false, " ms"), float64(st.logBytes()-logged)/n)
		}
	}
	sustained("s", rate, d, 50)
	sustained("r", rate2, d2, 150)

	// 2. Throughput: 32 closed-loop senders for burst.
	if os.Getenv("BENCH_WAITS") != "" {
		go sampleWaits(db, burst)
	}
	_, _ = db.SQL().ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	var n2 atomic.Int64
	var ids sync.Map
	conns0 := recv.conns()
	var wg sync.WaitGroup
	cpu0 := cpuNow()
	start := time.Now()
	stop := start.Add(burst)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				id := fmt.Sprintf("t%d_%d", g, i)
				if _, ok := send(id, "one"); ok {
					n2.Add(1)
					ids.Store(id, true)
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	deliveredDuring := recv.count("t")
	drainUntil := time.Now().Add(2 * time.Minute)
	for recv.count("t") < int(n2.Load()) && time.Now().Before(drainUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	cpu := cpuNow().sub(cpu0)
	delivered := recv.count("t")
	arrived := recv.arrivals("t")
	missing := 0
	ids.Range(func(k, _ any) bool {
		if _, ok := arrived[k.(string)]; !ok {
			missing++
		}
		return true
	})
	lost += missing
	e2e := float64(delivered) / all.Seconds()
	fmt.Printf("throughput (32 senders, %s): %.0f messages/s accepted; %.0f deliveries/s while sending; all %d delivered in %s: %.0f deliveries/s end to end %s; %d lost\n",
		burst, float64(n2.Load())/sent.Seconds(), float64(deliveredDuring)/sent.Seconds(), delivered, all.Round(time.Millisecond),
		e2e, vsGoal(e2e, 4000, true, "/s"), missing)
	if delivered > 0 {
		fmt.Printf("throughput: CPU per delivered message: %s %s; the server opened %d connections to the receiver\n", cpu.perItem(float64(delivered)),
			vsGoal(cpu.all()/float64(delivered)*1e3, 0.45, false, " ms"), recv.conns()-conns0)
	}
	printStatements(db)

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
		last := recv.arrivals(id)[id]
		fans = append(fans, last.Sub(at))
		time.Sleep(200 * time.Millisecond)
	}
	sort.Slice(fans, func(i, j int) bool { return fans[i] < fans[j] })
	fmt.Printf("fan-out: 1 message to 100 endpoints, 202 → last of 100 arrivals: median %.1f ms, worst %.1f ms (5 runs)\n",
		ms(fans[2]), ms(fans[4]))
	_, dups, _, _ := recv.stats()
	fmt.Printf("webhooks bench: %d lost, %d duplicates in all; load average at the end %s\n", lost, dups, loadAvg())
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
