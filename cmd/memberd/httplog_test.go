package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/respond"
)

// chain wraps inner, mounted at /api/v1/ as the native interface, in the
// middleware every request of the main listener passes through (serve and
// routes), logging to logger.
func chain(inner http.Handler, logger *slog.Logger, access *accessLogger, met *metrics) http.Handler {
	mux := http.NewServeMux()
	mount(mux, "/api/v1/", "native", inner)
	mount(mux, "GET /healthz", "health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	h := respond.WithRequestID(respond.WithNoSniff(accessLog(respond.Recover(mux, func(w http.ResponseWriter, r *http.Request, err error) {
		respond.JSON(w, respond.Status(err), map[string]string{"error": respond.Message(r, err)})
	}), access, met)))
	return respond.WithLogger(respond.WithClientAddr(h, nil), logger)
}

// BenchmarkRequestOverhead measures what a request pays around its
// handler: the middleware, the metrics and the access line, written to a
// pipe that another goroutine drains as journald would:
// go test -run - -bench RequestOverhead -benchmem ./cmd/memberd/
func BenchmarkRequestOverhead(b *testing.B) {
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { defer close(drained); _, _ = io.Copy(io.Discard, pr) }()
	b.Cleanup(func() { pw.Close(); <-drained; pr.Close() })
	out := newGroupWriter(pw)
	logger, err := newLogger(out, Config{LogFormat: "text", LogLevel: "info"})
	if err != nil {
		b.Fatal(err)
	}
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/v1/access", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"allowed":true}` + "\n"))
	})
	h := chain(inner, logger, newAccessLogger(logger, out, "text"), newMetrics())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/access?member=12&resource=34", nil)
		r.Header.Set("Authorization", "Bearer mbd_0123456789abcdef_secretsecretsecret")
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

// TestAccessLineMatchesSlog checks that the access line's own formatter
// writes what slog's text and JSON handlers write for the same record,
// byte for byte, over values that need quoting or escaping, times in
// several zones and at millisecond edges, and every level; and that it
// leaves to slog exactly the lines it cannot write as plain ASCII.
func TestAccessLineMatchesSlog(t *testing.T) {
	strs := []string{"", "GET", "DELETE", "native", "unmatched", "GET /api/v1/access", "DELETE /api/v1/members/{member}",
		"/docs", "a=b", "=", " ", "x y", `quo"te`, `back\slash`, "tab\there", "new\nline", "\x00", "\x1f", "\x7f", "~!@#$%^&*()_+{}|:<>?`-[];',./",
		"0123456789abcdef", "0190f1b2c3d4e5f60718293a", "é", "日本", "\u2028", "\xff", "\xe2\x80", "a\u00a0b", strings.Repeat("r", 128)}
	zones := []*time.Location{time.UTC, time.FixedZone("east", 9*3600+30*60), time.FixedZone("west", -5*3600), time.Local}
	base := time.Date(2026, 12, 6, 14, 5, 38, 0, time.UTC)
	times := []time.Time{base, base.Add(999_999_999), base.Add(123_456_789), base.Add(100_000), base.Add(time.Millisecond),
		time.Now(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	durations := []time.Duration{0, 1, 999, 1500, 1_234_567, 2 * time.Second, 90 * time.Minute, -5}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	fast, slow := 0, 0
	for _, format := range []string{"text", "json"} {
		var want bytes.Buffer
		logger, err := newLogger(&want, Config{LogFormat: format, LogLevel: "debug"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20000 {
			rec := accessRecord{method: pick(), route: pick(), status: []int{200, 204, 401, 404, 429, 500, 503}[i%7],
				took: durations[i%len(durations)], requestID: pick(), iface: pick(), credential: pick()}
			if i < len(strs) {
				rec.route = strs[i] // each value at least once in a quoted position
			}
			tm := times[rng.IntN(len(times))].In(zones[rng.IntN(len(zones))])
			level := levels[i%len(levels)]
			got, ok := appendAccessLine(nil, format == "json", tm, level, rec)
			want.Reset()
			r := slog.NewRecord(tm, level, "request", 0)
			r.AddAttrs(rec.attrs()...)
			if err := logger.Handler().Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if !ok {
				slow++
				if p := plain(rec.method) && plain(rec.route) && plain(rec.requestID) && plain(rec.iface) && plain(rec.credential); p && (format == "text" || tm.Year() >= 0 && tm.Year() < 10000) {
					t.Fatalf("%s: plain %+v at %v left to slog", format, rec, tm)
				}
				continue
			}
			fast++
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s line for %+v at %v:\n got %q\nwant %q", format, rec, tm, got, want.Bytes())
			}
		}
	}
	if fast < 1000 || slow < 1000 {
		t.Errorf("%d lines formatted here and %d by slog: the inputs do not exercise both", fast, slow)
	}
}

// TestAccessLoggerLevels checks that the access line honours the
// configured level and format, and that a line the formatter leaves to
// slog still comes out whole.
func TestAccessLoggerLevels(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out syncBuffer
		w := newGroupWriter(&out)
		logger, err := newLogger(w, Config{LogFormat: format, LogLevel: "warn"})
		if err != nil {
			t.Fatal(err)
		}
		a := newAccessLogger(logger, w, format)
		ctx := context.Background()
		a.log(ctx, slog.LevelInfo, accessRecord{method: "GET", route: "GET /api/v1/access", status: 200, iface: "native"})
		a.log(ctx, slog.LevelWarn, accessRecord{method: "GET", route: "GET /api/v1/access", status: 429, iface: "native", requestID: "r1"})
		a.log(ctx, slog.LevelError, accessRecord{method: "GET", route: "GET /api/v1/access", status: 500, iface: "native", requestID: "é \"2\""})
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %d lines at level warn, want 2:\n%s", format, len(lines), out.String())
		}
		for i, want := range [][]string{{"WARN", "429", "r1"}, {"ERROR", "500", "2"}} {
			for _, s := range want {
				if !strings.Contains(lines[i], s) {
					t.Errorf("%s line %q has no %q", format, lines[i], s)
				}
			}
			if format == "json" && !json.Valid([]byte(lines[i])) {
				t.Errorf("json line %q is not JSON", lines[i])
			}
		}
	}
}

// TestLastField checks lastField against strings.Fields.
func TestLastField(t *testing.T) {
	for _, v := range []string{"", " ", "Bearer mbd_x_y", "Bearer  mbd_x_y  ", "mbd_x", "\tBearer\tmbd\n", "a\u00a0b", "a\u00a0",
		"\u0085x", "x\xffy z\xff", "\xc2\xa0\xc2", "Bearer mbd_0123456789abcdef_s3cret"} {
		want := ""
		if f := strings.Fields(v); len(f) > 0 {
			want = f[len(f)-1]
		}
		if got := lastField(v); got != want {
			t.Errorf("lastField(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestRequestMetrics checks the request metrics' names, labels and values
// through the cache of their children, past its bound too.
func TestRequestMetrics(t *testing.T) {
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(status)
	})
	met := newMetrics()
	var out syncBuffer
	logger, err := newLogger(&out, Config{LogFormat: "json", LogLevel: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	h := chain(inner, logger, newAccessLogger(logger, &out, "json"), met)
	serve := func(method, target string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, target, nil))
	}
	for _, status := range []int{200, 200, 401, 429, 429, 503, 500} {
		serve(http.MethodGet, "/api/v1/things/7?status="+strconv.Itoa(status))
	}
	serve(http.MethodGet, "/healthz")
	// Methods a client makes up share one series: each would otherwise
	// be a series kept for the process's life.
	for i := range maxRequestSeries + 50 {
		serve("M"+strconv.Itoa(i), "/nowhere")
		serve(http.MethodDelete, "/nowhere")
	}
	route := "GET /api/v1/things/{id}"
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"memberd_http_requests_total", []string{"native", route, "GET", "200"}, 2},
		{"memberd_http_requests_total", []string{"native", route, "GET", "401"}, 1},
		{"memberd_http_requests_total", []string{"native", route, "GET", "429"}, 2},
		{"memberd_http_requests_total", []string{"native", route, "GET", "503"}, 1},
		{"memberd_http_requests_total", []string{"native", route, "GET", "500"}, 1},
		{"memberd_http_requests_total", []string{"health", "GET /healthz", "GET", "200"}, 1},
		{"memberd_http_requests_total", []string{"none", "unmatched", "other", "404"}, maxRequestSeries + 50},
		{"memberd_http_requests_total", []string{"none", "unmatched", "DELETE", "404"}, maxRequestSeries + 50},
		{"memberd_http_requests_total", []string{"none", "unmatched", "M7", "404"}, 0},
		{"memberd_http_request_duration_seconds", []string{"native", route}, 7},
		{"memberd_http_request_duration_seconds", []string{"none", "unmatched"}, 2*maxRequestSeries + 100},
		{"memberd_auth_failures_total", []string{"native"}, 1},
		{"memberd_http_rate_limited_total", []string{"native"}, 2},
		{"memberd_http_unavailable_total", []string{"native"}, 1},
	} {
		if got := metricValue(t, met, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q: %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if len(met.requestCache.series) > maxRequestSeries {
		t.Errorf("%d cached series, bound %d", len(met.requestCache.series), maxRequestSeries)
	}
	// The level rules: health at debug, 429 and 503 warn, 5xx error.
	for _, want := range []string{`"level":"WARN","msg":"request","method":"GET","route":"GET /api/v1/things/{id}","status":429`,
		`"level":"WARN","msg":"request","method":"GET","route":"GET /api/v1/things/{id}","status":503`,
		`"level":"ERROR","msg":"request","method":"GET","route":"GET /api/v1/things/{id}","status":500`,
		`"level":"INFO","msg":"request","method":"GET","route":"GET /api/v1/things/{id}","status":401`,
		`"level":"DEBUG","msg":"request","method":"GET","route":"GET /healthz","status":200`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in the log", want)
		}
	}
}

// metricValue is the value of the counter name, or the sample count of
// the histogram name, whose label values are values, in any order.
func metricValue(t *testing.T, met *metrics, name string, values ...string) float64 {
	t.Helper()
	families, err := met.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			want := map[string]int{}
			for _, v := range values {
				want[v]++
			}
			for _, l := range m.GetLabel() {
				want[l.GetValue()]--
			}
			for _, n := range want {
				if n != 0 {
					continue metric
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
