package highq

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func TestMain(m *testing.M) { pgtest.Main(m) }

// loadTime fixes the demo's timestamps so that the reads' dates are golden.
var loadTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// engines are the stores every seed replay runs on.
var engines = []string{"sqlite", "postgres"}

// env is the demo organization behind a loopback server speaking HighQ.
type env struct {
	svc   *membership.Service
	demo  *demo.Demo
	url   string // the server with generous rate limits
	tight string // the same service behind an authenticator allowing 1 request
	owner membership.Actor
	// nullOrgRefusals counts refused events without an organization (a
	// request with no credential at all) of this interface after id.
	nullOrgRefusals func(tb testing.TB, afterID int64) int
}

func newEnv(tb testing.TB, engine string) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{owner: membership.Actor{OrgID: 1, MemberID: 1, Interface: "test"}}
	const q = `SELECT count(*) FROM events WHERE org_id IS NULL AND outcome = 'refused' AND interface = $1 AND id > $2`
	var st membership.Store
	switch engine {
	case "sqlite":
		s, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
		e.nullOrgRefusals = func(tb testing.TB, afterID int64) int {
			tb.Helper()
			var n int
			if err := s.Writer().QueryRowContext(ctx, sqlite.Rebind(q), Interface, afterID).Scan(&n); err != nil {
				tb.Fatal(err)
			}
			return n
		}
	case "postgres":
		s, err := postgres.Open(ctx, pgtest.NewDatabase(tb))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
		e.nullOrgRefusals = func(tb testing.TB, afterID int64) int {
			tb.Helper()
			var n int
			if err := s.Pool().QueryRow(ctx, q, Interface, afterID).Scan(&n); err != nil {
				tb.Fatal(err)
			}
			return n
		}
	default:
		tb.Fatalf("unknown engine %q", engine)
	}
	tb.Cleanup(func() { st.Close() })
	d, err := demo.Load(ctx, st, loadTime)
	if err != nil {
		tb.Fatal(err)
	}
	e.demo = d
	e.svc = membership.NewService(st, membership.DefaultConfig())
	e.url = e.serve(tb, auth.Limits{})
	e.tight = e.serve(tb, auth.Limits{Rate: 0.001, Burst: 1})
	return e
}

// serve mounts the handler the way cmd/memberd does and starts a loopback
// server (httptest listens on 127.0.0.1).
func (e *env) serve(tb testing.TB, limits auth.Limits) string {
	mux := http.NewServeMux()
	mux.Handle("/api/3/", NewHandler(e.svc, auth.New(e.svc, limits)))
	srv := httptest.NewServer(respond.WithRequestID(mux))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// call makes one request; headers alternate name, value.
func call(tb testing.TB, method, url, token, body string, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, data
}

// remove sends a removal of site siteID's users.
func (e *env) remove(tb testing.TB, siteID int64, token, body string, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	return call(tb, http.MethodDelete, fmt.Sprintf("%s/api/3/sites/%d/users", e.url, siteID), token, body, headers...)
}

func (e *env) deal() int64 { return e.demo.Spaces[demo.SpaceDeal] }

// siteMembers lists the active member ids of a site.
func (e *env) siteMembers(tb testing.TB, siteID int64) []int64 {
	tb.Helper()
	sms, err := e.svc.SpaceMembers(context.Background(), e.owner, membership.Ref{ID: siteID}, membership.StatusActive)
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]int64, len(sms))
	for i, sm := range sms {
		ids[i] = sm.MemberID
	}
	slices.Sort(ids)
	return ids
}

// readd puts removed deal-room participants back as alice, who added
// them in the demo, so that the next example starts from the demo's state.
func (e *env) readd(tb testing.TB, ids []int64) {
	tb.Helper()
	alice := membership.Actor{OrgID: 1, MemberID: 2, Interface: "test"}
	for _, id := range ids {
		_, err := e.svc.AddSpaceMember(context.Background(), alice, membership.AddSpaceMemberRequest{
			Space: membership.Ref{ID: e.deal()}, Member: membership.MemberRef{ID: id}, Roles: []string{"participant"},
		})
		if err != nil {
			tb.Fatalf("put %d back: %v", id, err)
		}
	}
}

// snapshot renders everything a removal could change: every active space
// and group membership and the active members.
func (e *env) snapshot(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, name := range []string{demo.SpaceLondon, demo.SpaceDeal, demo.SpaceFinance} {
		fmt.Fprintf(&b, "space %s: %v\n", name, e.siteMembers(tb, e.demo.Spaces[name]))
	}
	for _, name := range []string{demo.GroupDoors, demo.GroupEng} {
		gms, err := e.svc.GroupMembers(ctx, e.owner, membership.Ref{ID: e.demo.Groups[name]}, membership.StatusActive)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "group %s:", name)
		for _, gm := range gms {
			fmt.Fprintf(&b, " %d", gm.MemberID)
		}
		b.WriteString("\n")
	}
	ms, err := e.svc.Members(ctx, e.owner, membership.MemberListParams{Status: membership.StatusActive, Limit: membership.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&b, "active members: %d\n", len(ms))
	return b.String()
}

// lastEventID is the newest event id of org (0 if none).
func (e *env) lastEventID(tb testing.TB, org int64) int64 {
	tb.Helper()
	evs, err := e.svc.Events(context.Background(), membership.Actor{OrgID: org}, membership.EventListParams{Limit: 1})
	if err != nil {
		tb.Fatal(err)
	}
	if len(evs) == 0 {
		return 0
	}
	return evs[0].ID
}

// refusals lists org's refused events of this interface after id, oldest first.
func (e *env) refusals(tb testing.TB, org, afterID int64) []*membership.Event {
	tb.Helper()
	evs, err := e.svc.Events(context.Background(), membership.Actor{OrgID: org}, membership.EventListParams{Limit: membership.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*membership.Event
	for _, ev := range slices.Backward(evs) {
		if ev.ID > afterID && ev.Outcome == membership.OutcomeRefused && ev.Interface == Interface {
			out = append(out, ev)
		}
	}
	return out
}

func actions(evs []*membership.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

// golden compares got with testdata/golden/name byte for byte.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s:\ngot  %s\nwant %s", name, got, want)
	}
}

func seed(tb testing.TB, name string) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

func wantStatus(tb testing.TB, resp *http.Response, body []byte, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("status %d, want %d; body %s", resp.StatusCode, want, body)
	}
}

func wantHeader(tb testing.TB, resp *http.Response, name, want string) {
	tb.Helper()
	if got := resp.Header.Get(name); got != want {
		tb.Errorf("%s: %q, want %q", name, got, want)
	}
}
