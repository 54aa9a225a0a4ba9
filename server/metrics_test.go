package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-dev/switchboard/gen/ingestclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// scrape reads GET /metrics with the operator token and returns its families by name.
func scrape(t *testing.T, env *servertest.Env) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := env.Do(t, "GET", "/metrics", "", "Authorization", "Bearer "+servertest.AdminToken)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value is the value of the series of family name whose labels include want (a counter's,
// a gauge's, or a histogram's count), summed over the matching series; ok=false when none
// matches.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if labels[k] != w {
				continue series
			}
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, ok
}

// TestMetrics: /metrics answers the operator token only, in Prometheus's text format; after a
// message is sent and delivered and an event received and forwarded, the HTTP counters of the
// operations called, the attempts, deliveries and accepted → delivered latencies of both sides,
// the Ingest receives by verification status have moved, and the queues and connection pools
// are reported. The hot-path metrics are the process's, shared by the tests running beside this
// one: each is checked to have grown by at least this test's traffic.
func TestMetrics(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, servertest.WithWorkers(servertest.FastWorkers()))
	before := scrape(t, env)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + servertest.AdminToken} {
		if status, body := env.Do(t, "GET", "/metrics", "", "Authorization", auth); status != http.StatusUnauthorized {
			t.Errorf("GET /metrics with %q: %d %s, want 401", auth, status, body)
		}
	}

	recv := servertest.NewReceiver(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	f.Endpoint(t, recv.URL)
	const sends = 3
	for range sends {
		f.Send(t, "invoice.paid", `{"invoiceId":"inv_1"}`)
	}
	_, key := env.Workspace(t, "*")
	ing := env.Ingest(t, key)
	ctx := context.Background()
	src, err := ing.CreateSourceWithResponse(ctx, ingestclient.CreateSourceRequest{Name: "metrics", Type: ingestclient.SourceTypeNone})
	if err != nil || src.JSON201 == nil {
		t.Fatalf("create source: %v %s", err, src.Body)
	}
	dest, err := ing.CreateDestinationWithResponse(ctx, ingestclient.CreateDestinationRequest{Url: recv.URL,
		SourceIds: ingestclient.SourceIds{src.JSON201.SourceId}})
	if err != nil || dest.JSON201 == nil {
		t.Fatalf("create destination: %v %s", err, dest.Body)
	}
	resp, err := http.Post(src.JSON201.Url, "application/json", strings.NewReader(`{"type":"order.created"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("receive: %d", resp.StatusCode)
	}
	recv.Wait(t, sends+1, 10*time.Second)

	checks := []struct {
		name   string
		labels map[string]string
		grew   float64
	}{
		{"switchboard_http_requests_total", map[string]string{"surface": "webhooks", "operation": "sendMessage", "code": "202"}, sends},
		{"switchboard_http_request_duration_seconds", map[string]string{"surface": "webhooks", "operation": "sendMessage"}, sends},
		{"switchboard_http_requests_total", map[string]string{"surface": "ingest", "operation": "createSource", "code": "201"}, 1},
		{"switchboard_http_requests_total", map[string]string{"surface": "ingest", "operation": "/ingest/:sourceId/:token", "code": "200"}, 1},
		{"switchboard_http_requests_total", map[string]string{"surface": "none", "operation": "/metrics", "code": "401"}, 3},
		{"switchboard_webhook_attempts_total", map[string]string{"side": "dispatch", "outcome": "succeeded"}, sends},
		{"switchboard_webhook_attempts_total", map[string]string{"side": "ingest", "outcome": "succeeded"}, 1},
		{"switchboard_webhook_deliveries_total", map[string]string{"side": "dispatch", "outcome": "delivered"}, sends},
		{"switchboard_webhook_delivery_latency_seconds", map[string]string{"side": "dispatch"}, sends},
		{"switchboard_webhook_delivery_latency_seconds", map[string]string{"side": "ingest"}, 1},
		{"switchboard_ingest_receives_total", map[string]string{"verification": "unchecked", "outcome": "accepted"}, 1},
	}
	// A delivery is counted once its attempt is recorded, just after the receiver answered.
	var after map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = scrape(t, env)
		moved := true
		for _, c := range checks {
			b, _ := value(before, c.name, c.labels)
			if a, _ := value(after, c.name, c.labels); a < b+c.grew {
				moved = false
			}
		}
		if moved || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range checks {
		b, _ := value(before, c.name, c.labels)
		if a, _ := value(after, c.name, c.labels); a < b+c.grew {
			t.Errorf("%s%v went from %v to %v, want at least +%v", c.name, c.labels, b, a, c.grew)
		}
	}
	// Read at scrape time: every queue (this test's database has no job left waiting), and the
	// store's pools.
	for _, q := range []string{"dispatch", "webhooks"} {
		if _, ok := value(after, "switchboard_queue_oldest_due_seconds", map[string]string{"queue": q}); !ok {
			t.Errorf("no switchboard_queue_oldest_due_seconds for queue %s", q)
		}
		if _, ok := value(after, "switchboard_queue_jobs", map[string]string{"queue": q, "state": "available"}); !ok {
			t.Errorf("no switchboard_queue_jobs for queue %s", q)
		}
	}
	for _, pool := range []string{"main", "async", "batch"} {
		if n, ok := value(after, "go_sql_max_open_connections", map[string]string{"db_name": pool}); !ok || n == 0 {
			t.Errorf("go_sql_max_open_connections{db_name=%q} = %v (reported: %v)", pool, n, ok)
		}
	}
	// No label holds a raw path: the receiving URL's token and ids are not in any series.
	for name, fam := range after {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), src.JSON201.SourceId.String()) {
					t.Errorf("%s has a label with an id: %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestQueueMetricsShowBackpressure: a due job that no worker takes (no workers run) shows in
// the queue's depth and in the age of its oldest due job, the backpressure signal.
func TestQueueMetricsShowBackpressure(t *testing.T) {
	t.Parallel()
	env := servertest.New(t) // no workers: the delivery jobs wait
	recv := servertest.NewReceiver(t)
	f := servertest.NewWebhookApp(t, env, "invoice.paid")
	f.Endpoint(t, recv.URL)
	f.Send(t, "invoice.paid", `{}`)
	f.Send(t, "invoice.paid", `{}`)
	time.Sleep(1100 * time.Millisecond)
	fams := scrape(t, env)
	if n, _ := value(fams, "switchboard_queue_jobs", map[string]string{"queue": "webhooks", "state": "available"}); n != 2 {
		t.Errorf("webhooks queue: %v available jobs, want 2", n)
	}
	if age, _ := value(fams, "switchboard_queue_oldest_due_seconds", map[string]string{"queue": "webhooks"}); age < 1 || age > 60 {
		t.Errorf("webhooks queue: oldest due job %v s old, want about 1 s", age)
	}
	if age, _ := value(fams, "switchboard_queue_oldest_due_seconds", map[string]string{"queue": "dispatch"}); age != 0 {
		t.Errorf("dispatch queue: oldest due job %v s old, want 0 (none)", age)
	}
}
