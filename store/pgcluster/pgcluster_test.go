package pgcluster_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/switchboard-dev/switchboard/store/pgcluster"
)

// tempRoot returns a world-traversable temp dir. t.TempDir() is not enough
// when running as root: its 0700 root-owned parent blocks the postgres user.
func tempRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func start(t *testing.T, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	c, err := pgcluster.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStartSelect(t *testing.T) {
	t.Parallel()
	c := start(t, pgcluster.Options{DataDir: filepath.Join(tempRoot(t), "pg")})
	if c.Port() == 0 {
		t.Fatal("Port() = 0")
	}
	var one int
	if err := open(t, c.DSN("postgres")).QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestRestartReusesCluster(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(tempRoot(t), "nested", "pg")
	c := start(t, pgcluster.Options{DataDir: dataDir})
	db := open(t, c.DSN("postgres"))
	if _, err := db.Exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}

	// A second server on a live data dir must be refused clearly.
	if _, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: dataDir}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start on live DataDir: err = %v, want 'already running'", err)
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	db.Close()
	if err := open(t, c.DSN("postgres")).Ping(); err == nil {
		t.Fatal("server still accepts connections after Stop")
	}

	c2 := start(t, pgcluster.Options{DataDir: dataDir})
	var v string
	if err := open(t, c2.DSN("postgres")).QueryRow("SELECT v FROM kept").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("after restart: v = %q, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dataDir), "postgres.log")); err != nil {
		t.Fatalf("default log file: %v", err)
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cret/with:odd@chars"
	c := start(t, pgcluster.Options{DataDir: filepath.Join(tempRoot(t), "pg"), Password: pw, Durable: true})
	dsn := c.DSN("postgres")
	if err := open(t, dsn).Ping(); err != nil {
		t.Fatalf("right password: %v", err)
	}
	wrong := strings.Replace(dsn, "s3cret", "wrong", 1)
	if wrong == dsn {
		t.Fatalf("DSN %q does not contain the password", dsn)
	}
	if err := open(t, wrong).Ping(); err == nil {
		t.Fatal("wrong password accepted")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("postgres")
	if err := open(t, u.String()).Ping(); err == nil {
		t.Fatal("missing password accepted")
	}
}

func TestUntraversableAncestor(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only meaningful as root, where the server runs as the postgres user")
	}
	private := filepath.Join(tempRoot(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: filepath.Join(private, "sub", "pg")})
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_DATA_DIR") {
		t.Fatalf("err = %v, want traversal error", err)
	}
}
