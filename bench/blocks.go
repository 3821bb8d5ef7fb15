package bench

import "context"

// abba is the order of 2×perSide blocks, true for the first side: A B B A
// A B B A… On a shared machine the load drifts during a run, and the
// database grows by every removal; in this order a drift that is linear
// over the run weighs on both sides alike (with an even perSide), where
// one side entirely before the other would carry all of it. The blocks of
// one side need to be alike in length, not as long as the other side's:
// with a-long blocks of one side and b-long of the other, both sides'
// mean block midpoint is 2a+2b in A B B A A B B A.
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

// chunks splits xs into k consecutive blocks, sized as blocks(len(xs), k)
// sizes them: each operation lands in exactly one block, so a member
// picked once is removed once.
func chunks[T any](xs []T, k int) [][]T {
	out := make([][]T, 0, k)
	for _, n := range blocks(len(xs), k) {
		out = append(out, xs[:n:n])
		xs = xs[n:]
	}
	return out
}

// minFloorBlock is the fewest requests a block of the no-op HTTP floor
// makes. GET /healthz answers 20,000–45,000 requests/s on the 2-core
// machine, so a block of 4,000 lasts about 100–200 ms: tens of scheduler slices
// and several of the client's and server's GC cycles, and at concurrency
// 64 the ramp-up and drain of the requests in flight are under 2% of it.
// Fewer requests a block would let those dominate; S2's 500 removals a
// block (2,000 at 64 in four blocks) would give floor blocks of 20 ms.
const minFloorBlock = 4000

// Alternation is two sides measured in alternating blocks on the same
// server, each side's blocks combined.
type Alternation struct {
	// Order is the sides' letters in the order the blocks ran.
	Order string
	A, B  Summary
}

// alternate runs perSide blocks of each of two sides in abba order, A
// first, and combines each side's blocks. run measures block block
// (0, 1, … within its side) of side A (a) or B.
func alternate(perSide int, letters [2]byte, run func(a bool, block int) Summary) Alternation {
	parts := map[bool][]Summary{}
	var order []byte
	for _, a := range abba(perSide) {
		letter := letters[1]
		if a {
			letter = letters[0]
		}
		order = append(order, letter)
		parts[a] = append(parts[a], run(a, len(parts[a])))
	}
	return Alternation{Order: string(order), A: Combine(parts[true]...), B: Combine(parts[false]...)}
}

// side is one side of an alternated measurement: its name in the log and
// its letter in the order, at a concurrency, and how many operations its
// block block runs; op is operation i of block block.
type side struct {
	name        string
	concurrency int
	size        func(block int) int
	op          func(ctx context.Context, block, i int) (int, error)
}

// alternate runs a and b in perSide blocks each (abba order, a first),
// each block one measured loop, logs each block and reports failures
// under label.
func (r *runner) alternate(ctx context.Context, label string, perSide int, a, b side) Alternation {
	return alternate(perSide, [2]byte{a.name[0], b.name[0]}, func(isA bool, block int) Summary {
		sd := b
		if isA {
			sd = a
		}
		s, err := r.loop(ctx, sd.concurrency, sd.size(block), func(ctx context.Context, i int) (int, error) {
			return sd.op(ctx, block, i)
		})
		r.logf("%s block %d of %d (%s): %s", label, block+1, perSide, sd.name, s)
		if err != nil {
			r.fail("%s %s: %v", label, sd.name, err)
		}
		return s
	})
}

// httpFloorSide is the no-op HTTP floor (GET /healthz) as a side of an
// alternation at concurrency: what the same client and server cost
// without a credential or a database, n requests a block.
func httpFloorSide(c *Client, concurrency, n int) side {
	return side{name: "floor", concurrency: concurrency, size: func(int) int { return max(n, minFloorBlock) },
		op: func(ctx context.Context, _, _ int) (int, error) { return 1, c.Healthz(ctx) }}
}
