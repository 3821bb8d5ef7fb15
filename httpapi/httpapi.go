// Package httpapi owns memberd's native REST API under /api/v1: the whole
// model (members, spaces, groups, resources, grants, bookings, access
// checks, removals with dry-run previews, batches, restores, audit events
// and credentials), the asynchronous work behind it (operations, scheduled
// removals, webhooks and their deliveries), its OpenAPI 3.1 document at
// /openapi.json and a docs page at /docs.
//
// A removal that takes effective_at (DELETE of a member, a space or group
// membership; offboard; role revocation) is scheduled through the core
// instead of made now: it answers 202 with the operation and Location
// /api/v1/operations/{id}, where it can be polled, previewed and cancelled.
//
// Operations are registered with huma, so the OpenAPI document is built
// from the very operations that serve requests and cannot drift from them.
// Every /api/v1 operation authenticates with "Authorization: Bearer", checks
// one scope, and answers errors as RFC 9457 problem+json with the status
// from the one Code table (internal/respond). Mutating calls honour
// Idempotency-Key (promise 5): the core stores the result with the change,
// and this package renders a replayed result exactly as the first one.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names the native API in the audit trail.
const Interface = "native"

// Prefix is where the native API lives; /v1 belongs to the Jicoo dialect.
const Prefix = "/api/v1"

// MaxIdempotencyKey bounds an Idempotency-Key header.
const MaxIdempotencyKey = 255

// metaScope is the operation metadata key naming the scope it requires.
const metaScope = "memberd-scope"

// metaDeferredAuth is the operation metadata key saying its one core call
// confirms a credential from the credential cache itself (CheckAccess, a
// single RemoveMember; membership.WithDeferredAuthentication): its value
// tells a request that will reach that call (see route.confirmsCredential).
const metaDeferredAuth = "memberd-deferred-auth"

// metaNoStore is the operation metadata key saying its answer carries a
// secret (see route.secret).
const metaNoStore = "memberd-no-store"

// securityScheme names the bearer scheme in the OpenAPI document.
const securityScheme = "bearer"

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
	api   huma.API
	mux   *http.ServeMux
	// routes lists every "METHOD /path" pattern huma put on the mux, in
	// registration order, so tests can hold the document to the mux.
	routes []string
	docs   []byte
	// check serves the access check without huma's reflection (checkfast.go).
	check checkFast
	// serve is the mux behind panic recovery; withID also assigns request ids.
	serve, withID http.Handler
}

// recordingMux is the mux huma registers on: it remembers each pattern.
type recordingMux struct {
	*http.ServeMux
	h *handler
}

func (m recordingMux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.h.routes = append(m.h.routes, pattern)
	m.ServeMux.HandleFunc(pattern, fn)
}

// NewHandler returns the native API, its OpenAPI document and docs page.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	return newHandler(svc, authn)
}

// Document returns the OpenAPI document as /openapi.json serves it, for
// tools that check it without running a server (memberd openapi).
func Document() ([]byte, error) {
	// Registering operations calls neither the service nor the authenticator.
	return json.Marshal(newHandler(nil, nil).api.OpenAPI())
}

func newHandler(svc *membership.Service, authn *auth.Authenticator) *handler {
	h := &handler{svc: svc, authn: authn, mux: http.NewServeMux()}
	h.api = humago.New(recordingMux{ServeMux: h.mux, h: h}, apiConfig())
	h.api.UseMiddleware(h.authenticate)
	h.api.UseMiddleware(h.canonicalIntegers)
	h.register()
	h.docs = renderDocs(h.api.OpenAPI())
	h.mux.HandleFunc("GET /docs", h.serveDocs)
	h.mux.HandleFunc(Prefix+"/", h.noRoute)
	if item := h.api.OpenAPI().Paths[checkPath]; item != nil && item.Get != nil {
		h.check = checkFast{op: item.Get, pattern: http.MethodGet + " " + checkPath}
	}
	h.serve = respond.Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.serveCheck(w, r) {
			h.mux.ServeHTTP(w, r)
		}
	}), writeProblem)
	h.withID = respond.WithRequestID(h.serve)
	return h
}

func apiConfig() huma.Config {
	cfg := huma.DefaultConfig("memberd native API", "1.0.0")
	// No $schema links in bodies: a response is exactly the core's JSON,
	// which keeps an idempotent replay byte-identical and clients simple.
	cfg.CreateHooks = nil
	cfg.SchemasPath = ""
	// The docs page is served by this package without third-party scripts:
	// memberd is self-hosted and may run where no CDN is reachable.
	cfg.DocsPath = ""
	cfg.Info.Description = apiDescription
	// Paths in the document carry the /api/v1 prefix, so the one server is
	// the root of whichever host served the document (a relative URL).
	cfg.Servers = []*huma.Server{{URL: "/", Description: "The memberd server that served this document."}}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {Type: "http", Scheme: "bearer", Description: "A memberd credential secret (mbd_...)."},
	}
	cfg.Transformers = append(cfg.Transformers, boundProblem)
	return cfg
}

// Bounds on what a problem echoes of a refused body. huma's validator
// reports every unknown property with the whole object it sits in as the
// value, so a 1 MiB body of 60,000 unknown keys answered 60,000 copies
// of itself: quadratic, enough for one request to exhaust the server's
// memory.
const (
	maxProblemErrors = 20
	maxProblemValue  = 200 // bytes of a string value
)

// boundProblem lists at most maxProblemErrors of a problem's errors and
// echoes only scalar values, strings cut to maxProblemValue bytes: the
// location and message say what is wrong, the value only reminds.
func boundProblem(_ huma.Context, _ string, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	if n := len(m.Errors); n > maxProblemErrors {
		m.Errors = append(m.Errors[:maxProblemErrors:maxProblemErrors],
			&huma.ErrorDetail{Message: fmt.Sprintf("and %d more errors", n-maxProblemErrors)})
	}
	for _, d := range m.Errors {
		if d != nil {
			d.Value = boundedValue(d.Value)
		}
	}
	return m, nil
}

// boundedValue is v as a problem may echo it: objects and arrays are
// dropped, strings cut on a character boundary.
func boundedValue(v any) any {
	switch v := v.(type) {
	case nil, bool, float64, int, int64, json.Number:
		return v
	case string:
		if len(v) <= maxProblemValue {
			return v
		}
		cut := maxProblemValue
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return v[:cut] + "…"
	}
	return nil
}

const apiDescription = `memberd's own API for the whole membership model.

Authenticate with "Authorization: Bearer <secret>". Each operation needs one scope
(members:read, members:write, audit:read or credentials:manage). Another organization's
ids answer 404.

Errors are RFC 9457 problem+json. A batch removal naming more members than the server's
batch limit is refused with 400 and a "limit" member holding that limit. Request bodies are limited to 1 MiB (413 beyond).
Every POST, PATCH and DELETE accepts an Idempotency-Key header (at most 255 characters):
a retry with the same key and body returns the first answer without a second effect,
and the same key with another body is refused with 422.

GET of a member, a space, a group or a space or group membership answers a strong ETag, a
digest of the representation sent; If-None-Match naming it (or "*") answers 304 with no body.
PATCH of a member and the removal of a member or a space or group membership honour If-Match
with that tag ("*" matches any): when the resource changed since, the answer is 412 naming it
and nothing changes. A removal's If-Match may also be its dry run's ETag, which runs it only
while it would do exactly what the dry run answered. A PATCH answers the new ETag.

Removals run at once unless given effective_at (RFC 3339): then they are scheduled, and
the answer is 202 with the operation and its Location under /api/v1/operations. Lists
that grow page with a cursor (after or before, from the previous page) and limit (at most 1000).`

// ServeHTTP gives the request an id (unless an outer handler did) and
// turns a panic into a problem+json 500.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if respond.RequestID(r) == "" {
		h.withID.ServeHTTP(w, r)
		return
	}
	h.serve.ServeHTTP(w, r)
}

// call is what the middleware learned about a request for its operation.
type call struct {
	r       *http.Request
	w       http.ResponseWriter
	actor   membership.Actor
	auth    *auth.Call
	reached bool // the operation's core call was made
	// pre carries a mutating call's If-Match to the core and the ETag of
	// the removal it made or previewed back (see plans.go).
	pre *membership.Guard
}

type callKey struct{}

func mutating(method string) bool {
	return method == http.MethodPost || method == http.MethodPatch || method == http.MethodDelete ||
		method == http.MethodPut
}

// authenticate runs before huma decodes anything: it authenticates, checks
// the operation's scope, bounds the body and applies Idempotency-Key.
func (h *handler) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if _, ok := op.Metadata[metaScope].(string); !ok {
		next(ctx)
		return
	}
	r, _ := humago.Unwrap(ctx)
	// Parsed once for both: parsing cost an access check about 1 us.
	var query url.Values
	if r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	c, rctx, ok := h.begin(ctx, query)
	if !ok {
		return
	}
	next(huma.WithContext(ctx, context.WithValue(rctx, callKey{}, c)))
	if !c.reached && mutating(r.Method) && ctx.Status() >= 400 {
		// huma refused the input (malformed JSON, wrong types) before any
		// core call could audit it; record the attempt here.
		_ = c.auth.Refuse(membership.Errorf(membership.CodeInvalid, "request refused with status %d: invalid input", ctx.Status()))
	}
}

// begin is the middleware's work before the operation decodes its input:
// it authenticates, checks the operation's scope, bounds the body and
// applies Idempotency-Key, and returns the call and the context the core
// call runs in; or answers the request itself and returns false.
func (h *handler) begin(ctx huma.Context, query url.Values) (*call, context.Context, bool) {
	op := ctx.Operation()
	scope, _ := op.Metadata[metaScope].(string)
	r, w := humago.Unwrap(ctx)
	if noStore, _ := op.Metadata[metaNoStore].(bool); noStore {
		w.Header().Set("Cache-Control", "no-store")
	}
	ar := r // huma reads the body and parameters from r itself
	if t, ok := pathTarget(ctx); ok {
		// A refusal at any stage, before the core call too, names it.
		ar = r.WithContext(membership.WithEventTarget(r.Context(), t))
	}
	queryErr := unknownQuery(op, query)
	if reaches, _ := op.Metadata[metaDeferredAuth].(func(huma.Context, url.Values) bool); reaches != nil && queryErr == nil && reaches(ctx, query) {
		ar = ar.WithContext(membership.WithDeferredAuthentication(ar.Context()))
	}
	ac, err := h.authn.Authorize(ar, auth.Need{Interface: Interface, Action: membership.ActionFor(op.OperationID), Scope: scope, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		h.writeErr(ctx, r, w, err) // Authorize audited it
		return nil, nil, false
	}
	c := &call{r: r, w: w, actor: ac.Actor, auth: ac}
	refuse := func(err error) { h.writeErr(ctx, r, w, ac.Refuse(err)) }
	if queryErr != nil {
		refuse(queryErr)
		return nil, nil, false
	}
	rctx := ar.Context()
	if mutating(r.Method) {
		body, err := respond.ReadBody(r, respond.DefaultMaxBody)
		if err != nil {
			refuse(err)
			return nil, nil, false
		}
		// huma reads the body from r after this; hand it the bytes read.
		r.Body = io.NopCloser(bytes.NewReader(body))
		if keys, present := r.Header[http.CanonicalHeaderKey("Idempotency-Key")]; present {
			key := keys[0]
			if key == "" || len(key) > MaxIdempotencyKey || len(keys) > 1 {
				refuse(membership.Errorf(membership.CodeInvalid,
					"Idempotency-Key must be one value of 1 to %d characters", MaxIdempotencyKey))
				return nil, nil, false
			}
			rctx = membership.WithIdempotency(rctx, key, requestHash(r, body))
		}
		c.pre = &membership.Guard{IfMatch: ifMatch(r)}
		rctx = membership.WithGuard(rctx, c.pre)
	}
	return c, rctx, true
}

// requestHash identifies a mutating request for Idempotency-Key: the
// method, the path with its query (dry_run changes the meaning) and the body.
func requestHash(r *http.Request, body []byte) string {
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.RequestURI()+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

// writeErr answers err as problem+json from the middleware.
func (h *handler) writeErr(ctx huma.Context, r *http.Request, w http.ResponseWriter, err error) {
	respond.SetRetryAfter(w, err)
	setChallenge(w, r, err)
	_ = huma.WriteErr(h.api, ctx, respond.Status(err), respond.Message(r, err)) // the client is gone if this fails
}

// setChallenge answers a 401 with the RFC 6750 challenge: the bare
// scheme when the request carried no bearer token, error="invalid_token"
// when the token it carried did not authenticate.
func setChallenge(w http.ResponseWriter, r *http.Request, err error) {
	if membership.ErrorCode(err) != membership.CodeUnauthorized {
		return
	}
	challenge := `Bearer realm="memberd"`
	if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
}

// problem turns a core error into the huma error the operation returns.
func problem(c *call, err error) error {
	respond.SetRetryAfter(c.w, err)
	setChallenge(c.w, c.r, err) // a cached credential is confirmed by the core call itself
	status := respond.Status(err)
	model := huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: respond.Message(c.r, err)}
	var le *limitError
	if errors.As(err, &le) {
		return &limitProblem{ErrorModel: model, Limit: le.limit}
	}
	var ar *membership.ApprovalRequired
	if errors.As(err, &ar) && ar.PlanID != "" {
		return &approvalProblem{ErrorModel: model, Plan: ar.PlanID}
	}
	return &model
}

// limitError is a refusal for exceeding a limit the client can learn from
// the answer: problem adds the limit to the problem as an extension member,
// so a client need not parse it out of the detail.
type limitError struct {
	err   error
	limit int
}

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

// limitProblem is problem+json with a "limit" extension member (RFC 9457
// section 3.2).
type limitProblem struct {
	huma.ErrorModel
	Limit int `json:"limit"`
}

// WriteError answers err as problem+json outside any operation, for
// middleware in front of the API (load shedding).
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeProblem(w, r, err) }

// writeProblem writes err as problem+json outside huma (unknown routes,
// panics), with the same shape huma writes.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	respond.SetRetryAfter(w, err)
	status := respond.Status(err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = huma.DefaultJSONFormat.Marshal(w, &huma.ErrorModel{ // the client is gone if this fails
		Status: status, Title: http.StatusText(status), Detail: respond.Message(r, err),
	})
}

// noRoute answers a path under /api/v1 that no operation serves: 405 with
// Allow when the path exists for other methods, 404 otherwise.
func (h *handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != Prefix+"/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, membership.Errorf(membership.CodeMethodNotAllowed,
			"method %s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", ")))
		return
	}
	writeProblem(w, r, membership.Errorf(membership.CodeNotFound, "no such route: %s %s", r.Method, r.URL.Path))
}

// operation adapts a core call to a huma handler: it hands fn the actor
// the middleware authenticated and turns fn's error into problem+json.
func operation[I, O any](fn func(ctx context.Context, a membership.Actor, in *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		c, ok := ctx.Value(callKey{}).(*call)
		if !ok {
			// Every /api/v1 operation carries a scope, so the middleware
			// always ran; reaching here without it is a bug.
			return nil, &huma.ErrorModel{Status: http.StatusInternalServerError,
				Title: http.StatusText(http.StatusInternalServerError), Detail: "internal error"}
		}
		c.reached = true
		out, err := fn(ctx, c.actor, in)
		if err != nil {
			return nil, problem(c, err)
		}
		if c.pre != nil && c.pre.ETag != "" {
			c.w.Header().Set("ETag", c.pre.ETag)
		}
		if c.pre != nil && c.pre.RemovalID != "" {
			c.w.Header().Set("Removal-Id", c.pre.RemovalID)
		}
		return out, nil
	}
}

// location is the URL of a created entity.
func location(parts ...any) string {
	var b strings.Builder
	b.WriteString(Prefix)
	for _, p := range parts {
		b.WriteByte('/')
		switch v := p.(type) {
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case string:
			b.WriteString(v)
		}
	}
	return b.String()
}
