package worker

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "120": 2 * time.Minute, "junk": 0, "-5": 0,
		"Thu, 01 Jan 2026 12:01:00 GMT": time.Minute, "Thu, 01 Jan 2026 11:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	w := &webhookDelivery{opts: WebhookOptions{Schedule: DefaultSchedule, Jitter: 0.2}}
	for n := 1; n <= 10; n++ {
		base := DefaultSchedule[min(n-1, len(DefaultSchedule)-1)]
		for range 50 {
			got := w.backoff(n, 0)
			if got < base*8/10 || got > base*12/10 {
				t.Fatalf("backoff(%d) = %s, want %s ±20%%", n, got, base)
			}
		}
	}
	if got := w.backoff(1, time.Hour); got != time.Hour {
		t.Errorf("backoff with Retry-After 1h = %s, want 1h", got)
	}
	if got := w.backoff(1, 48*time.Hour); got != MaxRetryAfter {
		t.Errorf("backoff with Retry-After 48h = %s, want the cap %s", got, MaxRetryAfter)
	}
}

// TestRetentionJobs: with a retention, the River client gets the retention job as a periodic
// job; with retention 0 (keep forever) it gets none.
func TestRetentionJobs(t *testing.T) {
	t.Parallel()
	if n := len(retentionJobs(30 * 24 * time.Hour)); n != 1 {
		t.Errorf("periodic jobs: %d, want 1", n)
	}
	if n := len(retentionJobs(0)); n != 0 {
		t.Errorf("periodic jobs with retention 0: %d", n)
	}
}
