// Command switchboard runs Switchboard. `switchboard serve` starts the HTTP server and the
// background workers, on the PostgreSQL at DATABASE_URL or, when that is unset, on a private
// cluster it keeps under the data directory.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server"
	"github.com/switchboard-dev/switchboard/server/metrics"
	"github.com/switchboard-dev/switchboard/server/worker"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

const usage = `Usage: switchboard serve

Environment:
  SWITCHBOARD_ADDR            listen address (default 127.0.0.1:8080)
  SWITCHBOARD_PUBLIC_URL      the URL clients reach this server at (https://switchboard.example.com); the base of every
                              absolute URL it hands out (portal links, the specs' servers). Default http:// and the
                              listen address (127.0.0.1 for an unspecified host)
  DATABASE_URL                PostgreSQL URL; unset = a private cluster under the data directory
  SWITCHBOARD_DATA_DIR        data directory (default ./.data)
  SWITCHBOARD_ADMIN_TOKEN     operator token for /admin/v1; unset = generated, kept in the data directory
  SWITCHBOARD_ENCRYPTION_KEY  32-byte key (base64 or hex) sealing secrets at rest; unset = generated, kept in the data directory
  SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS  true = webhook deliveries, activity dispatches and call pre-checks may reach loopback, private
                              and link-local addresses (local development); default false: such destinations are refused
  SWITCHBOARD_WEBHOOK_RETENTION  how long webhook messages and their attempts (and Ingest events) are kept, as a Go
                              duration (default 2160h, 90 days); 0 = kept forever
  SWITCHBOARD_PUBLIC_URL      the base of the absolute URLs handed out (Ingest sources' receiving URLs), e.g.
                              https://hooks.example.com; default http://<listen address>
  SWITCHBOARD_LOG_LEVEL       debug, info (default: one access line per request), warn (no access lines) or error
  SWITCHBOARD_METRICS_ADDR    a second listen address serving only GET /metrics, without a token (for a scraper on a
                              private network); /metrics on SWITCHBOARD_ADDR always needs the admin token
  SWITCHBOARD_JOB_RESCUE_AFTER  how long a background job may run before it is taken for lost (its process died) and
                              run again, as a Go duration (default 1m; at least 1s)
`

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	server.TuneGC()
	level, err := parseLogLevel(os.Getenv("SWITCHBOARD_LOG_LEVEL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, log); err != nil {
		log.Error("switchboard stopped", "error", err)
		os.Exit(1)
	}
}

// config is serve's environment.
type config struct {
	addr, publicURL, databaseURL, dataDir, adminToken, encryptionKey, sessionKey string
	metricsAddr                                                                  string
	allowPrivateEndpoints                                                        bool
	webhookRetention, rescueAfter                                                time.Duration
}

func env(name, dflt string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return dflt
}

func serve(ctx context.Context, log *slog.Logger) error {
	cfg := config{
		addr:          env("SWITCHBOARD_ADDR", "127.0.0.1:8080"),
		databaseURL:   os.Getenv("DATABASE_URL"),
		dataDir:       env("SWITCHBOARD_DATA_DIR", "./.data"),
		adminToken:    os.Getenv("SWITCHBOARD_ADMIN_TOKEN"),
		encryptionKey: os.Getenv("SWITCHBOARD_ENCRYPTION_KEY"),
		sessionKey:    os.Getenv("SWITCHBOARD_SESSION_KEY"),
		metricsAddr:   os.Getenv("SWITCHBOARD_METRICS_ADDR"),
	}
	if v := os.Getenv("SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS"); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS: %q is not true or false", v)
		}
		cfg.allowPrivateEndpoints = allow
	}
	if v := os.Getenv("SWITCHBOARD_PUBLIC_URL"); v != "" {
		public, err := server.PublicBase(v)
		if err != nil {
			return fmt.Errorf("SWITCHBOARD_PUBLIC_URL: %w", err)
		}
		cfg.publicURL = public
	}
	retention, err := parseRetention(os.Getenv("SWITCHBOARD_WEBHOOK_RETENTION"))
	if err != nil {
		return err
	}
	cfg.webhookRetention = retention
	if cfg.rescueAfter, err = parseRescueAfter(os.Getenv("SWITCHBOARD_JOB_RESCUE_AFTER")); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if cfg.adminToken == "" {
		if cfg.adminToken, err = keptSecret(filepath.Join(dataDir, "admin-token"), func() string { return "sb_admin_" + randomString(30) }); err != nil {
			return err
		}
	}
	if cfg.encryptionKey == "" {
		if cfg.encryptionKey, err = keptSecret(filepath.Join(dataDir, "encryption-key"), seal.GenerateKey); err != nil {
			return err
		}
	}
	key, err := seal.ParseKey(cfg.encryptionKey)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_ENCRYPTION_KEY: %w", err)
	}
	box, err := seal.New(key)
	if err != nil {
		return err
	}
	// The key signing users' access tokens: kept like the encryption key, and read the same way.
	if cfg.sessionKey == "" {
		if cfg.sessionKey, err = keptSecret(filepath.Join(dataDir, "session-key"), seal.GenerateKey); err != nil {
			return err
		}
	}
	sessionKey, err := seal.ParseKey(cfg.sessionKey)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_SESSION_KEY: %w", err)
	}

	dsn := cfg.databaseURL
	embedded := dsn == ""
	if embedded {
		password, err := keptSecret(filepath.Join(dataDir, "pg-password"), func() string { return randomString(24) })
		if err != nil {
			return err
		}
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{
			DataDir: filepath.Join(dataDir, "pg"), Password: password, Durable: true, Logger: log,
		})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Error("stop embedded PostgreSQL", "error", err)
			}
		}()
		dsn = cluster.DSN("postgres")
	}

	db, err := store.Open(ctx, dsn, box)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("database ready", "embedded", embedded)

	var dev *devWorkspace
	if embedded {
		if dev, err = ensureDevWorkspace(ctx, db, filepath.Join(dataDir, "dev-workspace.json")); err != nil {
			return fmt.Errorf("development workspace: %w", err)
		}
	}

	// A job still running a minute after it started belongs to a process that died (every
	// worker's timeout is shorter): River runs it again, so a crash delays work, never loses it.
	runner, err := worker.Start(ctx, dsn, db, worker.Options{Logger: log, AllowPrivate: cfg.allowPrivateEndpoints,
		RescueAfter: cfg.rescueAfter, Webhooks: worker.WebhookOptions{Retention: cfg.webhookRetention}})
	if err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	defer func() {
		// ctx is done by now (a signal): the workers get their own 15 s to finish.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := runner.Stop(stopCtx); err != nil {
			log.Error("stop workers", "error", err)
		}
	}()
	log.Info("workers started", "worker_id", runner.ID(), "allow_private_endpoints", cfg.allowPrivateEndpoints,
		"webhook_retention", cfg.webhookRetention.String(), "job_rescue_after", cfg.rescueAfter.String())
	reg, err := metrics.Registry(db, runner.Metrics())
	if err != nil {
		return err
	}
	metricsHandler := metrics.Handler(reg)
	if cfg.metricsAddr != "" {
		mln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("SWITCHBOARD_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.publicURL == "" {
		cfg.publicURL = server.DefaultPublicURL(ln.Addr().String())
	}
	e, err := server.New(db, server.Config{AdminToken: cfg.adminToken, Logger: log, SessionKey: sessionKey, Metrics: metricsHandler,
		AllowPrivateEndpoints: cfg.allowPrivateEndpoints, PublicURL: cfg.publicURL})
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := server.HTTPServer(e)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(server.Listener(ln, e)) }()
	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.publicURL)
	printWelcome(ln.Addr().String(), cfg, dataDir, dev)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseRetention reads SWITCHBOARD_WEBHOOK_RETENTION: a Go duration (720h), "" = the default
// (90 days), 0 = keep webhook messages forever.
func parseRetention(v string) (time.Duration, error) {
	if v == "" {
		return worker.DefaultRetention, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("SWITCHBOARD_WEBHOOK_RETENTION: %q is not a duration such as 2160h (0 = keep forever)", v)
	}
	return d, nil
}

// parseLogLevel reads SWITCHBOARD_LOG_LEVEL: debug, info ("" = info), warn or error.
func parseLogLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("SWITCHBOARD_LOG_LEVEL: %q is not debug, info, warn or error", v)
}

// parseRescueAfter reads SWITCHBOARD_JOB_RESCUE_AFTER: a Go duration of at least 1 s, "" =
// a minute (longer than every worker's timeout, so a job still running is never run twice).
func parseRescueAfter(v string) (time.Duration, error) {
	if v == "" {
		return time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("SWITCHBOARD_JOB_RESCUE_AFTER: %q is not a duration of at least 1s, such as 1m", v)
	}
	return d, nil
}

// keptSecret returns the secret stored at path, creating it (mode 0600) with gen on first use,
// so a restart keeps the same value.
func keptSecret(path string, gen func() string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	s := gen()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func printWelcome(addr string, cfg config, dataDir string, dev *devWorkspace) {
	base := "http://" + addr
	var b strings.Builder
	fmt.Fprintf(&b, "\nSwitchboard is running on %s\n", base)
	if cfg.publicURL != base {
		fmt.Fprintf(&b, "  %-22s %s   (SWITCHBOARD_PUBLIC_URL: the base of portal links and the specs' servers)\n", "public URL:", cfg.publicURL)
	}
	fmt.Fprintf(&b, "  %-22s %s/docs/\n", "docs:", base)
	for i, sf := range openapi.Surfaces {
		label := ""
		if i == 0 {
			label = "specs (.yaml, .json):"
		}
		fmt.Fprintf(&b, "  %-22s %s/openapi/%-16s %s at %s%s\n", label, base, sf.Name+".yaml", sf.Title, base, sf.Prefix)
	}
	fmt.Fprintf(&b, "  %-22s %s\n", "data dir:", dataDir)
	if os.Getenv("SWITCHBOARD_ADMIN_TOKEN") == "" {
		fmt.Fprintf(&b, "  %-22s %s   (Authorization: Bearer …, for %s/admin/v1)\n", "admin token:", cfg.adminToken, base)
	}
	if dev != nil {
		fmt.Fprintf(&b, "  %-22s %s   (%s)\n", "workspace id:", dev.WorkspaceID, dev.Name)
		fmt.Fprintf(&b, "  %-22s %s\n", "API key (*):", dev.APIKey)
		fmt.Fprintf(&b, "  %-22s %s / %s   (SUPER_ADMIN; POST %s/api/auth/login, or %s/dashboard/)\n", "login:", dev.Email, dev.Password, base, base)
		fmt.Fprintf(&b, "\nTry:\n  curl %s/api/dispatch-configs -H \"Authorization: Bearer %s\" -H \"x-tenant-id: %s\"\n", base, dev.APIKey, dev.WorkspaceID)
	}
	fmt.Fprintln(&b, "\nCtrl-C stops the server (and its PostgreSQL).")
	fmt.Fprintln(os.Stderr, b.String())
}
