package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// routeInfo is what the handler mounted for a request learns about it,
// for the access line and the metrics: the interface it belongs to and
// the most specific route pattern that matched.
type routeInfo struct {
	iface, route string
}

// mount registers h on mux at pattern as interface iface. After h has
// served, r.Pattern holds the pattern of the innermost ServeMux that
// routed r (each mux sets it on the request it is handed, which the
// adapters pass on unchanged), so the access line names
// "DELETE /api/v1/members/{id}" rather than the mount point. The route is
// handed back through the response writer accessLog gave the request
// rather than through its context, which would copy the request.
func mount(mux *http.ServeMux, pattern, iface string, h http.Handler) {
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := routeInfoOf(w)
		if info != nil {
			info.iface, info.route = iface, r.Pattern
		}
		h.ServeHTTP(w, r)
		if info != nil && r.Pattern != "" {
			info.route = r.Pattern
		}
	}))
}

// routeInfoOf finds the routeInfo of the statusWriter w is or wraps.
func routeInfoOf(w http.ResponseWriter) *routeInfo {
	for {
		switch x := w.(type) {
		case *statusWriter:
			return &x.info
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// statusWriter records the status a handler answered with, and the route
// that served it.
type statusWriter struct {
	http.ResponseWriter
	status int
	info   routeInfo
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
// and no body. It is written before the handler's answer leaves the
// server: net/http sends a small response only once the handler returns.
func accessLog(next http.Handler, log *accessLogger, m *metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, info: routeInfo{iface: "none", route: "unmatched"}}
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		iface, route := sw.info.iface, sw.info.route
		if route == "" {
			route = "unmatched"
		}
		m.request(iface, route, methodLabel(r.Method), status, took)
		level := slog.LevelInfo
		switch {
		case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
			level = slog.LevelWarn
		case status >= 500:
			level = slog.LevelError
		}
		if iface == "health" || iface == "metrics" {
			level = min(level, slog.LevelDebug) // probes every few seconds would drown the log
			if status >= 500 {
				level = slog.LevelWarn
			}
		}
		log.log(r.Context(), level, accessRecord{method: r.Method, route: route, status: status, took: took,
			requestID: respond.RequestID(r), iface: iface, credential: credentialPrefix(r)})
	})
}

// credentialPrefix is the lookup prefix of the credential r carries, in
// any of the headers the interfaces read it from: the part of a memberd
// secret that names it without revealing it.
func credentialPrefix(r *http.Request) string {
	for _, name := range [...]string{"Authorization", "X-Jicoo-Api-Key"} {
		if p := membership.CredentialPrefix(lastField(r.Header.Get(name))); p != "" {
			return p
		}
	}
	return ""
}

// lastField is the last of strings.Fields(v), or "", without the slice
// Fields allocates.
func lastField(v string) string {
	v = strings.TrimRightFunc(v, unicode.IsSpace)
	i := strings.LastIndexFunc(v, unicode.IsSpace)
	if i < 0 {
		return v
	}
	_, size := utf8.DecodeRuneInString(v[i:])
	return v[i+size:]
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
