package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestABBA(t *testing.T) {
	show := func(order []bool) string {
		var b strings.Builder
		for _, a := range order {
			if a {
				b.WriteByte('A')
			} else {
				b.WriteByte('B')
			}
		}
		return b.String()
	}
	for perSide, want := range map[int]string{1: "AB", 2: "ABBA", 3: "ABBAAB", 4: "ABBAABBA"} {
		if got := show(abba(perSide)); got != want {
			t.Errorf("abba(%d) = %s, want %s", perSide, got, want)
		}
	}
	// With an even number of blocks a side, a linear drift (block i costs
	// i) adds the same to both sides.
	for _, perSide := range []int{2, 4, 6} {
		sum := map[bool]int{}
		for i, a := range abba(perSide) {
			sum[a] += i
		}
		if sum[true] != sum[false] {
			t.Errorf("abba(%d): block positions sum to %d for A and %d for B", perSide, sum[true], sum[false])
		}
	}
}

func TestBlocks(t *testing.T) {
	for _, c := range []struct {
		n, k int
		want []int
	}{{10000, 2, []int{5000, 5000}}, {10001, 2, []int{5001, 5000}}, {7, 3, []int{3, 2, 2}}, {1, 2, []int{1, 0}}} {
		if got := blocks(c.n, c.k); !slices.Equal(got, c.want) {
			t.Errorf("blocks(%d, %d) = %v, want %v", c.n, c.k, got, c.want)
		}
	}
}

func TestChunks(t *testing.T) {
	xs := []int{1, 2, 3, 4, 5, 6, 7}
	got := chunks(xs, 3)
	if len(got) != 3 || !slices.Equal(got[0], []int{1, 2, 3}) || !slices.Equal(got[1], []int{4, 5}) || !slices.Equal(got[2], []int{6, 7}) {
		t.Fatalf("chunks(1..7, 3) = %v, want [1 2 3] [4 5] [6 7]", got)
	}
	// A block is capped at its length: appending to one must not write
	// into the next, whose members would then be removed twice.
	_ = append(got[0], 99)
	if got[1][0] != 4 {
		t.Errorf("appending to the first chunk overwrote the second: %v", got[1])
	}
}

// TestAlternate: the blocks run in abba order, each side's blocks are
// numbered 0, 1, … in the order they ran, and each side's figures combine
// all its blocks and only its own.
func TestAlternate(t *testing.T) {
	ms := time.Millisecond
	var ran []string
	pos := 0
	alt := alternate(4, [2]byte{'c', 'f'}, func(a bool, block int) Summary {
		name := "f"
		if a {
			name = "c"
		}
		ran = append(ran, name+string(rune('0'+block)))
		// The machine slows down by a millisecond every block: the checks
		// take 10 ms plus the drift, the floor 1 ms plus the drift, and a
		// block lasts 100 of its requests.
		base := 1 * ms
		if a {
			base = 10 * ms
		}
		d := base + time.Duration(pos)*ms
		pos++
		lat := make([]time.Duration, 100)
		for i := range lat {
			lat[i] = d
		}
		s := Summarize(lat, 0, 100*d)
		s.latencies = lat
		s.ProcCores = float64(pos)
		return s
	})
	if want := "cffccffc"; alt.Order != want {
		t.Errorf("Order = %q, want %q", alt.Order, want)
	}
	if want := []string{"c0", "f0", "f1", "c1", "c2", "f2", "f3", "c3"}; !slices.Equal(ran, want) {
		t.Errorf("blocks ran as %v, want %v", ran, want)
	}
	if alt.A.N != 400 || alt.B.N != 400 {
		t.Fatalf("N: A %d, B %d, want 400 each", alt.A.N, alt.B.N)
	}
	// The checks ran at positions 0, 3, 4, 7 (10+{0,3,4,7} ms), the floor
	// at 1, 2, 5, 6 (1+{1,2,5,6} ms): both carry 14 ms of drift in all.
	if want := time.Duration(10*4+14) * ms * 100; alt.A.Elapsed != want {
		t.Errorf("A elapsed %s, want %s", alt.A.Elapsed, want)
	}
	if want := time.Duration(1*4+14) * ms * 100; alt.B.Elapsed != want {
		t.Errorf("B elapsed %s, want %s", alt.B.Elapsed, want)
	}
	if alt.A.Max != 17*ms || alt.B.Max != 7*ms || alt.A.P50 != 13*ms || alt.B.P50 != 3*ms {
		t.Errorf("A p50 %s max %s, B p50 %s max %s; want 13ms 17ms and 3ms 7ms", alt.A.P50, alt.A.Max, alt.B.P50, alt.B.Max)
	}
	// Cores weigh each block by its time.
	if want := (1*10.0 + 4*13 + 5*14 + 8*17) / 54; alt.A.ProcCores-want > 1e-9 || want-alt.A.ProcCores > 1e-9 {
		t.Errorf("A cores %v, want %v", alt.A.ProcCores, want)
	}
}

func TestHTTPFloorSideSize(t *testing.T) {
	if got := httpFloorSide(nil, 16, 5000).size(0); got != 5000 {
		t.Errorf("a floor block against 5000 checks makes %d requests, want 5000", got)
	}
	if got := httpFloorSide(nil, 64, 1000).size(1); got != minFloorBlock {
		t.Errorf("a floor block against 1000 removals makes %d requests, want at least %d", got, minFloorBlock)
	}
}
