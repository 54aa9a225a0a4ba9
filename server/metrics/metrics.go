// Package metrics holds Switchboard's Prometheus metrics: the counters and histograms the hot
// paths bump (HTTP requests, webhook attempts and deliveries, Ingest receives), and the
// collectors read at scrape time (River's queues, the connection pools). Handler serves them in
// Prometheus's text format; the README lists each metric and what to alert on.
//
// The hot-path metrics are package variables, shared by every server and worker of the
// process: a bump is an atomic add on a series found by its few bounded label values (a
// surface, an operationId, a status code, an outcome), never a raw path or an id.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-dev/switchboard/store"
)

// Sides of the delivery engine, the "side" label: a Dispatch message at an endpoint, or an
// Ingest event at a destination.
const (
	SideDispatch = "dispatch"
	SideIngest   = "ingest"
)

// Outcomes of attempts and deliveries, the "outcome" label.
const (
	// AttemptSucceeded and AttemptFailed are an attempt's outcomes (2xx or not).
	AttemptSucceeded = "succeeded"
	AttemptFailed    = "failed"
	// DeliveryDelivered and DeliveryFailed are a delivery's final outcomes: delivered, or
	// failed for good (no attempt left, the target disabled or answering 410).
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// latencyBuckets span 5 ms to 6 h: a delivery at once, after a few retries, or after hours of
// its receiver being down.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 21600}

var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_http_requests_total",
		Help: "HTTP requests answered, by surface, operation (the spec's operationId) and status code.",
	}, []string{"surface", "operation", "code"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by surface and operation.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"surface", "operation"})
	attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_attempts_total",
		Help: "Webhook delivery attempts made, by side (dispatch, ingest) and outcome (succeeded, failed).",
	}, []string{"side", "outcome"})
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_deliveries_total",
		Help: "Webhook deliveries that ended, by side (dispatch, ingest) and outcome (delivered, failed).",
	}, []string{"side", "outcome"})
	deliveryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_webhook_delivery_latency_seconds",
		Help:    "Time from a message or event being accepted to its delivery (the 2xx attempt), retries included, by side.",
		Buckets: latencyBuckets,
	}, []string{"side"})
	ingestReceives = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_ingest_receives_total",
		Help: "Requests received at Ingest sources' URLs and recorded, by verification status (verified, failed, unchecked) and outcome (accepted, rejected).",
	}, []string{"verification", "outcome"})
)

// codes are the status codes as label values, made once (strconv.Itoa allocates above 99).
var codes = func() (c [600]string) {
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}()

// ObserveRequest counts one answered request of a surface's operation.
func ObserveRequest(surface, operation string, code int, d time.Duration) {
	label := "other"
	if code >= 0 && code < len(codes) {
		label = codes[code]
	}
	httpRequests.WithLabelValues(surface, operation, label).Inc()
	httpDuration.WithLabelValues(surface, operation).Observe(d.Seconds())
}

// ObserveAttempt counts one delivery attempt of a side.
func ObserveAttempt(side string, ok bool) {
	outcome := AttemptFailed
	if ok {
		outcome = AttemptSucceeded
	}
	attempts.WithLabelValues(side, outcome).Inc()
}

// ObserveDelivered counts a delivery delivered, accepted since ago (accepted → delivered);
// since <= 0 counts it without a latency (a replay, whose acceptance was long before).
func ObserveDelivered(side string, since time.Duration) {
	deliveries.WithLabelValues(side, DeliveryDelivered).Inc()
	if since > 0 {
		deliveryLatency.WithLabelValues(side).Observe(since.Seconds())
	}
}

// ObserveDeliveryFailed counts a delivery failed for good.
func ObserveDeliveryFailed(side string) {
	deliveries.WithLabelValues(side, DeliveryFailed).Inc()
}

// ObserveReceive counts one request recorded at an Ingest source's URL.
func ObserveReceive(verification string, accepted bool) {
	outcome := "rejected"
	if accepted {
		outcome = "accepted"
	}
	ingestReceives.WithLabelValues(verification, outcome).Inc()
}

// BackpressureAfter is the age of a queue's oldest due job past which work is taken to be
// backing up: the threshold of the documented `backpressure` alert on
// switchboard_queue_oldest_due_seconds, and the default after which Ingest opens a
// backpressure issue for a destination (worker.IngestOptions.BackpressureAfter) — one signal,
// the wait of due work, at one threshold.
const BackpressureAfter = 10 * time.Minute

// queueScrapeTimeout bounds the queue statistics' query (a statement timeout in the store).
const queueScrapeTimeout = 2 * time.Second

// queueCollector reads River's queues at scrape time: the jobs by state, and the age of the
// oldest due job.
type queueCollector struct {
	db        *store.DB
	depth     *prometheus.Desc
	oldestDue *prometheus.Desc
}

func newQueueCollector(db *store.DB) *queueCollector {
	return &queueCollector{db: db,
		depth: prometheus.NewDesc("switchboard_queue_jobs",
			"Jobs in a River queue that have not ended, by state (available, running, retryable, scheduled, pending); read at scrape time.",
			[]string{"queue", "state"}, nil),
		oldestDue: prometheus.NewDesc("switchboard_queue_oldest_due_seconds",
			"Age of the oldest job of a River queue that is due (available, or scheduled or retryable with its time passed) and not running; 0 when none. The backpressure signal.",
			[]string{"queue"}, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldestDue }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout+time.Second)
	defer cancel()
	stats, err := c.db.QueueStats(ctx, queueScrapeTimeout, []string{store.DispatchQueue, store.WebhookQueue})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.oldestDue, err)
		return
	}
	for _, q := range stats {
		for state, n := range q.Jobs {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), q.Queue, state)
		}
		ch <- prometheus.MustNewConstMetric(c.oldestDue, prometheus.GaugeValue, q.OldestDue.Seconds(), q.Queue)
	}
}

// pgxPoolCollector reports a pgx pool's statistics (River's), as DBStatsCollector does a
// database/sql pool's.
type pgxPoolCollector struct {
	pool                                         *pgxpool.Pool
	maxConns, total, acquired, idle, acquireWait *prometheus.Desc
}

// PgxPool returns a collector of pool's statistics, labelled db_name=name.
func PgxPool(pool *pgxpool.Pool, name string) prometheus.Collector {
	l := prometheus.Labels{"db_name": name}
	return &pgxPoolCollector{pool: pool,
		maxConns:    prometheus.NewDesc("switchboard_pgx_pool_max_connections", "Maximum connections of the pgx pool.", nil, l),
		total:       prometheus.NewDesc("switchboard_pgx_pool_connections", "Connections of the pgx pool, open now.", nil, l),
		acquired:    prometheus.NewDesc("switchboard_pgx_pool_acquired_connections", "Connections of the pgx pool in use.", nil, l),
		idle:        prometheus.NewDesc("switchboard_pgx_pool_idle_connections", "Idle connections of the pgx pool.", nil, l),
		acquireWait: prometheus.NewDesc("switchboard_pgx_pool_acquire_wait_seconds_total", "Time spent waiting for a connection of the pgx pool.", nil, l),
	}
}

func (c *pgxPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.maxConns
	ch <- c.total
	ch <- c.acquired
	ch <- c.idle
	ch <- c.acquireWait
}

func (c *pgxPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquireWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

// Registry returns a registry of every Switchboard metric: the process-wide hot-path metrics,
// the Go runtime's and the process's, and db's (its queues, its connection pools), plus extra
// collectors (River's pool).
func Registry(db *store.DB, extra ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{httpRequests, httpDuration, attempts, deliveries, deliveryLatency, ingestReceives,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if db != nil {
		cs = append(cs, newQueueCollector(db))
		for name, pool := range db.Pools() {
			cs = append(cs, collectors.NewDBStatsCollector(pool, name))
		}
	}
	for _, c := range append(cs, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// Handler serves reg in Prometheus's text format. A collector that fails (the queue query timing
// out) leaves its metrics out and the rest are served.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}
