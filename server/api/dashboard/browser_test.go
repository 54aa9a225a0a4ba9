package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// chromium is Debian's browser, which scripts/deps.sh installs.
const chromium = "/usr/bin/chromium"

// TestDashboardInBrowser drives the dashboard in headless Chromium against a real server:
// sign in, create an API key, create an app and an endpoint, send a message and see its
// (failed) attempt, replay it (and see it succeed), see an Ingest event and resolve its issue,
// open an UNRESOLVED activity and retry its resolution (READY) once its commerce has the user.
// A screenshot of every step is kept in a directory the log names when the test fails (or
// when SWITCHBOARD_KEEP_SCREENSHOTS is set).
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: `make deps` installs Debian's chromium (%v)", chromium, err)
	}
	started := time.Now()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	ws, key := env.Workspace(t, "*")
	email, password := env.User(t, ws, "SUPER_ADMIN")

	// The receiver fails until the replay; the workers retry every 200 ms meanwhile.
	var up atomic.Bool
	recv := servertest.NewReceiver(t)
	recv.SetRespond(func(_ int, w http.ResponseWriter) {
		if up.Load() {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("thanks"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("down for maintenance"))
	})

	// Ingest: a Stripe source, and a request to it without a signature: a rejected event and a
	// verification issue.
	ing := env.Ingest(t, key)
	secret := "whsec_test"
	src, err := ing.CreateSourceWithResponse(context.Background(), ingestclient.CreateSourceRequest{Name: "Stripe", Type: "stripe", Secret: &secret})
	if err != nil || src.JSON201 == nil {
		t.Fatalf("create source: %v %s", err, src.Body)
	}
	resp, err := http.Post(src.JSON201.Url, "application/json", strings.NewReader(`{"id":"evt_1","type":"invoice.paid"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var issueID string
	servertest.Eventually(t, 10*time.Second, "a verification issue", func() bool {
		r, err := ing.ListIssuesWithResponse(context.Background(), nil)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list issues: %v", err)
		}
		if len(r.JSON200.Data) > 0 {
			issueID = r.JSON200.Data[0].IssueId.String()
		}
		return issueID != ""
	})
	events, err := ing.ListEventsWithResponse(context.Background(), nil)
	if err != nil || events.JSON200 == nil || len(events.JSON200.Data) != 1 {
		t.Fatalf("list events: %v %s", err, events.Body)
	}
	eventID := events.JSON200.Data[0].EventId.String()

	// Activities: a config that picks the commerce's FINANCE user, without fallbacks, and an
	// activity (due in an hour) for a commerce that has none: UNRESOLVED.
	api := func(method, path, body string, want int) []byte {
		t.Helper()
		status, b := env.Do(t, method, "/api"+path, body, "x-api-key", key)
		if status != want {
			t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
		return b
	}
	type ref struct{ ID, Status string }
	api("POST", "/activity-config/target-resolution", `{"resolution_strategy":"ON_CREATION","fallback_to_commerce_rep":false,
		"fallback_to_owner":false,"criteria":[{"type":"ROLE_MATCH","config":{"role":"FINANCE"}}]}`, 201)
	commerce := servertest.Decode[ref](t, api("POST", "/commerces", `{"name":"Almacen Don Pepe"}`, 201)).ID
	activity := servertest.Decode[ref](t, api("POST", "/activities", fmt.Sprintf(`{"type":"MESSAGE","reason":"Monthly promotion",
		"channel":"SALESMAN","commerce_id":%q,"idempotency_key":"dash-1","scheduled_at":%q,"attribute_keys":["commerce_info"]}`, commerce,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), 201))
	if activity.Status != "UNRESOLVED" {
		t.Fatalf("the activity is %s, want UNRESOLVED", activity.Status)
	}

	dir, err := os.MkdirTemp("", "dashboard-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SWITCHBOARD_KEEP_SCREENSHOTS") != "" {
			t.Logf("screenshots of every step: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1600))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	step := 0
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step++
		err := chromedp.Do(bctx, actions...)
		if shot, serr := chromedp.Run(bctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.png", step, name)), shot, 0o600)
		}
		if err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("step %d (%s): %v\npage: %.2000s", step, name, err, page)
		}
	}
	// contains waits until the element sel holds text.
	contains := func(sel, text string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.includes(%q)`, sel, text),
			chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
	}
	view := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`nav button[data-view=%q]`, name)))
	}

	run("sign-in",
		chromedp.Navigate(env.URL+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		contains("#user-email", email))

	run("create-key",
		view("keys"),
		chromedp.WaitVisible(chromedp.CSS("#key-form")),
		chromedp.SendKeys(chromedp.CSS("#key-name"), "backend"),
		chromedp.Click(chromedp.CSS(`input[data-perm="message:read"]`)),
		chromedp.Click(chromedp.CSS("#key-form-submit")),
		chromedp.WaitVisible(chromedp.CSS("#new-key")))
	created, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#new-key")))
	if err != nil || !strings.HasPrefix(created, "sb_sk_") {
		t.Fatalf("the new key: %q %v", created, err)
	}
	if status, body := env.Do(t, "GET", "/api/v1/apps", "", "Authorization", "Bearer "+created); status != 403 {
		t.Fatalf("the key holds only message:read, yet GET /apps: %d %s", status, body) // app:read was not chosen
	}

	run("create-app-and-endpoint",
		view("dispatch"),
		chromedp.WaitVisible(chromedp.CSS("#app-form")),
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Billing webhooks"),
		chromedp.Click(chromedp.CSS("#app-form-submit")),
		chromedp.WaitVisible(chromedp.CSS("#event-type-form")),
		chromedp.SendKeys(chromedp.CSS("#event-type-name"), "invoice.paid"),
		chromedp.Click(chromedp.CSS("#event-type-form-submit")),
		contains("#event-types", "invoice.paid"),
		chromedp.SendKeys(chromedp.CSS("#recipient-id"), "customer_123"),
		chromedp.Click(chromedp.CSS("#recipient-form-submit")),
		chromedp.WaitVisible(chromedp.CSS("#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS("#endpoint-url"), recv.URL),
		chromedp.Click(chromedp.CSS("#endpoint-form-submit")),
		contains("#endpoints", recv.URL))

	run("send-and-see-attempt",
		chromedp.SetValue(chromedp.CSS("#message-data"), `{"invoiceId":"inv_123"}`),
		chromedp.Click(chromedp.CSS("#message-form-submit")),
		chromedp.WaitVisible(chromedp.CSS("#message-detail")),
		contains("#message-payload", "inv_123"),
		refreshUntil(`#attempts`, "down for maintenance"))

	// As in seed 001: the delivery fails for good (its endpoint allows one attempt), the
	// destination comes back online, and the message is replayed.
	wh := env.Webhooks(t, key)
	apps, err := wh.ListAppsWithResponse(context.Background(), nil)
	if err != nil || apps.JSON200 == nil || len(apps.JSON200.Data) != 1 {
		t.Fatalf("list apps: %v", err)
	}
	app := apps.JSON200.Data[0].AppId
	eps, err := wh.ListEndpointsWithResponse(context.Background(), app, "customer_123")
	if err != nil || eps.JSON200 == nil || len(eps.JSON200.Data) != 1 {
		t.Fatalf("list endpoints: %v", err)
	}
	one := 1
	if r, err := wh.UpdateEndpointWithResponse(context.Background(), app, "customer_123", eps.JSON200.Data[0].EndpointId,
		webhooksclient.UpdateEndpointRequest{MaxAttempts: &one}); err != nil || r.JSON200 == nil {
		t.Fatalf("update endpoint: %v", err)
	}
	run("delivery-failed", refreshUntil("#message-status", "failed"))
	up.Store(true)
	run("replay",
		chromedp.Click(chromedp.CSS("#message-replay")),
		refreshUntil("#attempts", "replay"),
		refreshUntil("#attempts", "thanks"))

	run("ingest-resolve-issue",
		view("ingest"),
		contains("#events", eventID),
		contains("#issues", "open"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-issue=%q][data-action="resolved"]`, issueID))),
		contains(fmt.Sprintf(`[data-issue-status=%q]`, issueID), "resolved"))
	// The other views load without an error: the health chart (the app's one success, the replay),
	// Activities, Channels, Calling.
	for _, v := range []struct{ view, title string }{
		{"health", "1 succeeded"}, {"activities", "activities"}, {"channels", "Contacts"}, {"calling", "Decision tester"},
	} {
		run("view-"+v.view, view(v.view), contains("#main", v.title),
			chromedp.Poll[chromedp.Void](`document.getElementById("error").hidden`, chromedp.WithPollingTimeout(5*time.Second)))
	}

	// The UNRESOLVED activity's failed target user; the commerce gets a FINANCE user; Retry
	// resolution makes it READY, with that user.
	run("activity-unresolved",
		view("activities"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-activity=%q]`, activity.ID))),
		contains("#activity-detail-status", "UNRESOLVED"),
		contains("#targets", "FAILED"),
		contains("#targets", "ROLE_MATCH FINANCE"),
		contains("#status-events", "RESOLUTION_FAILED"),
		contains("#attributes", "commerce_info"),
		contains("#attributes", `"name": "Almacen Don Pepe"`))
	user := servertest.Decode[ref](t, api("POST", "/commerces/"+commerce+"/users", `{"name":"Fiona Finance","roles":["FINANCE"]}`, 201)).ID
	run("activity-retry-resolution",
		chromedp.Click(chromedp.CSS("#activity-retry")),
		contains("#activity-detail-status", "READY"),
		contains("#targets", user),
		contains("#targets", "CRITERIA_MATCH"),
		contains("#status-events", "RESOLUTION_RETRY_SUCCESS"),
		chromedp.Poll[chromedp.Void](`document.getElementById("error").hidden && !document.getElementById("activity-retry")`,
			chromedp.WithPollingTimeout(5*time.Second)))
	issue, err := ing.GetIssueWithResponse(context.Background(), mustUUID(t, issueID))
	if err != nil || issue.JSON200 == nil || issue.JSON200.Status != "resolved" {
		t.Fatalf("the issue after Resolve: %v %s", err, issue.Body)
	}
	t.Logf("browser test: %d steps in %s (server and fixtures included)", step, time.Since(started).Round(time.Millisecond))
}

// refreshUntil clicks the message view's Refresh until sel holds text.
func refreshUntil(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.includes(%q)`, sel, text))(ctx, tg)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s never showed %q", sel, text)
			}
			if _, err := chromedp.Click(chromedp.CSS("#message-refresh"))(ctx, tg); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
		}
	})
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
