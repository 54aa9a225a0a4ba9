package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

// stack is what every benchmark runs against, as a user runs Switchboard: a private durable
// PostgreSQL (fsync and synchronous commit on), and the real `switchboard serve` binary, built
// with `go build`, as its own process on 127.0.0.1 with its default logging (JSON access logs
// at INFO, written to a file as a service manager would). The benchmark process is the load
// generator; it keeps its own connection to the database only to set up fixtures and to read
// pg_stat_statements, never on the measured path.
type stack struct {
	cluster *pgcluster.Cluster
	dsn     string
	db      *store.DB
	base    string // the server's URL
	quiet   *slog.Logger
	server  *exec.Cmd // the serve process
	logPath string    // its log
	close   func()
}

// startStack builds the binary, starts PostgreSQL and `switchboard serve` on it, and waits until
// the server answers /readyz; close stops both and removes their files. settings are extra
// PostgreSQL settings (name=value).
func startStack(ctx context.Context, settings ...string) (*stack, error) {
	s := &stack{quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var cleanups []func()
	s.close = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (*stack, error) { s.close(); return nil, err }
	root, err := os.MkdirTemp("", "switchboard-bench-*")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // the cluster runs as the postgres user
		return fail(err)
	}
	// BENCH_SERVE_BIN runs another build instead (to compare two builds in one sitting).
	bin := os.Getenv("BENCH_SERVE_BIN")
	if bin == "" {
		bin = filepath.Join(root, "switchboard")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/switchboard-dev/switchboard/server/cmd/switchboard").CombinedOutput(); err != nil {
			return fail(fmt.Errorf("go build: %w\n%s", err, out))
		}
	}
	// Durable, like the embedded default of `serve`: fsync and synchronous commit stay on.
	// pg_stat_statements is loaded to show PostgreSQL's share by statement (printStatements).
	opts := pgcluster.Options{DataDir: filepath.Join(root, "pg"), Durable: true, MaxConnections: 300,
		Settings: []string{"shared_preload_libraries=pg_stat_statements"}}
	if os.Getenv("BENCH_STATEMENTS") != "" {
		opts.Settings = append(opts.Settings, "pg_stat_statements.track_planning=on")
	}
	opts.Settings = append(opts.Settings, settings...)
	if s.cluster, err = pgcluster.Start(ctx, opts); err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { _ = s.cluster.Stop() })
	benchPostmaster = strconv.Itoa(s.cluster.PID())
	s.dsn = s.cluster.DSN("postgres")
	key := seal.GenerateKey()
	raw, err := seal.ParseKey(key)
	if err != nil {
		return fail(err)
	}
	box, err := seal.New(raw)
	if err != nil {
		return fail(err)
	}
	if s.db, err = store.Open(ctx, s.dsn, box); err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { s.db.Close() })
	if err := s.db.Migrate(ctx); err != nil {
		return fail(err)
	}
	if _, err := s.db.SQL().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fail(err)
	}
	// BENCH_SETUP_SQL runs before the server starts: a way to try a schema or setting change
	// without a build.
	if q := os.Getenv("BENCH_SETUP_SQL"); q != "" {
		if _, err := s.db.SQL().ExecContext(ctx, q); err != nil { //nolint:gosec // G701: BENCH_SETUP_SQL is SQL the operator runs on the benchmark's own throwaway database, by design
			return fail(fmt.Errorf("BENCH_SETUP_SQL: %w", err))
		}
	}

	// A free port for the server, so its URL is known before it starts.
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s.base = "http://" + addr
	s.logPath = filepath.Join(root, "serve.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()                                                       // the child keeps its own descriptor
	s.server = exec.CommandContext(context.WithoutCancel(ctx), bin, "serve") //nolint:gosec // the binary just built, or the one BENCH_SERVE_BIN names: the operator runs what they chose
	s.server.Env = append(os.Environ(), "DATABASE_URL="+s.dsn, "SWITCHBOARD_ADDR="+addr, "SWITCHBOARD_ADMIN_TOKEN=bench",
		"SWITCHBOARD_ENCRYPTION_KEY="+key, "SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=true", "SWITCHBOARD_DATA_DIR="+filepath.Join(root, "data"))
	s.server.Stdout, s.server.Stderr = logf, logf
	s.server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the benchmark
	if err := s.server.Start(); err != nil {
		return fail(err)
	}
	serverPID = strconv.Itoa(s.server.Process.Pid)
	cleanups = append(cleanups, func() {
		_ = s.server.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = s.server.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = s.server.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.logPath)
			return fail(fmt.Errorf("serve not ready in 60 s:\n%s", b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// logBytes is the size of the server's log so far.
func (s *stack) logBytes() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// workspace creates the benchmark's workspace and an API key holding every permission.
func (s *stack) workspace(ctx context.Context) (store.Workspace, string, error) {
	ws, err := s.db.CreateWorkspace(ctx, "bench")
	if err != nil {
		return store.Workspace{}, "", err
	}
	_, key, err := s.db.CreateAPIKey(ctx, ws.ID, "bench", []string{"*"}, nil)
	return ws, key, err
}
