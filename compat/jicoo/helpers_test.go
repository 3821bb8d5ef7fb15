package jicoo

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

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

// bundle is a demo organization served by a Jicoo handler on loopback,
// mounted as cmd/memberd mounts it.
type bundle struct {
	st      *sqlite.Store
	svc     *membership.Service
	demo    *demo.Demo
	clock   *clock
	srv     *httptest.Server
	handler http.Handler     // what srv serves, for in-process fuzzing
	owner   membership.Actor // for direct core calls
	seq     atomic.Int64
}

func newBundle(tb testing.TB, limits auth.Limits) *bundle {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
	if err != nil {
		tb.Fatal(err)
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
	return &bundle{st: st, svc: svc, demo: d, clock: clk, srv: srv, handler: handler,
		owner: membership.Actor{OrgID: d.Org.ID, MemberID: 1, Scopes: membership.AllScopes(), Interface: "test"}}
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

func golden(tb testing.TB, name, got string) {
	tb.Helper()
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

// digest is everything a request could change, read straight from the
// database: two equal digests mean nothing changed (refused events aside).
func (b *bundle) digest(tb testing.TB) string {
	tb.Helper()
	queries := []string{
		`SELECT id || ':' || status || ':' || role || ':' || name || ':' || COALESCE(removed_at, '') || ':' || updated_at FROM members ORDER BY id`,
		`SELECT id || ':' || COALESCE(ended_at, '') FROM member_periods ORDER BY id`,
		`SELECT id || ':' || status FROM space_members ORDER BY id`,
		`SELECT id || ':' || COALESCE(revoked_at, '') FROM space_member_roles ORDER BY id`,
		`SELECT id || ':' || status FROM group_members ORDER BY id`,
		`SELECT id || ':' || status FROM grants ORDER BY id`,
		`SELECT id || ':' || status FROM bookings ORDER BY id`,
		`SELECT id || ':' || COALESCE(revoked_at, '') FROM credentials ORDER BY id`,
		`SELECT 'ok events ' || count(*) FROM events WHERE outcome = 'ok'`,
	}
	var out strings.Builder
	err := b.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
		for _, q := range queries {
			rows, err := tx.Query(q)
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					rows.Close()
					return err
				}
				out.WriteString(s)
				out.WriteByte('\n')
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out.String()
}

// event is the audit record of one request.
type event struct {
	orgID            int64
	iface, action    string
	outcome, message string
	credentialID     int64
}

// events returns the audit records of the request with id requestID.
func (b *bundle) events(tb testing.TB, requestID string) []event {
	tb.Helper()
	var evs []event
	err := b.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
		rows, err := tx.Query(`SELECT COALESCE(org_id, 0), interface, action, outcome, COALESCE(message, ''), COALESCE(credential_id, 0)
			FROM events WHERE request_id = ? ORDER BY id`, requestID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e event
			if err := rows.Scan(&e.orgID, &e.iface, &e.action, &e.outcome, &e.message, &e.credentialID); err != nil {
				return err
			}
			evs = append(evs, e)
		}
		return rows.Err()
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
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
