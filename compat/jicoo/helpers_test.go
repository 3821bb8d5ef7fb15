package jicoo

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// clock is the service's clock; tests move it to expire credentials.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// engines are the stores every test runs on.
var engines = []string{"sqlite", "postgres"}

// eachEngine runs test once per engine, as subtests named after them. The
// test and its engines run in parallel with the package's other tests:
// each has a database of its own, and most of the time goes into
// creating PostgreSQL databases and loading the demo into them.
func eachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			test(t, engine)
		})
	}
}

// bundle is a demo organization served by a Jicoo handler on loopback,
// mounted as cmd/memberd mounts it.
type bundle struct {
	st      membership.Store
	svc     *membership.Service
	demo    *demo.Demo
	clock   *clock
	srv     *httptest.Server
	handler http.Handler     // what srv serves, for in-process fuzzing
	owner   membership.Actor // for direct core calls
	// orgs are the organizations the test made, the demo's first, each
	// as its owner, for reading everything back through the core.
	orgs []membership.Actor
	seq  atomic.Int64
}

// newBundle loads the demo into a fresh database on engine ("sqlite" or
// "postgres"); the demo's ids are the same on both.
func newBundle(tb testing.TB, engine string, limits auth.Limits) *bundle {
	tb.Helper()
	ctx := context.Background()
	var st membership.Store
	switch engine {
	case "sqlite":
		s, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
	case "postgres":
		s, err := postgres.Open(ctx, pgtest.NewDatabase(tb))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
	default:
		tb.Fatalf("unknown engine %q", engine)
	}
	tb.Cleanup(func() { st.Close() })
	clk := &clock{}
	d, err := demo.Load(ctx, st, clk.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg := membership.DefaultConfig()
	cfg.Now = clk.Now
	svc := membership.NewService(st, cfg)
	mux := http.NewServeMux()
	mux.Handle(Prefix, NewHandler(svc, auth.New(svc, limits)))
	handler := respond.WithRequestID(mux)
	srv := httptest.NewServer(handler)
	tb.Cleanup(srv.Close)
	owner := membership.Actor{OrgID: d.Org.ID, MemberID: 1, Scopes: membership.AllScopes(), Interface: "test"}
	return &bundle{st: st, svc: svc, demo: d, clock: clk, srv: srv, handler: handler, owner: owner,
		orgs: []membership.Actor{owner}}
}

// result is a response read in full.
type result struct {
	status    int
	header    http.Header
	body      string
	requestID string
}

// do sends a request with a fresh X-Request-Id so its audit event can be found.
func (b *bundle) do(tb testing.TB, method, path, token, contentType, body string) *result {
	tb.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Jicoo-Api-Key", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return b.send(tb, req)
}

func (b *bundle) send(tb testing.TB, req *http.Request) *result {
	tb.Helper()
	id := fmt.Sprintf("test-%d", b.seq.Add(1))
	req.Header.Set("X-Request-Id", id)
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &result{status: resp.StatusCode, header: resp.Header, body: string(data), requestID: id}
}

// raw writes request bytes exactly as a client would put them on the wire.
func (b *bundle) raw(tb testing.TB, request string) (*http.Response, string) {
	tb.Helper()
	conn, err := net.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(data)
}

// dump is a response as the golden files hold it: status line, headers
// sorted (Date and X-Request-Id vary per run and are left out), body.
func dump(resp *http.Response, body string) string {
	var keys []string
	for k := range resp.Header {
		if k != "Date" && k != "X-Request-Id" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.WriteString(body)
	return b.String()
}

// goldenMu keeps parallel tests from reading a golden file while another
// rewrites it under -update.
var goldenMu sync.Mutex

func golden(tb testing.TB, name, got string) {
	tb.Helper()
	goldenMu.Lock()
	defer goldenMu.Unlock()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if got != string(want) {
		tb.Errorf("response differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// digest is everything a request could change, in every organization the
// test made: two equal digests mean nothing changed (refused events
// aside). It reads through the core, which both engines serve alike; only
// the membership periods, which no core call lists for a whole
// organization, are read directly.
func (b *bundle) digest(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var out strings.Builder
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, a := range b.orgs {
		fmt.Fprintf(&out, "organization %d\n", a.OrgID)
		for _, m := range b.members(tb, a, "") {
			fmt.Fprintf(&out, "member %d:%s:%s:%s:%s:%d:%s\n", m.ID, m.Status, m.Role, m.Name,
				stamp(m.RemovedAt), m.RemovedBy, stamp(&m.UpdatedAt))
		}
		spaces, err := b.svc.Spaces(ctx, a)
		check(err)
		for _, sp := range spaces {
			sms, err := b.svc.SpaceMembers(ctx, a, membership.Ref{ID: sp.ID}, "")
			check(err)
			for _, sm := range sms {
				// The store aggregates roles in no set order.
				roles := slices.Sorted(slices.Values(sm.Roles))
				fmt.Fprintf(&out, "space member %d:%s:%s:%v\n", sm.ID, sm.Status, stamp(sm.RemovedAt), roles)
			}
		}
		groups, err := b.svc.Groups(ctx, a)
		check(err)
		for _, g := range groups {
			gms, err := b.svc.GroupMembers(ctx, a, membership.Ref{ID: g.ID}, "")
			check(err)
			for _, gm := range gms {
				fmt.Fprintf(&out, "group member %d:%s:%s\n", gm.ID, gm.Status, stamp(gm.RemovedAt))
			}
		}
		grants, err := b.svc.Grants(ctx, a, membership.GrantListParams{})
		check(err)
		for _, g := range grants {
			fmt.Fprintf(&out, "grant %d:%s:%s\n", g.ID, g.Status, stamp(g.RevokedAt))
		}
		bookings, err := b.svc.Bookings(ctx, a, membership.BookingListParams{})
		check(err)
		for _, bk := range bookings {
			fmt.Fprintf(&out, "booking %d:%s:%s\n", bk.ID, bk.Status, stamp(bk.CancelledAt))
		}
		creds, err := b.svc.Credentials(ctx, a)
		check(err)
		for _, c := range creds {
			fmt.Fprintf(&out, "credential %d:%s\n", c.ID, stamp(c.RevokedAt))
		}
	}
	b.rows(tb, `SELECT id, member_id, COALESCE(ended_at, 0), COALESCE(ended_by, 0) FROM member_periods ORDER BY id`, nil,
		func(scan func(...any) error) error {
			var id, member, ended, by int64
			if err := scan(&id, &member, &ended, &by); err != nil {
				return err
			}
			fmt.Fprintf(&out, "period %d:%d:%d:%d\n", id, member, ended, by)
			return nil
		})
	fmt.Fprintf(&out, "ok events %d\n", b.okEvents(tb))
	return out.String()
}

// stamp writes an optional time for a digest.
func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// members lists every member of a's organization with status (all if
// empty), paging through the core's list limit.
func (b *bundle) members(tb testing.TB, a membership.Actor, status membership.Status) []*membership.Member {
	tb.Helper()
	var all []*membership.Member
	for after := int64(0); ; {
		page, err := b.svc.Members(context.Background(), a, membership.MemberListParams{
			Status: status, AfterID: after, Limit: membership.MaxListLimit})
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < membership.MaxListLimit {
			return all
		}
		after = page[len(page)-1].ID
	}
}

// event is the audit record of one request.
type event struct {
	id               int64
	orgID            int64
	iface, action    string
	outcome, message string
	credentialID     int64
	requestID        string
}

// allEvents lists every audit event, oldest first: each organization's
// through the core, and those of no organization (requests that named
// none, such as one without a credential), which no core call can list,
// read directly.
func (b *bundle) allEvents(tb testing.TB) []event {
	tb.Helper()
	var evs []event
	for _, a := range b.orgs {
		for before := int64(0); ; {
			page, err := b.svc.Events(context.Background(), a, membership.EventListParams{
				BeforeID: before, Limit: membership.MaxListLimit})
			if err != nil {
				tb.Fatal(err)
			}
			for _, e := range page {
				evs = append(evs, event{id: e.ID, orgID: e.OrgID, iface: e.Interface, action: e.Action,
					outcome: e.Outcome, message: e.Message, credentialID: e.CredentialID, requestID: e.RequestID})
			}
			if len(page) < membership.MaxListLimit {
				break
			}
			before = page[len(page)-1].ID
		}
	}
	b.rows(tb, `SELECT id, interface, action, outcome, COALESCE(message, ''), COALESCE(credential_id, 0), COALESCE(request_id, '')
		FROM events WHERE org_id IS NULL ORDER BY id`, nil, func(scan func(...any) error) error {
		var e event
		if err := scan(&e.id, &e.iface, &e.action, &e.outcome, &e.message, &e.credentialID, &e.requestID); err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	})
	slices.SortFunc(evs, func(x, y event) int { return cmp.Compare(x.id, y.id) })
	return evs
}

// events returns the audit records of the request with id requestID.
func (b *bundle) events(tb testing.TB, requestID string) []event {
	tb.Helper()
	var out []event
	for _, e := range b.allEvents(tb) {
		if e.requestID == requestID {
			out = append(out, e)
		}
	}
	return out
}

// okEvents counts the events of every change that was made.
func (b *bundle) okEvents(tb testing.TB) int {
	tb.Helper()
	n := 0
	for _, e := range b.allEvents(tb) {
		if e.outcome == membership.OutcomeOK {
			n++
		}
	}
	return n
}

// rows runs a read-only query, written with PostgreSQL's $N placeholders,
// on whichever engine the bundle uses, and calls each with every row's
// Scan. It is only for what no core call reads.
func (b *bundle) rows(tb testing.TB, query string, args []any, each func(scan func(...any) error) error) {
	tb.Helper()
	ctx := context.Background()
	var err error
	switch st := b.st.(type) {
	case *sqlite.Store:
		var rs *sql.Rows
		if rs, err = st.Writer().QueryContext(ctx, sqlite.Rebind(query), args...); err == nil {
			for err == nil && rs.Next() {
				err = each(rs.Scan)
			}
			err = errors.Join(err, rs.Err(), rs.Close())
		}
	case *postgres.Store:
		var rs pgx.Rows
		if rs, err = st.Pool().Query(ctx, query, args...); err == nil {
			for err == nil && rs.Next() {
				err = each(rs.Scan)
			}
			rs.Close()
			err = errors.Join(err, rs.Err())
		}
	default:
		err = fmt.Errorf("no direct reads on a %T", b.st)
	}
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// assertRefusedAudited checks that the request left exactly one event: a
// refusal through this interface.
func (b *bundle) assertRefusedAudited(tb testing.TB, requestID string) {
	tb.Helper()
	evs := b.events(tb, requestID)
	if len(evs) != 1 || evs[0].outcome != membership.OutcomeRefused || evs[0].iface != Interface {
		tb.Errorf("events of request %s = %+v, want one refused %s event", requestID, evs, Interface)
	}
}

// credential makes a credential for member with scopes, optionally expiring.
func (b *bundle) credential(tb testing.TB, member int64, scopes []string, expires *time.Time) string {
	tb.Helper()
	ic, err := b.svc.CreateCredential(context.Background(), b.owner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: member}, Name: "test", Scopes: scopes, ExpiresAt: expires})
	if err != nil {
		tb.Fatal(err)
	}
	return ic.Secret
}

// otherOrg bootstraps a second organization and returns its owner's secret.
func (b *bundle) otherOrg(tb testing.TB) string {
	tb.Helper()
	bs, err := b.svc.CreateOrganization(context.Background(), membership.BootstrapRequest{
		OrgName: "Other Corp", OwnerEmail: "boss@other.test", OwnerName: "Boss"})
	if err != nil {
		tb.Fatal(err)
	}
	b.orgs = append(b.orgs, membership.Actor{OrgID: bs.Organization.ID, MemberID: bs.Owner.ID,
		Scopes: membership.AllScopes(), Interface: "test"})
	return bs.Secret
}

func (b *bundle) member(tb testing.TB, id int64) *membership.Member {
	tb.Helper()
	m, err := b.svc.Member(context.Background(), b.owner, membership.MemberRef{ID: id})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fuzzInput is one input of the package's fuzz target: a Content-Type
// and a body.
type fuzzInput struct {
	contentType string
	body        []byte
}

// readCorpus reads the fuzz target's corpus under testdata/fuzz, which go
// test writes as "go test fuzz v1" then one Go literal per argument.
func readCorpus(tb testing.TB, target string) []fuzzInput {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no corpus under testdata/fuzz/%s", target)
	}
	var inputs []fuzzInput
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			tb.Fatalf("%s: not a corpus file of a (string, []byte) target", path)
		}
		var args [2]string
		for i, prefix := range []string{"string(", "[]byte("} {
			lit, ok := strings.CutPrefix(lines[i+1], prefix)
			lit, ok2 := strings.CutSuffix(lit, ")")
			if args[i], err = strconv.Unquote(lit); !ok || !ok2 || err != nil {
				tb.Fatalf("%s: line %d is not a %s...) literal", path, i+2, prefix)
			}
		}
		inputs = append(inputs, fuzzInput{args[0], []byte(args[1])})
	}
	return inputs
}
