package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ingestBench measures the Ingest side, everything on this machine (PostgreSQL durable, server,
// workers, the destination and the load generator), with a stripe source verifying every
// request (Stripe-Signature, HMAC-SHA256 of "t.body", signed here as Stripe signs):
//
//   - sustained rate: rate requests/s for d to the source's URL, open model; p50/p95/p99 from
//     the request to its 200, and from the request to the destination's arrival; none lost,
//     none duplicated; CPU per event across PostgreSQL and this process (server, workers,
//     destination and load generator);
//   - maximum rate: 32 senders as fast as they go for d2; received and forwarded per second.
func ingestBench(rate int, d, d2 time.Duration) error {
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	recv, err := startReceiver(ctx)
	if err != nil {
		return err
	}
	defer recv.Close()
	ws, err := st.db.CreateWorkspace(ctx, "bench")
	if err != nil {
		return err
	}
	_, key, err := st.db.CreateAPIKey(ctx, ws.ID, "bench", []string{"*"}, nil)
	if err != nil {
		return err
	}
	c := &hookClient{base: st.base, key: key, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	const secret = "whsec_bench_stripe_secret"
	src, err := c.json(ctx, "POST", "/api/v1/ingest/sources", `{"name":"Stripe","type":"stripe","secret":"`+secret+`"}`)
	if err != nil {
		return err
	}
	if _, err := c.json(ctx, "POST", "/api/v1/ingest/destinations",
		`{"url":"`+recv.url+`/stripe","sourceIds":["`+src["sourceId"].(string)+`"],"eventTypes":["invoice.*"]}`); err != nil {
		return err
	}
	url := src["url"].(string)
	fmt.Printf("ingest bench: stripe source verifying every request; PostgreSQL durable, server, workers, destination and load on one machine (%d CPUs)\n",
		runtimeCPUs(ctx))

	// receive posts one Stripe-signed event and returns its event id when answered 200.
	receive := func(id string) (string, bool) {
		body := `{"id":"` + id + `","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":1200,"currency":"usd"}}}`
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + body))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
		resp, err := c.http.Do(req)
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out struct {
			EventID string `json:"eventId"`
			Status  string `json:"status"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Status != "accepted" {
			return "", false
		}
		return out.EventID, true
	}

	if os.Getenv("BENCH_STATEMENTS") != "" {
		_, _ = st.db.SQL().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
		_, _ = st.db.SQL().ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	}
	// 1. Sustained rate, open model.
	type timing struct{ sent, answered time.Time }
	var accepted sync.Map // event id → timing
	var nOK, nErr atomic.Int64
	var answerLat []time.Duration
	var latMu sync.Mutex
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
			sent := time.Now()
			id, ok := receive(fmt.Sprintf("evt_s%d", i))
			if !ok {
				nErr.Add(1)
				return
			}
			now := time.Now()
			accepted.Store(id, timing{sent, now})
			nOK.Add(1)
			latMu.Lock()
			answerLat = append(answerLat, now.Sub(sent))
			latMu.Unlock()
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	drainUntil := time.Now().Add(2 * time.Minute)
	for recv.total() < int(nOK.Load()) && time.Now().Before(drainUntil) {
		time.Sleep(50 * time.Millisecond)
	}
	cpu := cpuNow().sub(cpu0)
	arrived := recv.arrivals("")
	var fwdLat []time.Duration
	lost := 0
	accepted.Range(func(k, v any) bool {
		if at, ok := arrived[k.(string)]; ok {
			fwdLat = append(fwdLat, max(0, at.Sub(v.(timing).sent)))
		} else {
			lost++
		}
		return true
	})
	pa, pf := percentiles(answerLat), percentiles(fwdLat)
	fmt.Printf("sustained: %d requests offered at %d/s over %s (%.0f/s achieved), %d answered 200, %d errors\n",
		total, rate, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), nOK.Load(), nErr.Load())
	fmt.Printf("sustained: receive → 200 p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 <= 20 ms)\n",
		pa(0.50), pa(0.95), pa(0.99), pa(1))
	fmt.Printf("sustained: receive → forwarded p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; %d lost, %d duplicates (target p99 <= 250 ms, none lost)\n",
		pf(0.50), pf(0.95), pf(0.99), pf(1), lost, recv.duplicates())
	fmt.Printf("  (the real serve binary with its default logging; load average %s)\n", loadAvg())
	if n := float64(nOK.Load()); n > 0 {
		fmt.Printf("sustained: CPU per event (received, verified, recorded, forwarded): %s\n", cpu.perItem(n))
	}

	printStatements(st.db)

	// 2. Maximum rate: 32 closed-loop senders for d2.
	var n2 atomic.Int64
	before := recv.total()
	start = time.Now()
	stop := start.Add(d2)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				if _, ok := receive(fmt.Sprintf("evt_t%d_%d", g, i)); ok {
					n2.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	during := recv.total() - before
	drainUntil = time.Now().Add(2 * time.Minute)
	for recv.total()-before < int(n2.Load()) && time.Now().Before(drainUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(start)
	fmt.Printf("maximum (32 senders, %s): %.0f requests/s received and verified; %.0f forwarded/s while receiving; all %d forwarded in %s: %.0f/s end to end\n",
		d2, float64(n2.Load())/sent.Seconds(), float64(during)/sent.Seconds(), recv.total()-before, all.Round(time.Millisecond),
		float64(recv.total()-before)/all.Seconds())
	if lost > 0 {
		return fmt.Errorf("%d events answered 200 were not forwarded", lost)
	}
	return nil
}
