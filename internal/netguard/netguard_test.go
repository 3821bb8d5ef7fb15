package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/netguard"
)

// fakeResolver answers from a table; other names do not resolve.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

var names = fakeResolver{
	"hooks.example.com": {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
	"rebind.example":    {"93.184.216.34", "127.0.0.1"},
	"meta.example":      {"169.254.169.254"},
	"inside.example":    {"10.1.2.3"},
	"ula.example":       {"fd00::1"},
}

func TestCheckURL(t *testing.T) {
	strict := &netguard.Guard{Resolver: names}
	for _, tc := range []struct {
		url     string
		allowed bool
	}{
		{"https://hooks.example.com/x", true},
		{"http://hooks.example.com:8080/x?y=1", true},
		{"https://93.184.216.34/x", true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/x", true},
		{"ftp://hooks.example.com/x", false},
		{"file:///etc/passwd", false},
		{"gopher://hooks.example.com/", false},
		{"//hooks.example.com/x", false},
		{"http:hooks.example.com", false},
		{"http://hooks.example.com:0/", false},
		{"http://hooks.example.com:99999/", false},
		{"http://127.0.0.1/", false},
		{"http://127.1.2.3:8080/", false},
		{"http://localhost/", false},
		{"http://LOCALHOST./", false},
		{"http://a.localhost/", false},
		{"http://[::1]/", false},
		{"http://[::ffff:127.0.0.1]/", false},
		{"http://[::ffff:7f00:1]/", false},
		{"http://[::127.0.0.1]/", false},
		{"http://[64:ff9b::7f00:1]/", false},
		{"http://[2002:7f00:1::]/", false},
		{"http://[fe80::1%25eth0]/", false},
		{"http://[fe80::1]/", false},
		{"http://[fd00::1]/", false},
		{"http://[ff02::1]/", false},
		{"http://[::]/", false},
		{"http://0.0.0.0/", false},
		{"http://0/", false},
		{"http://2130706433/", false},
		{"http://0177.0.0.1/", false},
		{"http://0x7f.1/", false},
		{"http://0x7f000001/", false},
		{"http://127.1/", false},
		{"http://017700000001/", false},
		{"http://134744072/", false}, // 8.8.8.8, but not written canonically
		{"http://10.0.0.1/", false},
		{"http://172.16.0.1/", false},
		{"http://192.168.1.1/", false},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://100.64.0.1/", false},
		{"http://100.127.255.255/", false},
		{"http://224.0.0.1/", false},
		{"http://255.255.255.255/", false},
		{"http://198.18.0.1/", false},
		{"http://meta.example/", false},
		{"http://inside.example/", false},
		{"http://ula.example/", false},
		{"http://rebind.example/", false},
		{"http://nowhere.example/", false},
		{"http://bad_host-.example/", false},
		{"http://a..b/", false},
	} {
		_, err := strict.CheckURL(context.Background(), tc.url)
		if (err == nil) != tc.allowed {
			t.Errorf("%s: err %v, want allowed %v", tc.url, err, tc.allowed)
		}
		var ue *netguard.URLError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("%s: %T is not a URLError", tc.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "127.0.0.1") && !strings.Contains(err.Error(), "dotted") {
			t.Errorf("%s: message %q repeats an address", tc.url, err)
		}
	}
}

func TestAllowList(t *testing.T) {
	allow, err := netguard.ParseAllow(" 127.0.0.0/8, ::1,10.1.0.0/16 ,")
	if err != nil {
		t.Fatal(err)
	}
	g := &netguard.Guard{Allow: allow, Resolver: names}
	for _, u := range []string{"http://127.0.0.1:9/x", "http://[::1]/", "http://localhost/", "http://inside.example/", "http://[::ffff:127.0.0.1]/"} {
		if _, err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.2.0.1/", "http://169.254.169.254/", "http://2130706433/"} {
		if _, err := g.CheckURL(context.Background(), u); err == nil {
			t.Errorf("%s was allowed", u)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "1.2.3.4/8/2"} {
		if _, err := netguard.ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
		}
	}
}

// TestClient dials through the guard: a loopback receiver is refused at
// dial time unless allowed, and a redirect is not followed.
func TestClient(t *testing.T) {
	var hits int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()

	resp, err := (&netguard.Guard{}).Client(0).Post(target.URL, "text/plain", nil)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a loopback target was dialed")
	}
	if !netguard.IsNotAllowed(err) {
		t.Fatalf("error %v is not ErrNotAllowed", err)
	}
	allowed := &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	resp, err = allowed.Client(0).Post(redirect.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 0 {
		t.Fatalf("status %d, %d hits: the redirect was followed", resp.StatusCode, hits)
	}
}

// FuzzCheckURL holds CheckURL's promise for any input: an accepted URL is
// http or https, and every address its host names or resolves to is one
// the guard allows.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://2130706433/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/",
		"http://0177.0.0.1/", "http://169.254.169.254/", "http://localhost/", "http://rebind.example/", "http://1.1/", "http://[fe80::1%25en0]:80/"} {
		f.Add(s)
	}
	g := &netguard.Guard{Resolver: names}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := g.CheckURL(context.Background(), raw)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q accepted with scheme %q", raw, u.Scheme)
		}
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			if !g.Allowed(ip) {
				t.Fatalf("%q accepted with address %s", raw, ip)
			}
			return
		}
		ips, err := names.LookupNetIP(context.Background(), "ip", strings.ToLower(strings.TrimSuffix(host, ".")))
		if err != nil {
			t.Fatalf("%q accepted, but its host %q does not resolve", raw, host)
		}
		for _, ip := range ips {
			if !g.Allowed(ip) {
				t.Fatalf("%q accepted with address %s", raw, ip)
			}
		}
		// The standard library must read the host the same way.
		if _, err := url.Parse(u.String()); err != nil {
			t.Fatalf("%q re-parses with %v", raw, err)
		}
	})
}

// TestNamesRefusedAlike: a name that does not resolve and one that
// resolves to a refused address get the same answer, so registering
// webhooks is no way to map the names of memberd's own network.
func TestNamesRefusedAlike(t *testing.T) {
	g := &netguard.Guard{Resolver: names}
	_, missing := g.CheckURL(context.Background(), "http://nowhere.example/")
	_, private := g.CheckURL(context.Background(), "http://meta.example/")
	if missing == nil || private == nil {
		t.Fatalf("accepted: %v, %v", missing, private)
	}
	if strings.ReplaceAll(missing.Error(), "nowhere.example", "X") != strings.ReplaceAll(private.Error(), "meta.example", "X") {
		t.Errorf("answers differ: %q and %q", missing, private)
	}
	if !netguard.IsNotAllowed(missing) || !netguard.IsNotAllowed(private) {
		t.Errorf("not ErrNotAllowed: %v, %v", missing, private)
	}
}
