package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// recorder is a batch write that records what it was given and fails as told.
type recorder struct {
	mu      sync.Mutex
	entered int // writes begun
	batches [][]string
	gate    chan struct{} // when not nil, every write waits for it to close
	fail    func(batch []string) error
}

func (r *recorder) write(ctx context.Context, ins []string) ([]batchResult[string], error) {
	r.mu.Lock()
	r.entered++
	r.mu.Unlock()
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(ins))
	r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(ins); err != nil {
			return nil, err
		}
	}
	out := make([]batchResult[string], len(ins))
	for i, in := range ins {
		out[i] = batchResult[string]{out: "stored " + in}
	}
	return out, nil
}

func (r *recorder) written() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	for _, b := range r.batches {
		all = append(all, b...)
	}
	return all
}

// TestBatcherAnswersEachCall: concurrent calls each get their own result.
func TestBatcherAnswersEachCall(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	defer close(stop)
	r := &recorder{}
	b := newBatcher(stop, r.write, nil, 0)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := string(rune('A'+i%26)) + string(rune('a'+i/26))
			if out, err := b.do(context.Background(), in); err != nil || out != "stored "+in {
				t.Errorf("call %s: %q %v", in, out, err)
			}
		}()
	}
	wg.Wait()
	if n := len(r.written()); n != 200 {
		t.Errorf("%d rows written, want 200", n)
	}
}

// TestBatcherSkipsCallsWhoseCallerLeft: a call whose context ended before its batch was
// written is answered with that error and never written (its caller was told it failed).
func TestBatcherSkipsCallsWhoseCallerLeft(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	defer close(stop)
	r := &recorder{gate: make(chan struct{})}
	b := newBatcher(stop, r.write, nil, 0)
	done := occupy(t, b, r)
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { _, err := b.do(ctx, "gone"); left <- err }()
	waitFor(t, func() bool { return len(b.calls) == 1 })
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left got %v", err)
	}
	close(r.gate)
	settle(done)
	if _, err := b.do(context.Background(), "after"); err != nil {
		t.Fatal(err)
	}
	if w := r.written(); slices.Contains(w, "gone") || !slices.Contains(w, "after") {
		t.Errorf("written: %v (must not hold \"gone\")", w)
	}
}

// TestBatcherRetriesRowErrorsAlone: a batch that fails on one row's data is written again
// one call at a time, so only that call fails; a batch that fails otherwise (the database
// unreachable) fails each call once, without a retry per row.
func TestBatcherRetriesRowErrorsAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		retried  bool
		goodFail bool
	}{
		{"row error", &pq.Error{Code: "23514"}, true, false},
		{"deadlock", &pq.Error{Code: "40P01"}, true, false},
		{"connection", errors.New("dial tcp: connection refused"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			defer close(stop)
			r := &recorder{gate: make(chan struct{})}
			r.fail = func(batch []string) error {
				if slices.Contains(batch, "bad") {
					return tc.err
				}
				return nil
			}
			b := newBatcher(stop, r.write, nil, 0)
			// Occupy both writers, queue a batch with the bad row, then let everything run.
			results := make(map[string]error)
			var mu sync.Mutex
			var wg sync.WaitGroup
			call := func(in string) {
				defer wg.Done()
				_, err := b.do(context.Background(), in)
				mu.Lock()
				results[in] = err
				mu.Unlock()
			}
			done := occupy(t, b, r)
			for _, in := range []string{"good1", "bad", "good2"} {
				wg.Add(1)
				go call(in)
			}
			waitFor(t, func() bool { return len(b.calls) == 3 })
			close(r.gate)
			wg.Wait()
			settle(done)
			if results["bad"] == nil {
				t.Errorf("the bad row succeeded")
			}
			for _, in := range []string{"good1", "good2"} {
				if (results[in] != nil) != tc.goodFail {
					t.Errorf("%s: %v (want failed=%v)", in, results[in], tc.goodFail)
				}
			}
			alone := 0
			for _, batch := range r.batches {
				if len(batch) == 1 && batch[0] == "bad" {
					alone++
				}
			}
			if retried := alone > 0; retried != tc.retried {
				t.Errorf("bad row written alone %d times; batches %v", alone, r.batches)
			}
		})
	}
}

// TestBatcherAnswersQueuedCallsOnClose: calls still queued when the store closes are answered
// (errClosed or written), none left waiting.
func TestBatcherAnswersQueuedCallsOnClose(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	r := &recorder{gate: make(chan struct{})}
	b := newBatcher(stop, r.write, nil, 0)
	done := occupy(t, b, r)
	answers := make(chan error, 50)
	for range 50 {
		go func() { _, err := b.do(context.Background(), "x"); answers <- err }()
	}
	waitFor(t, func() bool { return len(b.calls) == 50 })
	close(stop)
	close(r.gate)
	closed := 0
	for range 50 {
		select {
		case err := <-answers:
			if errors.Is(err, errClosed) {
				closed++
			} else if err != nil {
				t.Errorf("answer: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a queued call was never answered")
		}
	}
	settle(done)
	if closed == 0 {
		t.Errorf("no call was answered errClosed")
	}
}

// occupy makes both writers of b busy, each blocked in r's write with one call ("w1", "w2"),
// and returns a channel that gets their errors once r.gate is closed.
func occupy(t *testing.T, b *batcher[string, string], r *recorder) <-chan error {
	t.Helper()
	done := make(chan error, 2)
	for n, in := range []string{"w1", "w2"} {
		go func() { _, err := b.do(context.Background(), in); done <- err }()
		waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.entered == n+1 })
	}
	return done
}

// settle waits for the two calls occupy started to end, and returns what they got (which the
// tests do not check).
func settle(done <-chan error) []error {
	return []error{<-done, <-done}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
