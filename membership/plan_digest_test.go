package membership

import "testing"

// A tagged removal digests the keys of its grants instead of the grants
// it lists: the tag must be the one the whole lists gave, or plans made
// before the change would no longer match.
func TestGrantKeysDigestLikeListedGrants(t *testing.T) {
	r := newReport(&Member{ID: 7, Email: "a@example.com", Role: RoleMember, Status: StatusRemoved})
	var keys []GrantKey
	for i := range 3000 { // more than digestGrantKeys' buffer holds
		g := &Grant{ID: int64(10 + i), ResourceID: int64(1000 + i*7), MemberID: 7}
		if i >= 1200 {
			g.MemberID, g.GroupID = 0, int64(40+i%9)
		}
		r.Grants = append(r.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
		keys = append(keys, GrantKey{ID: g.ID, ResourceID: g.ResourceID, MemberID: g.MemberID, GroupID: g.GroupID})
	}
	r.Counts.DirectGrants, r.Counts.GroupGrants = 1200, 1800

	listed := &Guard{}
	listed.start(KindRemoveMember+" 7", true)
	listed.add(r)
	if err := listed.finish(true); err != nil {
		t.Fatal(err)
	}

	keyed := &Guard{}
	keyed.start(KindRemoveMember+" 7", true)
	keyed.keyed, keyed.grantKeys = true, keys
	cut := *r
	cut.Grants = append(r.Grants[:DefaultReportLimit:DefaultReportLimit], r.Grants[1200:1200+DefaultReportLimit]...)
	keyed.add(&cut)
	if err := keyed.finish(true); err != nil {
		t.Fatal(err)
	}
	if keyed.ETag != listed.ETag {
		t.Errorf("tag from keys: got %s, want %s", keyed.ETag, listed.ETag)
	}
	if keyed.keyed || keyed.grantKeys != nil {
		t.Error("the keys outlive the report they were digested with")
	}
}
