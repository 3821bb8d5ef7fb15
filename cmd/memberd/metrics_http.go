package main

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxRequestSeries bounds the cached children of the request metrics.
// Routes, methods (methodLabel) and statuses are few; the bound is a
// guard, past which the rest take the slower lookup.
const maxRequestSeries = 2048

// methodLabel is the method label of a request: the method itself when
// HTTP defines it, else "other". A client may send any token as its
// method, and each label value is a series Prometheus keeps for the
// process's life, so client-chosen values would grow memory without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// requestKey names one series of memberd_http_requests_total.
type requestKey struct {
	iface, route, method string
	status               int
}

// requestSeries are the children a request with one requestKey counts
// in, looked up once instead of hashing the labels on every request.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
	refused  prometheus.Counter // by status: auth failures, rate limited or shed; nil for others
}

// requestCache holds the requestSeries by key.
type requestCache struct {
	mu     sync.RWMutex
	series map[requestKey]*requestSeries
}

// request counts an answered request.
func (m *metrics) request(iface, route, method string, status int, took time.Duration) {
	k := requestKey{iface: iface, route: route, method: method, status: status}
	c := &m.requestCache
	c.mu.RLock()
	s := c.series[k]
	c.mu.RUnlock()
	if s == nil {
		s = m.newRequestSeries(k)
		c.mu.Lock()
		if c.series == nil {
			c.series = map[requestKey]*requestSeries{}
		}
		if len(c.series) < maxRequestSeries {
			c.series[k] = s
		}
		c.mu.Unlock()
	}
	s.requests.Inc()
	s.duration.Observe(took.Seconds())
	if s.refused != nil {
		s.refused.Inc()
	}
}

func (m *metrics) newRequestSeries(k requestKey) *requestSeries {
	s := &requestSeries{
		requests: m.requests.WithLabelValues(k.iface, k.route, k.method, strconv.Itoa(k.status)),
		duration: m.duration.WithLabelValues(k.iface, k.route),
	}
	switch k.status {
	case http.StatusUnauthorized:
		s.refused = m.authFailures.WithLabelValues(k.iface)
	case http.StatusTooManyRequests:
		s.refused = m.rateLimited.WithLabelValues(k.iface)
	case http.StatusServiceUnavailable:
		s.refused = m.shed.WithLabelValues(k.iface)
	}
	return s
}
