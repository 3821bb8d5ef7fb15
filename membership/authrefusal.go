package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds of the refused-authentication tally.
const (
	// AuthRefusalWindow is the least time between two audit rows of one
	// source: a flood of failed authentications costs at most one write per
	// source and window, not one per request.
	AuthRefusalWindow = time.Minute
	// MaxAuthRefusalSources bounds the sources counted in memory; attempts
	// from further client addresses are counted under "*" (many addresses),
	// so a flood of addresses cannot grow the tally without bound.
	MaxAuthRefusalSources = 4096
)

// ManyAddresses is the address an aggregated refusal row names when the
// attempts came from more addresses than the tally keeps apart.
const ManyAddresses = "*"

type clientAddressKey struct{}

// ContextWithClientAddress records the client address of the request ctx
// serves, for refusals audited before anyone is authenticated. The HTTP
// layer decides which address that is (a trusted proxy's header or the
// peer); the core only counts by it.
func ContextWithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// AddressBlock is the block of addresses that failed attempts are limited
// and counted by: an IPv4 address alone, an IPv6 address's /64, which is
// what one subscriber is usually handed, so that walking through a /64 is
// one source, not 2^64.
func AddressBlock(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// ClientAddress is the address ContextWithClientAddress recorded, or "".
func ClientAddress(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddressKey{}).(string)
	return addr
}

// refusalSource is what one aggregated row speaks for: the interface, the
// client address, and the organization, member and credential the
// attempts named (zero for secrets that name none).
type refusalSource struct {
	Interface    string
	Address      string
	OrgID        int64
	MemberID     int64
	CredentialID int64
}

// refusalCount is what the tally holds of one source.
type refusalCount struct {
	count     int
	reasons   map[string]int
	requestID string    // the first attempt's since the last row
	first     time.Time // of the attempts since the last row
	last      time.Time
	written   time.Time // when the source's last row was written
}

// authRefusals counts refused authentications in memory and turns them
// into at most one audit row per source and AuthRefusalWindow.
type authRefusals struct {
	mu      sync.Mutex
	sources map[refusalSource]*refusalCount
}

// pendingRow is a row taken out of the tally, to be written without the lock.
type pendingRow struct {
	src refusalSource
	refusalCount
}

// add counts one attempt and returns the row to write now: the first
// attempt of a source in a window is written at once, so that a single
// wrong attempt shows in the trail immediately; the rest wait for flush.
func (t *authRefusals) add(src refusalSource, reason, requestID string, now time.Time) *pendingRow {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.sources[src]
	if c == nil {
		if len(t.sources) >= MaxAuthRefusalSources {
			src.Address = ManyAddresses
			c = t.sources[src]
		}
		if c == nil {
			c = &refusalCount{}
			t.sources[src] = c
		}
	}
	if c.count == 0 {
		c.requestID, c.first = requestID, now
	}
	c.count++
	if c.reasons == nil {
		c.reasons = map[string]int{}
	}
	c.reasons[reason]++
	c.last = now
	if !c.written.IsZero() && now.Sub(c.written) < AuthRefusalWindow {
		return nil
	}
	return t.take(src, c, now)
}

// take empties c into a row written at now. The caller holds the lock.
func (t *authRefusals) take(src refusalSource, c *refusalCount, now time.Time) *pendingRow {
	row := &pendingRow{src: src, refusalCount: *c}
	*c = refusalCount{written: now}
	return row
}

// due takes every count whose window has passed (all of them when final)
// and forgets sources that stayed quiet for a whole window.
func (t *authRefusals) due(now time.Time, final bool) []*pendingRow {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rows []*pendingRow
	for src, c := range t.sources {
		quiet := now.Sub(c.written) >= AuthRefusalWindow
		switch {
		case c.count > 0 && (quiet || final):
			rows = append(rows, t.take(src, c, now))
		case c.count == 0 && quiet:
			delete(t.sources, src)
		}
	}
	return rows
}

// event is the audit row of r.
func (r *pendingRow) event(s *Service) *Event {
	a := Actor{OrgID: r.src.OrgID, MemberID: r.src.MemberID, CredentialID: r.src.CredentialID,
		Interface: r.src.Interface, RequestID: r.requestID}
	e := s.newEvent(a, ActionRequestAuthenticated, OutcomeRefused)
	e.At = r.last
	e.Message = r.message()
	e.After, _ = json.Marshal(map[string]any{ // a map of strings and numbers always encodes
		"count": r.count, "address": r.src.Address, "reasons": r.reasons, "first_at": r.first, "last_at": r.last,
	})
	return e
}

// message words the row: the reason alone for one attempt, else each
// reason with its count, most frequent first.
func (r *pendingRow) message() string {
	reasons := slices.SortedFunc(maps.Keys(r.reasons), func(a, b string) int {
		if d := r.reasons[b] - r.reasons[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	if r.count == 1 {
		return reasons[0]
	}
	parts := make([]string, len(reasons))
	for i, reason := range reasons {
		parts[i] = fmt.Sprintf("%s (%d attempts)", reason, r.reasons[reason])
	}
	return strings.Join(parts, "; ")
}

// writeRefusals appends rows, each in its own write; a failure is logged,
// as a refusal's audit must never change the refused client's answer.
func (s *Service) writeRefusals(ctx context.Context, rows ...*pendingRow) {
	ctx = context.WithoutCancel(ctx)
	for _, r := range rows {
		e := r.event(s)
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.EventAppend(ctx, e) }); err != nil {
			s.cfg.Logger.Error("audit refused authentication", "count", r.count, "err", err)
		}
	}
}

// refuseAuth counts one refused authentication of src.
func (s *Service) refuseAuth(ctx context.Context, src refusalSource, requestID, reason string) {
	src.Address = AddressBlock(ClientAddress(ctx))
	// Counted per request for metrics even though rows are written in
	// aggregate: the observer is memory, not a write.
	s.observe(ActionRequestAuthenticated, src.Interface, string(CodeUnauthorized), true)
	if row := s.authRefusals.add(src, reason, requestID, s.now()); row != nil {
		s.writeRefusals(ctx, row)
	}
}

// FlushAuthRefusals writes the aggregated rows of refused authentications
// whose window has passed; final writes every count, for shutdown. Run it
// every AuthRefusalWindow or so (see RunAuthRefusalFlusher).
func (s *Service) FlushAuthRefusals(ctx context.Context, final bool) {
	s.writeRefusals(ctx, s.authRefusals.due(s.now(), final)...)
}

// RunAuthRefusalFlusher flushes refused authentications every tick until
// ctx ends, then writes what is left.
func (s *Service) RunAuthRefusalFlusher(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.FlushAuthRefusals(ctx, false)
		case <-ctx.Done():
			s.FlushAuthRefusals(ctx, true)
			return
		}
	}
}
