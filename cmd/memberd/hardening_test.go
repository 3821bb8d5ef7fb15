package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// interfaceProbes is one request per interface, with what its error
// answers carry: a Content-Type and a piece of its envelope.
var interfaceProbes = []struct {
	name, method, path, contentType, envelope string
	header                                    string // where the credential goes
}{
	{"native", "GET", "/api/v1/members", "application/problem+json", `"detail":`, "Authorization: Bearer "},
	{"wiggledesk", "POST", "/api/remove_membership/", "application/json", `"detail":`, "Authorization: token "},
	{"highq", "GET", "/api/3/sites", "application/json", `"summary":`, "Authorization: Bearer "},
	{"workiva", "GET", "/prototype/platform/operations/1", "application/json", `"code":`, "Authorization: Bearer "},
	{"jicoo", "GET", "/v1/organization_users", "application/json", `"message":`, "X-Jicoo-Api-Key: "},
	{"tedee", "DELETE", "/api/v37/organization/1/user-groups/1/members", "application/json", `"errorMessages":`, "Authorization: Bearer "},
	{"admin", "GET", "/admin/members", "text/html", "<html", ""},
}

func send(t *testing.T, method, url, header, token string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if header != "" {
		name, prefix, _ := strings.Cut(header, ": ")
		req.Header.Set(name, prefix+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestLoadShedding checks that past --max-in-flight, with the queue
// timeout spent, every interface answers 503 with Retry-After in its own
// error format, and that health is never shed.
func TestLoadShedding(t *testing.T) {
	base, owner := serveDemo(t, "--max-in-flight", "1", "--queue-timeout", "1ms")
	// Hold the one slot: a native write whose body never finishes. A probe
	// of our own can hold the slot at the moment the write arrives and get
	// it shed, so the write is sent again until it stays in.
	deadline := time.Now().Add(10 * time.Second)
	for held := false; !held; {
		pr, pw := io.Pipe()
		defer pw.Close()
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			req, _ := http.NewRequest("POST", base+"/api/v1/members", pr)
			req.Header.Set("Authorization", "Bearer "+owner)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		select {
		case <-answered: // shed: try again
		case <-time.After(200 * time.Millisecond):
			held = true
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot could not be held")
		}
	}
	for {
		resp, _ := send(t, "GET", base+"/api/v1/organization", "Authorization: Bearer ", owner, nil)
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503 while the only slot is held (got %d)", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range interfaceProbes {
		t.Run(p.name, func(t *testing.T) {
			resp, body := send(t, p.method, base+p.path, p.header, owner, nil)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %d %s, want 503", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After %q, want 1", got)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, p.contentType) || !strings.Contains(body, p.envelope) {
				t.Errorf("got %s %s, want %s with %s", ct, body, p.contentType, p.envelope)
			}
		})
	}
	if resp, body := send(t, "GET", base+"/healthz", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz got %d %s while shedding, want 200", resp.StatusCode, body)
	}
}

// TestSecurityHeaders checks nosniff on every answer, the RFC 6750
// challenge on a native 401, no-store on answers with a secret, and one
// message for wrong and revoked tokens in every interface.
func TestSecurityHeaders(t *testing.T) {
	base, owner := serveDemo(t)

	t.Run("NoSniffEverywhere", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/nowhere", "/openapi.json", "/admin/signin"} {
			if resp, _ := send(t, "GET", base+path, "", "", nil); resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q, want nosniff", path, resp.Header.Get("X-Content-Type-Options"))
			}
		}
		for _, p := range interfaceProbes {
			if resp, _ := send(t, p.method, base+p.path, p.header, "wrong", nil); resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q, want nosniff", p.name, resp.Header.Get("X-Content-Type-Options"))
			}
		}
	})

	t.Run("BearerChallenge", func(t *testing.T) {
		resp, _ := send(t, "GET", base+"/api/v1/members", "", "", nil)
		if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="memberd"`; resp.StatusCode != 401 || got != want {
			t.Errorf("without a token: %d WWW-Authenticate %q, want 401 %q", resp.StatusCode, got, want)
		}
		resp, _ = send(t, "GET", base+"/api/v1/members", "Authorization: Bearer ", "wrong", nil)
		if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="memberd", error="invalid_token"`; resp.StatusCode != 401 || got != want {
			t.Errorf("with a wrong token: %d WWW-Authenticate %q, want 401 %q", resp.StatusCode, got, want)
		}
	})

	var revoked string
	t.Run("NoStoreOnSecrets", func(t *testing.T) {
		resp, body := send(t, "POST", base+"/api/v1/credentials", "Authorization: Bearer ", owner,
			strings.NewReader(`{"name":"soon revoked","scopes":["members:read","members:write"]}`))
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("credential creation: %d Cache-Control %q, want 201 no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		var issued struct {
			Credential struct{ ID int64 }
			Secret     string
		}
		if err := json.Unmarshal([]byte(body), &issued); err != nil {
			t.Fatal(err)
		}
		revoked = issued.Secret
		if resp, body := send(t, "DELETE", base+"/api/v1/credentials/"+itoa(issued.Credential.ID), "Authorization: Bearer ", owner, nil); resp.StatusCode != 200 {
			t.Fatalf("revoke: %d %s", resp.StatusCode, body)
		}
		// A webhook's signing secret too; an address no receiver serves
		// keeps the test from delivering anywhere.
		resp, _ = send(t, "POST", base+"/api/v1/webhooks", "Authorization: Bearer ", owner, strings.NewReader(`{"url":"not a url"}`))
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("webhook creation: Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
		}
		for _, p := range []string{"/admin/signin", "/admin/signin/link"} {
			if resp, _ := send(t, "GET", base+p, "", "", nil); resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", p, resp.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("OneMessageForBadTokens", func(t *testing.T) {
		if revoked == "" {
			t.Skip("no revoked credential")
		}
		prefix, _, _ := strings.Cut(strings.TrimPrefix(revoked, "mbd_"), "_")
		wrong := "mbd_" + prefix + "_" + strings.Repeat("a", 52)
		for _, p := range interfaceProbes {
			if p.header == "" {
				continue
			}
			r1, b1 := send(t, p.method, base+p.path, p.header, revoked, nil)
			r2, b2 := send(t, p.method, base+p.path, p.header, wrong, nil)
			if r1.StatusCode != 401 || r1.StatusCode != r2.StatusCode || b1 != b2 {
				t.Errorf("%s: revoked %d %s, wrong %d %s: want the same 401", p.name, r1.StatusCode, b1, r2.StatusCode, b2)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
