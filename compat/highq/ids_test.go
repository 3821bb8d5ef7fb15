package highq

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/memberd/memberd/internal/dialecttest"
)

// TestNonCanonicalIDs: "+N" and "0N" name no site and no user, so a
// removal through them is refused in HighQ's envelope and removes nobody.
func TestNonCanonicalIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	before := e.Snapshot(t)
	removeAt := func(site string) []byte {
		resp, body := dialecttest.Call(t, http.MethodDelete, fmt.Sprintf("%s/api/3/sites/%s/users", e.url, site),
			e.Demo.AdminToken, `{"transactionid":["990"]}`)
		dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
		return body
	}
	// The answer for a site id that is no number at all.
	want := removeAt("x")
	for _, site := range []string{fmt.Sprintf("+%d", e.deal()), fmt.Sprintf("0%d", e.deal())} {
		if got := removeAt(site); string(got) != string(want) {
			t.Errorf("site %s: got %s, want %s", site, got, want)
		}
	}
	resp, body := e.remove(t, e.deal(), e.Demo.AdminToken, `{"transactionid":["+990","0991"]}`)
	dialecttest.WantStatus(t, resp, body, http.StatusBadRequest)
	if want := txJSON(t, tx("+990", "400", msgInvalid), tx("0991", "400", msgInvalid)); string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	e.AssertSnapshot(t, before)
}
