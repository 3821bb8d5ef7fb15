// Package netguard owns where memberd may send outbound requests on a
// tenant's say-so (webhook deliveries): it refuses loopback, private,
// link-local, shared (CGNAT), multicast, reserved and unspecified
// addresses, and IPv6 forms that carry an IPv4 address, unless an
// operator's allow-list names them. It checks twice, the way
// code.dny.dev/ssrf and Andrew Ayer's "Preventing SSRF in Golang" do:
// once when a URL is registered (CheckURL, resolving its name with a
// bounded timeout, for a clear answer), and again on the address a
// connection actually dials (Control, a net.Dialer hook), so a name that
// resolves elsewhere later, DNS rebinding included, is refused then.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotAllowed is returned, and wrapped, for a target the guard refuses.
// Its message is all a tenant is shown: it says nothing of the port's or
// host's state.
var ErrNotAllowed = errors.New("target not allowed")

// DefaultLookupTimeout bounds the resolution of a URL's name in CheckURL.
const DefaultLookupTimeout = 2 * time.Second

// Resolver looks names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which addresses outbound requests may reach. The zero
// Guard refuses every special-purpose address and resolves names with
// net.DefaultResolver.
type Guard struct {
	// Allow admits addresses inside these prefixes even when they are
	// special-purpose (an on-premises receiver, a test's loopback one).
	Allow []netip.Prefix
	// Resolver resolves names in CheckURL; nil is net.DefaultResolver.
	Resolver Resolver
	// LookupTimeout bounds CheckURL's resolution; 0 is DefaultLookupTimeout.
	LookupTimeout time.Duration
}

// ParseAllow parses a comma-separated list of CIDR prefixes (or single
// addresses), as --webhook-allow-cidr takes them.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("parse allowed address %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("parse allowed prefix %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// denied lists special-purpose ranges beyond what netip.Addr's own
// predicates (loopback, private, link-local, multicast, unspecified)
// cover, after the IANA special-purpose registries.
var denied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: carries an IPv4 address
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
}

// Allowed reports whether a connection to ip may be made.
func (g *Guard) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() ||
		ip.IsLinkLocalUnicast() || ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range denied {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// URLError is a refused URL; its message is safe to show the tenant who
// gave it.
type URLError struct {
	Reason string
	Err    error
}

func (e *URLError) Error() string { return e.Reason }
func (e *URLError) Unwrap() error { return e.Err }

func refused(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...), Err: ErrNotAllowed}
}

// CheckURL parses raw and refuses it unless it is an absolute http or
// https URL whose host is a name or a canonically written IP address
// that the guard allows; a name must resolve, within LookupTimeout, to
// allowed addresses only.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, &URLError{Reason: "url must be an absolute http or https URL"}
	}
	host := u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, &URLError{Reason: "url has an invalid port"}
		}
	}
	if strings.Contains(u.Host, "[") { // an IPv6 literal, perhaps with a zone
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" {
			return nil, &URLError{Reason: "url has an invalid IPv6 address"}
		}
		return g.admit(u, ip)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return g.admit(u, ip)
	}
	if ip, ok := legacyIPv4(host); ok {
		// 2130706433, 0177.0.0.1, 0x7f.1: resolvers and other clients
		// read these as addresses; memberd takes only the canonical form.
		return nil, refused("target not allowed: write the address %s in dotted decimal", ip)
	}
	if !validHostname(host) {
		return nil, &URLError{Reason: "url host is not a valid host name"}
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// Resolvers answer these from the host itself (RFC 6761).
		return g.admit(u, netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback())
	}
	timeout := g.LookupTimeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	var r Resolver = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ips, err := r.LookupNetIP(lctx, "ip", name)
	if err == nil && len(ips) > 0 {
		_, err = g.admit(u, ips...)
	} else if err == nil {
		err = errors.New("no address")
	}
	if err != nil {
		// One answer whether the name does not resolve or resolves to an
		// address refused: which names exist inside memberd's network, and
		// where they point, is not for whoever registers a webhook to learn.
		return nil, refused("target not allowed: url host %q does not resolve to public addresses only", name)
	}
	return u, nil
}

// admit returns u if every one of ips is allowed.
func (g *Guard) admit(u *url.URL, ips ...netip.Addr) (*url.URL, error) {
	for _, ip := range ips {
		if !g.Allowed(ip) {
			return nil, refused("target not allowed: loopback, private, link-local, shared, multicast and reserved addresses are refused")
		}
	}
	return u, nil
}

// legacyIPv4 parses the inet_aton spellings of an IPv4 address (one to
// four parts, each decimal, octal with a leading 0 or hex with 0x), as
// the WHATWG URL standard does for a host whose last label is numeric.
// It reports false for anything else, canonical dotted decimal included.
func legacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		n, err := strconv.ParseUint(p, base, 32)
		if err != nil || p == "" || strings.ContainsAny(p, "+-_") {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (24 - 8*i)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// validHostname reports whether h is an LDH host name of at most 253
// characters whose labels are 1 to 63 characters (underscores allowed,
// as some DNS names carry them).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Control is a net.Dialer Control hook: it refuses to connect to an
// address the guard does not allow. It sees the address after
// resolution, so it holds whatever a name resolves to at dial time.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return ErrNotAllowed
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !g.Allowed(ap.Addr()) {
		return ErrNotAllowed
	}
	return nil
}

// Timeouts of the client Client builds.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
)

// Client returns an HTTP client that dials only allowed addresses, uses
// no proxy (a proxy would dial on the guard's behalf), follows no
// redirect, and gives up on a request after timeout (0 is
// DefaultRequestTimeout).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	dialer := &net.Dialer{Timeout: DefaultDialTimeout, Control: g.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   DefaultDialTimeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// IsNotAllowed reports whether err (a client's error, say) is the guard's
// refusal.
func IsNotAllowed(err error) bool { return errors.Is(err, ErrNotAllowed) }
