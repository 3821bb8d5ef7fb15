package respond

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNewRequestIDOrdered checks that generated request ids keep their
// 24-hex-digit form, sort by the time they were made (so the audit trail's
// request index grows at its end) and differ within one millisecond.
func TestNewRequestIDOrdered(t *testing.T) {
	start := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 2000 {
		id := newRequestID(start.Add(time.Duration(i/4) * time.Millisecond))
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 24 hex digits", id)
		}
		if i%4 == 0 && id <= prev {
			t.Fatalf("id %q made a millisecond later sorts before %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		prev = id
	}
}

// TestWithRequestID checks the id a handler sees and the client is told,
// under WithLogger and without it, and that an inner WithRequestID's id
// wins over an outer one's, as a context value would.
func TestWithRequestID(t *testing.T) {
	var seen string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestID(r) })
	serve := func(h http.Handler, id string) (handler, echoed string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		w := httptest.NewRecorder()
		seen = ""
		h.ServeHTTP(w, r)
		return seen, w.Header().Get("X-Request-Id")
	}
	for name, chain := range map[string]http.Handler{
		"alone":          WithRequestID(h),
		"under a logger": WithLogger(WithRequestID(h), slog.Default()),
		"nested":         WithRequestID(WithLogger(WithRequestID(h), slog.Default())),
		"nested inside":  WithLogger(WithRequestID(WithRequestID(h)), slog.Default()),
	} {
		if got, echoed := serve(chain, "client-id-1"); got != "client-id-1" || echoed != "client-id-1" {
			t.Errorf("%s: handler saw %q, client told %q, want the client's id", name, got, echoed)
		}
		got, echoed := serve(chain, strings.Repeat("x", 129))
		if len(got) != 24 || got != echoed {
			t.Errorf("%s: for an overlong id, handler saw %q, client told %q, want one new id", name, got, echoed)
		}
		if got, _ := serve(chain, ""); len(got) != 24 {
			t.Errorf("%s: without an id, handler saw %q", name, got)
		}
	}
	if got, _ := serve(WithLogger(h, slog.Default()), "client-id-2"); got != "" {
		t.Errorf("without WithRequestID the handler saw id %q", got)
	}
}
