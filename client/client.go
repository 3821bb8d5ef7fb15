// Package client is a Go client for memberd's native API under /api/v1.
//
// It is written by hand over one table of endpoints (endpoints.go): each
// method names its endpoint, and a test holds every endpoint's method,
// path, parameters and body fields to the OpenAPI document the server
// serves, so the client cannot drift from the API unnoticed.
//
// Every mutating call carries an Idempotency-Key: the one given with
// WithIdempotencyKey, or a random one made for the call. A call refused
// with 429 or 503 is retried after the server's Retry-After with the same
// key, a bounded number of times and never beyond Retry.MaxWait, so a
// retry never has a second effect. Errors the server answers are *Error,
// decoded from problem+json.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Defaults for Retry.
const (
	DefaultAttempts = 8
	DefaultMaxWait  = time.Minute
)

// maxResponse bounds an answer the client reads.
const maxResponse = 64 << 20

// Client calls one memberd server with one credential.
type Client struct {
	base  string
	token string
	// HTTP sends the requests; http.DefaultClient unless set.
	HTTP *http.Client
	// Retry says how refusals for load (429, 503) are retried.
	Retry Retry
	// sleep waits before a retry; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Retry bounds how a call refused with 429 or 503 is retried.
type Retry struct {
	// Attempts is the most times one call is sent; 1 never retries.
	Attempts int
	// MaxWait is the longest the client waits before one retry: a server
	// asking for longer gets its error back instead.
	MaxWait time.Duration
}

// New returns a client of the server at base (e.g. http://127.0.0.1:8080)
// that authenticates with token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, HTTP: http.DefaultClient,
		Retry: Retry{Attempts: DefaultAttempts, MaxWait: DefaultMaxWait}, sleep: sleep}
}

// Error is an answer outside 2xx, decoded from its problem+json body.
type Error struct {
	Status   int    `json:"status"`
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors are the details of an input refused by validation.
	Errors []ErrorDetail `json:"errors,omitempty"`
	// Limit is the limit the request went beyond (a batch removal's most
	// members), when the server names one.
	Limit int `json:"limit,omitempty"`
	// RetryAfter is when the server said to try again (429, 503).
	RetryAfter time.Duration `json:"-"`
	// RequestID is the server's id of the request, for its logs.
	RequestID string `json:"-"`
}

// ErrorDetail is one reason an input was refused.
type ErrorDetail struct {
	Message  string `json:"message,omitempty"`
	Location string `json:"location,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("server answered %d: %s", e.Status, msg)
}

// StatusOf is the HTTP status of the server's answer err carries, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// retryable says a refusal is about load, not the request.
func (e *Error) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable
}

type idempotencyKey struct{}

// WithIdempotencyKey makes the mutating calls made with ctx carry key, so
// that sending the same call again, even from another process, has no
// second effect and gets the first answer.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

type preferKey struct{}

// withPrefer makes the call made with ctx send a Prefer header (RFC 7240).
func withPrefer(ctx context.Context, prefer string) context.Context {
	return context.WithValue(ctx, preferKey{}, prefer)
}

// answer is a 2xx answer read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends one call of e, retrying refusals for load, and returns its
// 2xx answer or an *Error.
func (c *Client) do(ctx context.Context, e *endpoint, path []string, query, body any) (*answer, error) {
	target, err := e.url(c.base, path, query)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode %s body: %w", e.ID, err)
		}
	}
	key, _ := ctx.Value(idempotencyKey{}).(string)
	if key == "" && e.mutating() {
		key = randomKey()
	}
	attempts := max(c.Retry.Attempts, 1)
	for n := 1; ; n++ {
		a, err := c.send(ctx, e, target, payload, key)
		var apiErr *Error
		if err == nil || !errors.As(err, &apiErr) || !apiErr.retryable() || n >= attempts {
			return a, err
		}
		wait := retryWait(apiErr.RetryAfter, n)
		if c.Retry.MaxWait > 0 && wait > c.Retry.MaxWait {
			return nil, err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// retryWait is how long to wait before retry n: what the server asked,
// or an exponential backoff when it did not say, plus up to a quarter
// more, so clients the same refusal stopped do not all return at once.
func retryWait(retryAfter time.Duration, n int) time.Duration {
	wait := retryAfter
	if wait <= 0 {
		wait = min(250*time.Millisecond<<min(n-1, 8), 30*time.Second)
	}
	return wait + mrand.N(wait/4+1)
}

func (c *Client) send(ctx context.Context, e *endpoint, target string, payload []byte, key string) (*answer, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, e.Method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	setConditions(ctx, req)
	if prefer, _ := ctx.Value(preferKey{}).(string); prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	keepETag(ctx, resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("read %s answer: %w", e.ID, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, decodeError(resp, data)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// ExportEvents streams the organization's audit events, oldest first, as
// JSON Lines or CSV. The caller reads and closes the stream; an export cut
// short resumes with p.After set to the last event id received. Nothing is
// buffered here, so an export of any size runs in constant memory.
func (c *Client) ExportEvents(ctx context.Context, p ExportEventsParams) (io.ReadCloser, error) {
	target, err := epExportEvents.url(c.base, nil, p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse)) // the status alone is the error if this fails
		return nil, decodeError(resp, data)
	}
	return resp.Body, nil
}

// decodeError reads a refusal; a body that is not problem+json still
// gives the status.
func decodeError(resp *http.Response, data []byte) *Error {
	e := &Error{}
	_ = json.Unmarshal(data, e) // a body of another shape leaves only the status
	e.Status = resp.StatusCode
	e.RequestID = resp.Header.Get("X-Request-Id")
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = max(time.Until(t), 0)
	}
	return e
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// call sends a call of e and decodes its answer into a new T.
func call[T any](ctx context.Context, c *Client, e *endpoint, path []string, query, body any) (*T, error) {
	a, err := c.do(ctx, e, path, query, body)
	if err != nil {
		return nil, err
	}
	var v T
	if err := unmarshal(e, a.body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func unmarshal(e *endpoint, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s answer: %w", e.ID, err)
	}
	return nil
}

// encodeQuery writes the fields of a struct tagged `query:"name"` that are
// not zero.
func encodeQuery(q any) url.Values {
	vals := url.Values{}
	if q == nil {
		return vals
	}
	v := reflect.Indirect(reflect.ValueOf(q))
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("query")
		f := v.Field(i)
		if name == "" || f.IsZero() {
			continue
		}
		switch x := f.Interface().(type) {
		case time.Time:
			vals.Set(name, x.Format(time.RFC3339Nano))
		default:
			vals.Set(name, fmt.Sprint(x))
		}
	}
	return vals
}
