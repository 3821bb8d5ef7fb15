package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPlotS5(t *testing.T) {
	s := func(p50, p99 time.Duration) *Summary { return &Summary{N: 10, P50: p50, P99: p99} }
	results := []*Result{
		{Engine: "sqlite", Sizes: []SizePoint{{Members: 10000, S5: s(2*time.Millisecond, 9*time.Millisecond)}, {Members: 1000000, S5: s(3*time.Millisecond, 17*time.Millisecond)}}},
		{Engine: "postgres", Sizes: []SizePoint{{Members: 10000, S5: s(4*time.Millisecond, 6*time.Millisecond)}, {Members: 1000000, S5: s(5*time.Millisecond, 12*time.Millisecond)}}},
	}
	path := filepath.Join(t.TempDir(), "s5.png")
	if err := PlotS5(path, results); err != nil {
		t.Fatalf("PlotS5: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 8 || string(data[1:4]) != "PNG" {
		t.Errorf("wrote %d bytes that are not a PNG", len(data))
	}
	if os.Getenv("BENCH_PLOT") != "" {
		os.WriteFile(os.Getenv("BENCH_PLOT"), data, 0o644)
	}
	if err := PlotS5(path, []*Result{{Engine: "sqlite"}}); err == nil {
		t.Errorf("PlotS5 with no S5 figures: no error")
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{10000: "10k", 100000: "100k", 1000000: "1M", 10000000: "10M", 1500: "1500"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
