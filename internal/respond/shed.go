package respond

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/membership"
)

// Defaults for a Gate.
const (
	// DefaultMaxInFlight was measured with bench/cmd/memberd-overload
	// (docs/security.md): on 2 shared cores 16, 64 and 256 shed alike and
	// none let another 5xx through, so 64 stays, leaving room on larger
	// machines and for writes that wait on the disk rather than the CPU.
	DefaultMaxInFlight = 64
	// DefaultQueueTimeout is how long a request may wait for a slot
	// before it is shed.
	DefaultQueueTimeout = 100 * time.Millisecond
	// ShedRetryAfter is the Retry-After a shed request is told.
	ShedRetryAfter = time.Second
)

// OverloadError is the refusal of a request the server had no room for.
type OverloadError struct{ Err *membership.Error }

func (e *OverloadError) Error() string { return e.Err.Error() }

// Unwrap exposes the core error so ErrorCode finds CodeUnavailable.
func (e *OverloadError) Unwrap() error { return e.Err }

// RetryAfter says when to try again.
func (e *OverloadError) RetryAfter() time.Duration { return ShedRetryAfter }

// Gate bounds the requests in flight across every handler it wraps: a
// request waits at most the queue timeout for a slot and is otherwise
// answered 503 with Retry-After by the writer of its own interface, so
// that an overload costs the shed requests almost nothing and the
// admitted ones keep their latency. A nil Gate admits everything.
type Gate struct {
	slots   chan struct{}
	timeout time.Duration
	shed    atomic.Int64
}

// NewGate returns a gate of maxInFlight slots (nil, admitting everything,
// when maxInFlight <= 0) with queueTimeout of waiting.
func NewGate(maxInFlight int, queueTimeout time.Duration) *Gate {
	if maxInFlight <= 0 {
		return nil
	}
	return &Gate{slots: make(chan struct{}, maxInFlight), timeout: max(queueTimeout, 0)}
}

// Shed is the number of requests the gate has refused.
func (g *Gate) Shed() int64 {
	if g == nil {
		return 0
	}
	return g.shed.Load()
}

// Wrap admits next's requests through the gate; write answers a shed one
// in next's interface's error format.
func (g *Gate) Wrap(next http.Handler, write func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.acquire(r) {
			g.shed.Add(1)
			write(w, r, &OverloadError{Err: membership.Errorf(membership.CodeUnavailable,
				"the server is overloaded; retry after %d second", int(ShedRetryAfter/time.Second))})
			return
		}
		defer func() { <-g.slots }()
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) acquire(r *http.Request) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.timeout <= 0 {
		return false
	}
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

// WithNoSniff sets X-Content-Type-Options: nosniff on every response, so
// that no browser runs an answer (an error echoing input, an uploaded
// name) as a type it guessed.
func WithNoSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One shared value rather than a new one per response: its
		// capacity is its length, so an Add appends to a copy.
		w.Header()["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

var nosniff = []string{"nosniff"}[:1:1]
