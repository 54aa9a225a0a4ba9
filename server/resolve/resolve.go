// Package resolve makes the calls attribute resolution needs outside the database: the
// CLIENT_HOOK calls of attribute policies, each a signed POST (Standard Webhooks, package
// signature) through the egress guard, bounded by its policy's timeout. What is resolved, and
// how, is decided by the store (store/resolution.go); the create handler (UPFRONT attributes),
// retry-resolution and the dispatch worker (ON_DISPATCH attributes) hand it the calls the store
// asks for. It imports no surface and no worker: both use it.
package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/server/signature"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// MaxAnswerBytes bounds a hook's answer: a longer one fails the attribute.
const MaxAnswerBytes = 64 << 10

// maxTimeout bounds every call, whatever its policy says (the spec's hook_timeout_ms maximum).
const maxTimeout = 10 * time.Second

// Options tune Hooks.
type Options struct {
	// AllowPrivate lets hook calls reach loopback, private and link-local addresses (local
	// development and tests; SWITCHBOARD_ALLOW_PRIVATE_ENDPOINTS).
	AllowPrivate bool
	// Now is the clock of webhook-timestamp (default time.Now).
	Now func() time.Time
}

// Hooks makes CLIENT_HOOK calls. It is safe for concurrent use; make one per process part and
// keep it (its client holds the idle connections).
type Hooks struct {
	http *egress.Client
	now  func() time.Time
}

// New returns Hooks.
func New(o Options) *Hooks {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Hooks{now: o.Now, http: egress.New(egress.Options{Timeout: maxTimeout, AllowPrivate: o.AllowPrivate,
		MaxResponseBytes: MaxAnswerBytes, UserAgent: "Switchboard-Attribute-Hook/1"})}
}

// Call makes calls concurrently and returns their results in order (a store.HookFunc).
func (h *Hooks) Call(ctx context.Context, calls []store.HookCall) []store.HookResult {
	results := make([]store.HookResult, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.call(ctx, c)
		}()
	}
	wg.Wait()
	return results
}

func (h *Hooks) call(ctx context.Context, c store.HookCall) store.HookResult {
	fail := func(format string, args ...any) store.HookResult {
		return store.HookResult{Error: "the hook " + fmt.Sprintf(format, args...)}
	}
	body := Body(c)
	id := "hook_" + uuid.NewString()
	ts := h.now().Unix()
	sigs, err := signature.Signatures(c.Secrets, id, ts, body)
	if err != nil || len(c.Secrets) == 0 {
		return fail("cannot be signed: the policy's secret is unusable; rotate it")
	}
	timeout := min(c.Timeout, maxTimeout)
	if timeout <= 0 {
		timeout = store.DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := h.http.Do(ctx, egress.Request{URL: c.URL, Body: body, Header: http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
		"Webhook-Signature": {sigs},
	}})
	var invalid *egress.InvalidURLError
	switch {
	case err == nil:
	case errors.As(err, &invalid):
		return fail("URL is invalid: %s", invalid.Why)
	case egress.Timeout(err):
		return fail("did not answer within %s", timeout)
	case egress.Refused(err):
		return fail("was not called: %s", egress.Describe(err))
	default:
		return fail("could not be reached: %s", egress.Describe(err))
	}
	switch {
	case !resp.OK() && len(bytes.TrimSpace(resp.Body)) == 0:
		return fail("answered %d", resp.StatusCode)
	case !resp.OK():
		return fail("answered %d: %s", resp.StatusCode, excerpt(resp.Body, 300))
	case resp.Truncated:
		return fail("answer is larger than %d KiB", MaxAnswerBytes>>10)
	case !json.Valid(resp.Body):
		return fail("answer is not JSON: %s", excerpt(resp.Body, 100))
	case bytes.Contains(resp.Body, []byte(`\u0000`)):
		return fail("answer holds a NUL character (\\u0000), which cannot be stored")
	}
	return store.HookResult{Value: resp.Body}
}

// Body is what a hook call sends: {"type": "attribute.resolve", "attributeKey",
// "attributeKeyId", "activity" (the Activity as the API shows it), "commerce" (as commerce_info
// shows it)} (the spec's AttributeHookRequest).
func Body(c store.HookCall) []byte {
	b := make([]byte, 0, 2048)
	b = append(b, `{"type":"attribute.resolve","attributeKey":`...)
	b = jsonappend.String(b, c.Key)
	b = append(b, `,"attributeKeyId":"`...)
	b = append(b, c.AttributeKeyID.String()...)
	b = append(b, `","activity":`...)
	b = activityjson.Append(b, c.Activity)
	b = append(b, `,"commerce":`...)
	b = append(b, c.Commerce...)
	return append(b, '}')
}

// excerpt is at most n bytes of an answer, cut between characters, valid UTF-8, on one line.
func excerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
