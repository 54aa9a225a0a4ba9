// Package storetest gives tests a real, migrated PostgreSQL database of their own.
//
// The first call in a test binary starts a throwaway cluster (pgcluster, in a temp dir, not
// durable) and migrates a template database once; every NewDB then clones the template with
// CREATE DATABASE … TEMPLATE, which takes tens of milliseconds, so tests run in parallel
// without seeing each other's rows. Use Main in TestMain to stop the cluster at the end.
package storetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver store uses

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

const template = "switchboard_template"

var (
	once    sync.Once
	cluster *pgcluster.Cluster
	admin   *sqlx.DB
	root    string
	initErr error
	seq     atomic.Int64
	// Box is the key every test database seals secrets with.
	Box, _ = seal.New([]byte("storetest-key-0123456789abcdef!!"))
)

// Main runs the tests of a package and then stops the cluster, if one was started.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		admin.Close()
		_ = cluster.Stop()
		os.RemoveAll(root)
	}
	os.Exit(code)
}

func start() {
	ctx := context.Background()
	// Not t.TempDir(): its parent is private to root, and the cluster runs as the postgres user.
	root, initErr = os.MkdirTemp("", "switchboard-test-*")
	if initErr != nil {
		return
	}
	if initErr = os.Chmod(root, 0o755); initErr != nil {
		return
	}
	cluster, initErr = pgcluster.Start(ctx, pgcluster.Options{DataDir: root + "/pg"})
	if initErr != nil {
		return
	}
	if admin, initErr = sqlx.Open("postgres", cluster.DSN("postgres")); initErr != nil {
		return
	}
	if _, initErr = admin.Exec(`CREATE DATABASE ` + template); initErr != nil {
		return
	}
	db, err := store.Open(ctx, cluster.DSN(template), Box)
	if err != nil {
		initErr = err
		return
	}
	defer db.Close()
	initErr = db.Migrate(ctx)
}

// DSN returns a new migrated database's connection string; the database is dropped when the
// test ends.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if initErr != nil {
		t.Fatalf("storetest: start PostgreSQL: %v", initErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		}
	})
	return cluster.DSN(name)
}

// EmptyDSN returns a new database's connection string, its schema not migrated (a test of the
// migrations applies them); the database is dropped when the test ends.
func EmptyDSN(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if initErr != nil {
		t.Fatalf("storetest: start PostgreSQL: %v", initErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE template0`); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		}
	})
	return cluster.DSN(name)
}

// NewDB returns a store on a new migrated database, opened with opts (store.WithClock, for
// instance), closed when the test ends.
func NewDB(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	return Open(t, DSN(t), opts...)
}

// Open returns a store on the database at dsn (from DSN), opened with opts and closed when the
// test ends: a second one on the same database stands for a second server process.
func Open(t testing.TB, dsn string, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, Box, opts...)
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
