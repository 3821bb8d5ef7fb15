package wiggledesk

import (
	"testing"

	"github.com/memberd/memberd/auth"
)

// TestEmailRefused: an address with a control or format character, or
// without a dot-qualified domain, is DRF's "Enter a valid email address."
// (membership.ValidEmail), not a lookup that finds nobody.
func TestEmailRefused(t *testing.T) {
	b := newBundle(t, "sqlite", auth.Limits{})
	before := b.Digest(t)
	for _, email := range []string{`owner\u202e@acme.test`, `owner@acme\u2066.test`, `ow\u200bner@acme.test`,
		`owner\u0007@acme.test`, `owner@acme`, `owner@localhost`, `owner@[127.0.0.1]`} {
		r := b.Do(t, "POST", Path, b.Demo.OwnerToken, jsonType, `{"email_invited":"`+email+`"}`)
		if want := `{"email_invited":["Enter a valid email address."]}`; r.Status != 400 || r.Body != want {
			t.Errorf("%s: got %d %s, want 400 %s", email, r.Status, r.Body, want)
		}
	}
	if after := b.Digest(t); after != before {
		t.Errorf("refused addresses changed the state")
	}
}
