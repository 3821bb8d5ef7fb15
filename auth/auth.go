// Package auth owns how a request proves whom it acts for: the three
// credential header forms the interfaces need (Authorization: Bearer,
// Authorization: token, X-Jicoo-Api-Key), scope checks, and per-credential
// rate limits. Secrets are checked by the core (hash lookup and a
// constant-time compare); this package only finds them in requests.
package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Scheme is one way a request can carry a credential.
type Scheme int

// Credential schemes.
const (
	Bearer   Scheme = iota // Authorization: Bearer SECRET
	Token                  // Authorization: token SECRET (Django REST framework)
	JicooKey               // X-Jicoo-Api-Key: SECRET
)

// Defaults for Limits.
const (
	DefaultRate  = 100.0 // requests per second per credential
	DefaultBurst = 200
	// DefaultFailureRate and DefaultFailureBurst bound failed
	// authentications per client address: a client that mistypes a secret
	// a few times is never stopped; one that keeps guessing gets 429 until
	// it slows to one guess a second.
	DefaultFailureRate  = 1.0
	DefaultFailureBurst = 30
)

// Limits is the per-credential request rate and the per-address rate of
// failed authentications; Rate <= 0 and FailureRate <= 0 turn each off.
type Limits struct {
	Rate  float64
	Burst int

	FailureRate  float64
	FailureBurst int
}

// Authenticator resolves and rate-limits credentials.
type Authenticator struct {
	svc    *membership.Service
	limits Limits

	mu       sync.Mutex
	limiters map[int64]*rate.Limiter

	failures *AddrLimiter // nil without a failure limit
}

// New returns an Authenticator.
func New(svc *membership.Service, limits Limits) *Authenticator {
	a := &Authenticator{svc: svc, limits: limits, limiters: map[int64]*rate.Limiter{}}
	if limits.FailureRate > 0 {
		a.failures = NewAddrLimiter(rate.Limit(limits.FailureRate), limits.FailureBurst)
	}
	return a
}

// secret finds the credential in r under the first scheme that is present.
func secret(r *http.Request, schemes []Scheme) (string, bool) {
	authz := r.Header.Get("Authorization")
	for _, s := range schemes {
		switch s {
		case Bearer, Token:
			word := "Bearer"
			if s == Token {
				word = "token"
			}
			if scheme, value, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, word) {
				return strings.TrimSpace(value), true
			}
		case JicooKey:
			if v := r.Header.Get("X-Jicoo-Api-Key"); v != "" {
				return strings.TrimSpace(v), true
			}
		}
	}
	return "", false
}

// Authenticate returns the principal r acts for. Failures are
// CodeUnauthorized (audited as refused attempts) or CodeRateLimited (with
// a RetryAfter): for the credential's rate, or for a client address that
// failed to authenticate too often, which is refused before its secret is
// even looked up. iface names the interface for the audit trail; refusals
// are counted in memory and audited in aggregate (see
// membership.Service.AuditRefusedAuth), so that they cost no write each.
func (a *Authenticator) Authenticate(r *http.Request, iface string, schemes ...Scheme) (*membership.Principal, error) {
	addr := respond.ClientAddr(r)
	if a.failures != nil {
		if wait, spent := a.failures.Spent(addr); spent {
			err := &RateLimitError{
				Err:     membership.Errorf(membership.CodeRateLimited, "too many failed authentication attempts from this address"),
				Wait:    wait,
				audited: true,
			}
			a.svc.AuditRefusedAuth(addrContext(r), iface, respond.RequestID(r), "", err.Err.Message)
			return nil, err
		}
	}
	token, ok := secret(r, schemes)
	if !ok || token == "" {
		err := membership.Errorf(membership.CodeUnauthorized, "authentication credentials were not provided")
		a.fail(r, iface, addr, "", err.Message)
		return nil, err
	}
	p, err := a.svc.Authenticate(r.Context(), token)
	if err != nil {
		if membership.ErrorCode(err) == membership.CodeUnauthorized {
			a.fail(r, iface, addr, membership.CredentialPrefix(token), membership.RefusalReason(err))
		}
		return nil, err
	}
	if err := a.allow(p.Credential.ID); err != nil {
		if cerr := a.confirm(r, iface, token, p); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return p, nil
}

// confirm reads again a credential that came from the credential cache
// (membership.WithDeferredAuthentication) when the request is refused
// before the core call that would have confirmed it: a credential no
// longer in force is refused as unauthenticated first, and audited.
func (a *Authenticator) confirm(r *http.Request, iface, token string, p *membership.Principal) error {
	if p.Unconfirmed == nil {
		return nil
	}
	_, err := a.svc.Authenticate(membership.WithoutDeferredAuthentication(r.Context()), token)
	if membership.ErrorCode(err) == membership.CodeUnauthorized {
		a.fail(r, iface, respond.ClientAddr(r), membership.CredentialPrefix(token), membership.RefusalReason(err))
	}
	return err
}

// fail counts a failed authentication against addr's budget and audits it.
func (a *Authenticator) fail(r *http.Request, iface, addr, prefix, reason string) {
	if a.failures != nil {
		a.failures.Allow(addr)
	}
	a.svc.AuditRefusedAuth(addrContext(r), iface, respond.RequestID(r), prefix, reason)
}

// addrContext is r's context with its client address for the refusal
// counts, also when the handler is mounted without respond.WithClientAddr.
func addrContext(r *http.Request) context.Context {
	return membership.ContextWithClientAddress(r.Context(), respond.ClientAddr(r))
}

// RateLimitError is a refusal for exceeding a credential's rate or a
// client address's budget of failed authentications.
type RateLimitError struct {
	Err  *membership.Error
	Wait time.Duration

	audited bool // counted as a refused authentication already
}

func (e *RateLimitError) Error() string { return e.Err.Error() }

// RetryAfter says when the credential may try again.
func (e *RateLimitError) RetryAfter() time.Duration { return e.Wait }

// Unwrap exposes the core error so ErrorCode finds CodeRateLimited.
func (e *RateLimitError) Unwrap() error { return e.Err }

func (a *Authenticator) allow(credentialID int64) error {
	if a.limits.Rate <= 0 {
		return nil
	}
	a.mu.Lock()
	l := a.limiters[credentialID]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(a.limits.Rate), max(a.limits.Burst, 1))
		a.limiters[credentialID] = l
	}
	a.mu.Unlock()
	res := l.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return &RateLimitError{
			Err:  membership.Errorf(membership.CodeRateLimited, "rate limit of %g requests per second exceeded", a.limits.Rate),
			Wait: d,
		}
	}
	return nil
}

// RequireScope refuses a principal whose credential lacks scope.
func RequireScope(p *membership.Principal, scope string) error {
	if !p.Credential.HasScope(scope) {
		return membership.Errorf(membership.CodeForbidden, "the credential lacks the %q scope", scope)
	}
	return nil
}

// Actor is the core's view of who makes request r.
func Actor(p *membership.Principal, iface string, r *http.Request) membership.Actor {
	return membership.Actor{
		OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: iface, RequestID: respond.RequestID(r),
		AccessEpoch: p.AccessEpoch, Member: p.Member, Unconfirmed: p.Unconfirmed,
	}
}
