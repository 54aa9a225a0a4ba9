package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

// stack is what every benchmark runs against: a private durable PostgreSQL, the store on it,
// and the HTTP server on 127.0.0.1.
type stack struct {
	cluster *pgcluster.Cluster
	dsn     string
	db      *store.DB
	base    string // the server's URL
	quiet   *slog.Logger
	close   func()
}

// startStack starts a stack; close stops it and removes its files.
func startStack(ctx context.Context) (*stack, error) {
	s := &stack{quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var cleanups []func()
	s.close = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	root, err := os.MkdirTemp("", "switchboard-bench-*")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // the cluster runs as the postgres user
		s.close()
		return nil, err
	}
	// Durable, like the embedded default of `serve`: fsync and synchronous commit stay on.
	opts := pgcluster.Options{DataDir: filepath.Join(root, "pg"), Durable: true, MaxConnections: 300}
	if os.Getenv("BENCH_STATEMENTS") != "" {
		opts.Settings = []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_planning=on"}
	}
	if s.cluster, err = pgcluster.Start(ctx, opts); err != nil {
		s.close()
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = s.cluster.Stop() })
	benchPostmaster = strconv.Itoa(s.cluster.PID())
	s.dsn = s.cluster.DSN("postgres")
	box, _ := seal.New([]byte(seal.GenerateKey())[:32])
	if s.db, err = store.Open(ctx, s.dsn, box); err != nil {
		s.close()
		return nil, err
	}
	cleanups = append(cleanups, func() { s.db.Close() })
	if err := s.db.Migrate(ctx); err != nil {
		s.close()
		return nil, err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	e, err := server.New(s.db, server.Config{AdminToken: "bench", Logger: s.quiet, AllowPrivateEndpoints: true,
		PublicURL: "http://" + ln.Addr().String()})
	if err != nil {
		_ = ln.Close()
		s.close()
		return nil, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute} // as `serve` has it
	go func() { _ = srv.Serve(ln) }()
	cleanups = append(cleanups, func() { ln.Close() })
	s.base = "http://" + ln.Addr().String()
	return s, nil
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
