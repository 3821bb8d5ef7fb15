package auth

import (
	"errors"
	"net/http"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Need is what one route requires of a request before any core call.
type Need struct {
	// Interface names the adapter in the audit trail ("native", "highq", …).
	Interface string
	// Action is the audit action a refusal of this route is recorded under.
	Action string
	// Scope is the scope the credential must hold; "" admits any credential.
	Scope string
	// Schemes lists where the credential may travel, tried in order.
	Schemes []Scheme
	// AuditThrottling audits rate-limited requests too, for dialects that
	// promise every refused request leaves an event (Jicoo, WiggleDesk);
	// the others leave throttling out so that a flood does not turn into
	// writes.
	AuditThrottling bool
}

// Call is a request that passed Authorize: who acts, and the one way to
// refuse it afterwards so that the refusal is audited like any other.
type Call struct {
	Principal *membership.Principal
	Actor     membership.Actor

	svc    *membership.Service
	r      *http.Request
	action string
}

// Authorize is the one authenticate-authorize-audit step every adapter
// takes: it finds the credential under need.Schemes, authenticates it,
// applies its rate limit, checks need.Scope, and audits every refusal
// itself, so that no adapter can forget to. The error carries the Code the
// adapter renders in its own format (CodeUnauthorized, CodeRateLimited with
// a RetryAfter, CodeForbidden).
func (a *Authenticator) Authorize(r *http.Request, need Need) (*Call, error) {
	p, err := a.Authenticate(r, need.Interface, need.Schemes...)
	if err != nil {
		var rl *RateLimitError
		if need.AuditThrottling && errors.As(err, &rl) && !rl.audited {
			// Authenticate audits bad credentials, not throttling.
			token, _ := secret(r, need.Schemes)
			a.svc.AuditRefusedAuth(addrContext(r), need.Interface, respond.RequestID(r),
				membership.CredentialPrefix(token), membership.ErrorMessage(err))
		}
		return nil, err
	}
	c := &Call{Principal: p, Actor: Actor(p, need.Interface, r), svc: a.svc, r: r, action: need.Action}
	if need.Scope != "" && !p.Credential.HasScope(need.Scope) {
		token, _ := secret(r, need.Schemes)
		if err := a.confirm(r, need.Interface, token, p); err != nil {
			return nil, err
		}
	}
	if need.Scope != "" {
		if err := c.Require(need.Scope); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Refuse audits a refusal made before any credential was looked at (a
// path no route serves) under need.Action, with the interface and request
// id as the only actor, and returns err.
func (a *Authenticator) Refuse(r *http.Request, need Need, err error) error {
	actor := membership.Actor{Interface: need.Interface, RequestID: respond.RequestID(r)}
	a.svc.AuditRefused(r.Context(), actor, need.Action, err)
	return err
}

// Require checks a scope that is known only after authentication (the
// method decides it, or the actor must change first) and audits its
// refusal like Authorize does.
func (c *Call) Require(scope string) error {
	if err := RequireScope(c.Principal, scope); err != nil {
		return c.Refuse(err)
	}
	return nil
}

// Refuse audits err as a refused attempt at the call's action and returns
// it, for refusals an adapter makes after Authorize (a malformed body, a
// path naming another organization): `writeError(w, r, call.Refuse(err))`.
func (c *Call) Refuse(err error) error {
	return c.RefuseAs(c.action, err)
}

// RefuseAs is Refuse under another action, for routes whose action is
// known only after decoding.
func (c *Call) RefuseAs(action string, err error) error {
	c.svc.AuditRefused(c.r.Context(), c.Actor, action, err)
	return err
}
