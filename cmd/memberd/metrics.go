package main

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// metrics are the server's Prometheus collectors, on a registry of its
// own so that tests can run many servers in one process. Labels carry
// only bounded values (interfaces, route patterns, actions, codes,
// states), never an id or an e-mail.
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	authFailures  *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	shed          *prometheus.CounterVec
	changes       *prometheus.CounterVec
	removals      *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	commitCalls   prometheus.Histogram
	commitSeconds prometheus.Histogram
	jobsFinished  *prometheus.CounterVec
	jobSeconds    *prometheus.HistogramVec
	deliveries    *prometheus.CounterVec

	requestCache requestCache
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_http_requests_total",
		Help: "HTTP requests answered, by interface, route pattern, method and status code."},
		[]string{"interface", "route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memberd_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by interface and route pattern.", Buckets: prometheus.DefBuckets},
		[]string{"interface", "route"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_auth_failures_total",
		Help: "Requests answered 401: no, an unknown, a wrong, an expired or a revoked credential."}, []string{"interface"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_http_rate_limited_total",
		Help: "Requests answered 429 because their credential exceeded its rate."}, []string{"interface"})
	m.shed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_http_unavailable_total",
		Help: "Requests answered 503: shed under load or refused while unavailable."}, []string{"interface"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_changes_total",
		Help: "Changes attempted through the core, by action, interface and outcome (ok or the error code)."},
		[]string{"action", "interface", "outcome"})
	m.removals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_removals_total",
		Help: "Removals and revocations attempted (not dry runs), by kind, interface and outcome (ok or the error code)."},
		[]string{"kind", "interface", "outcome"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_refusals_total",
		Help: "Attempts refused and audited as refused, by action and reason (the error code)."},
		[]string{"action", "reason"})
	m.commitCalls = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "memberd_group_commit_calls",
		Help: "Writes coalesced into one group-commit transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 8)})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "memberd_group_commit_duration_seconds",
		Help: "Time of one group-commit transaction, begin to durable commit.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.jobsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_jobs_finished_total",
		Help: "Job attempts ended, by job kind and outcome (completed, failed, discarded, cancelled, snoozed)."},
		[]string{"kind", "outcome"})
	m.jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memberd_job_duration_seconds",
		Help: "Time one job attempt ran, by job kind.", Buckets: prometheus.DefBuckets}, []string{"kind"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memberd_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome (delivered, failed, skipped) and endpoint status."},
		[]string{"outcome", "endpoint_status"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.authFailures, m.rateLimited, m.shed, m.changes,
		m.removals, m.refusals, m.commitCalls, m.commitSeconds, m.jobsFinished, m.jobSeconds, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// removalKinds maps the core's removal actions to the kind label of
// memberd_removals_total.
var removalKinds = map[string]string{
	membership.ActionMemberRemoved: "member", membership.ActionSpaceMemberRemoved: "space_member",
	membership.ActionGroupMemberRemoved: "group_member", membership.ActionRolesRevoked: "roles",
	membership.ActionBatchRemoved: "batch",
}

// coreObserver counts the core's changes (membership.Observer).
type coreObserver struct{ m *metrics }

// ChangeAttempted implements membership.Observer.
func (o coreObserver) ChangeAttempted(action, iface, outcome string, refused bool) {
	o.m.changes.WithLabelValues(action, iface, outcome).Inc()
	if kind, ok := removalKinds[action]; ok {
		o.m.removals.WithLabelValues(kind, iface, outcome).Inc()
	}
	if refused {
		o.m.refusals.WithLabelValues(action, outcome).Inc()
	}
}

// jobObserver counts and logs how jobs end (jobs.Observer).
type jobObserver struct {
	m   *metrics
	log *slog.Logger
}

// JobFinished implements jobs.Observer.
func (o jobObserver) JobFinished(kind, outcome string, took time.Duration, err string) {
	o.m.jobsFinished.WithLabelValues(kind, outcome).Inc()
	o.m.jobSeconds.WithLabelValues(kind).Observe(took.Seconds())
	if outcome == "failed" || outcome == "discarded" {
		o.log.Warn("job failed", "kind", kind, "outcome", outcome, "duration", took, "err", err)
	}
}

// DeliveryAttempted implements jobs.Observer.
func (o jobObserver) DeliveryAttempted(outcome, endpointStatus string) {
	o.m.deliveries.WithLabelValues(outcome, endpointStatus).Inc()
	if outcome == "failed" {
		o.log.Warn("webhook delivery failed; it is retried on the backoff schedule", "endpoint_status", endpointStatus)
	}
}

// commitObserver measures group commits and logs the slow ones.
func (m *metrics) commitObserver(log *slog.Logger, slow time.Duration) sqlstore.CommitObserver {
	return func(calls int, took time.Duration) {
		m.commitCalls.Observe(float64(calls))
		m.commitSeconds.Observe(took.Seconds())
		if slow > 0 && took >= slow {
			log.Warn("slow commit", "calls", calls, "duration", took)
		}
	}
}

// queueDepth is a collector of the job queue's jobs by state, counted at
// scrape time.
type queueDepth struct {
	runner *jobs.Runner
	desc   *prometheus.Desc
}

func newQueueDepth(r *jobs.Runner) *queueDepth {
	return &queueDepth{runner: r, desc: prometheus.NewDesc("memberd_jobs",
		"Jobs in the queue, by River state (available, scheduled, retryable, running, ...).", []string{"state"}, nil)}
}

// Describe implements prometheus.Collector.
func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

// Collect implements prometheus.Collector.
func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := q.runner.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), state)
	}
}

// registerStore registers the collectors of store's connection pools.
func (m *metrics) registerStore(store membership.Store) {
	switch st := store.(type) {
	case interface{ DBStats() map[string]sql.DBStats }:
		m.reg.MustRegister(dbStats{stats: st.DBStats, desc: func(name, help string) *prometheus.Desc {
			return prometheus.NewDesc("memberd_db_"+name, help, []string{"pool"}, nil)
		}})
	case interface{ Pool() *pgxpool.Pool }:
		m.reg.MustRegister(pgxStats{pool: st.Pool()})
	}
	if st, ok := store.(interface{ AccessMemoryStats() (uint64, uint64) }); ok {
		desc := prometheus.NewDesc("memberd_access_memory_checks_total",
			"Access checks by numeric ids asked of the copy in memory (SQLite), by who answered: memory, or the database because the copy was catching up with a change.",
			[]string{"answered_by"}, nil)
		m.reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
			answered, declined := st.AccessMemoryStats()
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(answered), "memory")
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(declined), "database")
		}))
	}
}

// collectorFunc is a prometheus.Collector of metrics computed when scraped.
type collectorFunc func(ch chan<- prometheus.Metric)

// Describe implements prometheus.Collector.
func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }

// Collect implements prometheus.Collector.
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// dbStats reports database/sql pool statistics of SQLite's pools.
type dbStats struct {
	stats func() map[string]sql.DBStats
	desc  func(name, help string) *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (d dbStats) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(d, ch) }

// Collect implements prometheus.Collector.
func (d dbStats) Collect(ch chan<- prometheus.Metric) {
	for pool, s := range d.stats() {
		for _, v := range []struct {
			name, help string
			kind       prometheus.ValueType
			value      float64
		}{
			{"connections_max", "Most open connections the pool allows.", prometheus.GaugeValue, float64(s.MaxOpenConnections)},
			{"connections_in_use", "Connections in use.", prometheus.GaugeValue, float64(s.InUse)},
			{"connections_idle", "Idle connections.", prometheus.GaugeValue, float64(s.Idle)},
			{"wait_total", "Times a caller waited for a connection.", prometheus.CounterValue, float64(s.WaitCount)},
			{"wait_seconds_total", "Time callers waited for a connection.", prometheus.CounterValue, s.WaitDuration.Seconds()},
		} {
			ch <- prometheus.MustNewConstMetric(d.desc(v.name, v.help), v.kind, v.value, pool)
		}
	}
}

// pgxStats reports the PostgreSQL pool's statistics under the same names.
type pgxStats struct{ pool *pgxpool.Pool }

// Describe implements prometheus.Collector.
func (p pgxStats) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(p, ch) }

// Collect implements prometheus.Collector.
func (p pgxStats) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("memberd_db_"+name, help, []string{"pool"}, nil)
	}
	ch <- prometheus.MustNewConstMetric(desc("connections_max", "Most open connections the pool allows."), prometheus.GaugeValue, float64(s.MaxConns()), "postgres")
	ch <- prometheus.MustNewConstMetric(desc("connections_in_use", "Connections in use."), prometheus.GaugeValue, float64(s.AcquiredConns()), "postgres")
	ch <- prometheus.MustNewConstMetric(desc("connections_idle", "Idle connections."), prometheus.GaugeValue, float64(s.IdleConns()), "postgres")
	ch <- prometheus.MustNewConstMetric(desc("wait_total", "Times a caller waited for a connection."), prometheus.CounterValue, float64(s.EmptyAcquireCount()), "postgres")
	ch <- prometheus.MustNewConstMetric(desc("wait_seconds_total", "Time callers waited for a connection."), prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds(), "postgres")
}
