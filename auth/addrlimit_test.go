package auth

import (
	"testing"

	"golang.org/x/time/rate"

	"github.com/memberd/memberd/membership"
)

// TestAddrLimiterBlocks: the addresses of one IPv6 /64 share one budget,
// so walking through a subscriber's block is not a fresh budget per
// address; IPv4 addresses, IPv4-mapped ones included, are each their own.
func TestAddrLimiterBlocks(t *testing.T) {
	l := NewAddrLimiter(rate.Limit(0.001), 2)
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if _, ok := l.Allow(addr); !ok {
			t.Fatalf("%s refused within the burst", addr)
		}
	}
	if _, ok := l.Allow("2001:db8:1:2:abcd::7"); ok {
		t.Error("a third address of the same /64 had a budget of its own")
	}
	for _, addr := range []string{"2001:db8:1:3::1", "192.0.2.1", "192.0.2.2", "::ffff:192.0.2.3"} {
		if _, ok := l.Allow(addr); !ok {
			t.Errorf("%s refused: another block's budget", addr)
		}
	}
	for addr, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "fe80::1%eth0": "fe80::/64", "::ffff:192.0.2.3": "192.0.2.3",
		"192.0.2.9": "192.0.2.9", "not an address": "not an address",
	} {
		if got := membership.AddressBlock(addr); got != want {
			t.Errorf("AddressBlock(%q) = %q, want %q", addr, got, want)
		}
	}
}
