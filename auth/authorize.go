package auth

import (
	"net/http"

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
		return nil, err // Authenticate audited what deserves it
	}
	c := &Call{Principal: p, Actor: Actor(p, need.Interface, r), svc: a.svc, r: r, action: need.Action}
	if need.Scope != "" {
		if err := RequireScope(p, need.Scope); err != nil {
			return nil, c.Refuse(err)
		}
	}
	return c, nil
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
