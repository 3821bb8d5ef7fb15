package workiva_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/memberd/memberd/membership"
)

// FuzzWorkivaBody posts arbitrary bodies to the revocation endpoint. No
// input may produce a 5xx, a panic, an answer outside Workiva's error
// format, or a change to the membership's roles: with no job runner
// started, even an accepted revocation only queues an operation.
func FuzzWorkivaBody(f *testing.F) {
	for _, seed := range []string{
		`["string"]`, `["Editor","Viewer"]`, `["Workspace Owner"]`, `[]`, `{}`, `null`, `[1]`, `"Editor"`,
		`["Editor",null]`, `[["Editor"]]`, `["\u0000"]`, `[` + `"a",` + `"b"]`, ``, `[`, `{"roles":["Editor"]}`,
	} {
		f.Add([]byte(seed))
	}
	fx := newFixture(f, "sqlite", options{})
	url := fx.revocationURL(fx.org.UUID, fx.space.ID, fx.sm.ID)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fx.admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			var e struct{ Code, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("status %d without a {code, message} body (%v): %q", resp.StatusCode, err, body)
			}
		default:
			t.Fatalf("body %q answered %d", body, resp.StatusCode)
		}
		sm, err := fx.svc.SpaceMembership(t.Context(), fx.owner, fx.sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sm.Roles, fx.sm.Roles) || sm.Status != membership.StatusActive {
			t.Fatalf("body %q changed the membership: roles %v status %s, want %v active", body, sm.Roles, sm.Status, fx.sm.Roles)
		}
	})
}
