package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

var statementTests = []test{
	{"SingleRemoval", testStatementsSingleRemoval},
	{"IdempotentReplayTakesNoWriter", testStatementsIdempotentReplay},
}

// MaxRemovalStatements bounds the statements one removal of a member
// whose report the interface discards (Jicoo's 204) runs, reads and
// writes, on every engine: the removal's cost is its statements (each a
// round trip on PostgreSQL, each a step of the one SQLite writer), so a
// new one must be a decision, not a drift. It was 20 before issue 16 (21
// with the report). SQLite now runs 12, PostgreSQL 14: its nodes read the
// webhook endpoints and the removal policy that SQLite's single writer
// caches (sqlstore.WriterCache). 3 of them chain the audit event.
const MaxRemovalStatements = 14

// recordingStore records the statements of every transaction of the
// store it wraps, and in writes those of write transactions alone; both
// engines hand the core a *sqlstore.Tx.
type recordingStore struct {
	membership.Store
	rec, writes sqlstore.Recorder
}

func (r *recordingStore) Update(ctx context.Context, fn func(membership.Tx) error) error {
	return r.Store.Update(ctx, func(tx membership.Tx) error {
		if st, ok := tx.(*sqlstore.Tx); ok {
			defer st.Record(&r.writes)()
		}
		return r.recorded(tx, fn)
	})
}

func (r *recordingStore) View(ctx context.Context, fn func(membership.Tx) error) error {
	return r.Store.View(ctx, func(tx membership.Tx) error { return r.recorded(tx, fn) })
}

func (r *recordingStore) recorded(tx membership.Tx, fn func(membership.Tx) error) error {
	if st, ok := tx.(*sqlstore.Tx); ok {
		defer st.Record(&r.rec)()
	}
	return fn(tx)
}

func testStatementsSingleRemoval(t *testing.T, open Opener) {
	var rs *recordingStore
	w := newWorld(t, func(tb testing.TB) membership.Store {
		rs = &recordingStore{Store: open(tb)}
		return rs
	})
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		member *membership.Member
		max    int
	}{
		// With the report-only read of the grants of groups left;
		// SQLite's cache is cold the first time.
		{"Report", w.ctx, w.bob, MaxRemovalStatements + 1},
		// As Jicoo's DELETE removes: the answer is a 204.
		{"ReportDiscarded", membership.WithReportDiscarded(w.ctx), w.carol, MaxRemovalStatements},
	} {
		rs.rec.Reset()
		if _, err := w.svc.RemoveMember(tc.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: tc.member.ID}}); err != nil {
			t.Fatalf("%s: remove member: %v", tc.name, err)
		}
		qs := rs.rec.Queries()
		t.Logf("%s: %d statements:\n%s", tc.name, len(qs), strings.Join(qs, "\n"))
		if len(qs) > tc.max {
			t.Errorf("%s: statements of one removal: got %d, want at most %d:\n%s", tc.name, len(qs), tc.max, strings.Join(qs, "\n"))
		}
	}
}

// A retry with the same Idempotency-Key is answered from a read: it never
// waits for the writer (SQLite's one connection, a group commit).
func testStatementsIdempotentReplay(t *testing.T, open Opener) {
	var rs *recordingStore
	w := newWorld(t, func(tb testing.TB) membership.Store {
		rs = &recordingStore{Store: open(tb)}
		return rs
	})
	ctx := membership.WithIdempotency(w.ctx, "remove-bob", "hash-1")
	first, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	rs.writes.Reset()
	again, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.EventID != first.EventID {
		t.Errorf("retry's event: got %d, want the first call's %d", again.EventID, first.EventID)
	}
	if qs := rs.writes.Queries(); len(qs) != 0 {
		t.Errorf("retry's statements in write transactions: got %d, want 0:\n%s", len(qs), strings.Join(qs, "\n"))
	}
}
