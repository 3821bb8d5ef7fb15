package jicoo

import (
	"net/http"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/membership"
)

// TestNonCanonicalUserID: "09" and "+9" are not user 9's id, so deleting
// through them is the seed's 404 and user 9 stays.
func TestNonCanonicalUserID(t *testing.T) {
	b := newBundle(t, "sqlite", auth.Limits{})
	for _, id := range []string{"09", "+9", "009"} {
		r := b.Do(t, http.MethodDelete, "/v1/organization_users/"+id, b.Demo.OwnerToken, "", "")
		if want := `{"errors":{"code":"not_found","message":"The requested resource doesn't exist."}}`; r.Status != http.StatusNotFound || string(r.Body) != want {
			t.Errorf("DELETE %s: %d %s, want 404 %s", id, r.Status, r.Body, want)
		}
	}
	if m := b.Member(t, 9); m.Status != membership.StatusActive {
		t.Errorf("member 9 is %s", m.Status)
	}
}
