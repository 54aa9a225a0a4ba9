// Command bench measures the Activities API on this machine, with the server, PostgreSQL and
// the load generator sharing it, all on 127.0.0.1 and bounded in time:
//
//   - the pgbench baseline: inserting a row equivalent to an activity (a copy of the
//     activities table with the same indexes), one transaction per row, at -c connections;
//   - POST /api/activities at the same concurrency: throughput, p50/p99 latency, errors, and
//     the ratio to the baseline;
//   - dispatch: -dispatch activities due at one moment, sent to a local HTTP receiver acting
//     as a YOM provider: rate from the due time to the last arrival, and exactly-once.
//
// With -webhooks it measures the Webhooks API instead (see webhookBench); with -ingest, the
// Ingest side (see ingestBench); with -webhooks-stored N, the Webhooks API on an empty database
// and on one holding N stored messages, side by side (see storedBench).
//
// Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/pgcluster"
)

func main() {
	conns := flag.Int("c", 32, "concurrent connections for the insert benchmarks")
	duration := flag.Duration("d", 10*time.Second, "duration of each insert benchmark")
	n := flag.Int("dispatch", 20000, "activities due at once in the dispatch benchmark")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the load generator to this file (profile the server with perf record -p)")
	webhooks := flag.Bool("webhooks", false, "run the Webhooks API benchmarks instead (sustained rate, throughput, fan-out)")
	rate := flag.Int("rate", 1000, "webhooks: messages per second of the sustained run")
	rateFor := flag.Duration("rate-for", 60*time.Second, "webhooks: duration of the sustained run")
	rate2 := flag.Int("rate2", 2500, "webhooks: messages per second of the second sustained run")
	rate2For := flag.Duration("rate2-for", 20*time.Second, "webhooks: duration of the second sustained run")
	burstFor := flag.Duration("burst-for", 20*time.Second, "webhooks: duration of the 32-sender throughput run")
	ingest := flag.Bool("ingest", false, "run the Ingest benchmarks instead (a stripe source: sustained rate with -rate and -rate-for, maximum rate with -burst-for)")
	stored := flag.Int("webhooks-stored", 0, "run the stored-messages benchmark instead: the webhooks send, delivery and read figures on an empty database and on one holding this many stored messages (each with a delivery and an attempt, loaded with COPY), side by side (uses -rate, -rate-for and -burst-for)")
	storedDays := flag.Int("stored-days", 30, "webhooks-stored: the stored messages are spread over this many past days")
	loadConns := flag.Int("load-conns", 2, "webhooks-stored: connections loading the stored messages at once")
	gets := flag.Int("gets", 500, "webhooks-stored: requests of each kind of read")
	recvMode := flag.Bool("receiver", false, "be the receiver process of a benchmark (started by the benchmark itself)")
	flag.Parse()
	if *recvMode {
		if err := receiverMain(); err != nil {
			fmt.Fprintln(os.Stderr, "bench receiver:", err)
			os.Exit(1)
		}
		return
	}
	server.TuneGC() // as `switchboard serve` does
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	work := func() error { return run(*conns, *duration, *n) }
	if *webhooks {
		work = func() error { return webhookBench(*rate, *rateFor, *rate2, *rate2For, *burstFor) }
	}
	if *ingest {
		work = func() error { return ingestBench(*rate, *rateFor, *burstFor) }
	}
	if *stored > 0 {
		work = func() error {
			return storedBench(storedOptions{messages: *stored, days: *storedDays, loadConns: *loadConns, rate: *rate,
				rateFor: *rateFor, burstFor: *burstFor, gets: *gets})
		}
	}
	if err := work(); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(conns int, duration time.Duration, n int) error {
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	cluster, db, base := st.cluster, st.db, st.base

	// A workspace, a key, a commerce, and a YOM config pointing at the receiver.
	ws, key, err := st.workspace(ctx)
	if err != nil {
		return err
	}
	com, err := db.CreateCommerce(ctx, ws.ID, store.CommerceCreate{Name: "Bench commerce", IsActive: true})
	if err != nil {
		return err
	}
	// Resolution on the create path, as issue 13 asks: one ON_CREATION ROLE_MATCH target config
	// (the commerce's COMMERCE_REP, reachable on WHATSAPP) and one UPFRONT INTERNAL_SERVICE
	// policy (commerce_info), which every created activity names.
	if err := resolutionSetup(ctx, db, ws.ID, com.ID); err != nil {
		return err
	}
	recv, err := startReceiver(ctx)
	if err != nil {
		return err
	}
	defer recv.Close()
	yom := uuid.MustParse("660e8400-e29b-41d4-a716-446655440000")
	if _, err := db.CreateDispatchConfig(ctx, store.DispatchConfigCreate{WorkspaceID: ws.ID, DispatchProviderID: yom,
		Channel: "WHATSAPP", BaseURL: &recv.url, Credentials: map[string]string{"apiKey": "bench"}}); err != nil {
		return err
	}

	fmt.Printf("bench: %d connections, %s per insert run; the real `switchboard serve` binary with its default logging, PostgreSQL durable (fsync on), load generator and receiver in their own processes, all on one machine (%d CPUs, load average %s)\n",
		conns, duration, runtimeCPUs(ctx), loadAvg())
	// The baseline and the API run alternately, baseline-API-API-baseline, each for half the
	// duration: a machine whose speed drifts during the run (a shared host) then weighs on both
	// sides alike, and the ratio compares like with like.
	later := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	half := duration / 2
	var pgRows, pgSecs float64
	var pgCPU, apiCPU cpuTimes
	var api result
	add := func(a, b cpuTimes) cpuTimes {
		return cpuTimes{a.postgres + b.postgres, a.server + b.server, a.load + b.load, a.receiver + b.receiver, a.pgbench + b.pgbench}
	}
	baseline := func() error {
		cpu0 := cpuNow()
		tps, err := pgbenchBaseline(ctx, cluster, ws.ID, com.ID, conns, half)
		if err != nil {
			return err
		}
		pgCPU = add(pgCPU, cpuNow().sub(cpu0))
		pgRows += tps * half.Seconds()
		pgSecs += half.Seconds()
		return nil
	}
	logged := st.logBytes()
	apiRun := func() {
		cpu0 := cpuNow()
		r := load(base, key, com.ID, conns, half, func(i int64) string { return later })
		apiCPU = add(apiCPU, cpuNow().sub(cpu0))
		api.lat = append(api.lat, r.lat...)
		api.errors += r.errors
		api.elapsed += r.elapsed
	}
	if err := baseline(); err != nil {
		return err
	}
	apiRun()
	apiRun()
	if err := baseline(); err != nil {
		return err
	}
	tps := pgRows / pgSecs
	fmt.Printf("pgbench baseline (INSERT of an equivalent row, same indexes, 1 tx/row, %d connections): %.0f rows/s\n", conns, tps)
	fmt.Printf("  CPU per row: PostgreSQL %.0f µs, pgbench %.0f µs\n", pgCPU.postgres/pgRows*1e6, pgCPU.pgbench/pgRows*1e6)
	p := percentiles(api.lat)
	total := float64(len(api.lat))
	rate := total / api.elapsed
	fmt.Printf("POST /api/activities (%d connections): %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors of %d requests\n",
		conns, rate, p(0.50), p(0.99), api.errors, len(api.lat))
	fmt.Printf("  CPU per request: %s; server log %.0f B per request\n", apiCPU.perItem(total), float64(st.logBytes()-logged)/total)
	fmt.Printf("  ratio to pgbench: %.2f %s\n", rate/tps, vsGoal(rate/tps, 1.0, true, "× pgbench"))
	printStatements(db)
	var resolved, created int
	if err := db.SQL().GetContext(ctx, &resolved, `SELECT count(*) FROM activities WHERE status = 'READY'
		AND target->>'status' = 'RESOLVED' AND resolved_attributes->0->>'status' = 'RESOLVED'`); err != nil {
		return err
	}
	if err := db.SQL().GetContext(ctx, &created, `SELECT count(*) FROM activities`); err != nil {
		return err
	}
	fmt.Printf("  resolved on creation (target user and commerce_info): %d of %d activities\n", resolved, created)
	if resolved != created {
		return fmt.Errorf("%d of %d created activities were not resolved", created-resolved, created)
	}

	// Dispatch: create n activities due in an hour (via the API), then bring them all due at
	// once while serve's workers run.
	due := time.Now().Add(time.Hour)
	create := load(base, key, com.ID, conns, 0, func(i int64) string { return due.UTC().Format(time.RFC3339Nano) }, int64(n))
	if create.errors > 0 {
		return fmt.Errorf("creating the dispatch batch: %d errors", create.errors)
	}
	time.Sleep(2 * time.Second)
	_, _ = db.SQL().ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	cpu0 := cpuNow()
	dueNow := time.Now()
	if _, err := db.SQL().ExecContext(ctx, `UPDATE activities SET scheduled_at = $1 WHERE scheduled_at = $2`, dueNow, due.UTC()); err != nil {
		return err
	}
	if _, err := db.SQL().ExecContext(ctx, `UPDATE river_job SET scheduled_at = $1 WHERE state = 'scheduled' AND scheduled_at = $2`, dueNow, due.UTC()); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	got, dups, first, last := recv.stats()
	for got < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		got, dups, first, last = recv.stats()
	}
	dispatchCPU := cpuNow().sub(cpu0)
	elapsed := last.Sub(dueNow).Seconds()
	dispatchRate := float64(got) / elapsed
	fmt.Printf("dispatch: %d of %d activities reached the receiver in %.2f s after falling due: %.0f activities/s %s; %d received twice\n",
		got, n, elapsed, dispatchRate, vsGoal(dispatchRate, 5000, true, "/s"), dups)
	fmt.Printf("dispatch: first arrival %.2f s after due; %.0f activities/s from first to last arrival\n",
		first.Sub(dueNow).Seconds(), float64(got)/last.Sub(first).Seconds())
	var locked int
	if err := db.SQL().GetContext(ctx, &locked, `SELECT count(*) FROM activities WHERE status = 'DISPATCHED'
		AND target->>'status' = 'LOCKED'`); err != nil {
		return err
	}
	fmt.Printf("dispatch: %d of %d dispatched with their target user LOCKED\n", locked, got)
	fmt.Printf("  CPU per activity: %s\n", dispatchCPU.perItem(float64(got)))
	printStatements(db)
	fmt.Printf("bench: load average at the end %s\n", loadAvg())
	if got != n || dups != 0 {
		return fmt.Errorf("dispatch was not exactly once: %d received, %d duplicates", got, dups)
	}
	return nil
}

func runtimeCPUs(ctx context.Context) int {
	out, _ := exec.CommandContext(ctx, "nproc").Output()
	v, _ := strconv.Atoi(string(bytes.TrimSpace(out)))
	return v
}

// pgbenchBaseline runs pgbench with one INSERT per transaction into a copy of the activities
// table (same columns, constraints and indexes).
func pgbenchBaseline(ctx context.Context, c *pgcluster.Cluster, ws, com uuid.UUID, conns int, d time.Duration) (float64, error) {
	dsn := c.DSN("postgres")
	psql := exec.CommandContext(ctx, "psql", dsn, "-q", "-c", `DROP TABLE IF EXISTS bench_activities; CREATE TABLE bench_activities (LIKE activities INCLUDING ALL)`)
	if out, err := psql.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("psql: %w %s", err, out)
	}
	script := filepath.Join(os.TempDir(), "switchboard-pgbench.sql")
	if err := os.WriteFile(script, []byte(`INSERT INTO bench_activities (id, workspace_id, commerce_id, type, channel, status, reason_code, reason_label, idempotency_key, scheduled_at, attribute_keys) VALUES (gen_random_uuid(), :ws, :com, 'MESSAGE', 'WHATSAPP', 'READY', 'monthly_promotion', 'Promocion Mensual', gen_random_uuid()::text, now() + interval '1 day', '{commerce_info}');
`), 0o600); err != nil {
		return 0, err
	}
	defer os.Remove(script)
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(conns), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())),
		"-f", script, "-D", "ws="+ws.String(), "-D", "com="+com.String(), dsn)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench output: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

type result struct {
	lat     []time.Duration // every request's latency
	elapsed float64         // seconds
	errors  int64
}

// load sends POST /api/activities from conns goroutines until d has passed (d > 0) or count
// requests were sent (count given).
func load(base, key string, commerce uuid.UUID, conns int, d time.Duration, scheduledAt func(int64) string, count ...int64) result {
	var seq, errs atomic.Int64
	lat := make([][]time.Duration, conns)
	stop := time.Now().Add(d)
	limit := int64(-1)
	if len(count) > 0 {
		limit = count[0]
	}
	run := uuid.NewString()[:8]
	start := time.Now()
	var wg sync.WaitGroup
	for g := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := newRawConn(base)
			defer rc.reset()
			auth := "Authorization: Bearer " + key
			var body []byte
			for {
				i := seq.Add(1)
				if (limit >= 0 && i > limit) || (limit < 0 && time.Now().After(stop)) {
					return
				}
				body = fmt.Appendf(body[:0], `{"type":"MESSAGE","reason":"Monthly promotion","channel":"WHATSAPP","commerce_id":%q,"idempotency_key":"%s-%d","scheduled_at":%q,"attribute_keys":["commerce_info"]}`,
					commerce.String(), run, i, scheduledAt(i))
				t0 := time.Now()
				status, err := rc.post("/api/activities", body, auth)
				if err != nil {
					errs.Add(1)
					continue
				}
				lat[g] = append(lat[g], time.Since(t0))
				if status != http.StatusCreated {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return result{lat: all, elapsed: elapsed, errors: errs.Load()}
}

// resolutionSetup gives the workspace one ON_CREATION ROLE_MATCH target config and one UPFRONT
// INTERNAL_SERVICE attribute policy, and the commerce a COMMERCE_REP with a WHATSAPP contact.
func resolutionSetup(ctx context.Context, db *store.DB, ws, com uuid.UUID) error {
	first := "Rep"
	u, err := db.CreateCommerceUser(ctx, ws, com, store.CommerceUserCreate{FirstName: &first, Source: "RETEN", IsActive: true,
		Roles: []string{store.RoleCommerceRep}})
	if err != nil {
		return err
	}
	if _, err := db.CreateCommerceContact(ctx, ws, com, u.ID, store.CommerceContactCreate{Type: "WHATSAPP", Value: "+56912345678",
		Source: "RETEN", IsPrimary: true}); err != nil {
		return err
	}
	if _, err := db.CreateTargetConfig(ctx, ws, store.TargetConfig{Strategy: store.StrategyOnCreation, FallbackToCommerceRep: true,
		FallbackToOwner: true, IsActive: true, Criteria: store.NewTargetCriteria([]store.TargetCriterion{
			{Type: store.CriterionRoleMatch, Config: json.RawMessage(`{"role":"COMMERCE_REP"}`)}})}); err != nil {
		return err
	}
	internal := store.ResolverInternal
	_, _, err = db.UpsertAttributePolicy(ctx, ws, store.AttributePolicyUpsert{AttributeKeyID: store.AttributeCommerceInfoID,
		Strategy: store.StrategyUpfront, ResolverType: &internal})
	return err
}

// printStatements shows where PostgreSQL spent its time since the last reset: the statements
// with the most planning (BENCH_STATEMENTS=1 tracks it) plus execution time, per call, then
// resets the counts.
func printStatements(db *store.DB) {
	var rows []struct {
		Calls int64   `db:"calls"`
		Plan  float64 `db:"plan"`
		Exec  float64 `db:"exec"`
		Blks  float64 `db:"blks"`
		WAL   float64 `db:"wal"`
		Query string  `db:"query"`
	}
	_ = db.SQL().Select(&rows, `SELECT calls, total_plan_time / calls AS plan, total_exec_time / calls AS exec,
		(shared_blks_hit + shared_blks_read)::float8 / calls AS blks, wal_bytes::float8 / calls AS wal,
		regexp_replace(left(query, 70), '\s+', ' ', 'g') AS query
		FROM pg_stat_statements WHERE calls > 10 ORDER BY total_plan_time + total_exec_time DESC LIMIT 12`)
	for _, r := range rows {
		fmt.Printf("  statement: %7d calls  plan %.3f ms  exec %.3f ms  %5.0f blocks  %6.0f WAL bytes  %s\n", r.Calls, r.Plan, r.Exec, r.Blks, r.WAL, r.Query)
	}
	_, _ = db.SQL().ExecContext(context.Background(), `SELECT pg_stat_statements_reset()`)
}

// cpuTimes is CPU time (user+system, seconds) used so far by each process of the benchmark:
// PostgreSQL (the postmaster and every backend, live or exited), the serve process, the load
// generator (this process), the receiver process, and pgbench. CPU per request does not depend
// on what else the machine runs, unlike rates.
type cpuTimes struct{ postgres, server, load, receiver, pgbench float64 }

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{postgres: a.postgres - b.postgres, server: a.server - b.server, load: a.load - b.load,
		receiver: a.receiver - b.receiver, pgbench: a.pgbench - b.pgbench}
}

// all is the CPU of every process but pgbench.
func (a cpuTimes) all() float64 { return a.postgres + a.server + a.load + a.receiver }

// perItem prints the CPU per item of each process and of all of them, in µs.
func (a cpuTimes) perItem(n float64) string {
	if n == 0 {
		return "nothing done"
	}
	return fmt.Sprintf("PostgreSQL %.0f µs, server %.0f µs, load generator %.0f µs, receiver %.0f µs; all processes %.0f µs",
		a.postgres/n*1e6, a.server/n*1e6, a.load/n*1e6, a.receiver/n*1e6, a.all()/n*1e6)
}

// The PIDs whose CPU counts: the benchmark's PostgreSQL (its postmaster; only it and its
// children count, not other PostgreSQL servers on the machine), serve, and the receiver.
var benchPostmaster, serverPID, receiverPID string

func cpuNow() cpuTimes {
	var t cpuTimes
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17): the last two are
		// children that exited (PostgreSQL backends whose connection closed, pgbench).
		s := string(b)
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < 0 {
			continue
		}
		comm, fields := s[open+1:close], strings.Fields(s[close+2:])
		if len(fields) < 15 {
			continue
		}
		pid, ppid := filepath.Base(filepath.Dir(p)), fields[1]
		var own, children float64
		for i, f := range fields[11:15] {
			v, _ := strconv.ParseFloat(f, 64)
			if i < 2 {
				own += v / 100 // USER_HZ
			} else {
				children += v / 100
			}
		}
		switch {
		case comm == "postgres" && (pid == benchPostmaster || ppid == benchPostmaster):
			t.postgres += own + children
		case pid == serverPID:
			t.server += own
		case pid == receiverPID:
			t.receiver += own
		case pid == self:
			t.load += own
			t.pgbench += children // go build exits before any measurement starts
		case comm == "pgbench" && ppid == self:
			t.pgbench += own
		}
	}
	return t
}

// loadAvg is the machine's load average (1, 5, 15 min), to say what else was running.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// vsGoal renders a figure's ratio to its goal: ≥ goals (higher is better) as value/goal, ≤
// goals as goal/value, so a ratio ≥ 1.00 always means the goal is met.
func vsGoal(value, goal float64, atLeast bool, unit string) string {
	if atLeast {
		return fmt.Sprintf("(goal >= %g%s: %.2f× %s)", goal, unit, value/goal, met(value >= goal))
	}
	r := 0.0
	if value > 0 {
		r = goal / value
	}
	return fmt.Sprintf("(goal <= %g%s: %.2f× %s)", goal, unit, r, met(value <= goal))
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
