// Package oauth owns memberd's OAuth 2.0 endpoints, at the standard paths
// and at the paths the vendors' clients already call, so that a client
// written against a vendor's documentation changes nothing but its base
// URL:
//
//	POST /oauth2/token                          token (RFC 6749)
//	POST /iam/v1/oauth2/token                   token, Workiva's path
//	POST /api/oauth2/token                      token, HighQ's path
//	GET  /oauth2/authorize                      authorization (to the console's consent page)
//	GET  /authorize.action                      authorization, HighQ's path
//	POST /oauth2/revoke                         revocation (RFC 7009)
//	POST /oauth2/introspect                     introspection (RFC 7662)
//	GET  /.well-known/oauth-authorization-server metadata (RFC 8414)
//
// Workiva's documentation (developers.workiva.com, "Retrieve a token")
// exchanges a client id and secret for a bearer token with
// grant_type=client_credentials, the client authenticating by HTTP Basic
// (preferred) or by client_id and client_secret in a form or JSON body, an
// optional scope, and answers {access_token, expires_in, scope,
// token_type}. HighQ's ("API Access Mechanism using OAuth2") sends a
// browser to {instance}/authorize.action?response_type=code&client_id=…&
// redirect_uri=…, gets a code valid 30 minutes on the redirect URI, and
// posts grant_type=authorization_code&client_id=…&client_secret=…&code=…
// to {instance}/api/oauth2/token for an access token with an expiry and a
// refresh token; memberd is its own instance, so the instance path is
// empty. Both documents are silent on errors: they are RFC 6749's
// {error, error_description} with its statuses (401 invalid_client, 400
// for the rest), and 429 temporarily_unavailable with Retry-After once a
// client_id has failed authentication too often. Every answer carries
// Cache-Control: no-store.
//
// The decisions (who a client is, what a token may do, what a consent
// grants) are the core's (membership/oauth.go); this package decodes,
// makes one core call and encodes.
package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names these endpoints in the audit trail.
const Interface = "oauth"

// Paths the server mounts this handler at.
var Paths = []string{
	"/oauth2/", "/iam/v1/oauth2/token", "/api/oauth2/token", "/authorize.action", "/.well-known/oauth-authorization-server",
}

// Defaults for Config.
const (
	// DefaultFailureRate and DefaultFailureBurst bound failed client
	// authentications per client address: ten, then one every six
	// seconds. Per address, not per client_id: a stranger who knows a
	// client's id must not be able to lock the real client out.
	DefaultFailureRate  = 10.0 / 60
	DefaultFailureBurst = 10
	// DefaultConsentPath is the console's consent page.
	DefaultConsentPath = "/admin/oauth/authorize"
	// MaxBody bounds a request body; every parameter fits in far less.
	MaxBody = 64 << 10
)

// Config holds the handler's optional settings.
type Config struct {
	FailureRate  float64
	FailureBurst int
	ConsentPath  string
}

// DefaultConfig returns the settings memberd runs with.
func DefaultConfig() Config {
	return Config{FailureRate: DefaultFailureRate, FailureBurst: DefaultFailureBurst, ConsentPath: DefaultConsentPath}
}

type handler struct {
	svc      *membership.Service
	cfg      Config
	failures *auth.AddrLimiter // nil without a failure limit
}

// NewHandler returns the OAuth endpoints.
func NewHandler(svc *membership.Service, cfg Config) http.Handler {
	if cfg.ConsentPath == "" {
		cfg.ConsentPath = DefaultConsentPath
	}
	h := &handler{svc: svc, cfg: cfg}
	if cfg.FailureRate > 0 {
		h.failures = auth.NewAddrLimiter(rate.Limit(cfg.FailureRate), cfg.FailureBurst)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/oauth2/token", "/iam/v1/oauth2/token", "/api/oauth2/token"} {
		mux.HandleFunc("POST "+p, h.token)
	}
	mux.HandleFunc("GET /oauth2/authorize", h.authorize)
	mux.HandleFunc("GET /authorize.action", h.authorize)
	mux.HandleFunc("POST /oauth2/revoke", h.revoke)
	mux.HandleFunc("POST /oauth2/introspect", h.introspect)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", h.metadata)
	mux.HandleFunc("/", h.notFound)
	return respond.Recover(mux, func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, err) })
}

// params is a decoded token, revocation or introspection request.
type params map[string]string

var knownParams = map[string]bool{
	"grant_type": true, "client_id": true, "client_secret": true, "scope": true, "code": true, "redirect_uri": true,
	"code_verifier": true, "refresh_token": true, "token": true, "token_type_hint": true,
}

func invalid(format string, args ...any) error {
	return &membership.OAuthError{Kind: membership.OAuthInvalidRequest, Err: membership.Errorf(membership.CodeInvalid, format, args...)}
}

// decodeBody reads a form or JSON body (Workiva documents both). A
// parameter given twice is refused (RFC 6749 3.2), unknown ones ignored.
func decodeBody(r *http.Request) (params, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, invalid("Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, invalid("the body could not be read")
	}
	if len(data) > MaxBody {
		return nil, invalid("the body is larger than %d bytes", MaxBody)
	}
	p := params{}
	switch mt {
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, invalid("the form body is malformed")
		}
		for k, v := range q {
			if !knownParams[k] {
				continue
			}
			if len(v) > 1 {
				return nil, invalid("parameter %s is given more than once", k)
			}
			p[k] = v[0]
		}
	case "application/json":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
			return nil, invalid("the JSON body must be an object")
		}
		for k, v := range raw {
			if !knownParams[k] {
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, invalid("parameter %s must be a string", k)
			}
			p[k] = s
		}
	default:
		return nil, invalid("Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	for k, v := range p {
		if strings.ContainsRune(v, 0) || len(v) > 4096 {
			return nil, invalid("parameter %s is malformed", k)
		}
	}
	return p, nil
}

// clientAuth finds the client's id and secret in the Basic header or the
// body, never both (RFC 6749 2.3).
func clientAuth(r *http.Request, p params) (membership.OAuthClientAuth, error) {
	a := membership.OAuthClientAuth{Interface: Interface, RequestID: respond.RequestID(r)}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		a.ClientID, a.ClientSecret = p["client_id"], p["client_secret"]
		return a, nil
	}
	scheme, value, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return a, &membership.OAuthError{Kind: membership.OAuthInvalidClient,
			Err: membership.Errorf(membership.CodeUnauthorized, "client authentication must use the Basic scheme")}
	}
	if p["client_secret"] != "" {
		return a, invalid("client credentials must be sent in the Authorization header or the body, not both")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	id, secret, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok {
		return a, &membership.OAuthError{Kind: membership.OAuthInvalidClient,
			Err: membership.Errorf(membership.CodeUnauthorized, "the Basic credentials are malformed")}
	}
	// RFC 6749 2.3.1 form-encodes both before Basic; most clients do not,
	// and an id or secret of memberd's form reads the same either way.
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if u, err := url.QueryUnescape(secret); err == nil {
		secret = u
	}
	if p["client_id"] != "" && p["client_id"] != id {
		return a, invalid("client_id differs from the Basic credentials")
	}
	a.ClientID, a.ClientSecret = id, secret
	return a, nil
}

// throttled refuses a client address that failed client authentication
// too often, before any secret is looked at.
func (h *handler) throttled(r *http.Request, action string) error {
	if h.failures == nil {
		return nil
	}
	wait, spent := h.failures.Spent(respond.ClientAddr(r))
	if !spent {
		return nil
	}
	err := &throttle{wait: wait, err: membership.Errorf(membership.CodeRateLimited,
		"too many failed client authentications from this address; retry in %d seconds", int(wait.Seconds())+1)}
	h.refused(r, action, err)
	return err
}

// failed counts a failed client authentication against its address.
func (h *handler) failed(r *http.Request, err error) {
	if h.failures != nil && membership.OAuthErrorKind(err) == membership.OAuthInvalidClient {
		h.failures.Allow(respond.ClientAddr(r))
	}
}

// refused audits a request refused before its client was authenticated.
// Anyone can send those, so they are counted with refused
// authentications, at most one audit row per source and minute, never a
// write per request; the reason is fixed words, never the request's.
func (h *handler) refused(r *http.Request, action string, err error) {
	h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", action+" refused: "+membership.OAuthErrorKind(err))
}

type throttle struct {
	wait time.Duration
	err  *membership.Error
}

func (t *throttle) Error() string { return t.err.Error() }
func (t *throttle) Unwrap() error { return t.err }

// WriteError answers err in RFC 6749's error format, for refusals made
// before the handler runs (load shedding, with its Retry-After).
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	respond.SetRetryAfter(w, err)
	writeError(w, err)
}

// writeError answers RFC 6749 5.2's error body with its status.
func writeError(w http.ResponseWriter, err error) {
	kind := membership.OAuthErrorKind(err)
	status := http.StatusBadRequest
	switch {
	case kind == membership.OAuthInvalidClient || membership.ErrorCode(err) == membership.CodeUnauthorized:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="memberd"`)
	case membership.ErrorCode(err) == membership.CodeRateLimited:
		status = http.StatusTooManyRequests
		var t *throttle
		if errors.As(err, &t) {
			w.Header().Set("Retry-After", strconv.Itoa(int(t.wait.Seconds())+1))
		}
	case membership.ErrorCode(err) == membership.CodeInternal:
		status = http.StatusInternalServerError
	case membership.ErrorCode(err) == membership.CodeUnavailable:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]string{"error": kind, "error_description": membership.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// refuseRequest audits a request refused before any core call (a body
// that does not decode) and answers it.
func (h *handler) refuseRequest(w http.ResponseWriter, r *http.Request, action string, err error) {
	h.refused(r, action, err)
	writeError(w, err)
}

// clientCall decodes a request to an endpoint that authenticates its
// client, applying the failure limit. ok is false once it has answered.
func (h *handler) clientCall(w http.ResponseWriter, r *http.Request, action string) (params, membership.OAuthClientAuth, bool) {
	p, err := decodeBody(r)
	if err != nil {
		h.refuseRequest(w, r, action, err)
		return nil, membership.OAuthClientAuth{}, false
	}
	auth, err := clientAuth(r, p)
	if err != nil {
		h.refuseRequest(w, r, action, err)
		return nil, auth, false
	}
	if err := h.throttled(r, action); err != nil {
		writeError(w, err)
		return nil, auth, false
	}
	return p, auth, true
}

func (h *handler) token(w http.ResponseWriter, r *http.Request) {
	p, auth, ok := h.clientCall(w, r, membership.ActionOAuthTokenIssued)
	if !ok {
		return
	}
	resp, err := h.svc.Token(r.Context(), membership.TokenRequest{
		OAuthClientAuth: auth, GrantType: p["grant_type"], Scope: p["scope"], Code: p["code"],
		RedirectURI: p["redirect_uri"], CodeVerifier: p["code_verifier"], RefreshToken: p["refresh_token"],
	})
	if err != nil {
		h.failed(r, err)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	p, auth, ok := h.clientCall(w, r, membership.ActionOAuthTokenRevoked)
	if !ok {
		return
	}
	if err := h.svc.RevokeToken(r.Context(), auth, p["token"]); err != nil {
		h.failed(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (h *handler) introspect(w http.ResponseWriter, r *http.Request) {
	p, auth, ok := h.clientCall(w, r, membership.ActionOAuthTokenRead)
	if !ok {
		return
	}
	in, err := h.svc.IntrospectToken(r.Context(), auth, p["token"])
	if err != nil {
		h.failed(r, err)
		writeError(w, err)
		return
	}
	if in.Active {
		in.Iss = respond.BaseURL(r)
	}
	writeJSON(w, http.StatusOK, in)
}

// authorize sends the browser to the console's consent page with the
// request unchanged: signing in and consenting are the console's.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request) {
	target := h.cfg.ConsentPath
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// Metadata is RFC 8414's authorization-server metadata.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
}

func (h *handler) metadata(w http.ResponseWriter, r *http.Request) {
	iss := respond.BaseURL(r)
	auth := []string{"client_secret_basic", "client_secret_post"}
	writeJSON(w, http.StatusOK, &Metadata{
		Issuer: iss, AuthorizationEndpoint: iss + "/oauth2/authorize", TokenEndpoint: iss + "/oauth2/token",
		RevocationEndpoint: iss + "/oauth2/revoke", IntrospectionEndpoint: iss + "/oauth2/introspect",
		ScopesSupported: membership.AllScopes(), ResponseTypesSupported: []string{"code"},
		GrantTypesSupported:               []string{membership.GrantAuthorizationCode, membership.GrantClientCredentials, membership.GrantRefreshToken},
		TokenEndpointAuthMethodsSupported: append(auth, "none"), RevocationAuthMethodsSupported: append(auth, "none"),
		IntrospectionAuthMethodsSupported: auth, CodeChallengeMethodsSupported: []string{"S256"},
	})
}

// notFound answers a path or method these endpoints do not serve in the
// same error format, and audits it like any refusal.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	err := invalid("%s %s is not an OAuth endpoint of this server", r.Method, r.URL.Path)
	code := http.StatusNotFound
	for _, p := range []string{"/oauth2/token", "/iam/v1/oauth2/token", "/api/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"} {
		if r.URL.Path == p {
			code = http.StatusMethodNotAllowed
			w.Header().Set("Allow", http.MethodPost)
			err = invalid("%s accepts only POST", p)
		}
	}
	h.refused(r, membership.ActionRequestRouted, err)
	writeJSON(w, code, map[string]string{"error": membership.OAuthInvalidRequest, "error_description": membership.ErrorMessage(err)})
}
