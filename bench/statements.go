package bench

import (
	"context"
	"fmt"

	"github.com/memberd/memberd/membership"
)

// checkStatements counts the statements of an access check on the main
// database, as a request makes it after authenticating (whose own one
// statement reads the access epoch the actor carries): cold, when the
// access index holds no answer, and warm, when it holds one read at the
// current epoch. A test (store/storetest/statements.go) holds the same
// budget; this prints it next to the figures.
func (r *runner) checkStatements(ctx context.Context) error {
	rs := &recordingStore{Store: r.e.Store, eng: r.e}
	svc := membership.NewService(rs, membership.DefaultConfig())
	a := r.d.Actor("bench")
	epoch, err := r.epoch(ctx, a.OrgID)
	if err != nil {
		return err
	}
	a.AccessEpoch = &epoch
	target := membership.MemberRef{ID: r.d.MemberID(r.pick.pick(1, r.d.Members)[0])}
	var counts [2]int
	for i := range counts {
		rs.stmts = nil
		if _, err := svc.CheckAccess(ctx, a, target, membership.Ref{ID: 1}); err != nil {
			return fmt.Errorf("count check statements: %w", err)
		}
		for _, s := range rs.stmts {
			if !isControl(s.Query) {
				counts[i]++
			}
		}
	}
	r.logf("statements per access check: 1 to authenticate, then %d cold and %d warm", counts[0], counts[1])
	return nil
}

// epoch reads an organization's current access epoch.
func (r *runner) epoch(ctx context.Context, orgID int64) (int64, error) {
	var epoch int64
	err := r.e.Store.View(ctx, func(tx membership.Tx) error {
		var err error
		epoch, err = tx.AccessEpoch(ctx, orgID)
		return err
	})
	return epoch, err
}
