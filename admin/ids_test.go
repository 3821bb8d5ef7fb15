package admin_test

import (
	"net/http"
	"testing"

	"github.com/memberd/memberd/admin"
)

// TestNonCanonicalMemberID: "+10" and "010" are not member 10's id in the
// console either: the member page is the 404 page.
func TestNonCanonicalMemberID(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	c.mustSignIn(t, c.Demo.OwnerToken)
	wantStatus(t, c.get(t, admin.Prefix+"/members/10"), http.StatusOK)
	for _, id := range []string{"+10", "010"} {
		wantStatus(t, c.get(t, admin.Prefix+"/members/"+id), http.StatusNotFound)
	}
}
