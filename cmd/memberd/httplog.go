package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// routeInfo is what the handler mounted for a request learns about it,
// for the access line and the metrics: the interface it belongs to and
// the most specific route pattern that matched.
type routeInfo struct {
	iface, route string
}

type routeInfoKey struct{}

// mount registers h on mux at pattern as interface iface. After h has
// served, r.Pattern holds the pattern of the innermost ServeMux that
// routed r (each mux sets it on the request it is handed, which the
// adapters pass on unchanged), so the access line names
// "DELETE /api/v1/members/{id}" rather than the mount point.
func mount(mux *http.ServeMux, pattern, iface string, h http.Handler) {
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := r.Context().Value(routeInfoKey{}).(*routeInfo)
		if info != nil {
			info.iface, info.route = iface, r.Pattern
		}
		h.ServeHTTP(w, r)
		if info != nil && r.Pattern != "" {
			info.route = r.Pattern
		}
	}))
}

// statusWriter records the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes one line per request and counts it. It must run
// inside respond.WithRequestID, so that the line carries the request's
// id. The line holds the credential's lookup prefix, never the secret,
// and no body.
func accessLog(next http.Handler, log *slog.Logger, m *metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &routeInfo{iface: "none", route: "unmatched"}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, info))
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := info.route
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(info.iface, route, r.Method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(info.iface, route).Observe(took.Seconds())
		level := slog.LevelInfo
		switch {
		case status == http.StatusUnauthorized:
			m.authFailures.WithLabelValues(info.iface).Inc()
		case status == http.StatusTooManyRequests:
			m.rateLimited.WithLabelValues(info.iface).Inc()
			level = slog.LevelWarn
		case status == http.StatusServiceUnavailable:
			m.shed.WithLabelValues(info.iface).Inc()
			level = slog.LevelWarn
		case status >= 500:
			level = slog.LevelError
		}
		if info.iface == "health" || info.iface == "metrics" {
			level = min(level, slog.LevelDebug) // probes every few seconds would drown the log
			if status >= 500 {
				level = slog.LevelWarn
			}
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", took), slog.String("request_id", respond.RequestID(r)),
			slog.String("interface", info.iface), slog.String("credential", credentialPrefix(r)))
	})
}

// credentialPrefix is the lookup prefix of the credential r carries, in
// any of the headers the interfaces read it from: the part of a memberd
// secret that names it without revealing it.
func credentialPrefix(r *http.Request) string {
	for _, v := range []string{r.Header.Get("Authorization"), r.Header.Get("X-Jicoo-Api-Key")} {
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		if p := membership.CredentialPrefix(fields[len(fields)-1]); p != "" {
			return p
		}
	}
	return ""
}

// readiness answers /readyz: 200 once the database answers at this
// build's schema and the job workers run, else 503 with the reason.
type readiness struct {
	store    membership.Store
	running  func() bool
	draining atomic.Bool
}

// check returns why the node is not ready, or "".
func (rd *readiness) check(ctx context.Context) string {
	if rd.draining.Load() {
		return "shutting down"
	}
	if st, ok := rd.store.(interface{ Ready(context.Context) error }); ok {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := st.Ready(ctx); err != nil {
			return err.Error()
		}
	}
	if rd.running != nil && !rd.running() {
		return "job workers are not running"
	}
	return ""
}

func (rd *readiness) serveReady(w http.ResponseWriter, r *http.Request) {
	if reason := rd.check(r.Context()); reason != "" {
		respond.JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": reason})
		return
	}
	respond.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
