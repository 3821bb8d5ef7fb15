package jicoo

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/membership"
)

// patchSeeds are FuzzJicooPatchBody's seeds (testdata/fuzz holds more).
var patchSeeds = []fuzzInput{
	{"application/json", []byte(`{"name":"Alice Admin"}`)},
	{"application/json", []byte(`{"role":"admin"}`)},
	{"application/json; charset=utf-8", []byte(`{"name":null,"role":"member","x":[1,{}]}`)},
	{"", []byte(`{"name":"  "}`)},
	{"application/json", []byte(`[{"role":"owner"}]`)},
	{"application/merge-patch+json", []byte(`{"name":5}`)},
	{"application/x-www-form-urlencoded", []byte(`name=x`)},
	{"application/json", []byte(``)},
}

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
// the seeds and testdata/fuzz) every input takes both paths. The target
// runs on SQLite only, for speed; TestPatchCorpus runs its seeds and
// testdata/fuzz through the same checks on both engines.
//
//	go test ./compat/jicoo -run '^$' -fuzz FuzzJicooPatchBody -fuzztime 60s
func FuzzJicooPatchBody(f *testing.F) {
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	for _, in := range patchSeeds {
		f.Add(in.contentType, in.body)
	}
	b := newBundle(f, "sqlite", auth.Limits{})
	before := b.sixth(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		b.checkPatch(t, before, contentType, body, !fuzzing)
	})
}

// TestPatchCorpus runs FuzzJicooPatchBody's seeds and its corpus under
// testdata/fuzz on each engine.
func TestPatchCorpus(t *testing.T) {
	inputs := append(slices.Clone(patchSeeds), readCorpus(t, "FuzzJicooPatchBody")...)
	eachEngine(t, func(t *testing.T, engine string) {
		b := newBundle(t, engine, auth.Limits{})
		before := b.sixth(t)
		for i, in := range inputs {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				b.checkPatch(t, before, in.contentType, in.body, true)
			})
		}
	})
}

// sixth is what a patch of member 6 could change, read through the core:
// how many changes were made, and member 6.
func (b *bundle) sixth(tb testing.TB) string {
	tb.Helper()
	m := b.member(tb, 6)
	return fmt.Sprintf("%d:%s:%s:%s:%s", b.okEvents(tb), m.Name, m.Role, m.Status, stamp(&m.UpdatedAt))
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
	req.Header.Set("X-Jicoo-Api-Key", b.demo.MemberToken)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 || resp.StatusCode < 400 {
		t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, data)
	}
	if got := b.sixth(t); got != before {
		t.Fatalf("state changed (%s -> %s) for %q %q", before, got, contentType, body)
	}
}
