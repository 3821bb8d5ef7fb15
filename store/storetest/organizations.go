package storetest

import (
	"testing"

	"github.com/memberd/memberd/membership"
)

var organizationTests = []test{
	{"ErrConflictSameNameAndOwner", testOrganizationDuplicate},
}

// testOrganizationDuplicate: a second organization with the same name and
// owner is refused unless forced; another name or owner is not a duplicate.
func testOrganizationDuplicate(t *testing.T, open Opener) {
	e := newEnv(t, open)
	org, _, _ := e.bootstrap("Initech", "Boss@Initech.test")
	req := membership.BootstrapRequest{OrgName: "Initech", OwnerEmail: "boss@initech.TEST"}
	_, err := e.svc.CreateOrganization(e.ctx, req)
	wantCode(t, err, membership.CodeConflict)
	for _, other := range []membership.BootstrapRequest{
		{OrgName: "Initech Two", OwnerEmail: "boss@initech.test"},
		{OrgName: "Initech", OwnerEmail: "someone@initech.test"},
		{OrgName: "Initech", OwnerEmail: "boss@initech.test", Force: true},
	} {
		b, err := e.svc.CreateOrganization(e.ctx, other)
		if err != nil {
			t.Fatalf("%+v: %v", other, err)
		}
		if b.Organization.ID == org.ID {
			t.Fatalf("%+v: got the existing organization %d", other, org.ID)
		}
	}
}
