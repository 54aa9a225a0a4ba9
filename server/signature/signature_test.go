package signature

import (
	"strings"
	"testing"
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
