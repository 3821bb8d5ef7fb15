package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/memberd/memberd/membership"
)

// MaxLimitedAddrs bounds the client addresses an AddrLimiter tracks.
const MaxLimitedAddrs = 10000

// AddrLimiter is a token bucket per client address (an IPv6 address's
// /64: membership.AddressBlock), bounded in memory:
// when it tracks MaxLimitedAddrs addresses it forgets those whose bucket
// has refilled, and if a flood of addresses leaves none such, all of them,
// which lifts limits only for the flood's duration.
type AddrLimiter struct {
	every rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewAddrLimiter returns a limiter of every events per second per
// address, with burst.
func NewAddrLimiter(every rate.Limit, burst int) *AddrLimiter {
	return &AddrLimiter{every: every, burst: max(burst, 1), m: map[string]*rate.Limiter{}}
}

func (l *AddrLimiter) get(addr string, create bool) *rate.Limiter {
	addr = membership.AddressBlock(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[addr]
	if lim == nil && create {
		if len(l.m) >= MaxLimitedAddrs {
			l.sweep()
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[addr] = lim
	}
	return lim
}

// sweep forgets addresses whose bucket is full again. The caller holds mu.
func (l *AddrLimiter) sweep() {
	now := time.Now()
	for addr, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, addr)
		}
	}
	if len(l.m) >= MaxLimitedAddrs {
		l.m = map[string]*rate.Limiter{}
	}
}

// Allow takes one event of addr's budget, or says how long to wait.
func (l *AddrLimiter) Allow(addr string) (time.Duration, bool) {
	res := l.get(addr, true).Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d, false
	}
	return 0, true
}

// Spent says whether addr has used its whole budget, and how long until
// one event is available again, without taking any.
func (l *AddrLimiter) Spent(addr string) (time.Duration, bool) {
	lim := l.get(addr, false)
	if lim == nil {
		return 0, false
	}
	tokens := lim.Tokens()
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(l.every) * float64(time.Second)), true
}
