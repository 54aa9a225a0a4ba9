package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// storedOptions configure the stored-messages benchmark.
type storedOptions struct {
	messages  int           // stored messages to load (each with a delivery and an attempt)
	days      int           // spread over this many past days
	loadConns int           // connections loading at once
	rate      int           // messages/s of the fixed-rate send run
	rateFor   time.Duration // its duration
	burstFor  time.Duration // duration of the 32-sender run
	gets      int           // requests per kind of read
}

// storedSettings are the PostgreSQL settings of both stacks of the benchmark, on top of the
// durable defaults every bench uses: a larger max_wal_size, so a load of gigabytes is not one
// checkpoint every few seconds (a bulk load's usual setting; the runs get it too, alike).
var storedSettings = []string{"max_wal_size=8GB"}

// storedBytesPerMessage is an estimate of the disk one stored message takes with its delivery,
// its attempt and their index entries (1,410–1,430 B measured at 100,000, 1,313 B at 10 million),
// plus max_wal_size of WAL, to refuse a load the disk cannot hold before starting it. The size
// after the load is measured and printed.
const storedBytesPerMessage, storedWALBytes = 1450, 8 << 30

// storedBench answers: does Switchboard cost the same with a database that holds weeks of
// traffic as with an empty one? It starts two stacks the same way (PostgreSQL and the real
// serve binary, each with the same fixtures created through the API): one stays empty, the
// other is loaded with o.messages stored messages (each delivered, with its delivery and its
// attempt) spread over the past o.days days, several apps and two workspaces. Then it runs the
// same measurements on both through the HTTP API, alternately, empty-stored-stored-empty, each
// half as long (a shared machine whose speed drifts then weighs on both sides alike), and
// prints each figure for both with the ratio and the goal: within 10 %.
func storedBench(o storedOptions) error {
	ctx := context.Background()
	recv, err := startReceiver(ctx)
	if err != nil {
		return err
	}
	defer recv.Close()
	fmt.Printf("webhooks stored bench: %d stored messages against an empty database; the real `switchboard serve` binary with its default logging, PostgreSQL durable (fsync on, %s), load generator and receiver in their own processes, all on one machine (%d CPUs, load average %s)\n",
		o.messages, strings.Join(storedSettings, " "), runtimeCPUs(ctx), loadAvg())
	if need, free := uint64(o.messages)*storedBytesPerMessage+storedWALBytes, freeDisk(os.TempDir()); need > free*9/10 {
		return fmt.Errorf("%d stored messages need about %.1f GB in %s, which has %.1f GB free", o.messages, float64(need)/1e9, os.TempDir(), float64(free)/1e9)
	}
	var sides [2]*storedSide
	for i, name := range []string{"empty", "stored"} {
		sd, err := newStoredSide(ctx, recv, name)
		if err != nil {
			return err
		}
		defer sd.st.close()
		sides[i] = sd
	}
	empty, stored := sides[0], sides[1]
	stored.activate()
	if err := loadAndSettle(ctx, stored.st, stored.fx, o.messages, o); err != nil {
		return err
	}
	// BENCH_STORED_PAUSE (a Go duration) waits that long after the load, to look at both
	// databases with psql while nothing runs.
	if d, err := time.ParseDuration(os.Getenv("BENCH_STORED_PAUSE")); err == nil {
		fmt.Printf("pausing %s: empty database %s, stored database %s\n", d, empty.st.dsn, stored.st.dsn)
		time.Sleep(d)
	}
	fmt.Printf("measuring, empty-stored-stored-empty, each half the time: load average %s\n", loadAvg())
	abba := [4]*storedSide{empty, stored, stored, empty}
	letters := "abcdefghijklmnopqrstuvwxyz"
	next := func() string { l := letters[:1]; letters = letters[1:]; return l }

	// 1. A fixed offered rate, then 32 senders as fast as they can.
	var fixed, burst [2]sendRun
	for _, sd := range abba {
		r := fixedRun(sd, recv, next(), o.rate, o.rateFor/2)
		fmt.Printf("  %s: %d/s for %s: %d accepted, %d delivered, %d lost; load average %s\n", sd.name, o.rate, o.rateFor/2, r.accepted, r.delivered, r.lost, loadAvg())
		fixed[sd.index].add(r)
	}
	for _, sd := range abba {
		r := burstRun(sd, recv, next(), o.burstFor/2)
		fmt.Printf("  %s: 32 senders for %s: %d accepted, %d delivered, %d lost; load average %s\n", sd.name, o.burstFor/2, r.accepted, r.delivered, r.lost, loadAvg())
		burst[sd.index].add(r)
	}
	// 2. Reads, one at a time, kind by kind.
	var reads [2][]readKind
	for i, sd := range sides {
		k, err := storedReadKinds(ctx, sd)
		if err != nil {
			return err
		}
		reads[i] = k
	}
	for _, sd := range sides {
		_, _ = sd.st.db.SQL().ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	}
	var readLat [2][][]time.Duration
	readLat[0], readLat[1] = make([][]time.Duration, len(reads[0])), make([][]time.Duration, len(reads[0]))
	for k := range reads[0] {
		for j, sd := range abba {
			lat, err := readRun(ctx, sd, reads[sd.index][k], o.gets/2, j/2)
			if err != nil {
				return err
			}
			readLat[sd.index][k] = append(readLat[sd.index][k], lat...)
		}
	}

	// Where each side's PostgreSQL spent its time on the reads.
	for _, sd := range sides {
		fmt.Printf("  %s: the reads' statements:\n", sd.name)
		printStatements(sd.st.db)
	}

	var figs [2][]figure
	for i, sd := range sides {
		f, b := fixed[i], burst[i]
		pp, pl := percentiles(f.post), percentiles(f.arrival)
		fmt.Printf("  %s: fixed %d/s for %s: %d accepted (%.0f/s), %d errors; POST p50 %.1f ms p99 %.1f ms; 202 → arrival p50 %.1f ms p99 %.1f ms; %d lost\n",
			sd.name, o.rate, o.rateFor, f.accepted, float64(f.accepted)/f.secs, f.errors, pp(0.5), pp(0.99), pl(0.5), pl(0.99), f.lost)
		figs[i] = append(figs[i],
			figure{name: fmt.Sprintf("send at %d/s: accepted", o.rate), unit: "/s", value: float64(f.accepted) / f.secs, higherBetter: true},
			figure{name: fmt.Sprintf("send at %d/s: POST p99", o.rate), unit: "ms", value: pp(0.99)},
			figure{name: fmt.Sprintf("send at %d/s: deliveries (first send to last arrival)", o.rate), unit: "/s",
				value: float64(f.delivered) / f.deliverSecs, higherBetter: true},
			figure{name: fmt.Sprintf("send at %d/s: 202 → arrival p99", o.rate), unit: "ms", value: pl(0.99)})
		pp = percentiles(b.post)
		fmt.Printf("  %s: 32 senders for %s: %.0f messages/s accepted, POST p99 %.1f ms; %d delivered: %.0f deliveries/s end to end; %d lost\n",
			sd.name, o.burstFor, float64(b.accepted)/b.secs, pp(0.99), b.delivered, float64(b.delivered)/b.deliverSecs, b.lost)
		if b.delivered > 0 {
			fmt.Printf("  %s: 32 senders: CPU per delivered message: %s\n", sd.name, b.cpu.perItem(float64(b.delivered)))
		}
		figs[i] = append(figs[i],
			figure{name: "32 senders: accepted", unit: "/s", value: float64(b.accepted) / b.secs, higherBetter: true},
			figure{name: "32 senders: POST p99", unit: "ms", value: pp(0.99)},
			figure{name: "32 senders: deliveries end to end", unit: "/s", value: float64(b.delivered) / b.deliverSecs, higherBetter: true},
			figure{name: "32 senders: CPU per delivered message, all processes", unit: "µs", value: b.cpu.all() / float64(max(b.delivered, 1)) * 1e6})
		for k, rk := range reads[i] {
			p := percentiles(readLat[i][k])
			fmt.Printf("  %s: %-58s %d requests: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", sd.name, rk.name, len(readLat[i][k]), p(0.5), p(0.99), p(1))
			figs[i] = append(figs[i], figure{name: rk.name + ": p99", unit: "ms", value: p(0.99)})
		}
	}

	fmt.Printf("== empty vs %d stored messages (goal: stored within 10 %% of empty)\n", o.messages)
	fmt.Printf("  %-62s %12s %12s %7s\n", "figure", "empty", "stored", "ratio")
	missed := 0
	for i, e := range figs[0] {
		s := figs[1][i]
		// ratio > 1 is worse for either kind of figure: stored/empty for costs and latencies,
		// empty/stored for rates.
		ratio := 0.0
		switch {
		case e.higherBetter && s.value > 0:
			ratio = e.value / s.value
		case !e.higherBetter && e.value > 0:
			ratio = s.value / e.value
		}
		verdict := "within goal"
		if ratio > 1.10 || ratio == 0 {
			verdict = "NOT within goal"
			missed++
		}
		fmt.Printf("  %-62s %12s %12s %6.2f× %s\n", e.name, e.format(), s.format(), ratio, verdict)
	}
	fmt.Printf("  (ratio: stored/empty for latencies and CPU, empty/stored for rates: 1.10× or less is within goal)\n")
	lost := fixed[0].lost + fixed[1].lost + burst[0].lost + burst[1].lost
	fmt.Printf("webhooks stored bench: %d of %d figures within 10 %%; %d lost in all; load average at the end %s\n",
		len(figs[0])-missed, len(figs[0]), lost, loadAvg())
	if lost > 0 {
		return fmt.Errorf("%d accepted messages were not delivered", lost)
	}
	return nil
}

// figure is one measured value of a run.
type figure struct {
	name         string
	unit         string
	value        float64
	higherBetter bool // a rate; otherwise a latency or a cost
}

func (f figure) format() string {
	if f.unit == "ms" {
		return fmt.Sprintf("%.1f %s", f.value, f.unit)
	}
	return fmt.Sprintf("%.0f %s", f.value, f.unit)
}

// storedSide is one of the two stacks of the benchmark, with its fixtures.
type storedSide struct {
	name      string
	index     int // 0 empty, 1 stored
	st        *stack
	fx        storedFixture
	send      *storedSender
	pg, serve string // the PIDs whose CPU counts while this side is measured
}

var sideCount int

// newStoredSide starts a stack and creates the fixtures on it.
func newStoredSide(ctx context.Context, recv *receiver, name string) (*storedSide, error) {
	st, err := startStack(ctx, storedSettings...)
	if err != nil {
		return nil, err
	}
	fx, err := storedFixtures(ctx, st, recv)
	if err != nil {
		st.close()
		return nil, err
	}
	sd := &storedSide{name: name, index: sideCount, st: st, fx: fx, pg: benchPostmaster, serve: serverPID,
		send: &storedSender{base: st.base, appPath: fx.appPath, auth: "Authorization: Bearer " + fx.key, pool: make(chan *rawConn, 512)}}
	sideCount++
	return sd, nil
}

// activate makes cpuNow count this side's PostgreSQL and server.
func (sd *storedSide) activate() { benchPostmaster, serverPID = sd.pg, sd.serve }

// sendRun is what one send run measured; add merges two runs of one side.
type sendRun struct {
	post, arrival                     []time.Duration // every 202's latency; every delivered message's 202 → arrival
	accepted, errors, delivered, lost int
	secs, deliverSecs                 float64 // sending; from the first send to the last arrival
	cpu                               cpuTimes
}

func (r *sendRun) add(o sendRun) {
	r.post, r.arrival = append(r.post, o.post...), append(r.arrival, o.arrival...)
	r.accepted, r.errors, r.delivered, r.lost = r.accepted+o.accepted, r.errors+o.errors, r.delivered+o.delivered, r.lost+o.lost
	r.secs, r.deliverSecs = r.secs+o.secs, r.deliverSecs+o.deliverSecs
	r.cpu = cpuTimes{r.cpu.postgres + o.cpu.postgres, r.cpu.server + o.cpu.server, r.cpu.load + o.cpu.load, r.cpu.receiver + o.cpu.receiver, 0}
}

// fixedRun sends at rate messages/s for d, open model (a send starts every 1/rate s whatever
// the answers do), message ids starting with letter, and waits until all are delivered.
func fixedRun(sd *storedSide, recv *receiver, letter string, rate int, d time.Duration) sendRun {
	sd.activate()
	var r sendRun
	var accepted sync.Map // id → time of the 202
	var mu sync.Mutex
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
			id := fmt.Sprintf("%s%d", letter, i)
			t0 := time.Now()
			at, ok := sd.send.send(id, storedEventTypes[i%len(storedEventTypes)])
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				r.errors++
				return
			}
			accepted.Store(id, at)
			r.accepted++
			r.post = append(r.post, at.Sub(t0))
		}()
	}
	wg.Wait()
	r.secs = time.Since(start).Seconds()
	drainUntil := time.Now().Add(2 * time.Minute)
	for recv.count(letter) < r.accepted && time.Now().Before(drainUntil) {
		time.Sleep(50 * time.Millisecond)
	}
	r.cpu = cpuNow().sub(cpu0)
	arrived := recv.arrivals(letter)
	var last time.Time
	accepted.Range(func(k, v any) bool {
		at, ok := arrived[k.(string)]
		if !ok {
			r.lost++
			return true
		}
		r.arrival = append(r.arrival, max(0, at.Sub(v.(time.Time))))
		if at.After(last) {
			last = at
		}
		return true
	})
	r.delivered = len(r.arrival)
	r.deliverSecs = last.Sub(start).Seconds()
	return r
}

// burstRun sends from 32 closed-loop senders for d, message ids starting with letter, and
// waits until all are delivered: deliverSecs is from the start to the last arrival.
func burstRun(sd *storedSide, recv *receiver, letter string, d time.Duration) sendRun {
	sd.activate()
	var r sendRun
	var ids sync.Map
	var mu sync.Mutex
	var wg sync.WaitGroup
	cpu0 := cpuNow()
	start := time.Now()
	stop := start.Add(d)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs := 0
			for i := 0; time.Now().Before(stop); i++ {
				id := fmt.Sprintf("%s%d_%d", letter, g, i)
				t0 := time.Now()
				if at, ok := sd.send.send(id, storedEventTypes[i%len(storedEventTypes)]); ok {
					ids.Store(id, true)
					mine = append(mine, at.Sub(t0))
				} else {
					errs++
				}
			}
			mu.Lock()
			r.post, r.accepted, r.errors = append(r.post, mine...), r.accepted+len(mine), r.errors+errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.secs = time.Since(start).Seconds()
	drainUntil := time.Now().Add(2 * time.Minute)
	for recv.count(letter) < r.accepted && time.Now().Before(drainUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	r.cpu = cpuNow().sub(cpu0)
	arrived := recv.arrivals(letter)
	var last time.Time
	ids.Range(func(k, _ any) bool {
		at, ok := arrived[k.(string)]
		if !ok {
			r.lost++
		} else if at.After(last) {
			last = at
		}
		return true
	})
	r.delivered = len(arrived)
	r.deliverSecs = last.Sub(start).Seconds()
	return r
}

// storedFixture is what a run's workspaces hold: the measured app (its path and API key) and
// every endpoint stored messages go to.
type storedFixture struct {
	key, appPath string
	app          uuid.UUID
	targets      []storedTarget
}

// storedFixtures creates, through the API, the measured workspace with two apps (the measured
// one with six recipients, "one" among them, where the runs send; another with three) and a
// second workspace with an app of three recipients: each recipient has one endpoint at the
// receiver, and each app the event types of storedEventTypes.
func storedFixtures(ctx context.Context, st *stack, recv *receiver) (storedFixture, error) {
	var fx storedFixture
	_, key, err := st.workspace(ctx)
	if err != nil {
		return fx, err
	}
	ws2, err := st.db.CreateWorkspace(ctx, "bench-other")
	if err != nil {
		return fx, err
	}
	_, key2, err := st.db.CreateAPIKey(ctx, ws2.ID, "bench", []string{"*"}, nil)
	if err != nil {
		return fx, err
	}
	fx.key = key
	apps := []struct {
		key, name  string
		recipients []string
	}{{key, "bench", []string{"one", "r1", "r2", "r3", "r4", "r5"}}, {key, "bench-2", []string{"r1", "r2", "r3"}}, {key2, "other", []string{"r1", "r2", "r3"}}}
	for i, a := range apps {
		c := &hookClient{base: st.base, key: a.key, http: &http.Client{}}
		app, err := c.json(ctx, "POST", "/api/v1/apps", `{"name":"`+a.name+`"}`)
		if err != nil {
			return fx, err
		}
		path := "/api/v1/apps/" + app["appId"].(string)
		if i == 0 {
			fx.appPath, fx.app = path, uuid.MustParse(app["appId"].(string))
		}
		for _, et := range []string{"order.created", "order.updated", "invoice.paid"} {
			if _, err := c.json(ctx, "PUT", path+"/event-types/"+et, `{}`); err != nil {
				return fx, err
			}
		}
		for _, r := range a.recipients {
			if _, err := c.json(ctx, "POST", path+"/recipients", `{"recipientId":"`+r+`"}`); err != nil {
				return fx, err
			}
			endpoint := recv.url + "/stored/" + a.name + "/" + r
			if i == 0 && r == "one" {
				endpoint = recv.url + "/one"
			}
			if _, err := c.json(ctx, "POST", path+"/recipients/"+r+"/endpoints", `{"url":"`+endpoint+`"}`); err != nil {
				return fx, err
			}
		}
	}
	err = st.db.SQL().SelectContext(ctx, &fx.targets, `SELECT e.app_id, e.recipient_pk, r.recipient_id, e.id AS endpoint_id
		FROM webhook_endpoints e JOIN webhook_recipients r ON r.id = e.recipient_pk ORDER BY e.id`)
	return fx, err
}

// storedSender posts messages to the measured app's recipient "one" over a pool of raw
// keep-alive connections, as the webhooks bench does.
type storedSender struct {
	base, appPath, auth string
	pool                chan *rawConn
}

// send posts one message and returns the time of its 202.
func (s *storedSender) send(id, eventType string) (time.Time, bool) {
	var rc *rawConn
	select {
	case rc = <-s.pool:
	default:
		rc = newRawConn(s.base)
	}
	status, err := rc.post(s.appPath+"/messages", []byte(`{"recipientId":"one","eventType":"`+eventType+`","data":{"id":"`+id+
		`","amount":4900,"currency":"usd","status":"paid"},"messageId":"`+id+`"}`), s.auth)
	at := time.Now()
	select {
	case s.pool <- rc:
	default:
		rc.reset()
	}
	return at, err == nil && status == http.StatusAccepted
}

// readBound bounds each half of each read measurement in time.
const readBound = 20 * time.Second

// readKind is one kind of read: its name and the path of its i-th request.
type readKind struct {
	name string
	path func(i int) string
}

// storedReadKinds are the reads a dashboard makes, through the API: the first page of the
// measured app's messages; a page deep in them (the cursor of a message picked at random in the
// app's time range); the first page of a filtered list (the rare event type, and since a day
// ago) and a deep one; one message; its attempts. The messages are 200 picked at random over the
// app's time range (on the stored side, almost all of them stored ones).
func storedReadKinds(ctx context.Context, sd *storedSide) ([]readKind, error) {
	st, fx := sd.st, sd.fx
	var bounds struct {
		Lo uuid.UUID `db:"lo"`
		Hi uuid.UUID `db:"hi"`
	}
	if err := st.db.SQL().GetContext(ctx, &bounds, `SELECT
		(SELECT id FROM webhook_messages WHERE app_id = $1 ORDER BY id LIMIT 1) AS lo,
		(SELECT id FROM webhook_messages WHERE app_id = $1 ORDER BY id DESC LIMIT 1) AS hi`, fx.app); err != nil {
		return nil, err
	}
	lo, hi := uuidMillis(bounds.Lo), uuidMillis(bounds.Hi)
	r := rand.New(rand.NewPCG(7, 7)) //nolint:gosec // picking samples, not secrets
	type sample struct {
		ID        uuid.UUID `db:"id"`
		MessageID string    `db:"message_id"`
	}
	var samples []sample
	for range 200 {
		at := time.UnixMilli(lo + r.Int64N(hi-lo+1))
		var sm sample
		err := st.db.SQL().GetContext(ctx, &sm, `SELECT id, message_id FROM webhook_messages WHERE app_id = $1 AND id <= $2 ORDER BY id DESC LIMIT 1`,
			fx.app, v7At(at.Add(time.Millisecond), r))
		if err != nil {
			return nil, err
		}
		samples = append(samples, sm)
	}
	since := url.QueryEscape(time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339))
	return []readKind{
		{"GET messages, first page (50)", func(int) string { return fx.appPath + "/messages" }},
		{"GET messages, a deep page (cursor at a random message)", func(i int) string {
			return fx.appPath + "/messages?cursor=" + samples[i%len(samples)].ID.String()
		}},
		{"GET messages?eventType= (1 in 10 messages), first page", func(int) string { return fx.appPath + "/messages?eventType=invoice.paid" }},
		{"GET messages?since= (a day ago), first page", func(int) string { return fx.appPath + "/messages?since=" + since }},
		{"GET messages?eventType= (1 in 10), a deep page", func(i int) string {
			return fx.appPath + "/messages?eventType=invoice.paid&cursor=" + samples[i%len(samples)].ID.String()
		}},
		{"GET one message", func(i int) string { return fx.appPath + "/messages/" + samples[i%len(samples)].MessageID }},
		{"GET a message's attempts", func(i int) string { return fx.appPath + "/messages/" + samples[i%len(samples)].MessageID + "/attempts" }},
	}, nil
}

// readRun makes n requests of a kind on a side, one at a time, the j-th of them the
// (offset*n+j)-th of the kind, and returns their latencies; any answer but 200 is an error. It
// stops early after readBound, so a read that has become slow (seconds) keeps the run bounded:
// fewer requests, each of them counted.
func readRun(ctx context.Context, sd *storedSide, k readKind, n, offset int) ([]time.Duration, error) {
	c := &hookClient{base: sd.st.base, key: sd.fx.key, http: &http.Client{}}
	lat := make([]time.Duration, 0, n)
	stop := time.Now().Add(readBound)
	for j := 0; j < n && time.Now().Before(stop); j++ {
		path := k.path(offset*n + j)
		t0 := time.Now()
		resp, err := c.do(ctx, http.MethodGet, path, "")
		if err != nil {
			return nil, fmt.Errorf("%s: GET %s: %w", sd.name, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: GET %s: %d", sd.name, path, resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// uuidMillis is the Unix milliseconds of a version 7 UUID.
func uuidMillis(u uuid.UUID) int64 {
	var b [8]byte
	copy(b[2:], u[:6])
	return int64(b[0])<<56 | int64(b[1])<<48 | int64(b[2])<<40 | int64(b[3])<<32 | int64(b[4])<<24 | int64(b[5])<<16 | int64(b[6])<<8 | int64(b[7])
}

// loadAndSettle loads n stored messages over the past o.days days, then VACUUMs and ANALYZEs
// the tables (in parallel) and checkpoints, so the run starts from the state a database
// that has carried this traffic for weeks is in: hint bits set, visibility map and statistics
// current, nothing dirty. It prints each step's time and the database's size.
func loadAndSettle(ctx context.Context, st *stack, fx storedFixture, n int, o storedOptions) error {
	to := time.Now().Add(-10 * time.Minute)
	from := to.Add(-time.Duration(o.days) * 24 * time.Hour)
	fmt.Printf("  load: %d messages over %d days (%s to %s), each with a delivery and an attempt, to %d endpoints of 3 apps in 2 workspaces, COPY over %d connections\n",
		n, o.days, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly), len(fx.targets), o.loadConns)
	start := time.Now()
	// The days' partitions first, as the maintenance job makes them ahead of time: rows of a
	// day without one would land in the DEFAULT partition, which retention never drops whole.
	made, err := st.db.EnsurePartitions(ctx, from, o.days+1)
	if err != nil {
		return err
	}
	fmt.Printf("  load: %d partitions made for the %d days first\n", len(made), o.days+1)
	loaded, err := loadStored(ctx, st.dsn, n, o.loadConns, from, to, fx.targets)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("  load: %d messages, %d rows in %s: %.0f messages/s, %.0f rows/s\n", loaded, storedRows*loaded, took.Round(time.Second),
		float64(loaded)/took.Seconds(), float64(storedRows*loaded)/took.Seconds())
	t0 := time.Now()
	var wg sync.WaitGroup
	tables := storedTables()
	errs := make(chan error, len(tables))
	for _, t := range tables { // a partitioned table's VACUUM and ANALYZE take every partition
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.db.SQL().ExecContext(ctx, `VACUUM (ANALYZE) `+t.name); err != nil {
				errs <- fmt.Errorf("VACUUM %s: %w", t.name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	vacuumed := time.Since(t0)
	t0 = time.Now()
	if _, err := st.db.SQL().ExecContext(ctx, `CHECKPOINT`); err != nil {
		return err
	}
	fmt.Printf("  settle: VACUUM (ANALYZE) of the %d tables %s, CHECKPOINT %s; load and settle %s in all\n",
		len(tables), vacuumed.Round(time.Second), time.Since(t0).Round(time.Second), time.Since(start).Round(time.Second))
	var vacuums struct {
		Auto    int `db:"auto"`
		Analyze int `db:"analyze"`
	}
	if err := st.db.SQL().GetContext(ctx, &vacuums, `SELECT coalesce(sum(autovacuum_count), 0) AS auto, coalesce(sum(autoanalyze_count), 0) AS analyze
		FROM pg_stat_user_tables WHERE relid IN (SELECT relid FROM unnest($1::regclass[]) AS t, pg_partition_tree(t))`, pq.Array(storedTableNames())); err != nil {
		return err
	}
	// Autovacuum's insert threshold (PostgreSQL 13+) vacuums the tables while they are being
	// loaded, so the VACUUM after the load has little left to do.
	fmt.Printf("  settle: autovacuum ran %d times and autoanalyze %d times on the tables (their partitions) during the load\n", vacuums.Auto, vacuums.Analyze)
	var sizes []struct {
		Name  string `db:"name"`
		Heap  int64  `db:"heap"`
		Index int64  `db:"idx"`
	}
	// A partitioned table holds nothing itself: its size is its partitions'.
	if err := st.db.SQL().SelectContext(ctx, &sizes, `SELECT t::text AS name, sum(pg_table_size(p.relid)) AS heap, sum(pg_indexes_size(p.relid)) AS idx
		FROM unnest($1::regclass[]) WITH ORDINALITY AS u(t, n), pg_partition_tree(t) AS p GROUP BY t, n ORDER BY n`, pq.Array(storedTableNames())); err != nil {
		return err
	}
	for _, s := range sizes {
		fmt.Printf("  size: %-20s %6.2f GB table, %6.2f GB indexes\n", s.Name, float64(s.Heap)/1e9, float64(s.Index)/1e9)
	}
	var dbSize int64
	if err := st.db.SQL().GetContext(ctx, &dbSize, `SELECT pg_database_size(current_database())`); err != nil {
		return err
	}
	fmt.Printf("  size: database %.2f GB, %.0f B per stored message; %.1f GB free on disk\n", float64(dbSize)/1e9,
		float64(dbSize)/float64(n), float64(freeDisk(os.TempDir()))/1e9)
	return nil
}

// storedTableNames are the names of the tables the loader fills.
func storedTableNames() []string {
	var names []string
	for _, t := range storedTables() {
		names = append(names, t.name)
	}
	return names
}

// freeDisk is the space free for an unprivileged user on the file system holding dir.
func freeDisk(dir string) uint64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0
	}
	return fs.Bavail * uint64(fs.Bsize)
}
