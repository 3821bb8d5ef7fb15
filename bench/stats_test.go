package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"Empty", nil, 50, 0},
		{"One", []time.Duration{7}, 99, 7},
		{"MedianOdd", []time.Duration{1, 2, 3}, 50, 2},
		{"MedianEven", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"P99Of100", hundred, 99, 99 * time.Millisecond},
		{"P50Of100", hundred, 50, 50 * time.Millisecond},
		{"P100", hundred, 100, 100 * time.Millisecond},
		{"P99Of10", hundred[:10], 99, 10 * time.Millisecond},
		{"TinyP", hundred, 0.001, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		lat := []time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
		s := Summarize(lat, 1, 2*time.Second)
		if s.N != 4 || s.Errors != 1 || s.Items != 4 {
			t.Errorf("counts = %d/%d/%d, want 4/1/4", s.N, s.Errors, s.Items)
		}
		if s.P50 != 2*time.Millisecond || s.P99 != 4*time.Millisecond || s.Max != 4*time.Millisecond {
			t.Errorf("p50/p99/max = %v/%v/%v, want 2ms/4ms/4ms", s.P50, s.P99, s.Max)
		}
		if s.Mean != 2500*time.Microsecond {
			t.Errorf("mean = %v, want 2.5ms", s.Mean)
		}
		if got := s.Rate(); got != 2 {
			t.Errorf("rate = %v, want 2", got)
		}
		if lat[0] != 4*time.Millisecond {
			t.Errorf("Summarize sorted its input in place")
		}
	})
	t.Run("Empty", func(t *testing.T) {
		s := Summarize(nil, 3, 0)
		if s.N != 0 || s.Errors != 3 || s.Rate() != 0 || s.P99 != 0 {
			t.Errorf("got %+v, want zero figures with 3 errors", s)
		}
	})
}

func TestRatioAgainst(t *testing.T) {
	for _, c := range []struct {
		g    float64
		want string
	}{
		{1.32, "1.32×"},
		{1.5, "1.50×"},
		{1.504, "1.504×"},
		{1.4996, "1.50×"}, // rounds onto the limit, on the side it is on
		{1.8765, "1.88×"},
		{1.5000001, "1.500000×"},
	} {
		if got := ratioAgainst(c.g, 1.5); got != c.want {
			t.Errorf("ratioAgainst(%v, 1.5) = %q, want %q", c.g, got, c.want)
		}
	}
}
