package membership

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestReportJSONIsMarshal: appendReportJSON writes json.Marshal's bytes
// for reports of every shape: empty and nil lists, optional fields set and
// not, strings json.Marshal escapes, times in other zones.
func TestReportJSONIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		rep := randomReport(r)
		want, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendReportJSON(nil, rep)
		if !ok {
			t.Fatalf("report %d: not encoded:\n%s", i, want)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("report %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestReportJSONRefuses: a report appendReportJSON does not cover is left
// to json.Marshal.
func TestReportJSONRefuses(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, rep := range map[string]*Report{
		"nil space":      {Spaces: []*SpaceMember{nil}},
		"far created_at": {Groups: []*GroupMember{{CreatedAt: far}}},
		"far removed_at": {Grants: []*GrantChange{{Grant: &Grant{CreatedAt: time.Now(), RevokedAt: &far}}}},
	} {
		if _, ok := appendReportJSON(nil, rep); ok {
			t.Errorf("%s: encoded", name)
		}
	}
}

func randomReport(r *rand.Rand) *Report {
	str := func() string {
		return []string{"", "a", "Ünïcode", "<b>&amp;</b>", "line\nbreak\t\"q\"\\", "\u2028\u2029", "bad\xffutf8", "x@y.test"}[r.IntN(8)]
	}
	zone := []*time.Location{time.UTC, time.FixedZone("", 9*3600+1800), time.FixedZone("X", -5*3600)}
	at := func() time.Time {
		return time.Unix(r.Int64N(4e9), r.Int64N(2)*r.Int64N(1e9)).In(zone[r.IntN(len(zone))])
	}
	opt := func() *time.Time {
		if r.IntN(2) == 0 {
			return nil
		}
		t := at()
		return &t
	}
	id := func() int64 { return r.Int64N(3) * r.Int64N(1<<40) }
	strs := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		return []string{str(), str()}
	}
	n := func() int { return r.IntN(3) }
	rep := &Report{DryRun: r.IntN(2) == 0, Truncated: r.IntN(2) == 0, EventID: id(),
		Counts: ReportCounts{Spaces: n(), Roles: n(), Groups: n(), DirectGrants: n(), GroupGrants: n(), Bookings: n(), RemainingAccess: n()}}
	if r.IntN(4) > 0 {
		rep.Member = &Member{ID: id(), UUID: str(), OrgID: id(), Email: str(), Name: str(), Role: Role(str()), Status: Status(str()),
			AddedBy: id(), CreatedAt: at(), UpdatedAt: at(), RemovedAt: opt(), RemovedBy: id()}
	}
	if r.IntN(3) > 0 {
		rep.Receipt = &Receipt{EventID: id()}
		if r.IntN(2) == 0 {
			rep.Receipt.Hash = strconv.FormatInt(id(), 16)
		}
	}
	if r.IntN(5) > 0 {
		rep.Spaces = []*SpaceMember{}
		for range n() {
			rep.Spaces = append(rep.Spaces, &SpaceMember{ID: id(), UUID: str(), OrgID: id(), SpaceID: id(), MemberID: id(), Email: str(),
				Roles: strs(), Status: Status(str()), AddedBy: id(), CreatedAt: at(), RemovedAt: opt(), Cause: str()})
		}
	}
	if r.IntN(5) > 0 {
		rep.Roles = []*RoleChange{}
		for range n() {
			rep.Roles = append(rep.Roles, &RoleChange{SpaceID: id(), SpaceMemberID: id(), Roles: strs()})
		}
	}
	if r.IntN(5) > 0 {
		rep.Groups = []*GroupMember{}
		for range n() {
			rep.Groups = append(rep.Groups, &GroupMember{ID: id(), OrgID: id(), GroupID: id(), MemberID: id(), Status: Status(str()),
				AddedBy: id(), CreatedAt: at(), RemovedAt: opt(), Cause: str()})
		}
	}
	if r.IntN(5) > 0 {
		rep.Grants = []*GrantChange{}
		for range n() {
			gc := &GrantChange{Origin: str()}
			if r.IntN(4) > 0 {
				gc.Grant = &Grant{ID: id(), UUID: str(), OrgID: id(), ResourceID: id(), MemberID: id(), GroupID: id(), Status: Status(str()),
					CreatedAt: at(), RevokedAt: opt(), Cause: str()}
			}
			rep.Grants = append(rep.Grants, gc)
		}
	}
	if r.IntN(5) > 0 {
		rep.Bookings = []*Booking{}
		for range n() {
			rep.Bookings = append(rep.Bookings, &Booking{ID: id(), UUID: str(), OrgID: id(), ResourceID: id(), MemberID: id(),
				StartsAt: at(), EndsAt: at(), Status: str(), CreatedAt: at(), CancelledAt: opt(), CancelReason: str()})
		}
	}
	if r.IntN(5) > 0 {
		rep.RemainingAccess = []*Access{}
		for range n() {
			a := &Access{ResourceID: id(), Allowed: r.IntN(2) == 0, Direct: r.IntN(2) == 0}
			switch r.IntN(3) {
			case 1:
				a.GroupIDs = []int64{}
			case 2:
				a.GroupIDs = []int64{id(), id()}
			}
			rep.RemainingAccess = append(rep.RemainingAccess, a)
		}
	}
	return rep
}

// BenchmarkReportJSON encodes an S2 member's report (two spaces with a
// role each, a group) as the removal log stores it, by hand and by
// json.Marshal.
func BenchmarkReportJSON(b *testing.B) {
	now := time.Now()
	m := &Member{ID: 7, UUID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", OrgID: 1, Email: "m@bench.test", Name: "M", Role: RoleMember,
		Status: StatusRemoved, AddedBy: 1, CreatedAt: now, UpdatedAt: now, RemovedAt: &now, RemovedBy: 1}
	rep := newReport(m)
	for i := range 2 {
		rep.Spaces = append(rep.Spaces, &SpaceMember{ID: int64(i + 1), UUID: m.UUID, OrgID: 1, SpaceID: int64(i + 1), MemberID: 7,
			Email: m.Email, Roles: []string{"member"}, Status: StatusActive, AddedBy: 1, CreatedAt: now})
		rep.Roles = append(rep.Roles, &RoleChange{SpaceID: int64(i + 1), SpaceMemberID: int64(i + 1), Roles: []string{"member"}})
	}
	rep.Groups = append(rep.Groups, &GroupMember{ID: 3, OrgID: 1, GroupID: 1, MemberID: 7, Status: StatusActive, AddedBy: 1, CreatedAt: now})
	rep.Counts = ReportCounts{Spaces: 2, Roles: 2, Groups: 1}
	rep.EventID, rep.Receipt = 99, &Receipt{EventID: 99}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeResult(rep); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(rep); err != nil {
				b.Fatal(err)
			}
		}
	})
}
