package respond

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/memberd/memberd/membership"
)

// ParsePrefixes parses a comma-separated list of CIDRs or bare addresses
// (a bare address is a /32 or /128), for --trusted-proxies.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, membership.Errorf(membership.CodeInvalid, "%q is neither a CIDR nor an address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// WithClientAddr finds each request's client address and records it for
// ClientAddr and for the core's refusal counts. The address comes from
// X-Forwarded-For or Forwarded only through peers in trusted (the
// operator's proxies), read from the right: the first hop not in trusted
// is the client, so a client cannot pick its own address by sending the
// header itself. With no trusted proxies the headers are ignored.
//
// It also records whether the peer is a trusted proxy, whose
// X-Forwarded-Proto BaseURL then believes.
func WithClientAddr(next http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := membership.ContextWithClientAddress(r.Context(), clientAddr(r, trusted))
		if len(trusted) > 0 && FromTrustedProxy(r, trusted) {
			ctx = context.WithValue(ctx, viaProxyKey{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type viaProxyKey struct{}

// BaseURL is the scheme and host the client reached this server at, for
// the absolute URLs answers carry (a Location, a resource's url): https
// when the connection is TLS or when a trusted proxy (WithClientAddr's)
// says in X-Forwarded-Proto's first value that it terminated TLS; the
// host is the request's Host. Any other peer's X-Forwarded-Proto is its
// own word and ignored, as its X-Forwarded-For is.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if via, _ := r.Context().Value(viaProxyKey{}).(bool); via {
		if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(proto), "https") {
			scheme = "https"
		}
	}
	return scheme + "://" + r.Host
}

// ClientAddr is the request's client address: what WithClientAddr found,
// or the peer's address when it did not run.
func ClientAddr(r *http.Request) string {
	if addr := membership.ClientAddress(r.Context()); addr != "" {
		return addr
	}
	return peerAddr(r)
}

// FromTrustedProxy says whether the peer is one of trusted.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(peerAddr(r))
	return err == nil && isTrusted(a, trusted)
}

func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r)
	if len(trusted) == 0 {
		return peer
	}
	hops := forwardedFor(r)
	addr := peer
	for i := len(hops); ; i-- {
		a, err := netip.ParseAddr(addr)
		if err != nil || !isTrusted(a, trusted) || i == 0 {
			return addr
		}
		addr = hops[i-1]
	}
}

// forwardedFor lists the hops a request names, client first: from
// X-Forwarded-For, or else from Forwarded's for= parameters (RFC 7239).
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	if len(hops) > 0 {
		return hops
	}
	for _, v := range r.Header.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				val = strings.Trim(val, `"`)
				// for="[2001:db8::1]:4711" and for=192.0.2.1:4711 carry ports.
				if host, _, err := net.SplitHostPort(val); err == nil {
					val = host
				}
				hops = append(hops, strings.Trim(val, "[]"))
			}
		}
	}
	return hops
}
