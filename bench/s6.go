package bench

import (
	"context"
	"fmt"
)

// S6 is SCIM deprovisioning set against the native single removal, both
// measured in one run on the same server: Users deactivations through
// Okta's PATCH and Users other members removed through
// DELETE /api/v1/members/{id}, each at Concurrency.
type S6 struct {
	Users       int
	Concurrency int
	// Order is the sides of the blocks in the order they ran, "s" for
	// SCIM or "n" for native, each block a loop of its own.
	Order  string
	SCIM   *Summary
	Native *Summary
}

// RateRatio is SCIM deactivations per second over native removals per
// second: below 1, SCIM is slower.
func (s *S6) RateRatio() float64 {
	if s.Native == nil || s.SCIM == nil || s.Native.Rate() == 0 {
		return 0
	}
	return s.SCIM.Rate() / s.Native.Rate()
}

// P99Ratio is SCIM's p99 over the native p99: above 1, SCIM's slowest
// requests are slower.
func (s *S6) P99Ratio() float64 {
	if s.Native == nil || s.SCIM == nil || s.Native.P99 == 0 {
		return 0
	}
	return float64(s.SCIM.P99) / float64(s.Native.P99)
}

// s6Blocks is how many blocks of each side S6 runs: with two, a trial
// run on the shared machine saw one native block at 294/s and the next at
// 711/s; ten of 1,000 spread such swings over both sides.
const s6Blocks = 10

// s6 runs S6: it picks S6Users members for each side, then alternates
// blocks of SCIM deactivations and native removals in abba order.
func (r *runner) s6(ctx context.Context, c *Client) {
	n := r.cfg.S6Users
	// What runs after S6 at this size needs its members too (CheckSizes).
	after := r.cfg.removalsAfterS6(r.e.Name)
	if left := r.d.Members - len(r.pick.used); 2*n+after > left {
		r.note("S6 was not run: it needs %d members nobody removed, and what runs after it %d more, and %d of the %d are left; run it at a larger -main", 2*n, after, left, r.d.Members)
		return
	}
	scim, native := chunks(r.pick.pick(n, r.d.Members), s6Blocks), chunks(r.pick.pick(n, r.d.Members), s6Blocks)
	alt := r.alternate(ctx, "S6", s6Blocks,
		side{"scim", r.cfg.S6Concurrency, func(k int) int { return len(scim[k]) }, func(ctx context.Context, k, i int) (int, error) {
			return 1, c.SCIMDeactivate(ctx, r.d.MemberUUID(scim[k][i]))
		}},
		side{"native", r.cfg.S6Concurrency, func(k int) int { return len(native[k]) }, func(ctx context.Context, k, i int) (int, error) {
			return 1, c.NativeRemove(ctx, r.d.MemberID(native[k][i]))
		}})
	res := &S6{Users: n, Concurrency: r.cfg.S6Concurrency, Order: alt.Order, SCIM: &alt.A, Native: &alt.B}
	r.res.S6 = res
	r.logf("S6: SCIM %s; native %s; rate ratio %.2f, p99 ratio %.2f", alt.A, alt.B, res.RateRatio(), res.P99Ratio())
}

// line is S6 in one line of plain text.
func (s *S6) line() string {
	return fmt.Sprintf("S6 SCIM PATCH %s/s p99 %s; native DELETE %s/s p99 %s; SCIM/native: rate %.2f×, p99 %.2f×",
		rate(s.SCIM.Rate()), ms(s.SCIM.P99), rate(s.Native.Rate()), ms(s.Native.P99), s.RateRatio(), s.P99Ratio())
}
