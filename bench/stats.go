package bench

import (
	"fmt"
	"slices"
	"time"
)

// Summary is what one measured loop did: how many operations, how fast,
// and how their latencies were spread.
type Summary struct {
	N       int           // operations that succeeded
	Errors  int           // operations that failed
	Elapsed time.Duration // wall time of the whole loop
	P50     time.Duration
	P99     time.Duration
	Max     time.Duration
	Mean    time.Duration
	// Items is how many units of work the operations did (removals in a
	// batch request); it equals N when each operation is one unit.
	Items int
	// ProcCores is how many cores the measured process (the server, or
	// the bench itself for in-process floors) used on average, and
	// MachineCores how many the whole machine kept busy.
	ProcCores, MachineCores float64
	// Load1 is the machine's 1-minute load average when the loop began:
	// other work on a shared machine shows here.
	Load1 float64
	// latencies are the successful operations' latencies, kept so that
	// Combine can take percentiles over several loops.
	latencies []time.Duration
}

// Rate is successful operations per second of wall time.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.N) / s.Elapsed.Seconds()
}

// ItemRate is units of work per second of wall time.
func (s Summary) ItemRate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Items) / s.Elapsed.Seconds()
}

func (s Summary) String() string {
	return fmt.Sprintf("n=%d err=%d %.0f/s p50=%s p99=%s max=%s", s.N, s.Errors, s.Rate(),
		ms(s.P50), ms(s.P99), ms(s.Max))
}

// Summarize computes a Summary of the latencies of successful operations.
// Percentiles use the nearest-rank method: P99 of 100 samples is the 99th
// smallest, so it is always a latency that was actually observed.
func Summarize(latencies []time.Duration, errors int, elapsed time.Duration) Summary {
	s := Summary{N: len(latencies), Errors: errors, Elapsed: elapsed, Items: len(latencies)}
	if len(latencies) == 0 {
		return s
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	s.P50 = Percentile(sorted, 50)
	s.P99 = Percentile(sorted, 99)
	s.Max = sorted[len(sorted)-1]
	s.Mean = sum / time.Duration(len(sorted))
	return s
}

// Combine summarizes several loops as one: percentiles over all their
// latencies, rates over their summed wall time, cores averaged weighted
// by each loop's time, and the highest load average any of them began at.
// A scenario measured in alternating blocks uses it, so that drift on a
// shared machine falls on both sides of a comparison alike.
func Combine(parts ...Summary) Summary {
	var lat []time.Duration
	var errs, items int
	var elapsed time.Duration
	var proc, machine, load float64
	for _, p := range parts {
		lat = append(lat, p.latencies...)
		errs += p.Errors
		items += p.Items
		elapsed += p.Elapsed
		proc += p.ProcCores * p.Elapsed.Seconds()
		machine += p.MachineCores * p.Elapsed.Seconds()
		load = max(load, p.Load1)
	}
	s := Summarize(lat, errs, elapsed)
	s.Items, s.latencies, s.Load1 = items, lat, load
	if elapsed > 0 {
		s.ProcCores, s.MachineCores = proc/elapsed.Seconds(), machine/elapsed.Seconds()
	}
	return s
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by
// nearest rank: the smallest value such that at least p% of the values
// are less than or equal to it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p / 100 * float64(len(sorted)))
	if float64(rank) < p/100*float64(len(sorted)) {
		rank++ // ceil without floating-point surprises at exact ranks
	}
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
