package jicoo

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// patchSeeds are FuzzJicooPatchBody's seeds (testdata/fuzz holds more).
var patchSeeds = []dialecttest.FuzzInput{
	{ContentType: "application/json", Body: []byte(`{"name":"Alice Admin"}`)},
	{ContentType: "application/json", Body: []byte(`{"role":"admin"}`)},
	{ContentType: "application/json; charset=utf-8", Body: []byte(`{"name":null,"role":"member","x":[1,{}]}`)},
	{ContentType: "", Body: []byte(`{"name":"  "}`)},
	{ContentType: "application/json", Body: []byte(`[{"role":"owner"}]`)},
	{ContentType: "application/merge-patch+json", Body: []byte(`{"name":5}`)},
	{ContentType: "application/x-www-form-urlencoded", Body: []byte(`name=x`)},
	{ContentType: "application/json", Body: []byte(``)},
}

// FuzzJicooPatchBody feeds arbitrary Content-Types and bodies to the PATCH
// decoder and to Update Organization User. The decoder must answer a
// usable patch or a 400/415/422; the endpoint must never answer 5xx,
// panic or change anything when the caller may change no one else (a
// plain member's key renaming member 6).
//
// It runs as dialecttest.Fuzz says: on SQLite, the endpoint driven only
// with inputs that decode under -fuzz; TestPatchCorpus runs its seeds and
// testdata/fuzz through the same checks on both engines.
//
//	go test ./compat/jicoo -run '^$' -fuzz FuzzJicooPatchBody -fuzztime 60s
func FuzzJicooPatchBody(f *testing.F) {
	dialecttest.Fuzz(f, patchSeeds, patchTarget)
}

// TestPatchCorpus runs FuzzJicooPatchBody's seeds and its corpus under
// testdata/fuzz on each engine.
func TestPatchCorpus(t *testing.T) {
	dialecttest.RunCorpus(t, "FuzzJicooPatchBody", patchSeeds, patchTarget)
}

// patchTarget is FuzzJicooPatchBody's check on a fresh demo on engine.
func patchTarget(tb testing.TB, engine string) dialecttest.Check {
	b := newBundle(tb, engine, auth.Limits{})
	before := b.sixth(tb)
	return func(t *testing.T, contentType string, body []byte, withEndpoint bool) {
		b.checkPatch(t, before, contentType, body, withEndpoint)
	}
}

// sixth is what a patch of member 6 could change, read through the core:
// how many changes were made, and member 6.
func (b *bundle) sixth(tb testing.TB) string {
	tb.Helper()
	m := b.Member(tb, 6)
	return fmt.Sprintf("%d:%s:%s:%s:%s", b.OKEvents(tb), m.Name, m.Role, m.Status, dialecttest.Stamp(&m.UpdatedAt))
}

// checkPatch is FuzzJicooPatchBody's check of one input; withEndpoint
// also sends it to the endpoint, whatever the decoder made of it.
func (b *bundle) checkPatch(t *testing.T, before, contentType string, body []byte, withEndpoint bool) {
	t.Helper()
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
	if !withEndpoint && err != nil {
		return // see FuzzJicooPatchBody: a refused decode never reaches the core
	}

	req := httptest.NewRequest(http.MethodPatch, "/v1/organization_users/6", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Jicoo-Api-Key", b.Demo.MemberToken)
	rec := httptest.NewRecorder()
	b.Srv.Config.Handler.ServeHTTP(rec, req)
	resp := rec.Result()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 || resp.StatusCode < 400 {
		t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, data)
	}
	if got := b.sixth(t); got != before {
		t.Fatalf("state changed (%s -> %s) for %q %q", before, got, contentType, body)
	}
}
