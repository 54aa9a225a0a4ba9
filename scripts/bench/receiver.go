package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The receiver runs in its own process (this binary started again with -receiver), so its CPU
// is counted apart from the server's and the load generator's. It is both a webhook endpoint
// (a request with a webhook-id header, answered 204) and a YOM provider (any other POST, whose
// JSON body has the activity's id, answered with YOM's {"id": …}). It records every distinct
// arrival (webhook-id and path, or activity id) and its time; the benchmark reads them over
// HTTP under /_bench/.
func receiverMain() error {
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r := &arrivals{seen: map[string]bool{}, last: map[string]int64{}, n: map[string]int{}, by: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_bench/count", func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprint(w, r.count(req.URL.Query().Get("prefix")))
	})
	mux.HandleFunc("GET /_bench/stats", func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		fmt.Fprintf(w, "%d %d %d %d %d", len(r.seen), r.dups, r.first, r.lastAt, r.conns.Load())
	})
	mux.HandleFunc("GET /_bench/arrivals", func(w http.ResponseWriter, req *http.Request) {
		prefix := req.URL.Query().Get("prefix")
		bw := bufio.NewWriter(w)
		r.mu.Lock()
		for id, at := range r.last {
			if strings.HasPrefix(id, prefix) {
				fmt.Fprintf(bw, "%s %d\n", id, at)
			}
		}
		r.mu.Unlock()
		_ = bw.Flush()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if id := req.Header.Get("webhook-id"); id != "" {
			_, _ = io.Copy(io.Discard, req.Body)
			r.add(id, id+" "+req.URL.Path)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var a struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(req.Body).Decode(&a)
		r.add(a.ID, a.ID)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"yom-%s"}`, a.ID)
	})
	fmt.Println("http://" + ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}}
	return srv.Serve(ln)
}

type arrivals struct {
	mu            sync.Mutex
	seen          map[string]bool  // key of every arrival
	last          map[string]int64 // id → last distinct arrival, Unix ns
	n             map[string]int   // id → distinct arrivals
	by            map[string]int   // first letter of the id → distinct arrivals
	dups          int
	first, lastAt int64
	conns         atomic.Int64 // connections accepted (the server's reuse of them)
}

func (r *arrivals) add(id, key string) {
	now := time.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		r.dups++
		return
	}
	r.seen[key] = true
	r.last[id] = now
	r.n[id]++
	if id != "" {
		r.by[id[:1]]++
	}
	if r.first == 0 {
		r.first = now
	}
	r.lastAt = now
}

func (r *arrivals) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(prefix) == 1 {
		return r.by[prefix]
	}
	return r.n[prefix]
}

// receiver is the benchmark's handle on the receiver process.
type receiver struct {
	cmd *exec.Cmd
	url string
	c   *http.Client
}

// startReceiver starts this binary again with -receiver and reads its URL.
func startReceiver(ctx context.Context) (*receiver, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(context.WithoutCancel(ctx), self, "-receiver")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("receiver: %w", err)
	}
	receiverPID = strconv.Itoa(cmd.Process.Pid)
	return &receiver{cmd: cmd, url: strings.TrimSpace(line), c: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Close ends the receiver process.
func (r *receiver) Close() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

func (r *receiver) get(path string) string {
	resp, err := r.c.Get(r.url + path) //nolint:noctx // a local control request, bounded by the client's timeout
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// count is the number of distinct arrivals of ids starting with prefix (one letter), or of
// the id itself when it is longer.
func (r *receiver) count(prefix string) int {
	n, _ := strconv.Atoi(r.get("/_bench/count?prefix=" + prefix))
	return n
}

// stats returns the distinct arrivals, the duplicates, and the first and last arrival.
func (r *receiver) stats() (total, dups int, first, last time.Time) {
	var f, l, c int64
	_, _ = fmt.Sscan(r.get("/_bench/stats"), &total, &dups, &f, &l, &c)
	return total, dups, time.Unix(0, f), time.Unix(0, l)
}

// conns is the number of connections the receiver has accepted.
func (r *receiver) conns() int64 {
	var total, dups int
	var f, l, c int64
	_, _ = fmt.Sscan(r.get("/_bench/stats"), &total, &dups, &f, &l, &c)
	return c
}

// arrivals returns the last arrival of every id starting with prefix.
func (r *receiver) arrivals(prefix string) map[string]time.Time {
	out := map[string]time.Time{}
	for line := range strings.Lines(r.get("/_bench/arrivals?prefix=" + prefix)) {
		id, ns, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseInt(ns, 10, 64)
		out[id] = time.Unix(0, v)
	}
	return out
}

// total is the number of distinct arrivals.
func (r *receiver) total() int { n, _, _, _ := r.stats(); return n }

// duplicates is the number of arrivals seen before.
func (r *receiver) duplicates() int { _, d, _, _ := r.stats(); return d }
