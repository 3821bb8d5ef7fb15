package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/memberd/memberd/membership"
)

// BenchmarkAccessCheck runs GET /api/v1/access through the handler as the
// bench's S3 does, each check on a member the access index has not seen
// (it keeps one answer), so that its allocations and CPU are those of a check
// that runs its statement: go test -run - -bench AccessCheck -benchmem ./httpapi/
func BenchmarkAccessCheck(b *testing.B) {
	e := newEnv(b, func(o *envOptions) { o.accessIndex = 1 })
	a := e.actor(e.owner)
	res, err := e.svc.CreateResource(e.ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: "Desk"})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 200)
	for i := range ids {
		m := e.addMember("m"+strconv.Itoa(i)+"@acme.test", membership.RoleMember)
		if i%2 == 0 {
			if _, err := e.svc.CreateGrant(e.ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: res.ID},
				Member: &membership.MemberRef{ID: m.ID}}); err != nil {
				b.Fatal(err)
			}
		}
		ids[i] = strconv.FormatInt(m.ID, 10)
	}
	resource := strconv.FormatInt(res.ID, 10)
	reqs := make([]*http.Request, len(ids))
	for i, id := range ids {
		r := httptest.NewRequest(http.MethodGet, Prefix+"/access?member="+id+"&resource="+resource, nil)
		r.Header.Set("Authorization", "Bearer "+e.owner)
		reqs[i] = r
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
