package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// OverloadResult is what the overload scenario measured: the capacity of
// a closed loop, then an open loop at Factor times that rate.
type OverloadResult struct {
	Concurrency    int           // of the capacity loop
	Capacity       float64       // requests per second the closed loop had answered 200
	CapacityP99    time.Duration // its p99
	CapacityErrors int           // capacity-loop requests not answered 200
	Factor         float64
	Open           OpenLoopResult
	PeakRSS        int64 // the server's VmHWM after both loops
	// ServerP50 and ServerP99 are the admitted requests' durations in the
	// server's access log (from its handler's start, the gate's wait
	// included): what the client saw beyond them was spent before the
	// handler, in the accept queue, the parser and the client itself.
	ServerP50, ServerP99 time.Duration
}

func (r *OverloadResult) String() string {
	o := &r.Open
	secs := max(o.Duration.Seconds(), 1e-9)
	return fmt.Sprintf("capacity %.0f req/s at %d clients (p99 %s, %d not 200); %.0fx = %.0f req/s offered for %s (%s with the drain): %d arrivals, %d not sent (all %d client slots busy), %d sent (%.0f req/s = %.1fx capacity): "+
		"admitted %d = %.0f req/s (p50 %s, p99 %s; in the server's log p50 %s, p99 %s), shed %d = %.1f%% of sent (503 with Retry-After), other 5xx %d, other status %d, transport errors %d (%d client timeouts of %s), cut at drain %d; peak RSS %.0f MB",
		r.Capacity, r.Concurrency, ms(r.CapacityP99), r.CapacityErrors, r.Factor, o.Rate, o.Duration, o.Elapsed.Round(time.Millisecond),
		o.Arrivals, o.Dropped, o.MaxOutstanding, o.Sent, float64(o.Sent)/secs, float64(o.Sent)/secs/r.Capacity,
		o.Admitted, float64(o.Admitted)/secs, ms(o.AdmittedP50), ms(o.AdmittedP99), ms(r.ServerP50), ms(r.ServerP99), o.Shed, 100*float64(o.Shed)/float64(max(o.Sent, 1)),
		o.Other5xx, o.OtherStatus, o.Failed, o.TimedOut, o.Timeout, o.Cut, float64(r.PeakRSS)/(1<<20))
}

// DemoToken is the owner credential a `serve --demo` server printed.
func DemoToken(s *Server) (string, error) {
	for _, line := range strings.Split(s.Stdout(), "\n") {
		if v, ok := strings.CutPrefix(line, "MEMBERD_TOKEN="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no MEMBERD_TOKEN in the server's output")
}

// Answer is how one request of a load loop ended: a status, whether a
// 503 carried Retry-After (the gate's shed answer does), or a transport
// error.
type Answer struct {
	Status     int
	RetryAfter bool
	Err        error
}

// get is one authenticated read of the native API: a page of members,
// the request a dashboard polls with.
func get(ctx context.Context, hc *http.Client, url, token string) Answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Answer{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return Answer{Err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After") != "", Err: err}
}

// OpenLoop offers requests at a fixed rate whatever the answers, with a
// bound on those outstanding, so that a run at many times the server's
// capacity ends in bounded time and bounded client memory: an arrival
// that finds every slot busy is not sent and is counted as Dropped (the
// client's shortfall, not the server's answer); each request sent gives
// up after Timeout; after Duration the loop waits at most Drain for the
// outstanding ones and then cancels them (Cut).
type OpenLoop struct {
	Rate           float64 // arrivals per second
	Duration       time.Duration
	MaxOutstanding int
	Timeout        time.Duration
	Drain          time.Duration
}

// OpenLoopResult is an open loop's bookkeeping. Every arrival is either
// Dropped or Sent, and every request sent ends in exactly one of
// Admitted, Shed, Other5xx, OtherStatus, Failed or Cut.
type OpenLoopResult struct {
	Rate           float64
	MaxOutstanding int
	Timeout        time.Duration
	Duration       time.Duration // of the arrivals
	Elapsed        time.Duration // from the first arrival to the end of the drain
	Arrivals       int
	Dropped        int // not sent: every slot was busy
	Sent           int
	Admitted       int // answered 2xx
	Shed           int // answered 503 with Retry-After
	Other5xx       int // any other 5xx, a 503 without Retry-After included: must be 0
	OtherStatus    int // 1xx, 3xx, 4xx
	Failed         int // transport errors, client timeouts included
	TimedOut       int // of Failed, those that reached Timeout
	Cut            int // still outstanding at the drain deadline, cancelled
	AdmittedP50    time.Duration
	AdmittedP99    time.Duration
}

// openTick is how often the open loop issues the arrivals that fell due:
// fine enough for a steady rate, coarse enough to cost the client little.
const openTick = time.Millisecond

// Run offers o's load to do, which must honour its context, and waits for
// it to end; it returns within about Duration+Drain.
func (o OpenLoop) Run(ctx context.Context, do func(ctx context.Context) Answer) OpenLoopResult {
	res := OpenLoopResult{Rate: o.Rate, MaxOutstanding: max(o.MaxOutstanding, 1), Timeout: o.Timeout, Duration: o.Duration}
	// Cancelling reqCtx at the drain deadline cuts what is still out.
	reqCtx, cut := context.WithCancel(ctx)
	defer cut()
	// A free worker waits on work; a send that finds none waiting is an
	// arrival with no slot.
	work := make(chan struct{})
	type tally struct {
		admitted                                      []time.Duration
		shed, other5xx, otherStatus, failed, timedOut int
		cut                                           int
	}
	tallies := make([]tally, res.MaxOutstanding)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			for range work {
				start := time.Now()
				rctx, cancel := context.WithTimeout(reqCtx, o.Timeout)
				a := do(rctx)
				cancel()
				switch {
				case a.Err != nil && reqCtx.Err() != nil:
					t.cut++
				case a.Err != nil:
					t.failed++
					if errors.Is(a.Err, context.DeadlineExceeded) || time.Since(start) >= o.Timeout {
						t.timedOut++
					}
				case a.Status == http.StatusServiceUnavailable && a.RetryAfter:
					t.shed++
				case a.Status >= 500:
					t.other5xx++
				case a.Status >= 200 && a.Status < 300:
					t.admitted = append(t.admitted, time.Since(start))
				default:
					t.otherStatus++
				}
			}
		}(&tallies[i])
	}

	start := time.Now()
	end := start.Add(o.Duration)
	tick := time.NewTicker(openTick)
	for now := start; now.Before(end) && ctx.Err() == nil; now = <-tick.C {
		// The arrivals due by now that were not yet issued; computed once
		// per tick, so a client that falls behind drops rather than spins.
		due := int(now.Sub(start).Seconds()*o.Rate) - res.Arrivals
		for range due {
			res.Arrivals++
			select {
			case work <- struct{}{}:
				res.Sent++
			default:
				res.Dropped++
			}
		}
	}
	tick.Stop()
	close(work)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.Drain):
		cut()
		<-done
	}
	res.Elapsed = time.Since(start)

	var admitted []time.Duration
	for _, t := range tallies {
		admitted = append(admitted, t.admitted...)
		res.Shed += t.shed
		res.Other5xx += t.other5xx
		res.OtherStatus += t.otherStatus
		res.Failed += t.failed
		res.TimedOut += t.timedOut
		res.Cut += t.cut
	}
	slices.Sort(admitted)
	res.Admitted = len(admitted)
	res.AdmittedP50, res.AdmittedP99 = Percentile(admitted, 50), Percentile(admitted, 99)
	return res
}

// admittedDuration reads the duration of an access-log line of the
// members page answered 200 (slog's text form: key=value pairs).
func admittedDuration(line string) (time.Duration, bool) {
	if !strings.Contains(line, " msg=request ") || !strings.Contains(line, " status=200 ") || !strings.Contains(line, "route=\"GET /api/v1/members\"") {
		return 0, false
	}
	_, rest, ok := strings.Cut(line, " duration=")
	if !ok {
		return 0, false
	}
	v, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// OverloadConfig shapes the overload scenario.
type OverloadConfig struct {
	Concurrency    int           // clients of the capacity loop
	Measure        time.Duration // length of the capacity loop
	Factor         float64       // offered rate as a multiple of the capacity
	Offer          time.Duration // length of the open loop
	MaxOutstanding int           // bound on the open loop's requests in flight
	Timeout        time.Duration // per request, both loops
	Drain          time.Duration // how long the open loop waits for the last answers
}

// Overload measures the server's capacity with a closed loop of
// Concurrency clients for Measure, then offers Factor times that rate in
// an OpenLoop for Offer.
func Overload(ctx context.Context, s *Server, token string, cfg OverloadConfig) (*OverloadResult, error) {
	url := s.URL + "/api/v1/members?limit=20"
	conns := max(cfg.MaxOutstanding, cfg.Concurrency)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	defer hc.CloseIdleConnections()
	do := func(ctx context.Context) Answer { return get(ctx, hc, url, token) }
	res := &OverloadResult{Concurrency: cfg.Concurrency, Factor: cfg.Factor}

	var lats []time.Duration
	var errs int
	var mu sync.Mutex
	deadline := time.Now().Add(cfg.Measure)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				a := do(rctx)
				cancel()
				d := time.Since(t)
				mu.Lock()
				if a.Err != nil || a.Status != http.StatusOK {
					errs++
				} else {
					lats = append(lats, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lats)
	res.Capacity = float64(len(lats)) / time.Since(start).Seconds()
	res.CapacityP99 = Percentile(lats, 99)
	res.CapacityErrors = errs
	if res.Capacity <= 0 {
		return res, fmt.Errorf("no request succeeded in the capacity loop")
	}

	var served []time.Duration
	stop := s.Watch(func(line string) {
		if d, ok := admittedDuration(line); ok {
			mu.Lock()
			served = append(served, d)
			mu.Unlock()
		}
	})
	res.Open = OpenLoop{Rate: cfg.Factor * res.Capacity, Duration: cfg.Offer, MaxOutstanding: cfg.MaxOutstanding,
		Timeout: cfg.Timeout, Drain: cfg.Drain}.Run(ctx, do)
	// Lines of the last answers may still be in the pipe; the scanner
	// reads them within moments.
	time.Sleep(200 * time.Millisecond)
	stop()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(served)
	res.ServerP50, res.ServerP99 = Percentile(served, 50), Percentile(served, 99)
	_, res.PeakRSS, _ = s.RSS()
	return res, nil
}

// FloodResult is what a flood of refused credentials left behind.
type FloodResult struct {
	Requests     int
	Unauthorized int
	Limited      int // 429
	Other        int // any other status
	Failed       int // transport errors
	Elapsed      time.Duration
	AuditRows    int // aggregated auth rows in the organization's trail
	AuditCount   int // attempts those rows count
	OtherRows    int // auth rows of no organization (per client address)
	OtherCount   int // attempts those rows count
}

func (r *FloodResult) String() string {
	return fmt.Sprintf("%d forged-token requests in %s: %d answered 401, %d answered 429, %d another status, %d transport errors; the organization's trail holds %d auth rows counting %d attempts, the trail of no organization %d counting %d: %d rows written in all",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Unauthorized, r.Limited, r.Other, r.Failed, r.AuditRows, r.AuditCount,
		r.OtherRows, r.OtherCount, r.AuditRows+r.OtherRows)
}

// Flood sends n requests with a token that carries the owner's real
// prefix and a wrong secret, at concurrency, then reads the organization's
// auth rows (after the server flushed them, see Server.Stop).
func Flood(ctx context.Context, s *Server, token string, n, concurrency int) (*FloodResult, error) {
	prefix, _, _ := strings.Cut(strings.TrimPrefix(token, "mbd_"), "_")
	forged := "mbd_" + prefix + "_" + strings.Repeat("a", 52)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer hc.CloseIdleConnections()
	res := &FloodResult{Requests: n}
	var i, unauth, limited, other, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i.Add(1) <= int64(n) {
				a := get(ctx, hc, s.URL+"/api/v1/organization", forged)
				switch {
				case a.Err != nil:
					failed.Add(1)
				case a.Status == http.StatusUnauthorized:
					unauth.Add(1)
				case a.Status == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Unauthorized, res.Limited = int(unauth.Load()), int(limited.Load())
	res.Other, res.Failed = int(other.Load()), int(failed.Load())
	return res, nil
}

// CountAuthRows reads the organization's aggregated rows of refused
// authentications (action request.authenticated, outcome refused).
func CountAuthRows(ctx context.Context, base, token string, into *FloodResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events?action=request.authenticated&outcome=refused&limit=1000", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("read auth rows: %s: %s", resp.Status, b)
	}
	var page struct {
		Items []struct {
			After struct{ Count int } `json:"after"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return fmt.Errorf("decode events: %w", err)
	}
	into.AuditRows = len(page.Items)
	for _, it := range page.Items {
		into.AuditCount += it.After.Count
	}
	return nil
}

// CountUnattributedAuthRows reads the rows of refused authentications
// that belong to no organization (a source without a real credential
// prefix, or an address's 429s) from the SQLite database at path, which
// no server may be using.
func CountUnattributedAuthRows(ctx context.Context, path string, into *FloodResult) error {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.View(ctx, func(tx membership.Tx) error {
		// EventList filters on one organization; the chain of no
		// organization (0) holds its events.
		es, err := tx.EventChainList(ctx, 0, 0, 1<<20)
		if err != nil {
			return fmt.Errorf("list the events of no organization: %w", err)
		}
		for _, e := range es {
			if e.Action != membership.ActionRequestAuthenticated || e.Outcome != membership.OutcomeRefused {
				continue
			}
			into.OtherRows++
			var after struct{ Count int }
			if err := json.Unmarshal(e.After, &after); err != nil {
				return fmt.Errorf("decode auth row %d: %w", e.ID, err)
			}
			into.OtherCount += after.Count
		}
		return nil
	})
}
