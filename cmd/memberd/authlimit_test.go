package main

import (
	"net/http"
	"path/filepath"
	"testing"
)

// TestAuthFailureLimitFlag checks that --auth-failure-limit and
// --auth-failure-burst, and their environment variables, reach the
// per-address limiter of failed authentications.
func TestAuthFailureLimitFlag(t *testing.T) {
	// statuses sends n requests with a wrong token from one address.
	statuses := func(t *testing.T, base string, n int) []int {
		t.Helper()
		var got []int
		for range n {
			resp, body := send(t, "GET", base+"/api/v1/organization", "Authorization: Bearer ", "mbd_nope_wrongwrongwrong", nil)
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %s", body)
			}
			got = append(got, resp.StatusCode)
		}
		return got
	}
	db := func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "demo.db") }

	t.Run("Flag", func(t *testing.T) {
		base, _, _ := startServe(t, nil, "--demo", "--db", db(t), "--auth-failure-limit", "0.001", "--auth-failure-burst", "2")
		got := statuses(t, base, 3)
		if got[0] != http.StatusUnauthorized || got[1] != http.StatusUnauthorized || got[2] != http.StatusTooManyRequests {
			t.Errorf("got %v, want [401 401 429]", got)
		}
	})
	t.Run("Env", func(t *testing.T) {
		env := map[string]string{"MEMBERD_AUTH_FAILURE_LIMIT": "0.001", "MEMBERD_AUTH_FAILURE_BURST": "2"}
		base, _, _ := startServe(t, env, "--demo", "--db", db(t))
		if got := statuses(t, base, 3); got[2] != http.StatusTooManyRequests {
			t.Errorf("got %v, want 429 third", got)
		}
	})
	t.Run("Off", func(t *testing.T) {
		// Past the default burst of 30, a limit of 0 still answers 401.
		base, _, _ := startServe(t, nil, "--demo", "--db", db(t), "--auth-failure-limit", "0")
		for i, code := range statuses(t, base, 40) {
			if code != http.StatusUnauthorized {
				t.Fatalf("request %d got %d, want 401 with no limit", i+1, code)
			}
		}
	})
}
