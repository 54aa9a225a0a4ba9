package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/gen/webhooksclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestAppDeliveryStats: the per-minute counts hold every attempt of the app's endpoints, a
// failure and the retry that succeeds, in the minute they were made, with every other minute of
// the window listed as zeros; another workspace's app is a 404; a window over 24 hours a 400.
func TestAppDeliveryStats(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	recv := servertest.NewReceiver(t)
	recv.SetRespond(func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	f.Endpoint(t, recv.URL)
	start := time.Now()
	f.Send(t, "invoice.paid", `{"invoiceId":"inv_1"}`)
	recv.Wait(t, 2, 10*time.Second)
	var stats *webhooksclient.DeliveryStats
	servertest.Eventually(t, 5*time.Second, "two attempts counted", func() bool {
		r, err := f.Client.GetAppDeliveryStatsWithResponse(ctx, f.App, nil)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("stats: %v %s", err, r.Body)
		}
		stats = r.JSON200
		ok, failed := 0, 0
		for _, m := range stats.Data {
			ok, failed = ok+m.Succeeded, failed+m.Failed
		}
		return ok == 1 && failed == 1
	})
	if n := len(stats.Data); n != 181 || !stats.Data[0].Minute.Equal(stats.Since) || !stats.Data[n-1].Minute.Equal(stats.Until) {
		t.Fatalf("default window: %d minutes from %s to %s", n, stats.Since, stats.Until)
	}
	last := stats.Data[len(stats.Data)-1]
	if last.Minute.Before(start.Truncate(time.Minute).Add(-time.Minute)) || last.Succeeded+last.Failed == 0 && stats.Data[len(stats.Data)-2].Succeeded == 0 {
		t.Fatalf("the attempts are not in the last minutes: %+v", stats.Data[len(stats.Data)-3:])
	}
	_, otherKey := env.Workspace(t, "*")
	if r, _ := env.Webhooks(t, otherKey).GetAppDeliveryStatsWithResponse(ctx, f.App, nil); r.StatusCode() != 404 {
		t.Fatalf("another workspace's app: %d %s", r.StatusCode(), r.Body)
	}
	since, until := time.Now().Add(-25*time.Hour), time.Now()
	if r, _ := f.Client.GetAppDeliveryStatsWithResponse(ctx, f.App, &webhooksclient.GetAppDeliveryStatsParams{Since: &since, Until: &until}); r.StatusCode() != 400 {
		t.Fatalf("25 hours: %d %s", r.StatusCode(), r.Body)
	}
}
