package wiggledesk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// bodySeeds are FuzzWiggleDeskBody's seeds (testdata/fuzz holds more).
var bodySeeds = []dialecttest.FuzzInput{
	{ContentType: jsonType, Body: []byte(seedJSON)},
	{ContentType: formType, Body: []byte(seedForm)},
	{ContentType: "multipart/form-data; boundary=X", Body: []byte("--X\r\nContent-Disposition: form-data; name=\"email_invited\"\r\n\r\nEXAMPLE@EXAMPLE.COM\r\n--X--\r\n")},
	{ContentType: jsonType, Body: []byte(`{"email_invited": null}`)},
	{ContentType: jsonType, Body: []byte(`[1, 2.5, "x", true, null, {}]`)},
	{ContentType: "application/*", Body: []byte(`{"email_invited": "owner@acme.test"}`)},
	{ContentType: "text/plain", Body: []byte("EXAMPLE@EXAMPLE.COM")},
	{ContentType: "", Body: []byte("")},
}

// FuzzWiggleDeskBody feeds arbitrary Content-Types and bodies to the body
// decoder and to the endpoint. The decoder must answer a valid address or a
// DRF 400/415; the endpoint must never answer 5xx, panic or change
// anything when the caller may remove no one (a plain member's token).
//
// It runs as dialecttest.Fuzz says: on SQLite, the endpoint driven only
// with inputs that decode under -fuzz; TestBodyCorpus runs its seeds and
// testdata/fuzz through the same checks on both engines.
//
//	go test ./compat/wiggledesk -run '^$' -fuzz FuzzWiggleDeskBody -fuzztime 60s
func FuzzWiggleDeskBody(f *testing.F) {
	dialecttest.Fuzz(f, bodySeeds, bodyTarget)
}

// TestBodyCorpus runs FuzzWiggleDeskBody's seeds and its corpus under
// testdata/fuzz on each engine.
func TestBodyCorpus(t *testing.T) {
	dialecttest.RunCorpus(t, "FuzzWiggleDeskBody", bodySeeds, bodyTarget)
}

// bodyTarget is FuzzWiggleDeskBody's check on a fresh demo on engine.
func bodyTarget(tb testing.TB, engine string) dialecttest.Check {
	b := newBundle(tb, engine, auth.Limits{})
	before := b.removals(tb)
	return func(t *testing.T, contentType string, body []byte, withEndpoint bool) {
		b.checkBody(t, before, contentType, body, withEndpoint)
	}
}

// removals is what a removal changes, read through the core: how many
// changes were made and how many members are removed.
func (b *bundle) removals(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("%d:%d", b.OKEvents(tb), len(b.Members(tb, b.Owner, membership.StatusRemoved)))
}

// checkBody is FuzzWiggleDeskBody's check of one input; withEndpoint also
// sends it to the endpoint, whatever the decoder made of it.
func (b *bundle) checkBody(t *testing.T, before, contentType string, body []byte, withEndpoint bool) {
	t.Helper()
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

	if !withEndpoint && err != nil {
		return // see FuzzWiggleDeskBody: a refused decode never reaches the core
	}
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "token "+b.Demo.MemberToken)
	rec := httptest.NewRecorder()
	b.Srv.Config.Handler.ServeHTTP(rec, req)
	resp := rec.Result()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 || resp.StatusCode < 400 {
		t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, data)
	}
	if got := b.removals(t); got != before {
		t.Fatalf("state changed (%s -> %s) for %q %q", before, got, contentType, body)
	}
}
