package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

func TestIdempotency(t *testing.T) {
	// same fails unless a and b are byte-identical in status, body and Location.
	same := func(t *testing.T, a, b *response) {
		t.Helper()
		if a.Status != b.Status || !bytes.Equal(a.Body, b.Body) || a.Header.Get("Location") != b.Header.Get("Location") {
			t.Fatalf("replay differs:\nfirst:  %s (Location %q)\nreplay: %s (Location %q)", a, a.Header.Get("Location"), b, b.Header.Get("Location"))
		}
	}
	t.Run("CreateReplayed", func(t *testing.T) {
		e := newEnv(t)
		body := map[string]any{"email": "bob@acme.test", "name": "Bob"}
		first := e.must(201, "POST", "/api/v1/members", e.owner, body, "Idempotency-Key", "add-bob-1")
		again := e.must(201, "POST", "/api/v1/members", e.owner, body, "Idempotency-Key", "add-bob-1")
		same(t, first, again)
		if n := len(e.events(membership.EventListParams{Action: "member.added"})); n != 1 {
			t.Fatalf("%d member.added events, want 1", n)
		}
		// Without the key the repeat is a new request, refused as a duplicate.
		wantProblem(t, e.call("POST", "/api/v1/members", e.owner, body), http.StatusConflict)
	})
	t.Run("RemovalReplayed", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		path := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
		first := e.must(200, "DELETE", path, e.owner, nil, "Idempotency-Key", "rm-bob")
		e.clock.Advance(time.Hour) // a replay an hour later still answers as then
		again := e.must(200, "DELETE", path, e.owner, nil, "Idempotency-Key", "rm-bob")
		same(t, first, again)
		if n := len(e.events(membership.EventListParams{Action: "member.removed"})); n != 1 {
			t.Fatalf("%d member.removed events, want 1", n)
		}
		wantProblem(t, e.call("DELETE", path, e.owner, nil, "Idempotency-Key", "rm-bob-2"), http.StatusConflict)
	})
	t.Run("BatchReplayed", func(t *testing.T) {
		e := newEnv(t)
		m := e.addMember("bob@acme.test", membership.RoleMember)
		body := fmt.Sprintf(`{"scope":"organization","members":[{"id":%d},{"id":%d},{"id":999}]}`, m.ID, m.ID)
		first := e.must(200, "POST", "/api/v1/removals", e.owner, body, "Idempotency-Key", "batch-1")
		again := e.must(200, "POST", "/api/v1/removals", e.owner, body, "Idempotency-Key", "batch-1")
		same(t, first, again)
		if n := len(e.events(membership.EventListParams{Action: "member.removed", Outcome: membership.OutcomeOK})); n != 1 {
			t.Fatalf("%d member.removed events, want 1", n)
		}
	})
	t.Run("ErrKeyReusedWithOtherBody", func(t *testing.T) {
		e := newEnv(t)
		e.must(201, "POST", "/api/v1/members", e.owner, map[string]any{"email": "bob@acme.test"}, "Idempotency-Key", "k")
		wantProblem(t, e.call("POST", "/api/v1/members", e.owner, map[string]any{"email": "carol@acme.test"}, "Idempotency-Key", "k"), http.StatusUnprocessableEntity)
		// Another path is another request too.
		wantProblem(t, e.call("POST", "/api/v1/spaces", e.owner, map[string]any{"email": "bob@acme.test"}, "Idempotency-Key", "k"), http.StatusUnprocessableEntity)
		if _, err := e.svc.Member(e.ctx, e.actor(e.owner), membership.MemberRef{Email: "carol@acme.test"}); membership.ErrorCode(err) != membership.CodeNotFound {
			t.Fatalf("carol: %v, want not found", err)
		}
		if spaces, _ := e.svc.Spaces(e.ctx, e.actor(e.owner)); len(spaces) != 0 {
			t.Fatalf("spaces %v after a refused request", spaces)
		}
	})
	t.Run("ErrKeyTooLong", func(t *testing.T) {
		e := newEnv(t)
		p := wantProblem(t, e.call("POST", "/api/v1/members", e.owner, map[string]any{"email": "bob@acme.test"}, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest)
		if !strings.Contains(p.Detail, "255") {
			t.Errorf("detail %q does not name the limit", p.Detail)
		}
		if _, err := e.svc.Member(e.ctx, e.actor(e.owner), membership.MemberRef{Email: "bob@acme.test"}); membership.ErrorCode(err) != membership.CodeNotFound {
			t.Fatalf("bob: %v, want not found", err)
		}
		e.must(201, "POST", "/api/v1/members", e.owner, map[string]any{"email": "bob@acme.test"}, "Idempotency-Key", strings.Repeat("k", 255))
	})
	t.Run("Concurrent", func(t *testing.T) {
		e := newEnv(t)
		m := e.addMember("bob@acme.test", membership.RoleMember)
		const n = 10
		type attempt struct {
			path, method, key string
			body              any
			want              int
		}
		for _, a := range []attempt{
			{"/api/v1/members", "POST", "add-carol", map[string]any{"email": "carol@acme.test"}, 201},
			{fmt.Sprintf("/api/v1/members/%d", m.ID), "DELETE", "rm-bob", nil, 200},
		} {
			responses := make([]*response, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					responses[i], errs[i] = e.try(a.method, a.path, e.owner, a.body, "Idempotency-Key", a.key)
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("%s %s #%d: %v", a.method, a.path, i, errs[i])
				}
				if responses[i].Status != a.want {
					t.Fatalf("%s %s #%d: %s", a.method, a.path, i, responses[i])
				}
				same(t, responses[0], responses[i])
			}
		}
		for _, action := range []string{"member.added", "member.removed"} {
			// member.added also counts bob's, added before the race.
			want := 1
			if action == "member.added" {
				want = 2
			}
			if got := len(e.events(membership.EventListParams{Action: action})); got != want {
				t.Errorf("%d %s events, want %d", got, action, want)
			}
		}
	})
}
