package bench

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenLoop(t *testing.T) {
	// check holds the loop's invariants: every arrival dropped or sent,
	// every request sent ends in exactly one outcome.
	check := func(t *testing.T, r OpenLoopResult) {
		t.Helper()
		if r.Arrivals != r.Dropped+r.Sent {
			t.Errorf("arrivals %d, dropped %d + sent %d", r.Arrivals, r.Dropped, r.Sent)
		}
		if ended := r.Admitted + r.Shed + r.Other5xx + r.OtherStatus + r.Failed + r.Cut; ended != r.Sent {
			t.Errorf("outcomes add up to %d, sent %d: %+v", ended, r.Sent, r)
		}
	}
	t.Run("OK", func(t *testing.T) {
		answers := []Answer{
			{Status: http.StatusOK},
			{Status: http.StatusServiceUnavailable, RetryAfter: true},
			{Status: http.StatusServiceUnavailable}, // no Retry-After: not the gate's answer
			{Status: http.StatusInternalServerError},
			{Status: http.StatusNotFound},
			{Err: errors.New("connection reset")},
		}
		var n atomic.Int64
		do := func(ctx context.Context) Answer {
			time.Sleep(5 * time.Millisecond)
			return answers[int(n.Add(1)-1)%len(answers)]
		}
		r := OpenLoop{Rate: 2000, Duration: 200 * time.Millisecond, MaxOutstanding: 4, Timeout: time.Second, Drain: time.Second}.Run(context.Background(), do)
		check(t, r)
		// 4 slots of 5 ms each cannot take 2000 arrivals a second.
		if r.Dropped == 0 || r.Sent == 0 {
			t.Errorf("dropped %d, sent %d; want both > 0", r.Dropped, r.Sent)
		}
		if r.Arrivals < 200 || r.Arrivals > 400 {
			t.Errorf("arrivals %d, want about 400", r.Arrivals)
		}
		if r.Shed == 0 || r.Other5xx == 0 || r.OtherStatus == 0 || r.Failed == 0 || r.Admitted == 0 || r.Cut != 0 || r.TimedOut != 0 {
			t.Errorf("got %+v, want every outcome but cut and timeouts", r)
		}
		if r.Other5xx < r.Shed {
			t.Errorf("other 5xx %d < shed %d: a 503 without Retry-After and a 500 are both other 5xx", r.Other5xx, r.Shed)
		}
	})
	// hang is a server that never answers.
	hang := func(ctx context.Context) Answer {
		<-ctx.Done()
		return Answer{Err: ctx.Err()}
	}
	t.Run("Timeout", func(t *testing.T) {
		r := OpenLoop{Rate: 1000, Duration: 100 * time.Millisecond, MaxOutstanding: 8, Timeout: 20 * time.Millisecond, Drain: time.Second}.Run(context.Background(), hang)
		check(t, r)
		if r.Failed != r.Sent || r.TimedOut != r.Sent || r.Sent == 0 {
			t.Errorf("got %+v, want every request sent failed by timeout", r)
		}
	})
	t.Run("CutAtDrain", func(t *testing.T) {
		start := time.Now()
		r := OpenLoop{Rate: 1000, Duration: 100 * time.Millisecond, MaxOutstanding: 8, Timeout: time.Minute, Drain: 50 * time.Millisecond}.Run(context.Background(), hang)
		check(t, r)
		if r.Sent == 0 || r.Sent > 8 || r.Cut != r.Sent {
			t.Errorf("sent %d, cut %d; want at most the 8 slots, every one held to the end and cut", r.Sent, r.Cut)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s, want about 150 ms: the drain deadline bounds the run", d)
		}
	})
}

func TestAdmittedDuration(t *testing.T) {
	const ok = `time=2026-12-06T02:57:41.852Z level=INFO msg=request method=GET route="GET /api/v1/members" status=200 duration=4.468769ms request_id=3073128ee95819aec819bd0a interface=native credential=8e815772376ec2c4`
	if d, found := admittedDuration(ok); !found || d != 4468769*time.Nanosecond {
		t.Errorf("got %s, %v; want 4.468769ms, true", d, found)
	}
	for _, line := range []string{
		strings.Replace(ok, "status=200", "status=503", 1),
		strings.Replace(ok, "/api/v1/members", "/api/v1/organization", 1),
		"memberd listening on http://127.0.0.1:1",
	} {
		if d, found := admittedDuration(line); found {
			t.Errorf("admittedDuration(%q) = %s, want none", line, d)
		}
	}
}
