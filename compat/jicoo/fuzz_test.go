package jicoo

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/membership"
)

// FuzzJicooPatchBody feeds arbitrary Content-Types and bodies to the PATCH
// decoder and to Update Organization User. The decoder must answer a
// usable patch or a 400/415/422; the endpoint must never answer 5xx,
// panic or change anything when the caller may change no one else (a
// plain member's key renaming member 6).
//
// Under -fuzz, every package is instrumented, SQLite included, and one
// trip through the store takes about half a second: the endpoint is then
// driven only with bodies that decode (the only ones that reach the core),
// so the decoder itself is fuzzed at full speed. Without -fuzz (go test,
// the seeds and testdata/fuzz) every input takes both paths.
func FuzzJicooPatchBody(f *testing.F) {
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	f.Add("application/json", []byte(`{"name":"Alice Admin"}`))
	f.Add("application/json", []byte(`{"role":"admin"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"name":null,"role":"member","x":[1,{}]}`))
	f.Add("", []byte(`{"name":"  "}`))
	f.Add("application/json", []byte(`[{"role":"owner"}]`))
	f.Add("application/merge-patch+json", []byte(`{"name":5}`))
	f.Add("application/x-www-form-urlencoded", []byte(`name=x`))
	f.Add("application/json", []byte(``))

	b := newBundle(f, auth.Limits{})
	changes := func(tb testing.TB) string {
		tb.Helper()
		var s string
		err := b.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
			return tx.QueryRow(`SELECT (SELECT count(*) FROM events WHERE outcome = 'ok') || ':' ||
				(SELECT name || ':' || role || ':' || status || ':' || updated_at FROM members WHERE id = 6)`).Scan(&s)
		})
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	before := changes(f)

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		p, err := decodePatch(contentType, body)
		if err == nil {
			if p.Name == nil && p.Role == "" {
				t.Fatal("decoded a patch that changes nothing")
			}
			if p.Name != nil && (strings.TrimSpace(*p.Name) == "" || len(*p.Name) > maxNameLen || strings.ContainsRune(*p.Name, 0)) {
				t.Fatalf("decoded unusable name %q", *p.Name)
			}
			if p.Role != "" && !p.Role.Valid() {
				t.Fatalf("decoded unknown role %q", p.Role)
			}
		} else {
			switch membership.ErrorCode(err) {
			case membership.CodeInvalid, membership.CodeUnprocessable, membership.CodeUnsupportedMedia:
			default:
				t.Fatalf("decoder error %v has code %s", err, membership.ErrorCode(err))
			}
		}
		if fuzzing && err != nil {
			return // see above: a refused decode never reaches the core
		}

		req := httptest.NewRequest(http.MethodPatch, "/v1/organization_users/6", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Jicoo-Api-Key", b.demo.MemberToken)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		resp := rec.Result()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 || resp.StatusCode < 400 {
			t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, data)
		}
		if got := changes(t); got != before {
			t.Fatalf("state changed (%s -> %s) for %q %q", before, got, contentType, body)
		}
	})
}
