package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// TestServeCheck holds the access check's direct path (serveCheck) to the
// operation huma registered: every request gets the same status, headers
// and body from both, and the direct path takes exactly the requests it
// is meant to take, handing the others to huma.
func TestServeCheck(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	gone := e.fixture("gone@acme.test")
	if _, err := e.svc.RemoveMember(e.ctx, e.actor(e.owner), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: gone.member.ID}}); err != nil {
		t.Fatal(err)
	}
	other := e.addMember("other@acme.test", membership.RoleMember)
	writer := e.credential(e.org.Owner, nil, membership.ScopeMembersWrite)
	q := func(member, resource any) string { return fmt.Sprintf("member=%v&resource=%v", member, resource) }
	type request struct {
		query, secret string
		hdr           []string
		direct        bool // serveCheck takes it
	}
	reqs := []request{
		{query: q(f.member.ID, f.room.ID), direct: true},
		{query: q(f.member.ID, f.desk.ID), direct: true},
		{query: q(f.member.UUID, f.room.UUID), direct: true},
		{query: "member=" + url.QueryEscape(f.member.Email) + "&resource=" + fmt.Sprint(f.room.ID), direct: true},
		{query: q(other.ID, f.room.ID), direct: true},
		{query: q(gone.member.ID, gone.room.ID), direct: true},
		{query: q(999999, f.room.ID), direct: true},
		{query: q(f.member.ID, 999999), direct: true},
		{query: q(f.member.ID, f.room.ID), hdr: []string{"Accept", "application/json"}, direct: true},
		{query: q(f.member.ID, f.room.ID), hdr: []string{"Accept", "*/*"}, direct: true},
		{query: q(f.member.ID, f.room.ID), secret: "-", direct: true},
		{query: q(f.member.ID, f.room.ID), secret: "mbd_0123456789abcdef_wrongwrongwrongwrong", direct: true},
		{query: q(f.member.ID, f.room.ID), secret: writer, direct: true},
		{query: q(f.member.ID, f.room.ID), hdr: []string{"Accept", "application/cbor"}, direct: true}, // huma answers JSON
		{query: q(f.member.ID, f.room.ID), hdr: []string{"Accept", "application/problem+json"}, direct: true},
		{query: q(f.member.ID, f.room.ID), hdr: []string{"Accept", "json"}}, // huma negotiates its "json" format
		{query: q(f.member.ID, "abc")},
		{query: q(f.member.ID, "")},
		{query: q("", f.room.ID)},
		{query: "member=" + fmt.Sprint(f.member.ID)},
		{query: q(f.member.ID, f.room.ID) + "&x=1"},
		{query: q(f.member.ID, f.room.ID) + "&member=2"},
		{query: q(f.member.ID, f.room.ID) + ";"},
		{query: "member&resource=" + fmt.Sprint(f.room.ID)}, // huma reads a bare name as "true"
		{query: "member=bob+tag%40acme.test&resource=" + fmt.Sprint(f.room.ID), direct: true},
		{query: "m%65mber=" + fmt.Sprint(f.member.ID) + "&&resource=" + fmt.Sprint(f.room.ID) + "&", direct: true},
		{query: q(f.member.ID, "00000000-0000-0000-0000-0000000000001")},
	}
	serve := func(r request, direct bool) (*httptest.ResponseRecorder, bool) {
		req := httptest.NewRequest(http.MethodGet, checkPath+"?"+r.query, nil)
		switch r.secret {
		case "":
			req.Header.Set("Authorization", "Bearer "+e.owner)
		case "-":
		default:
			req.Header.Set("Authorization", "Bearer "+r.secret)
		}
		for i := 0; i+1 < len(r.hdr); i += 2 {
			req.Header.Set(r.hdr[i], r.hdr[i+1])
		}
		saved := e.h.check
		if !direct {
			e.h.check = checkFast{}
		}
		defer func() { e.h.check = saved }()
		_, _, took := e.h.checkInput(req)
		w := httptest.NewRecorder()
		// As the server mounts it: with the request's state in its context,
		// which the mux (or serveCheck) names the route in.
		var pattern string
		respond.WithLogger(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.h.ServeHTTP(w, r)
			pattern = r.Pattern
		}), slog.New(slog.DiscardHandler)).ServeHTTP(w, req)
		if pattern != http.MethodGet+" "+checkPath {
			t.Errorf("%s: pattern %q", r.query, pattern)
		}
		return w, took
	}
	for _, r := range reqs {
		for range 2 { // the second time from the caches
			slow, _ := serve(r, false)
			fast, took := serve(r, true)
			if took != r.direct {
				t.Errorf("%s %v: taken directly %v, want %v", r.query, r.hdr, took, r.direct)
			}
			slow.Header().Del("X-Request-Id")
			fast.Header().Del("X-Request-Id")
			if fast.Code != slow.Code || !cmp.Equal(fast.Header(), slow.Header()) || fast.Body.String() != slow.Body.String() {
				t.Errorf("%s %v: directly %d %v %s, through huma %d %v %s", r.query, r.hdr,
					fast.Code, fast.Header(), fast.Body, slow.Code, slow.Header(), slow.Body)
			}
		}
	}
}
