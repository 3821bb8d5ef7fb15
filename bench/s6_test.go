package bench

import (
	"testing"
	"time"
)

func TestCombine(t *testing.T) {
	ms := time.Millisecond
	a := Summarize([]time.Duration{1 * ms, 2 * ms, 3 * ms}, 1, time.Second)
	a.latencies = []time.Duration{1 * ms, 2 * ms, 3 * ms}
	a.ProcCores, a.MachineCores, a.Load1 = 1, 2, 3.5
	b := Summarize([]time.Duration{100 * ms}, 0, 3*time.Second)
	b.latencies = []time.Duration{100 * ms}
	b.ProcCores, b.MachineCores, b.Load1 = 0.2, 1, 1.5
	s := Combine(a, b)
	if s.N != 4 || s.Items != 4 || s.Errors != 1 || s.Elapsed != 4*time.Second {
		t.Errorf("counts: N=%d Items=%d Errors=%d Elapsed=%s, want 4 4 1 4s", s.N, s.Items, s.Errors, s.Elapsed)
	}
	if s.Rate() != 1 {
		t.Errorf("Rate() = %v, want 1 (4 operations in 4 s)", s.Rate())
	}
	// p99 of four samples is the largest, whichever loop it came from.
	if s.P50 != 2*ms || s.P99 != 100*ms || s.Max != 100*ms {
		t.Errorf("P50=%s P99=%s Max=%s, want 2ms 100ms 100ms", s.P50, s.P99, s.Max)
	}
	// Cores weighted by time: (1×1 + 0.2×3) / 4 and (2×1 + 1×3) / 4.
	if d := s.ProcCores - 0.4; d > 1e-9 || d < -1e-9 {
		t.Errorf("ProcCores = %v, want 0.4", s.ProcCores)
	}
	if d := s.MachineCores - 1.25; d > 1e-9 || d < -1e-9 {
		t.Errorf("MachineCores = %v, want 1.25", s.MachineCores)
	}
	if s.Load1 != 3.5 {
		t.Errorf("Load1 = %v, want the highest, 3.5", s.Load1)
	}
	if z := Combine(); z.N != 0 || z.Rate() != 0 || z.P99 != 0 {
		t.Errorf("Combine() = %+v, want zero", z)
	}
}

func TestS6Ratios(t *testing.T) {
	scim := Summary{N: 100, Elapsed: time.Second, P99: 30 * time.Millisecond}
	native := Summary{N: 200, Elapsed: time.Second, P99: 20 * time.Millisecond}
	s := &S6{SCIM: &scim, Native: &native}
	if s.RateRatio() != 0.5 || s.P99Ratio() != 1.5 {
		t.Errorf("RateRatio=%v P99Ratio=%v, want 0.5 and 1.5", s.RateRatio(), s.P99Ratio())
	}
	if (&S6{SCIM: &scim, Native: &Summary{}}).RateRatio() != 0 {
		t.Error("a native side that measured nothing must give no ratio, not infinity")
	}
}
