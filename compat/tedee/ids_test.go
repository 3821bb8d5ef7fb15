package tedee

import (
	"net/http"
	"testing"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
)

// TestNonCanonicalOrganizationID: "+1" and "01" are not organization 1's
// id, so a removal addressed through them changes nothing and answers the
// dialect's 400 for a bad organizationId.
func TestNonCanonicalOrganizationID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	before := e.Snapshot(t)
	for _, c := range []struct{ path, value string }{{"+1", "+1"}, {"01", "01"}, {"1%20", "1 "}} {
		resp, body := dialecttest.Call(t, http.MethodDelete, e.membersURL(c.path, demo.TedeeGroupUUID), e.Demo.OwnerToken,
			`{"organizationUserIds":[10,11]}`, "Accept", "application/json", "Content-Type", "application/json")
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		if want := errJSON(400, "The value '"+c.value+"' is not valid for organizationId."); string(body) != want {
			t.Errorf("%s: got %s, want %s", c.path, body, want)
		}
	}
	e.AssertSnapshot(t, before)
}
