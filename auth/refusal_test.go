package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// TestRefusedAuthentication checks that failed authentication costs no
// write per request: a flood is counted in memory, limited per client
// address, and audited as a handful of aggregated rows; attempts on a real
// credential show in its organization's trail with their count.
func TestRefusedAuthentication(t *testing.T) {
	need := auth.Need{Interface: "test", Action: "member.remove", Schemes: []auth.Scheme{auth.Bearer}}
	try := func(a *auth.Authenticator, addr, secret string) error {
		r := httptest.NewRequest("DELETE", "/x", nil)
		r.RemoteAddr = addr + ":4711"
		r.Header.Set("Authorization", "Bearer "+secret)
		_, err := a.Authorize(r, need)
		return err
	}
	const flood = 20000

	for _, tc := range []struct {
		name   string
		limits auth.Limits
	}{
		{"Aggregated", auth.Limits{}},
		{"Limited", auth.Limits{FailureRate: auth.DefaultFailureRate, FailureBurst: auth.DefaultFailureBurst}},
	} {
		t.Run("Flood"+tc.name, func(t *testing.T) {
			env := dialecttest.Load(t, "sqlite", dialecttest.LoadTime)
			a := auth.New(env.Svc, tc.limits)
			before := env.NullOrgRefusals(t, "test", 0)
			codes := map[membership.Code]int{}
			for i := range flood {
				codes[membership.ErrorCode(try(a, "203.0.113.9", "bogus-"+strings.Repeat("x", i%7)))]++
			}
			if n := env.NullOrgRefusals(t, "test", 0) - before; n > 3 {
				t.Errorf("%d audit rows for %d refused requests, want at most 3", n, flood)
			}
			if tc.limits.FailureRate > 0 {
				if codes[membership.CodeUnauthorized] > 2*auth.DefaultFailureBurst || codes[membership.CodeRateLimited] < flood-2*auth.DefaultFailureBurst {
					t.Errorf("codes %v, want all but the first %d answered 429", codes, auth.DefaultFailureBurst)
				}
				// Another address is not held back by the flood.
				if got := membership.ErrorCode(try(a, "203.0.113.10", "bogus")); got != membership.CodeUnauthorized {
					t.Errorf("another address got %s, want %s", got, membership.CodeUnauthorized)
				}
			} else if codes[membership.CodeUnauthorized] != flood {
				t.Errorf("codes %v, want %d unauthorized", codes, flood)
			}
		})
	}

	t.Run("RealPrefixAggregatedInTrail", func(t *testing.T) {
		env := dialecttest.Load(t, "sqlite", dialecttest.LoadTime)
		a := auth.New(env.Svc, auth.Limits{})
		prefix, _, _ := strings.Cut(strings.TrimPrefix(env.Demo.OwnerToken, "mbd_"), "_")
		forged := "mbd_" + prefix + "_" + strings.Repeat("a", 52)
		mark := env.LastEventID(t, env.Demo.Org.ID)
		const attempts = 500
		for range attempts {
			if got := membership.ErrorCode(try(a, "198.51.100.7", forged)); got != membership.CodeUnauthorized {
				t.Fatalf("got %s, want %s", got, membership.CodeUnauthorized)
			}
		}
		rows := env.Refusals(t, "test", env.Demo.Org.ID, mark)
		if len(rows) == 0 || len(rows) > 2 {
			t.Fatalf("%d rows in the organization's trail for %d attempts, want 1 or 2", len(rows), attempts)
		}
		total := 0
		for _, ev := range rows {
			var after struct {
				Count   int    `json:"count"`
				Address string `json:"address"`
			}
			if err := json.Unmarshal(ev.After, &after); err != nil {
				t.Fatal(err)
			}
			if ev.Action != membership.ActionRequestAuthenticated || ev.CredentialID == 0 || after.Address != "198.51.100.7" {
				t.Errorf("row %+v (%s), want an auth refusal of the owner's credential from 198.51.100.7", ev, ev.After)
			}
			total += after.Count
		}
		if total != attempts {
			t.Errorf("rows count %d attempts, want %d", total, attempts)
		}
	})

	t.Run("ClientAddrFromTrustedProxyOnly", func(t *testing.T) {
		trusted, err := respond.ParsePrefixes("10.0.0.0/8, 192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, peer, xff, fwd string
			trusted              bool
			want                 string
		}{
			{"NoProxyConfigured", "203.0.113.5", "1.2.3.4", "", false, "203.0.113.5"},
			{"UntrustedPeerIgnored", "203.0.113.5", "1.2.3.4", "", true, "203.0.113.5"},
			{"TrustedPeer", "10.1.2.3", "1.2.3.4", "", true, "1.2.3.4"},
			{"SpoofedLeftmostIgnored", "10.1.2.3", "6.6.6.6, 1.2.3.4, 10.9.9.9", "", true, "1.2.3.4"},
			{"Forwarded", "192.0.2.1", "", `for="[2001:db8::7]:4711";proto=https`, true, "2001:db8::7"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = tc.peer + ":1234"
				if tc.xff != "" {
					r.Header.Set("X-Forwarded-For", tc.xff)
				}
				if tc.fwd != "" {
					r.Header.Set("Forwarded", tc.fwd)
				}
				var list = trusted
				if !tc.trusted {
					list = nil
				}
				var got string
				respond.WithClientAddr(httpHandlerFunc(func(r2 string) { got = r2 }), list).ServeHTTP(httptest.NewRecorder(), r)
				if got != tc.want {
					t.Errorf("client address %q, want %q", got, tc.want)
				}
			})
		}
	})
}

// httpHandlerFunc hands each request's client address to f.
type httpHandlerFunc func(addr string)

func (f httpHandlerFunc) ServeHTTP(_ http.ResponseWriter, r *http.Request) { f(respond.ClientAddr(r)) }
