package respond_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// TestWithLogger checks that internal errors and panics are logged to the
// logger the server hands in, not to slog's default.
func TestWithLogger(t *testing.T) {
	var global bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))

	write := func(w http.ResponseWriter, r *http.Request, err error) {
		respond.JSON(w, respond.Status(err), map[string]string{"error": respond.Message(r, err)})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		write(w, r, errors.New("disk on fire"))
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	var own bytes.Buffer
	h := respond.WithLogger(respond.Recover(mux, write), slog.New(slog.NewTextHandler(&own, nil)))

	for path, want := range map[string]string{"/fail": "disk on fire", "/panic": "boom"} {
		own.Reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error") {
			t.Errorf("%s: got %d %s, want 500 internal error", path, rec.Code, rec.Body)
		}
		if !strings.Contains(own.String(), want) {
			t.Errorf("%s: the server's logger got %q, want it to mention %q", path, own.String(), want)
		}
	}
	if global.Len() != 0 {
		t.Errorf("slog's default logger got %q, want nothing", global.String())
	}
}

// TestMessageWithoutLogger checks that a handler mounted without
// WithLogger, as in an adapter's own tests, still logs somewhere.
func TestMessageWithoutLogger(t *testing.T) {
	var global bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := respond.Message(r, errors.New("disk on fire")); got != "internal error" {
		t.Errorf("Message = %q, want %q", got, "internal error")
	}
	if got := respond.Message(r, membership.Errorf(membership.CodeNotFound, "no such member")); got != "no such member" {
		t.Errorf("Message = %q, want the client-safe message", got)
	}
	if !strings.Contains(global.String(), "disk on fire") {
		t.Errorf("slog's default logger got %q, want the internal error", global.String())
	}
}
