package wiggledesk

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// FuzzWiggleDeskBody feeds arbitrary Content-Types and bodies to the body
// decoder and to the endpoint. The decoder must answer a valid address or a
// DRF 400/415; the endpoint must never answer 5xx, panic or change
// anything when the caller may remove no one (a plain member's token).
//
// Under -fuzz, every package is instrumented, SQLite included, and one
// trip through the store takes about half a second: the endpoint is then
// driven only with bodies that decode (the only ones that reach the core),
// so the decoder itself is fuzzed at full speed. Without -fuzz (go test,
// the seeds and testdata/fuzz) every input takes both paths.
func FuzzWiggleDeskBody(f *testing.F) {
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	f.Add(jsonType, []byte(seedJSON))
	f.Add(formType, []byte(seedForm))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Disposition: form-data; name=\"email_invited\"\r\n\r\nEXAMPLE@EXAMPLE.COM\r\n--X--\r\n"))
	f.Add(jsonType, []byte(`{"email_invited": null}`))
	f.Add(jsonType, []byte(`[1, 2.5, "x", true, null, {}]`))
	f.Add("application/*", []byte(`{"email_invited": "owner@acme.test"}`))
	f.Add("text/plain", []byte("EXAMPLE@EXAMPLE.COM"))
	f.Add("", []byte(""))

	b := newBundle(f, auth.Limits{})
	changes := func(tb testing.TB) string {
		tb.Helper()
		var s string
		err := b.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
			return tx.QueryRow(`SELECT (SELECT count(*) FROM events WHERE outcome = 'ok') || ':' ||
				(SELECT count(*) FROM members WHERE status = 'removed')`).Scan(&s)
		})
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	before := changes(f)

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		email, err := decodeRemoval(contentType, body)
		if err == nil {
			if email == "" || membership.ValidEmail(email) != nil {
				t.Fatalf("decoded %q, which is not a valid address", email)
			}
		} else {
			var d *drfError
			if !errors.As(err, &d) {
				t.Fatalf("decoder error %v is not worded for DRF", err)
			}
			if s := respond.Status(err); s != http.StatusBadRequest && s != http.StatusUnsupportedMediaType {
				t.Fatalf("decoder error %v has status %d", err, s)
			}
		}

		if fuzzing && err != nil {
			return // see above: a refused decode never reaches the core
		}
		req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "token "+b.demo.MemberToken)
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
