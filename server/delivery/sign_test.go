package delivery

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSignStandardWebhooksVector checks Sign against the Standard Webhooks spec's test vector
// (libraries/go/webhook_test.go in standard-webhooks/standard-webhooks).
func TestSignStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	// A different body, id or timestamp changes the signature.
	for _, other := range [][3]string{{"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331", `{"test": 2432232314}`},
		{"msg_other", "1614265330", `{"test": 2432232314}`}, {"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", `{"test": 2432232315}`}} {
		ts := int64(1614265330)
		if other[1] == "1614265331" {
			ts++
		}
		if s, _ := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", other[0], ts, []byte(other[2])); s == got {
			t.Errorf("Sign(%v) = the vector's signature", other)
		}
	}
	both, err := Signatures([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", otherSecret(t)}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil || !strings.HasPrefix(both, got+" v1,") {
		t.Errorf("Signatures = %q, %v; want the vector's signature first, then a second one", both, err)
	}
	if _, err := Sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, nil); err == nil {
		t.Error("a secret without whsec_ was accepted")
	}
}

func otherSecret(t *testing.T) string {
	t.Helper()
	return "whsec_" + strings.Repeat("QUJD", 8)
}

func TestRefused(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"::1": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "100.64.0.1": true, "::ffff:127.0.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false,
	} {
		if got := refused(netip.MustParseAddr(addr)) != ""; got != want {
			t.Errorf("refused(%s) = %v, want %v", addr, got, want)
		}
	}
}

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
	w := &worker{opts: Options{Schedule: DefaultSchedule, Jitter: 0.2}}
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
