package main_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeEmbeddedDefault runs the real binary the way `make run` does: first start creates
// the private cluster, the admin token and the development workspace; the printed key works;
// Ctrl-C (SIGINT) stops the server and its PostgreSQL; a restart keeps the same credentials.
func TestServeEmbeddedDefault(t *testing.T) {
	t.Parallel()
	root, err := os.MkdirTemp("", "switchboard-serve-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // the cluster runs as the postgres user
		t.Fatal(err)
	}
	bin := binary(t)
	dataDir := filepath.Join(root, "data")

	first := start(t, bin, dataDir)
	if first.token == "" || first.key == "" || first.workspace == "" {
		t.Fatalf("first start printed token %q, key %q, workspace %q", first.token, first.key, first.workspace)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := call(t, "GET", first.base+path, ""); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
	if code := call(t, "GET", first.base+"/api/dispatch-configs", first.key, "x-tenant-id", first.workspace); code != 200 {
		t.Errorf("the printed key does not work: %d", code)
	}
	if code := call(t, "GET", first.base+"/admin/v1/workspaces", first.token); code != 200 {
		t.Errorf("the printed admin token does not work: %d", code)
	}
	first.stop(t)
	if _, err := os.Stat(filepath.Join(dataDir, "pg", "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("PostgreSQL still running after Ctrl-C (postmaster.pid: %v)", err)
	}

	second := start(t, bin, dataDir)
	defer second.stop(t)
	if second.token != first.token || second.key != first.key || second.workspace != first.workspace {
		t.Errorf("a restart changed the credentials: %+v vs %+v", second, first)
	}
	if code := call(t, "GET", second.base+"/api/dispatch-configs", second.key); code != 200 {
		t.Errorf("after restart: %d", code)
	}
}

// TestMain removes the binary the tests share once they have run.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the switchboard binary, built once for every test of the package that runs it.
var built struct {
	once      sync.Once
	dir, path string
	err       error
	out       []byte
}

// binary returns the path of the switchboard binary, building it on first use.
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "switchboard-bin-*"); built.err != nil {
			return
		}
		// Reachable by the postgres user, as the tests' data directories must be.
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "switchboard")
		built.out, built.err = exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.path
}

type running struct {
	cmd                         *exec.Cmd
	base, token, key, workspace string
	done                        chan error
}

var (
	baseRe      = regexp.MustCompile(`running on (http://\S+)`)
	tokenRe     = regexp.MustCompile(`admin token:\s+(\S+)`)
	keyRe       = regexp.MustCompile(`API key \(\*\):\s+(\S+)`)
	workspaceRe = regexp.MustCompile(`workspace id:\s+(\S+)`)
)

func start(t *testing.T, bin, dataDir string) *running {
	t.Helper()
	return startEnv(t, bin, []string{"SWITCHBOARD_DATA_DIR=" + dataDir, "SWITCHBOARD_ADDR=127.0.0.1:0",
		"DATABASE_URL=", "SWITCHBOARD_ADMIN_TOKEN=", "SWITCHBOARD_ENCRYPTION_KEY="})
}

// startEnv starts `switchboard serve` with env added to this process's environment and waits
// until it is ready. Each watch function sees every line the process writes to stderr, from
// the first, until it exits.
func startEnv(t *testing.T, bin string, env []string, watch ...func(line string)) *running {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			for _, w := range watch {
				w(sc.Text())
			}
			lines <- sc.Text()
		}
		close(lines)
		r.done <- cmd.Wait()
	}()
	deadline := time.After(60 * time.Second)
	var out strings.Builder
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before it was ready:\n%s", out.String())
			}
			out.WriteString(line + "\n")
			for re, dst := range map[*regexp.Regexp]*string{baseRe: &r.base, tokenRe: &r.token, keyRe: &r.key, workspaceRe: &r.workspace} {
				if m := re.FindStringSubmatch(line); m != nil {
					*dst = m[1]
				}
			}
			if strings.Contains(line, "Ctrl-C stops") {
				go func() { // keep draining so the server never blocks on a full pipe
					for range lines {
					}
				}()
				return r
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("serve not ready in 60 s:\n%s", out.String())
		}
	}
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		t.Error("serve did not stop within 30 s of SIGINT")
	}
}

func call(t *testing.T, method, url, token string, headers ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
