// Package respond is the leaf every HTTP adapter shares: the one table
// from a core error Code to an HTTP status, bounded body reading, JSON
// writing, request ids and the server's logger. Each adapter wraps these
// in its own error envelope; none picks a status at a call site.
package respond

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/memberd/memberd/membership"
)

// DefaultMaxBody bounds every request body memberd reads.
const DefaultMaxBody = 1 << 20

var statuses = map[membership.Code]int{
	membership.CodeInvalid:          http.StatusBadRequest,
	membership.CodeUnauthorized:     http.StatusUnauthorized,
	membership.CodeForbidden:        http.StatusForbidden,
	membership.CodeNotFound:         http.StatusNotFound,
	membership.CodeConflict:         http.StatusConflict,
	membership.CodeGone:             http.StatusGone,
	membership.CodeTooLarge:         http.StatusRequestEntityTooLarge,
	membership.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	membership.CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	membership.CodeUnprocessable:    http.StatusUnprocessableEntity,
	membership.CodeRateLimited:      http.StatusTooManyRequests,
	membership.CodeUnavailable:      http.StatusServiceUnavailable,
	membership.CodeInternal:         http.StatusInternalServerError,

	// Guarded removals (issue 15).
	membership.CodePreconditionFailed: http.StatusPreconditionFailed,
	membership.CodeApprovalRequired:   http.StatusConflict,
}

// Status is the HTTP status for err.
func Status(err error) int {
	if s, ok := statuses[membership.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Message is the client-safe message for err. Internal errors are logged
// here, once, and shown only as "internal error".
func Message(r *http.Request, err error) string {
	if membership.ErrorCode(err) == membership.CodeInternal {
		logger(r).ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path,
			"request_id", RequestID(r), "err", err)
	}
	return membership.ErrorMessage(err)
}

// requestState is what the middleware learns about one request: made by
// WithLogger, filled by WithRequestID, so that a request pays one context
// value and one copy of itself for both.
type requestState struct {
	logger *slog.Logger
	id     string
}

type stateKey struct{}

// WithLogger makes l the logger respond writes to for every request next
// serves, so that internal errors and panics go where the server's logs
// go rather than to slog's process-wide default.
func WithLogger(next http.Handler, l *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, &requestState{logger: l})))
	})
}

// logger is the request's logger (see WithLogger). A handler mounted
// without one, as in a package's own tests, logs to slog's default.
func logger(r *http.Request) *slog.Logger {
	if st, ok := r.Context().Value(stateKey{}).(*requestState); ok && st.logger != nil {
		return st.logger
	}
	return slog.Default()
}

// JSON writes v as a JSON response with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// ReadBody reads at most limit bytes of r's body and refuses more with
// CodeTooLarge naming the limit, so no request can make memberd allocate
// without bound.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, membership.Errorf(membership.CodeInvalid, "could not read the request body")
	}
	if int64(len(data)) > limit {
		return nil, membership.Errorf(membership.CodeTooLarge, "request body is larger than the limit of %d bytes", limit)
	}
	return data, nil
}

type requestIDKey struct{}

// RequestID returns the request's id (see WithRequestID).
func RequestID(r *http.Request) string {
	ctx := r.Context()
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st.id
	}
	return ""
}

// WithRequestID gives every request an id, taken from X-Request-Id when
// the client sent a sane one, and echoes it in the response.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newRequestID(time.Now())
		}
		w.Header().Set("X-Request-Id", id)
		// Under WithLogger the id joins the request's state, saving a
		// copy of the request, unless an id in the context would shadow it.
		if st, ok := r.Context().Value(stateKey{}).(*requestState); ok && st.id == "" && r.Context().Value(requestIDKey{}) == nil {
			st.id = id
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWithRequestID(r, id)))
	})
}

// newRequestID returns 24 hex digits: the time in milliseconds, then 48
// random bits. Each audit event is indexed by its organization and request
// id, and ids that grow with time add those index entries next to the
// previous ones instead of dirtying a page at random on every removal.
func newRequestID(now time.Time) string {
	var b [12]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	var h [24]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

func contextWithRequestID(r *http.Request, id string) context.Context {
	return context.WithValue(r.Context(), requestIDKey{}, id)
}

// RetryAfter is implemented by errors that tell the client when to retry.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// SetRetryAfter sets the Retry-After header (whole seconds, at least 1)
// when err says when to retry.
func SetRetryAfter(w http.ResponseWriter, err error) {
	var ra RetryAfter
	if errors.As(err, &ra) {
		secs := int(ra.RetryAfter().Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
}

// Recover turns a panic in a handler into a logged 500 instead of a torn
// connection; handlers must not panic, and this keeps the promise if one does.
func Recover(next http.Handler, write func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger(r).ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", v)
				write(w, r, &membership.Error{Code: membership.CodeInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
