package oauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/memberd/memberd/internal/browsertest"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// The browser test drives Chromium headless through the console's shared
// browser (internal/browsertest).

var (
	tab       = browsertest.Tab
	run       = browsertest.Run
	waitTitle = browsertest.WaitTitle
)

// callback is the client application's redirect URI on loopback: it
// records what each redirect brought.
type callback struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []url.Values
}

func newCallback(t *testing.T) *callback {
	cb := &callback{}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" { // the browser's favicon.ico
			http.NotFound(w, r)
			return
		}
		cb.mu.Lock()
		cb.got = append(cb.got, r.URL.Query())
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Callback</title><p>done</p>")
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) last(t *testing.T) url.Values {
	t.Helper()
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if len(cb.got) == 0 {
		t.Fatal("the client's redirect URI was never reached")
	}
	return cb.got[len(cb.got)-1]
}

// TestHighQAuthorizationCodeInBrowser: a HighQ-style client sends the
// administrator's browser to authorize.action as HighQ's document shows;
// she signs in to the console, allows the client, and the browser brings
// the code to the client's redirect URI. The client exchanges it at
// api/oauth2/token with HighQ's documented body, removes site users with
// the token, refreshes it, and a replay of the spent refresh token ends
// the whole grant.
func TestHighQAuthorizationCodeInBrowser(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		s := newServer(t, engine)
		ctx := tab(t)
		cb := newCallback(t)
		redirect := cb.srv.URL + "/"
		c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Name: "Matter sync",
			Scopes: []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}, RedirectURIs: []string{redirect}})

		// HighQ: {instance}/authorize.action?response_type=code&client_id=…&redirect_uri=…
		authorize := s.srv.URL + "/authorize.action?" + url.Values{"response_type": {"code"}, "client_id": {c.Client.ClientID},
			"redirect_uri": {redirect}}.Encode()
		run(t, ctx,
			chromedp.Navigate(authorize),
			waitTitle("Sign in"),
			chromedp.SendKeys(chromedp.ID("credential"), s.Demo.AdminToken),
			chromedp.Submit(chromedp.ID("credential")),
			waitTitle("Authorize Matter sync"),
			chromedp.Click(chromedp.ID("allow")),
			waitTitle("Callback"),
		)
		code := cb.last(t).Get("code")
		if code == "" {
			t.Fatalf("redirect brought %v, want a code", cb.last(t))
		}

		// HighQ: POST {instance}/api/oauth2/token with
		// grant_type=authorization_code&client_id=…&client_secret=…&code=…
		a := s.do(t, http.MethodPost, "/api/oauth2/token",
			"grant_type=authorization_code&client_id="+c.Client.ClientID+"&client_secret="+c.Secret+"&code="+code,
			"Content-Type", "application/x-www-form-urlencoded")
		if a.status != http.StatusOK {
			t.Fatalf("code exchange: %d %s", a.status, a.body)
		}
		tok := a.json(t)
		access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
		if access == "" || refresh == "" || tok["expires_in"] != float64(600) {
			t.Fatalf("token answer %s", a.body)
		}

		// The token acts as Alice, the site's admin: she removes the
		// users she added, with the seed's body.
		site := s.Demo.Spaces[demo.SpaceDeal]
		r := s.do(t, http.MethodDelete, fmt.Sprintf("/api/3/sites/%d/users", site), `{ "transactionid": ["990","991","992"] }`,
			"Content-Type", "application/json", "Authorization", "Bearer "+access)
		if r.status != http.StatusOK {
			t.Fatalf("site user removal with the token: %d %s", r.status, r.body)
		}
		if got := s.ActiveSpaceMembers(t, site); slices.Contains(got, 990) || slices.Contains(got, 992) {
			t.Errorf("site members after removal %v", got)
		}

		// Refresh rotates: a new pair; the spent refresh token replayed
		// ends the grant, the fresh access token with it.
		refreshWith := func(rt string) *answer {
			return s.token(t, "/api/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
				"client_id": {c.Client.ClientID}, "client_secret": {c.Secret}})
		}
		a = refreshWith(refresh)
		if a.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", a.status, a.body)
		}
		fresh := a.json(t)
		if fresh["refresh_token"] == refresh || fresh["access_token"] == "" {
			t.Fatalf("refresh answer %s", a.body)
		}
		list := func(token string) int {
			return s.do(t, http.MethodGet, "/api/3/sites", "", "Authorization", "Bearer "+token).status
		}
		if got := list(fresh["access_token"].(string)); got != http.StatusOK {
			t.Fatalf("refreshed token: %d", got)
		}
		wantOAuthError(t, refreshWith(refresh), http.StatusBadRequest, "invalid_grant")
		wantOAuthError(t, refreshWith(fresh["refresh_token"].(string)), http.StatusBadRequest, "invalid_grant")
		if got := list(fresh["access_token"].(string)); got != http.StatusUnauthorized {
			t.Errorf("access token of a replayed grant: %d, want 401", got)
		}

		// The code is spent: a second exchange fails (and would revoke what
		// the code bought, had the replayed refresh token not already).
		wantOAuthError(t, s.token(t, "/api/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {c.Client.ClientID}, "client_secret": {c.Secret}}), http.StatusBadRequest, "invalid_grant")

		// Denying sends access_denied back, with the state.
		run(t, ctx,
			chromedp.Navigate(s.srv.URL+"/oauth2/authorize?"+url.Values{"response_type": {"code"}, "client_id": {c.Client.ClientID},
				"state": {"s1"}}.Encode()),
			waitTitle("Authorize Matter sync"),
			chromedp.Click(chromedp.ID("deny")),
			waitTitle("Callback"),
		)
		if got := cb.last(t); got.Get("error") != "access_denied" || got.Get("state") != "s1" {
			t.Errorf("deny brought %v", got)
		}
		// An unregistered redirect URI is refused on the page, never followed.
		run(t, ctx,
			chromedp.Navigate(s.srv.URL+"/oauth2/authorize?"+url.Values{"response_type": {"code"}, "client_id": {c.Client.ClientID},
				"redirect_uri": {"https://attacker.example/"}}.Encode()),
			waitTitle("Not done"),
		)
	})
}
