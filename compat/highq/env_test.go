package highq

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// loadTime fixes the demo's timestamps so that the reads' dates are golden.
var loadTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// env is the demo organization behind a loopback server speaking HighQ.
type env struct {
	*dialecttest.Env
	url   string // the server with generous rate limits
	tight string // the same service behind an authenticator allowing 1 request
}

func newEnv(tb testing.TB, engine string) *env {
	tb.Helper()
	e := &env{Env: dialecttest.Load(tb, engine, loadTime)}
	e.url = e.serve(tb, auth.Limits{})
	e.tight = e.serve(tb, auth.Limits{Rate: 0.001, Burst: 1})
	return e
}

// serve mounts the handler the way cmd/memberd does on a loopback server.
func (e *env) serve(tb testing.TB, limits auth.Limits) string {
	tb.Helper()
	return dialecttest.Serve(tb, "/api/3/", NewHandler(e.Svc, auth.New(e.Svc, limits))).URL
}

// remove sends a removal of site siteID's users.
func (e *env) remove(tb testing.TB, siteID int64, token, body string, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	return dialecttest.Call(tb, http.MethodDelete, fmt.Sprintf("%s/api/3/sites/%d/users", e.url, siteID), token, body, headers...)
}

func (e *env) deal() int64 { return e.Demo.Spaces[demo.SpaceDeal] }

// readd puts removed deal-room participants back as alice, who added
// them in the demo, so that the next example starts from the demo's state.
func (e *env) readd(tb testing.TB, ids []int64) {
	tb.Helper()
	alice := membership.Actor{OrgID: 1, MemberID: 2, Interface: "test"}
	for _, id := range ids {
		_, err := e.Svc.AddSpaceMember(context.Background(), alice, membership.AddSpaceMemberRequest{
			Space: membership.Ref{ID: e.deal()}, Member: membership.MemberRef{ID: id}, Roles: []string{"participant"},
		})
		if err != nil {
			tb.Fatalf("put %d back: %v", id, err)
		}
	}
}

// golden compares got with testdata/golden/name byte for byte.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", "golden", name), got)
}
