package metrics

import (
	"testing"
	"time"
)

// TestHotPathDoesNotAllocate: counting a request, an attempt, a delivery and a receive
// allocates nothing once their series exist (the hot paths call these on every request and
// delivery).
func TestHotPathDoesNotAllocate(t *testing.T) {
	observe := func() {
		ObserveRequest("webhooks", "sendMessage", 202, 3*time.Millisecond)
		ObserveAttempt(SideDispatch, true)
		ObserveDelivered(SideDispatch, 40*time.Millisecond)
		ObserveReceive("verified", true)
	}
	observe()
	if n := testing.AllocsPerRun(100, observe); n != 0 {
		t.Errorf("%v allocations per request, attempt, delivery and receive counted; want 0", n)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	for b.Loop() {
		ObserveRequest("webhooks", "sendMessage", 202, 3*time.Millisecond)
	}
}
