// Package pgcluster runs a private PostgreSQL server from the system's
// PostgreSQL binaries. It backs both `switchboard serve` (a persistent
// cluster that is initialised on first start and reused afterwards) and
// tests (a throwaway cluster in a temporary directory).
//
// The server is started directly as a child process rather than through
// pg_ctl so that we own its lifetime: it dies with us (Pdeathsig) and is
// stopped in order by Stop.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures Start.
type Options struct {
	// DataDir is the cluster directory. It is created with initdb if it
	// holds no PG_VERSION file; otherwise the existing cluster is reused.
	DataDir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free port at each start.
	Port int
	// Password is the password of the superuser "postgres". "" means trust
	// authentication (fine for tests, which only listen on loopback). It is
	// only applied when the cluster is initialised; changing it later has no
	// effect on an existing cluster.
	Password string
	// Durable keeps PostgreSQL's crash-safety defaults. When false (tests)
	// fsync, synchronous_commit and full_page_writes are turned off for speed.
	Durable bool
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
	// LogFile receives the server's stdout and stderr. "" means
	// <DataDir>/../postgres.log, keeping server chatter out of our own output.
	LogFile string
	// MaxConnections is the server's max_connections; 0 means 200.
	MaxConnections int
	// Settings are extra server settings (name=value), passed as -c options.
	Settings []string
}

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	opts     Options
	port     int
	cmd      *exec.Cmd
	done     chan struct{} // closed once the postmaster has exited
	log      *slog.Logger
	stopOnce sync.Once
	stopErr  error
}

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Start initialises DataDir if needed, starts postgres on 127.0.0.1 and
// waits until it accepts connections. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgcluster: DataDir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 200
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = dir
	if opts.LogFile == "" {
		opts.LogFile = filepath.Join(filepath.Dir(dir), "postgres.log")
	}
	bin, err := binDir(ctx)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, cred); err != nil {
		return nil, err
	}
	if err := checkNotRunning(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		opts.Logger.Info("initializing cluster", "dir", dir)
		if err := initdb(ctx, bin, opts, cred); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		c, err := launch(ctx, bin, opts, cred)
		// With an auto-picked port another process may grab it between our
		// probe and postgres binding it; just pick another one.
		if err != nil && opts.Port == 0 && attempt < 3 && isBindError(err) {
			opts.Logger.Info("port taken, retrying", "attempt", attempt)
			continue
		}
		return c, err
	}
}

// StartStandby makes opts.DataDir a streaming standby of primary (pg_basebackup -R: a copy of
// its data directory, with standby.signal and primary_conninfo), starts it on its own port and
// waits until it accepts (read-only) connections. The primary must allow replication
// connections from 127.0.0.1, as initdb's default pg_hba.conf does. opts.DataDir must not hold
// a cluster yet; Password is the primary's. The caller must call Stop.
func StartStandby(ctx context.Context, primary *Cluster, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgcluster: DataDir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = primary.opts.MaxConnections // a standby needs at least the primary's
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = dir
	if opts.LogFile == "" {
		opts.LogFile = filepath.Join(filepath.Dir(dir), "standby.log")
	}
	if opts.Password == "" {
		opts.Password = primary.opts.Password
	}
	bin, err := binDir(ctx)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, cred); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return nil, fmt.Errorf("pgcluster: %s already holds a cluster", dir)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port),
		"-U", "postgres", "-D", dir, "-R", "-X", "stream", "--checkpoint=fast", "-w")
	cmd.Dir = filepath.Dir(dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "PGPASSWORD="+opts.Password) // never on the command line (ps)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgcluster: pg_basebackup: %w\n%s", err, out)
	}
	opts.Logger.Info("standby copied", "dir", dir, "primary_port", primary.port)
	return launch(ctx, bin, opts, cred)
}

// Promote ends a standby's recovery (pg_ctl promote) and waits until it takes writes.
func (c *Cluster) Promote(ctx context.Context) error {
	bin, err := binDir(ctx)
	if err != nil {
		return err
	}
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "promote", "-D", c.opts.DataDir, "-w", "-t", "60")
	cmd.Dir = filepath.Dir(c.opts.DataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: pg_ctl promote: %w\n%s", err, out)
	}
	c.log.Info("promoted", "dir", c.opts.DataDir, "port", c.port)
	return nil
}

// DSN returns a lib/pq URL for dbname, including the password if one is set.
func (c *Cluster) DSN(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	if c.opts.Password != "" {
		u.User = url.UserPassword("postgres", c.opts.Password)
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// PID is the postmaster's process id; every backend is its child.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Stop performs a fast shutdown (SIGINT: roll back sessions, checkpoint,
// exit) and waits for the postmaster to exit, escalating to SIGQUIT after
// 30 s. It is idempotent and returns nil if the server already exited.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.stopErr = fmt.Errorf("pgcluster: signal postgres: %w", err)
			return
		}
		select {
		case <-c.done:
		case <-time.After(stopTimeout):
			c.log.Warn("postgres did not stop in time, sending SIGQUIT", "pid", c.cmd.Process.Pid)
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			<-c.done
		}
		c.log.Info("stopped", "dir", c.opts.DataDir)
	})
	return c.stopErr
}

// launch starts one postmaster on opts.Port (or a fresh free port) and
// waits for it to accept connections.
func launch(ctx context.Context, bin string, opts Options, cred *syscall.Credential) (*Cluster, error) {
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(ctx); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(opts.LogFile), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own copy of the descriptor
	logStart, _ := logf.Seek(0, io.SeekEnd)

	args := []string{"-D", opts.DataDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", // TCP only: no socket files to clean up or to collide on
		"-c", "max_connections=" + strconv.Itoa(opts.MaxConnections)}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, kv := range opts.Settings {
		args = append(args, "-c", kv)
	}
	// The server outlives ctx (Stop ends it): its values, not its cancellation.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), filepath.Join(bin, "postgres"), args...)
	cmd.Dir = filepath.Dir(opts.DataDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Own process group: a terminal Ctrl-C reaches only us, and we shut
		// postgres down in order instead of it dying mid-request.
		Setpgid: true,
		// If we crash, the postmaster gets SIGQUIT instead of lingering.
		Pdeathsig: syscall.SIGQUIT,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c := &Cluster{opts: opts, port: port, cmd: cmd, done: make(chan struct{}), log: opts.Logger}
	go func() { _ = cmd.Wait(); close(c.done) }()

	if err := c.waitReady(ctx, bin); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-c.done
		return nil, fmt.Errorf("%w\n--- %s (tail) ---\n%s", err, opts.LogFile, logTail(opts.LogFile, logStart, 20))
	}
	opts.Logger.Info("started", "dir", opts.DataDir, "port", port, "pid", cmd.Process.Pid)
	return c, nil
}

// waitReady polls until the server accepts connections, it exits, or the
// timeout/ctx expires. A cheap TCP dial gates the pg_isready run.
func (c *Cluster) waitReady(ctx context.Context, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
	for {
		select {
		case <-c.done:
			return fmt.Errorf("pgcluster: postgres exited during startup (%v)", c.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: waiting for postgres to accept connections: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			ready := exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"),
				"-q", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-d", "postgres", "-t", "2")
			if ready.Run() == nil {
				return nil
			}
		}
	}
}

func initdb(ctx context.Context, bin string, opts Options, cred *syscall.Credential) error {
	args := []string{"-D", opts.DataDir, "-U", "postgres", "-E", "UTF8", "--locale=C"}
	if !opts.Durable {
		args = append(args, "--no-sync")
	}
	if opts.Password == "" {
		args = append(args, "--auth=trust")
	} else {
		// The password goes through a file, never the command line (ps).
		f, err := os.CreateTemp("", "pgcluster-pw-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		_, err = f.WriteString(opts.Password + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && cred != nil {
			err = os.Chown(f.Name(), int(cred.Uid), int(cred.Gid))
		}
		if err != nil {
			return err
		}
		args = append(args, "--auth=scram-sha-256", "--pwfile="+f.Name())
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Dir = filepath.Dir(opts.DataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w\n%s", err, out)
	}
	return nil
}

// binDir finds the PostgreSQL server binaries: pg_config's answer if it has
// a postgres binary, else the newest /usr/lib/postgresql/*/bin (Debian).
func binDir(ctx context.Context) (string, error) {
	if out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin)")
}

// serverCredential returns the identity for initdb/postgres: nil (ourselves)
// normally, the "postgres" OS user when root, since both refuse to run as root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a \"postgres\" OS user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: postgres user ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir creates dir (0700, as postgres insists) and its missing parents,
// hands the ones we created to the server user, and checks that the server
// user can traverse every ancestor. Existing ancestors are never chmod'ed:
// loosening permissions of someone else's directories is not our call.
func prepareDir(dir string, cred *syscall.Credential) error {
	parent := filepath.Dir(dir)
	var created []string
	for d := parent; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if cred == nil {
		return nil
	}
	for _, d := range append(created, dir) {
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	real, err := filepath.EvalSymlinks(parent)
	if err != nil {
		return err
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, m := fi.Sys().(*syscall.Stat_t), fi.Mode().Perm()
		// Primary group only; supplementary groups are ignored for simplicity.
		if m&0o001 == 0 && !(st.Uid == cred.Uid && m&0o100 != 0) && !(st.Gid == cred.Gid && m&0o010 != 0) {
			return fmt.Errorf("pgcluster: the postgres OS user cannot reach data dir %s: ancestor %s (mode %v) is not traversable by it; "+
				"choose a SWITCHBOARD_DATA_DIR under a world-traversable path (e.g. /var/lib/switchboard)", dir, d, m)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// checkNotRunning fails if postmaster.pid names a live postgres process.
// A stale file from a killed run is left for postgres, which removes it.
func checkNotRunning(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	// The pid may have been recycled by an unrelated process, so also check its name.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err == nil && strings.TrimSpace(string(comm)) == "postgres" {
		return fmt.Errorf("pgcluster: a postgres server (pid %d) is already running on %s", pid, dir)
	}
	return nil
}

func freePort(ctx context.Context) (int, error) {
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func isBindError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "could not bind") || strings.Contains(s, "Address already in use")
}

// logTail returns the last n lines written to path at or after offset.
func logTail(path string, offset int64, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if offset <= int64(len(b)) {
		b = b[offset:]
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
