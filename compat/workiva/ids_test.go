package workiva_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestNonCanonicalIDs: "+N" and "0N" are not a workspace's or a
// membership's id, so a revocation addressed through them is the seed's
// 404 and revokes nothing.
func TestNonCanonicalIDs(t *testing.T) {
	f := newFixture(t, "sqlite", options{})
	base := f.srv.URL + "/prototype/admin/organizations/" + f.org.UUID + "/workspaces/"
	for _, path := range []string{
		fmt.Sprintf("%d/memberships/+%d/roles/revocation", f.space.ID, f.sm.ID),
		fmt.Sprintf("%d/memberships/0%d/roles/revocation", f.space.ID, f.sm.ID),
		fmt.Sprintf("+%d/memberships/%d/roles/revocation", f.space.ID, f.sm.ID),
		fmt.Sprintf("0%d/memberships/%d/roles/revocation", f.space.ID, f.sm.ID),
	} {
		got := do(t, http.MethodPost, base+path, seedHeaders(f.admin), `["Viewer"]`)
		wantError(t, got, 404, "404NotFound", "The requested resource could not be found")
	}
	if roles := f.roles(t); !slices.Contains(roles, "Viewer") {
		t.Errorf("roles %s: Viewer was revoked", strings.Join(roles, ", "))
	}
}
