package storetest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var reportBoundTests = []test{
	{"CountsAreTheChanges", testReportCountsAreTheChanges},
	{"DryRunEqualsRemoval", testReportBoundDryRun},
	{"RolesBeyondListedSpaces", testReportBoundRolesBeyondSpaces},
	{"RestoreAfterBoundedReport", testReportBoundRestore},
	{"ErrInvalidLimit", testReportBoundInvalid},
	{"AnswerIsTheLoggedJSON", testReportJSON},
}

// bobCounts are what removing bob from the organization takes away in
// newWorld: 2 spaces holding 3 roles, 2 groups, 4 direct grants, the
// groups' 4 grants and 4 future bookings.
var bobCounts = membership.ReportCounts{Spaces: 2, Roles: 3, Groups: 2, DirectGrants: 4, GroupGrants: 4, Bookings: 4}

// A report cut to one item per list still counts everything exactly, and
// its counts are the rows the removal changed.
func testReportCountsAreTheChanges(t *testing.T, open Opener) {
	w := newWorld(t, open)
	full, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if full.Counts != bobCounts || full.Truncated {
		t.Errorf("default report: counts %+v truncated %v, want %+v and not truncated", full.Counts, full.Truncated, bobCounts)
	}
	if len(full.Spaces) != 2 || len(full.Roles) != 2 || len(full.Groups) != 2 || len(full.Grants) != 8 || len(full.Bookings) != 4 {
		t.Errorf("default report lists everything: got %d spaces, %d role changes, %d groups, %d grants, %d bookings",
			len(full.Spaces), len(full.Roles), len(full.Groups), len(full.Grants), len(full.Bookings))
	}

	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), ReportLimit: 1})
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if rep.Counts != bobCounts || !rep.Truncated {
		t.Errorf("bounded report: counts %+v truncated %v, want %+v and truncated", rep.Counts, rep.Truncated, bobCounts)
	}
	if len(rep.Spaces) != 1 || len(rep.Roles) != 1 || len(rep.Groups) != 1 || len(rep.Bookings) != 1 || len(rep.Grants) != 2 {
		t.Fatalf("bounded report: got %d spaces, %d role changes, %d groups, %d grants, %d bookings; want 1 each, grants 1 direct + 1 via groups",
			len(rep.Spaces), len(rep.Roles), len(rep.Groups), len(rep.Grants), len(rep.Bookings))
	}
	// The lists are the first of the full ones: lowest ids first.
	if rep.Spaces[0].ID != full.Spaces[0].ID || rep.Groups[0].ID != full.Groups[0].ID || rep.Bookings[0].ID != full.Bookings[0].ID ||
		rep.Grants[0].Origin != "direct" || rep.Grants[1].Origin != "group" {
		t.Errorf("bounded lists are not the first items of the full report: %s", jsonString(rep))
	}

	// What the store now holds, counted independently.
	var got membership.ReportCounts
	h := w.history(w.bob.ID)
	for _, sm := range h.Spaces {
		if sm.Status == membership.StatusRemoved && sm.Cause == membership.CauseMemberRemoved {
			got.Spaces++
		}
	}
	for _, gm := range h.Groups {
		if gm.Status == membership.StatusRemoved && gm.Cause == membership.CauseMemberRemoved {
			got.Groups++
		}
	}
	for _, b := range h.Bookings {
		if b.Status == membership.BookingCancelled {
			got.Bookings++
		}
	}
	direct, err := w.svc.Grants(w.ctx, w.owner, membership.GrantListParams{MemberID: w.bob.ID, Status: membership.StatusRemoved})
	if err != nil {
		t.Fatal(err)
	}
	got.DirectGrants = len(direct)
	viaGroups, err := w.svc.Grants(w.ctx, w.owner, membership.GrantListParams{GroupIDs: []int64{w.eng.ID, w.ops.ID}, Status: membership.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	got.GroupGrants = len(viaGroups)
	got.Roles = bobCounts.Roles // roles stay on the removed memberships; counted by the default report above
	if got != rep.Counts {
		t.Errorf("counts: report %+v, store %+v", rep.Counts, got)
	}
}

func testReportBoundDryRun(t *testing.T, open Opener) {
	w := newWorld(t, open)
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		return w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: dry, ReportLimit: 1})
	})
}

// A report lists the roles of the first memberships holding any, which
// may lie beyond the memberships it lists; the removal, which reads no
// more than its lists, reports what its dry run (which reads everything
// for the plan tag) does.
func testReportBoundRolesBeyondSpaces(t *testing.T, open Opener) {
	w := newWorld(t, open)
	dave := w.addMember(w.owner, "dave@example.com", membership.RoleMember)
	w.addToSpace(w.owner, w.hq, dave)
	w.addToSpace(w.owner, w.lab, dave)
	third := w.createSpace("Annex")
	w.addToSpace(w.owner, third, dave, "editor")
	fourth := w.createSpace("Depot")
	w.addToSpace(w.owner, fourth, dave, "viewer", "editor")
	var rep *membership.Report
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		r, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: dave.ID}, DryRun: dry, ReportLimit: 1})
		if !dry {
			rep = r
		}
		return r, err
	})
	h := w.history(dave.ID)
	want := membership.ReportCounts{Spaces: 4, Roles: 3}
	if rep.Counts.Spaces != want.Spaces || rep.Counts.Roles != want.Roles || !rep.Truncated {
		t.Errorf("counts %+v truncated %v, want %d spaces and %d roles, truncated", rep.Counts, rep.Truncated, want.Spaces, want.Roles)
	}
	if len(rep.Spaces) != 1 || rep.Spaces[0].SpaceID != w.hq.ID || len(rep.Roles) != 1 || rep.Roles[0].SpaceID != third.ID {
		t.Errorf("lists: got spaces %s and roles %s; want hq, and annex's roles", jsonString(rep.Spaces), jsonString(rep.Roles))
	}
	for _, sm := range h.Spaces {
		if sm.Status != membership.StatusRemoved {
			t.Errorf("space membership %d of space %d left %s", sm.ID, sm.SpaceID, sm.Status)
		}
	}
}

// Bounding the report bounds what is said, not what is done: a restore
// brings back everything, listed or not.
func testReportBoundRestore(t *testing.T, open Opener) {
	w := newWorld(t, open)
	had := w.memberAccess(w.bob)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), ReportLimit: 1}); err != nil {
		t.Fatal(err)
	}
	rep, err := restore(w, w.owner, w.bob)
	if err != nil {
		t.Fatalf("RestoreMember: %v", err)
	}
	if diff := cmp.Diff(w.memberAccess(w.bob), had); diff != "" {
		t.Errorf("bob after restore differs from before removal (-got +want):\n%s", diff)
	}
	want := membership.ReportCounts{Spaces: 2, Roles: 3, Groups: 2, DirectGrants: 4, RemainingAccess: len(had.Access)}
	if rep.Counts != want || rep.Truncated {
		t.Errorf("restore report: counts %+v truncated %v, want %+v", rep.Counts, rep.Truncated, want)
	}
}

func testReportBoundInvalid(t *testing.T, open Opener) {
	w := newWorld(t, open)
	for _, n := range []int{-1, membership.MaxReportLimit + 1} {
		_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), ReportLimit: n})
		if membership.ErrorCode(err) != membership.CodeInvalid {
			t.Errorf("report_limit %d: got %v, want invalid", n, err)
		}
	}
	if !w.member(w.bob.ID).Active() {
		t.Error("a refused removal removed bob")
	}
}

// The JSON a removal's answer reuses from the removal log
// (membership.ReportJSON) is byte for byte json.Marshal of the report,
// its receipt completed; a dry run, which logs nothing, has none, nor
// has a report whose receipt is not the logged one.
func testReportJSON(t *testing.T, open Opener) {
	w := newWorld(t, open)
	g := &membership.Guard{}
	dry, err := w.svc.RemoveMember(membership.WithGuard(w.ctx, g), w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := membership.ReportJSON(g, dry); ok {
		t.Error("a dry run's report has logged JSON")
	}
	g = &membership.Guard{}
	rep, err := w.svc.RemoveMember(membership.WithGuard(w.ctx, g), w.owner, membership.RemoveMemberRequest{Member: bobRef(w), ReportLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipt == nil || rep.Receipt.Hash == "" {
		t.Fatalf("receipt %+v, want one with its hash", rep.Receipt)
	}
	got, ok := membership.ReportJSON(g, rep)
	want, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("logged JSON (%v):\n%s\nwant json.Marshal's:\n%s", ok, got, want)
	}
	other := *rep
	other.Receipt = &membership.Receipt{EventID: rep.Receipt.EventID + 1, Hash: rep.Receipt.Hash}
	if _, ok := membership.ReportJSON(g, &other); ok {
		t.Error("logged JSON given for a report with another receipt")
	}
}
