package dialecttest

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

// Event is the audit record of one request.
type Event struct {
	ID               int64
	OrgID            int64
	Iface, Action    string
	Outcome, Message string
	CredentialID     int64
	RequestID        string
}

// AllEvents lists every audit event, oldest first: each organization's
// through the core, and those of no organization (requests that named
// none, such as one without a credential), which no core call can list,
// read directly.
func (e *Env) AllEvents(tb testing.TB) []Event {
	tb.Helper()
	e.flushRefusals()
	var evs []Event
	for _, a := range e.Orgs {
		for before := int64(0); ; {
			page, err := e.Svc.Events(context.Background(), a, membership.EventListParams{
				BeforeID: before, Limit: membership.MaxListLimit})
			if err != nil {
				tb.Fatal(err)
			}
			for _, ev := range page {
				evs = append(evs, Event{ID: ev.ID, OrgID: ev.OrgID, Iface: ev.Interface, Action: ev.Action,
					Outcome: ev.Outcome, Message: ev.Message, CredentialID: ev.CredentialID, RequestID: ev.RequestID})
			}
			if len(page) < membership.MaxListLimit {
				break
			}
			before = page[len(page)-1].ID
		}
	}
	e.Rows(tb, `SELECT id, interface, action, outcome, COALESCE(message, ''), COALESCE(credential_id, 0), COALESCE(request_id, '')
		FROM events WHERE org_id IS NULL ORDER BY id`, nil, func(scan func(...any) error) error {
		var ev Event
		if err := scan(&ev.ID, &ev.Iface, &ev.Action, &ev.Outcome, &ev.Message, &ev.CredentialID, &ev.RequestID); err != nil {
			return err
		}
		evs = append(evs, ev)
		return nil
	})
	slices.SortFunc(evs, func(x, y Event) int { return cmp.Compare(x.ID, y.ID) })
	return evs
}

// Events returns the audit records of the request with id requestID.
func (e *Env) Events(tb testing.TB, requestID string) []Event {
	tb.Helper()
	var out []Event
	for _, ev := range e.AllEvents(tb) {
		if ev.RequestID == requestID {
			out = append(out, ev)
		}
	}
	return out
}

// OKEvents counts the events of every change that was made.
func (e *Env) OKEvents(tb testing.TB) int {
	tb.Helper()
	n := 0
	for _, ev := range e.AllEvents(tb) {
		if ev.Outcome == membership.OutcomeOK {
			n++
		}
	}
	return n
}

// AssertRefused checks that a refused request changed nothing since
// before (a Digest) and left exactly one event: a refusal through
// interface iface.
func (e *Env) AssertRefused(tb testing.TB, before, requestID, iface string) {
	tb.Helper()
	if got := e.Digest(tb); got != before {
		tb.Error("a refused request changed state")
	}
	evs := e.Events(tb, requestID)
	if len(evs) != 1 || evs[0].Outcome != membership.OutcomeRefused || evs[0].Iface != iface {
		tb.Errorf("events of request %s = %+v, want one refused %s event", requestID, evs, iface)
	}
}

// Rows runs a read-only query, written with PostgreSQL's $N placeholders,
// on whichever engine the store uses, and calls each with every row's
// Scan. It is only for what no core call reads.
func (e *Env) Rows(tb testing.TB, query string, args []any, each func(scan func(...any) error) error) {
	tb.Helper()
	ctx := context.Background()
	var err error
	switch st := e.Store.(type) {
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
		err = fmt.Errorf("no direct reads on a %T", e.Store)
	}
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// NullOrgRefusals counts refused events without an organization (a
// request with no credential at all) of interface iface after id.
func (e *Env) NullOrgRefusals(tb testing.TB, iface string, afterID int64) int {
	tb.Helper()
	e.flushRefusals()
	var n int
	e.Rows(tb, `SELECT count(*) FROM events WHERE org_id IS NULL AND outcome = 'refused' AND interface = $1 AND id > $2`,
		[]any{iface, afterID}, func(scan func(...any) error) error { return scan(&n) })
	return n
}

// LastEventID is the newest event id of org (0 if none).
func (e *Env) LastEventID(tb testing.TB, org int64) int64 {
	tb.Helper()
	e.flushRefusals()
	evs, err := e.Svc.Events(context.Background(), membership.Actor{OrgID: org}, membership.EventListParams{Limit: 1})
	if err != nil {
		tb.Fatal(err)
	}
	if len(evs) == 0 {
		return 0
	}
	return evs[0].ID
}

// Refusals lists org's refused events of interface iface after id, oldest
// first.
func (e *Env) Refusals(tb testing.TB, iface string, org, afterID int64) []*membership.Event {
	tb.Helper()
	e.flushRefusals()
	evs, err := e.Svc.Events(context.Background(), membership.Actor{OrgID: org}, membership.EventListParams{Limit: membership.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*membership.Event
	for _, ev := range slices.Backward(evs) {
		if ev.ID > afterID && ev.Outcome == membership.OutcomeRefused && ev.Interface == iface {
			out = append(out, ev)
		}
	}
	return out
}

// Actions lists the events' actions in order.
func Actions(evs []*membership.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

// Marks is where the audit trails stood before a request: the newest
// event of the demo organization and of another, and the count of
// refusals of no organization.
type Marks struct {
	iface        string
	demoOrgID    int64
	demo, other  int64
	nullRefusals int
}

// Mark records the audit trails of the demo organization, of otherOrg and
// of no organization before a request through interface iface.
func (e *Env) Mark(tb testing.TB, iface string, otherOrg int64) Marks {
	tb.Helper()
	return Marks{iface: iface, demoOrgID: e.Demo.Org.ID, demo: e.LastEventID(tb, e.Demo.Org.ID),
		other: e.LastEventID(tb, otherOrg), nullRefusals: e.NullOrgRefusals(tb, iface, 0)}
}

// AssertRefusals checks what a refused request left since m: with org 0,
// exactly one refusal of no organization; otherwise org's refusals of the
// interface are actions, in order.
func (e *Env) AssertRefusals(tb testing.TB, m Marks, org int64, actions []string) {
	tb.Helper()
	if org == 0 {
		if n := e.NullOrgRefusals(tb, m.iface, 0) - m.nullRefusals; n != 1 {
			tb.Errorf("%d refused events without an organization, want 1", n)
		}
		return
	}
	mark := m.demo
	if org != m.demoOrgID {
		mark = m.other
	}
	e.AssertRefusedSince(tb, m.iface, org, mark, actions...)
}

// AssertRefusedSince checks that org's refusals through interface iface
// after event mark are actions, in order.
func (e *Env) AssertRefusedSince(tb testing.TB, iface string, org, mark int64, actions ...string) {
	tb.Helper()
	if got := Actions(e.Refusals(tb, iface, org, mark)); !slices.Equal(got, actions) {
		tb.Errorf("refused events %v, want %v", got, actions)
	}
}

// flushRefusals writes the refused authentications the service still
// counts in memory, as its ticker or shutdown would, so that a test reads
// every refusal its requests made.
func (e *Env) flushRefusals() {
	e.Svc.FlushAuthRefusals(context.Background(), true)
}
