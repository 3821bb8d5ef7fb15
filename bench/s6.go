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
	Order  []string
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

// abba is the order of 2×perSide blocks, true for SCIM: S N N S S N N S…
// On a shared machine the load drifts during a run, and the database
// grows by every removal; in this order a drift that is linear over the
// run weighs on both sides alike (with an even perSide), where one side
// entirely before the other would carry all of it.
func abba(perSide int) []bool {
	out := make([]bool, 2*perSide)
	for i := range out {
		out[i] = ((i/2)%2 == 0) == (i%2 == 0)
	}
	return out
}

// blocks splits n operations into k blocks as evenly as possible,
// the larger first.
func blocks(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
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
	targets := map[bool][]int{true: r.pick.pick(n, r.d.Members), false: r.pick.pick(n, r.d.Members)}
	sizes := blocks(n, s6Blocks)
	done := map[bool]int{}
	parts := map[bool][]Summary{}
	res := &S6{Users: n, Concurrency: r.cfg.S6Concurrency}
	for i, scim := range abba(s6Blocks) {
		side, op := "native", func(ctx context.Context, m int) error { return c.NativeRemove(ctx, r.d.MemberID(m)) }
		if scim {
			side, op = "scim", func(ctx context.Context, m int) error { return c.SCIMDeactivate(ctx, r.d.MemberUUID(m)) }
		}
		these := targets[scim][done[scim] : done[scim]+sizes[len(parts[scim])]]
		done[scim] += len(these)
		s, err := r.loop(ctx, r.cfg.S6Concurrency, len(these), func(ctx context.Context, j int) (int, error) {
			return 1, op(ctx, these[j])
		})
		r.logf("S6 block %d (%s): %s", i+1, side, s)
		if err != nil {
			r.fail("S6 %s: %v", side, err)
		}
		res.Order = append(res.Order, side[:1])
		parts[scim] = append(parts[scim], s)
	}
	scim, native := Combine(parts[true]...), Combine(parts[false]...)
	res.SCIM, res.Native = &scim, &native
	r.res.S6 = res
	r.logf("S6: SCIM %s; native %s; rate ratio %.2f, p99 ratio %.2f", scim, native, res.RateRatio(), res.P99Ratio())
}

// line is S6 in one line of plain text.
func (s *S6) line() string {
	return fmt.Sprintf("S6 SCIM PATCH %s/s p99 %s; native DELETE %s/s p99 %s; SCIM/native: rate %.2f×, p99 %.2f×",
		rate(s.SCIM.Rate()), ms(s.SCIM.P99), rate(s.Native.Rate()), ms(s.Native.P99), s.RateRatio(), s.P99Ratio())
}
