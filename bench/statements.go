package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/memberd/memberd/membership"
)

// checkStatements counts the statements of an access check request on
// the main database, as the native route makes it (authentication
// deferred to the check, membership.WithDeferredAuthentication): the
// first request, which reads the credential, then one answered from the
// access index (warm) and one the index cannot answer (cold). A test
// (store/storetest/statements.go) holds the same budget; this prints it
// next to the figures.
func (r *runner) checkStatements(ctx context.Context) error {
	// Authenticating once on another service records the credential's
	// use now, so that the counted requests make no write: the recorder
	// stops recording views after a write (see recordingStore.View).
	if _, err := membership.NewService(r.e.Store, membership.DefaultConfig()).Authenticate(ctx, r.d.Token); err != nil {
		return fmt.Errorf("count check statements: authenticate: %w", err)
	}
	rs := &recordingStore{Store: r.e.Store, eng: r.e}
	svc := membership.NewService(rs, membership.DefaultConfig())
	members := r.pick.pick(2, r.d.Members)
	var counts [3]int
	for i := range counts {
		rs.stmts, rs.updated = nil, false
		p, err := svc.Authenticate(membership.WithDeferredAuthentication(ctx), r.d.Token)
		if err != nil {
			return fmt.Errorf("count check statements: authenticate: %w", err)
		}
		a := membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
			Scopes: p.Credential.Scopes, Interface: "bench", AccessEpoch: p.AccessEpoch, Unconfirmed: p.Unconfirmed}
		target := membership.MemberRef{ID: r.d.MemberID(members[min(i, 1)])}
		if _, err := svc.CheckAccess(ctx, a, target, membership.Ref{ID: 1}); err != nil {
			return fmt.Errorf("count check statements: %w", err)
		}
		for _, s := range rs.stmts {
			if !isControl(s.Query) && !isWrite(s.Query) {
				counts[i]++
			}
		}
	}
	r.logf("statements per access check request: %d the first time (the credential is read), then %d warm and %d cold", counts[0], counts[1], counts[2])
	return nil
}

// isWrite says q changes rows: authentication records a credential's
// last use at most once a minute, which is no cost of the check.
func isWrite(q string) bool {
	q = strings.ToUpper(strings.TrimSpace(q))
	return strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "INSERT")
}
