package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OverloadResult is what the overload scenario measured: the capacity of
// a closed loop, then an open loop at Factor times that rate.
type OverloadResult struct {
	Concurrency int           // of the capacity loop
	Capacity    float64       // requests per second the closed loop reached
	CapacityP99 time.Duration // its p99
	Factor      float64
	Offered     float64 // requests per second offered in the open loop
	Sent        int
	Admitted    int           // answered 2xx
	Shed        int           // answered 503 by the gate
	Other5xx    int           // any other 5xx: must be 0
	Failed      int           // transport errors (client timeouts)
	AdmittedP50 time.Duration // latency of admitted requests
	AdmittedP99 time.Duration
	PeakRSS     int64
}

func (r *OverloadResult) String() string {
	return fmt.Sprintf("capacity %.0f req/s at %d (p99 %s); %.0fx = %.0f req/s offered, %d sent: admitted %d (p50 %s, p99 %s), shed %.1f%%, other 5xx %d, transport errors %d, peak RSS %.0f MB",
		r.Capacity, r.Concurrency, ms(r.CapacityP99), r.Factor, r.Offered, r.Sent, r.Admitted, ms(r.AdmittedP50), ms(r.AdmittedP99),
		100*float64(r.Shed)/float64(max(r.Sent, 1)), r.Other5xx, r.Failed, float64(r.PeakRSS)/(1<<20))
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

// get is one authenticated read of the native API: a page of members,
// the request a dashboard polls with.
func get(ctx context.Context, hc *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Overload measures the server's capacity with a closed loop of
// concurrency clients for measure, then offers factor times that rate in
// an open loop (arrivals do not wait for answers) for offer.
func Overload(ctx context.Context, s *Server, token string, concurrency int, factor float64, measure, offer time.Duration) (*OverloadResult, error) {
	url := s.URL + "/api/v1/members?limit=20"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}}
	defer hc.CloseIdleConnections()
	res := &OverloadResult{Concurrency: concurrency, Factor: factor}

	var lats []time.Duration
	var mu sync.Mutex
	deadline := time.Now().Add(measure)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t := time.Now()
				code, err := get(ctx, hc, url, token)
				if err != nil || code != http.StatusOK {
					continue
				}
				mu.Lock()
				lats = append(lats, time.Since(t))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lats)
	res.Capacity = float64(len(lats)) / time.Since(start).Seconds()
	res.CapacityP99 = Percentile(lats, 0.99)
	if res.Capacity <= 0 {
		return res, fmt.Errorf("no request succeeded in the capacity loop")
	}

	res.Offered = factor * res.Capacity
	interval := time.Duration(float64(time.Second) / res.Offered)
	var admitted []time.Duration
	var sent, shed, other, failed atomic.Int64
	end := time.Now().Add(offer)
	tick := time.NewTicker(max(interval, time.Microsecond))
	next := time.Now()
	for time.Now().Before(end) {
		<-tick.C
		// Catch up on the arrivals a slow tick missed.
		for ; !next.After(time.Now()); next = next.Add(interval) {
			sent.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.Now()
				code, err := get(ctx, hc, url, token)
				switch {
				case err != nil:
					failed.Add(1)
				case code == http.StatusServiceUnavailable:
					shed.Add(1)
				case code >= 500:
					other.Add(1)
				case code < 300:
					mu.Lock()
					admitted = append(admitted, time.Since(t))
					mu.Unlock()
				}
			}()
		}
	}
	tick.Stop()
	wg.Wait()
	slices.Sort(admitted)
	res.Sent, res.Admitted, res.Shed, res.Other5xx, res.Failed = int(sent.Load()), len(admitted), int(shed.Load()), int(other.Load()), int(failed.Load())
	res.AdmittedP50, res.AdmittedP99 = Percentile(admitted, 0.50), Percentile(admitted, 0.99)
	_, res.PeakRSS, _ = s.RSS()
	return res, nil
}

// FloodResult is what a flood of refused credentials left behind.
type FloodResult struct {
	Requests     int
	Unauthorized int
	Limited      int // 429
	Elapsed      time.Duration
	AuditRows    int // aggregated auth rows in the organization's trail
	AuditCount   int // attempts those rows count
}

func (r *FloodResult) String() string {
	return fmt.Sprintf("%d forged-token requests in %s: %d answered 401, %d answered 429; the organization's trail holds %d auth rows counting %d attempts",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Unauthorized, r.Limited, r.AuditRows, r.AuditCount)
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
	var i, unauth, limited atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i.Add(1) <= int64(n) {
				code, err := get(ctx, hc, s.URL+"/api/v1/organization", forged)
				switch {
				case err != nil:
				case code == http.StatusUnauthorized:
					unauth.Add(1)
				case code == http.StatusTooManyRequests:
					limited.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Unauthorized, res.Limited = int(unauth.Load()), int(limited.Load())
	return res, nil
}

// CountAuthRows reads the organization's aggregated auth rows.
func CountAuthRows(ctx context.Context, base, token string, into *FloodResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events?action=auth&limit=1000", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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
