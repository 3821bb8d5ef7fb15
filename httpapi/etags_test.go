package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/memberd/memberd/membership"
)

func TestETagGet(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	paths := []string{
		fmt.Sprintf("/api/v1/members/%d", f.member.ID),
		fmt.Sprintf("/api/v1/spaces/%d", f.space.ID),
		fmt.Sprintf("/api/v1/groups/%d", f.group.ID),
		fmt.Sprintf("/api/v1/space-memberships/%d", f.sm.ID),
		fmt.Sprintf("/api/v1/groups/%d/members/%d", f.group.ID, f.member.ID),
	}
	for _, path := range paths {
		t.Run(strings.TrimPrefix(path, "/api/v1/"), func(t *testing.T) {
			r := e.must(http.StatusOK, "GET", path, e.owner, nil)
			tag := r.Header.Get("ETag")
			if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 18 {
				t.Fatalf("ETag: got %q, want a strong quoted tag", tag)
			}
			if again := e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag"); again != tag {
				t.Errorf("a second GET: ETag %s, want %s", again, tag)
			}
			for _, inm := range []string{tag, `"other", ` + tag, "W/" + tag, "*"} {
				nm := e.call("GET", path, e.owner, nil, "If-None-Match", inm)
				if nm.Status != http.StatusNotModified || len(nm.Body) != 0 || nm.Header.Get("ETag") != tag {
					t.Errorf("If-None-Match %s: got %d %q with ETag %q, want 304, no body, ETag %s", inm, nm.Status, nm.Body, nm.Header.Get("ETag"), tag)
				}
			}
			if r := e.call("GET", path, e.owner, nil, "If-None-Match", `"other"`); r.Status != http.StatusOK || !jsonEqual(r.Body, e.must(http.StatusOK, "GET", path, e.owner, nil).Body) {
				t.Errorf("If-None-Match of another tag: got %s, want 200 with the resource", r)
			}
			wantProblem(t, e.call("GET", path, e.owner, nil, "If-None-Match", "unquoted"), http.StatusBadRequest)
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

func TestETagPatch(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	path := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
	tag := e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag")

	p := wantProblem(t, e.call("PATCH", path, e.owner, map[string]any{"name": "Robert"}, "If-Match", `"stale"`), http.StatusPreconditionFailed)
	if !strings.Contains(p.Detail, fmt.Sprintf("member %d", f.member.ID)) {
		t.Errorf("412 detail: got %q, want it to name member %d", p.Detail, f.member.ID)
	}
	if m := decode[membership.Member](t, e.must(http.StatusOK, "GET", path, e.owner, nil)); m.Name != f.member.Name {
		t.Fatalf("after the 412: name %q, want %q", m.Name, f.member.Name)
	}

	r := e.must(http.StatusOK, "PATCH", path, e.owner, map[string]any{"name": "Robert"}, "If-Match", tag)
	next := r.Header.Get("ETag")
	if next == "" || next == tag {
		t.Fatalf("PATCH's ETag: got %q, want a new tag (was %s)", next, tag)
	}
	if got := e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag"); got != next {
		t.Errorf("GET after PATCH: ETag %s, want the PATCH's %s", got, next)
	}
	// The clock stands still: the same updated_at, yet a new tag.
	e.must(http.StatusOK, "PATCH", path, e.owner, map[string]any{"name": "Bobby"})
	wantProblem(t, e.call("PATCH", path, e.owner, map[string]any{"name": "Rob"}, "If-Match", next), http.StatusPreconditionFailed)
	e.must(http.StatusOK, "PATCH", path, e.owner, map[string]any{"name": "Rob"}, "If-Match", "*")
	wantProblem(t, e.call("PATCH", path, e.owner, map[string]any{"name": "Rob"}, "If-Match", "nonsense"), http.StatusBadRequest)
}

func TestETagDelete(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	smPath := fmt.Sprintf("/api/v1/space-memberships/%d", f.sm.ID)
	del := fmt.Sprintf("/api/v1/spaces/%d/members/%d", f.space.ID, f.member.ID)
	smTag := e.must(http.StatusOK, "GET", smPath, e.owner, nil).Header.Get("ETag")
	wantProblem(t, e.call("DELETE", del, e.owner, nil, "If-Match", `"0123456789abcdef0123456789abcdef"`), http.StatusPreconditionFailed)
	e.must(http.StatusOK, "DELETE", del, e.owner, nil, "If-Match", smTag)
	if sm := decode[membership.SpaceMember](t, e.must(http.StatusOK, "GET", smPath, e.owner, nil)); sm.Status != membership.StatusRemoved {
		t.Errorf("space membership after DELETE: %s", sm.Status)
	}

	gPath := fmt.Sprintf("/api/v1/groups/%d/members/%d", f.group.ID, f.member.ID)
	gTag := e.must(http.StatusOK, "GET", gPath, e.owner, nil).Header.Get("ETag")
	wantProblem(t, e.call("DELETE", gPath, e.owner, nil, "If-Match", smTag), http.StatusPreconditionFailed)
	e.must(http.StatusOK, "DELETE", gPath, e.owner, nil, "If-Match", gTag)

	path := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
	tag := e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag")
	e.must(http.StatusOK, "PATCH", path, e.owner, map[string]any{"role": "admin"})
	p := wantProblem(t, e.call("DELETE", path, e.owner, nil, "If-Match", tag), http.StatusPreconditionFailed)
	if !strings.Contains(p.Detail, fmt.Sprintf("member %d", f.member.ID)) {
		t.Errorf("412 detail: got %q, want it to name member %d", p.Detail, f.member.ID)
	}
	if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
		t.Fatalf("after the 412: %s, want active", st)
	}
	tag = e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag")
	e.must(http.StatusOK, "DELETE", path, e.owner, nil, "If-Match", tag)
	if st := e.memberStatus(f.member.ID); st != membership.StatusRemoved {
		t.Errorf("after DELETE with the current tag: %s, want removed", st)
	}
}

func TestETagConcurrentPatch(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	path := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
	tag := e.must(http.StatusOK, "GET", path, e.owner, nil).Header.Get("ETag")
	const n = 8
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := e.try("PATCH", path, e.owner, map[string]any{"name": fmt.Sprintf("Bob %d", i)}, "If-Match", tag)
			if err == nil {
				statuses[i] = r.Status
			}
			errs[i] = err
		})
	}
	wg.Wait()
	won := 0
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Errorf("PATCH %d: %v", i, errs[i])
		case st == http.StatusOK:
			won++
		case st != http.StatusPreconditionFailed:
			t.Errorf("PATCH %d: status %d, want 200 or 412", i, st)
		}
	}
	if won != 1 {
		t.Errorf("PATCHes that went ahead with the same If-Match: %d, want 1", won)
	}
}

func TestETagDocument(t *testing.T) {
	raw, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
			Responses  map[string]struct {
				Headers map[string]any `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	has := func(path, method, header string) bool {
		for _, p := range doc.Paths[path][method].Parameters {
			if p.In == "header" && p.Name == header {
				return true
			}
		}
		return false
	}
	for _, path := range []string{"/api/v1/members/{member}", "/api/v1/spaces/{space}", "/api/v1/groups/{group}",
		"/api/v1/space-memberships/{id}", "/api/v1/groups/{group}/members/{member}"} {
		op := doc.Paths[path]["get"]
		if !has(path, "get", "If-None-Match") || op.Responses["304"].Headers["ETag"] == nil || op.Responses["200"].Headers["ETag"] == nil {
			t.Errorf("GET %s: If-None-Match, 304 or the ETag header is not documented", path)
		}
	}
	for _, pm := range [][2]string{{"/api/v1/members/{member}", "patch"}, {"/api/v1/members/{member}", "delete"},
		{"/api/v1/spaces/{space}/members/{member}", "delete"}, {"/api/v1/groups/{group}/members/{member}", "delete"}} {
		if _, ok := doc.Paths[pm[0]][pm[1]].Responses["412"]; !ok || !has(pm[0], pm[1], "If-Match") {
			t.Errorf("%s %s: If-Match or 412 is not documented", pm[1], pm[0])
		}
	}
	if doc.Paths["/api/v1/members/{member}"]["patch"].Responses["200"].Headers["ETag"] == nil {
		t.Error("PATCH of a member: the ETag header is not documented")
	}
}
