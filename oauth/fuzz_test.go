package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// tokenSeeds are the token endpoints' fuzz seeds: the bodies Workiva's and
// HighQ's documents show, and malformed neighbours of them.
var tokenSeeds = []dialecttest.FuzzInput{
	{ContentType: "application/x-www-form-urlencoded;charset=UTF-8", Body: []byte("client_id=<your-client-id>&client_secret=<your-client-secret>&grant_type=client_credentials")},
	{ContentType: "application/json", Body: []byte(`{"grant_type": "client_credentials", "client_id": "<your-client-id>", "client_secret": "<your-client-secret>" }`)},
	{ContentType: "application/x-www-form-urlencoded", Body: []byte("grant_type=authorization_code&client_id=1012&client_secret=dp3yp9zm6svZzUqduQH4CEYC2VgjwWLO&code=d6jJodLD2F")},
	{ContentType: "application/x-www-form-urlencoded", Body: []byte("grant_type=refresh_token&refresh_token=mbr_x&client_id=mbc_1")},
	{ContentType: "application/x-www-form-urlencoded", Body: []byte("grant_type=client_credentials&grant_type=password&%zz")},
	{ContentType: "application/json", Body: []byte(`{"grant_type": ["client_credentials"], "scope": null}`)},
	{ContentType: "application/json", Body: []byte(`{"grant_type": "client_credentials", "grant_type": "x"}`)},
	{ContentType: "text/plain", Body: []byte("grant_type=client_credentials")},
	{ContentType: "", Body: nil},
}

// FuzzWorkivaTokenBody, FuzzHighQTokenBody and FuzzTokenBody feed
// arbitrary Content-Types and bodies to the body decoder and to each token
// endpoint: the decoder answers parameters or invalid_request; the
// endpoint answers an RFC 6749 error body (never a 5xx, never a token:
// no input knows a client's secret) with no-store.
//
//	go test ./oauth -run '^$' -fuzz FuzzWorkivaTokenBody -fuzztime 60s
func FuzzWorkivaTokenBody(f *testing.F) {
	dialecttest.Fuzz(f, tokenSeeds, tokenTarget("/iam/v1/oauth2/token"))
}

// FuzzHighQTokenBody is FuzzWorkivaTokenBody at HighQ's token path.
func FuzzHighQTokenBody(f *testing.F) {
	dialecttest.Fuzz(f, tokenSeeds, tokenTarget("/api/oauth2/token"))
}

// FuzzTokenBody is FuzzWorkivaTokenBody at the standard token path.
func FuzzTokenBody(f *testing.F) { dialecttest.Fuzz(f, tokenSeeds, tokenTarget("/oauth2/token")) }

// TestTokenBodySeeds runs the seeds through each endpoint's check on each engine.
func TestTokenBodySeeds(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		e := dialecttest.Load(t, engine, dialecttest.LoadTime)
		for _, path := range []string{"/iam/v1/oauth2/token", "/api/oauth2/token", "/oauth2/token"} {
			check := tokenCheck(e, path)
			for _, in := range tokenSeeds {
				check(t, in.ContentType, in.Body, true)
			}
		}
	})
}

func tokenTarget(path string) func(tb testing.TB, engine string) dialecttest.Check {
	return func(tb testing.TB, engine string) dialecttest.Check {
		return tokenCheck(dialecttest.Load(tb, engine, dialecttest.LoadTime), path)
	}
}

// tokenCheck is the fuzz targets' check of one input at path.
func tokenCheck(e *dialecttest.Env, path string) dialecttest.Check {
	h := respond.WithRequestID(NewHandler(e.Svc, Config{ConsentPath: DefaultConsentPath}))
	return func(t *testing.T, contentType string, body []byte, withEndpoint bool) {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		p, err := decodeBody(req)
		if err != nil {
			var oe *membership.OAuthError
			if !errors.As(err, &oe) || oe.Kind != membership.OAuthInvalidRequest {
				t.Fatalf("decode error %v is not invalid_request", err)
			}
		} else if len(p) > len(knownParams) {
			t.Fatalf("decoded %d parameters", len(p))
		}
		if !withEndpoint && err != nil {
			return
		}
		req = httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]string
		if jerr := json.Unmarshal(rec.Body.Bytes(), &m); jerr != nil || m["error"] == "" || m["error_description"] == "" {
			t.Fatalf("status %d body %q: want an RFC 6749 error body", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d body %s", rec.Code, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}
	}
}
