package tedee

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

// env is the demo organization behind a loopback server speaking Tedee.
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
	return dialecttest.Serve(tb, "/api/v37/", NewHandler(e.Svc, auth.New(e.Svc, limits))).URL
}

// membersURL is the seed's path for organization org and group groupID.
func (e *env) membersURL(org, groupID string) string {
	return fmt.Sprintf("%s/api/v37/organization/%s/user-groups/%s/members", e.url, org, groupID)
}

// remove sends the seed's call for the demo's organization and door group.
func (e *env) remove(tb testing.TB, token, body string) (*http.Response, []byte) {
	tb.Helper()
	return dialecttest.Call(tb, http.MethodDelete, e.membersURL("1", demo.TedeeGroupUUID), token, body,
		"Accept", "application/json", "Content-Type", "application/json")
}

func (e *env) doors() int64 { return e.Demo.Groups[demo.GroupDoors] }

// readd puts members back into the door group as the owner, who added
// them in the demo, so that the next example starts from the demo's state.
func (e *env) readd(tb testing.TB, ids []int64) {
	tb.Helper()
	for _, id := range ids {
		if _, err := e.Svc.AddGroupMember(context.Background(), e.Owner, membership.Ref{ID: e.doors()}, membership.MemberRef{ID: id}); err != nil {
			tb.Fatalf("put %d back: %v", id, err)
		}
	}
}

// access reports whether member id can use the named demo resource now.
func (e *env) access(tb testing.TB, id int64, resource string) *membership.Access {
	tb.Helper()
	acc, err := e.Svc.CheckAccess(context.Background(), e.Owner, membership.MemberRef{ID: id}, membership.Ref{ID: e.Demo.Resources[resource]})
	if err != nil {
		tb.Fatal(err)
	}
	return acc
}

// golden compares got with testdata/golden/name byte for byte.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", "golden", name), got)
}
