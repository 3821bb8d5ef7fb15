package respond

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestBaseURL: X-Forwarded-Proto counts only from a trusted proxy, as
// X-Forwarded-For does; TLS of the connection itself always counts.
func TestBaseURL(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer, proto string
		trusted           []netip.Prefix
		tls               bool
		want              string
	}{
		{"PlainHTTP", "203.0.113.5:1", "", proxy, false, "http://memberd.example"},
		{"TLS", "203.0.113.5:1", "", nil, true, "https://memberd.example"},
		{"TrustedProxySaysHTTPS", "10.1.2.3:1", "https", proxy, false, "https://memberd.example"},
		{"TrustedProxyListFirstHop", "10.1.2.3:1", "HTTPS, http", proxy, false, "https://memberd.example"},
		{"TrustedProxySaysHTTP", "10.1.2.3:1", "http", proxy, false, "http://memberd.example"},
		{"StrangerSaysHTTPS", "203.0.113.5:1", "https", proxy, false, "http://memberd.example"},
		{"NoProxiesTrusted", "10.1.2.3:1", "https", nil, false, "http://memberd.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://memberd.example/x", nil)
			r.RemoteAddr = tc.peer
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			var got string
			WithClientAddr(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = BaseURL(r) }), tc.trusted).
				ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("BaseURL = %q, want %q", got, tc.want)
			}
		})
	}
}
