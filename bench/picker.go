package bench

import "math/rand/v2"

// picker hands out regular member indexes at random, each at most once
// over a whole run, so that no scenario removes a member another already
// removed. It is seeded, so a run with the same seed picks the same ones.
type picker struct {
	rng  *rand.Rand
	used map[int]bool
}

func newPicker(seed uint64) *picker {
	return &picker{rng: rand.New(rand.NewPCG(seed, 0x6d656d6265726421)), used: map[int]bool{}}
}

// pick returns n distinct unused indexes in [0, limit), uniformly spread.
// It panics if fewer than n are left, which the scenario sizes rule out.
func (p *picker) pick(n, limit int) []int {
	if len(p.used)+n > limit {
		panic("picker: not enough members left")
	}
	out := make([]int, 0, n)
	for len(out) < n {
		i := p.rng.IntN(limit)
		if p.used[i] {
			continue
		}
		p.used[i] = true
		out = append(out, i)
	}
	return out
}

// any returns an index in [0, limit), used or not.
func (p *picker) any(limit int) int { return p.rng.IntN(limit) }
