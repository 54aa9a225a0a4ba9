package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store/pgcluster"
	"github.com/switchboard-dev/switchboard/store/seal"
)

// TestIngestSurvivesSIGKILL: the real binary is killed with SIGKILL during a burst of requests
// to a source's URL; after a restart on the same database every event that was answered 2xx is
// in the ledger, with its delivery.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	root, err := os.MkdirTemp("", "switchboard-ingest-crash-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cluster, err := pgcluster.Start(context.Background(), pgcluster.Options{DataDir: filepath.Join(root, "pg"), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	bin := binary(t)
	env := []string{"DATABASE_URL=" + cluster.DSN("postgres"), "SWITCHBOARD_ADMIN_TOKEN=crash-admin",
		"SWITCHBOARD_ENCRYPTION_KEY=" + seal.GenerateKey(), "SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS=true",
		"SWITCHBOARD_DATA_DIR=" + filepath.Join(root, "data"), "SWITCHBOARD_ADDR=127.0.0.1:0"}
	first := startEnv(t, bin, env)
	call := func(method, url, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	must := func(status int, out map[string]any) map[string]any {
		t.Helper()
		if status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("setup call: %d %v", status, out)
		}
		return out
	}
	ws := must(call("POST", first.base+"/admin/v1/workspaces", "crash-admin", `{"name":"crash"}`))["id"].(string)
	key := must(call("POST", first.base+"/admin/v1/workspaces/"+ws+"/api-keys", "crash-admin", `{"name":"k","permissions":["*"]}`))["key"].(string)
	src := must(call("POST", first.base+"/api/v1/ingest/sources", key, `{"name":"crash","type":"none"}`))
	must(call("POST", first.base+"/api/v1/ingest/destinations", key, `{"url":"http://127.0.0.1:9/","sourceIds":["`+src["sourceId"].(string)+`"]}`))
	url := src["url"].(string)

	var accepted sync.Map
	var n atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				status, out := call("POST", url, "", fmt.Sprintf(`{"type":"order.created","g":%d,"i":%d}`, g, i))
				if status == http.StatusOK {
					accepted.Store(out["eventId"].(string), true)
					n.Add(1)
				}
			}
		}()
	}
	for n.Load() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if err := <-first.done; err == nil {
		t.Error("the killed process exited cleanly")
	}

	second := startEnv(t, bin, env)
	defer second.stop(t)
	missing, checked := 0, 0
	accepted.Range(func(k, _ any) bool {
		checked++
		status, ev := call("GET", second.base+"/api/v1/ingest/events/"+k.(string), key, "")
		if status != http.StatusOK || len(ev["deliveries"].([]any)) != 1 {
			missing++
		}
		return true
	})
	t.Logf("killed after %d events answered 200; %d checked after the restart, %d missing", n.Load(), checked, missing)
	if missing > 0 {
		t.Errorf("%d events answered 200 are not in the ledger (with their delivery) after the crash", missing)
	}
}
