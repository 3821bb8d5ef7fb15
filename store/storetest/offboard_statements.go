package storetest

import (
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

var offboardStatementTests = []test{
	{"Offboarding", testStatementsOffboarding},
}

// MaxOffboardStatements bounds the statements of one offboarding whose
// report is cut (a member with more of each kind than the report lists,
// as the bench's S4 member with 1,000 spaces, 200 groups and 10,000
// grants), on every engine: each is a round trip on PostgreSQL and a
// step of SQLite's one writer, so a new one must be a decision, not a
// drift. Measured when it was set: SQLite 17 (the space memberships and
// the grants each in the general form's several statements), PostgreSQL
// 11 (each kind's rows ended, listed and counted in one statement),
// which store/postgres holds to its own bound; SQLite 16 since a removal
// leaves the member's period alone (migration 00019). Sealing the audit
// chain, once per group commit, is not counted.
const MaxOffboardStatements = 16

// MaxOffboardDryRunStatements bounds the same offboarding's dry run,
// which writes no removal log and no event but reads the keys of every
// grant for its plan tag. Measured: SQLite 12, PostgreSQL 9.
const MaxOffboardDryRunStatements = 12

// testStatementsOffboarding holds a bounded offboarding, the store's S4
// path, to its statement budget on every engine.
func testStatementsOffboarding(t *testing.T, open Opener) {
	dry, removal := OffboardStatements(t, open)
	if dry > MaxOffboardDryRunStatements {
		t.Errorf("statements of one offboarding's dry run: got %d, want at most %d", dry, MaxOffboardDryRunStatements)
	}
	if removal > MaxOffboardStatements {
		t.Errorf("statements of one offboarding: got %d, want at most %d", removal, MaxOffboardStatements)
	}
}

// OffboardStatements counts the statements of a bounded offboarding of a
// fresh store from open, its dry run and then the removal, and logs
// them. A report limit of 1 makes bob, with 2 spaces, 2 groups, 4 direct
// grants and 4 grants through the groups, a member with more than the
// report lists of every kind, so the store takes its bounded forms, those
// of the bench's S4 offboarding. Engines hold the counts to their own
// bounds with it.
func OffboardStatements(t *testing.T, open Opener) (dryRun, removal int) {
	t.Helper()
	var rs *recordingStore
	w := newWorld(t, func(tb testing.TB) membership.Store {
		rs = &recordingStore{Store: open(tb)}
		return rs
	})
	counts := make([]int, 2)
	for i, dry := range []bool{true, false} {
		rs.rec.Reset()
		rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: dry, ReportLimit: 1})
		if err != nil {
			t.Fatalf("offboard (dry run %v): %v", dry, err)
		}
		if rep.Counts != bobCounts || !rep.Truncated {
			t.Errorf("offboard (dry run %v): counts %+v truncated %v, want %+v and truncated", dry, rep.Counts, rep.Truncated, bobCounts)
		}
		qs := rs.rec.Queries()
		t.Logf("offboard (dry run %v): %d statements:\n%s", dry, len(qs), strings.Join(qs, "\n"))
		counts[i] = len(qs)
	}
	return counts[0], counts[1]
}
