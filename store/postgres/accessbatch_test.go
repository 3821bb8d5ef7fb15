package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// batchWorld is an organization whose members have access to some of its
// resources, and a service without an access index, so that every check
// is a statement.
type batchWorld struct {
	st        *postgres.Store
	svc       *membership.Service // with the access index
	bare      *membership.Service // without
	owner     membership.Actor
	members   []*membership.Member
	resources []*membership.Resource
}

func newBatchWorld(t *testing.T, pool, members, resources int) *batchWorld {
	t.Helper()
	ctx := context.Background()
	w := &batchWorld{st: openWithPool(t, pool)}
	w.svc = membership.NewService(w.st, membership.DefaultConfig())
	cfg := membership.DefaultConfig()
	cfg.AccessIndex = -1
	w.bare = membership.NewService(w.st, cfg)
	b, err := w.svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	w.owner = membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Interface: "test"}
	for i := range resources {
		r, err := w.svc.CreateResource(ctx, w.owner, membership.CreateResourceRequest{Kind: "lock", Name: fmt.Sprintf("door %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		w.resources = append(w.resources, r)
	}
	for i := range members {
		m, err := w.svc.AddMember(ctx, w.owner, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@acme.test", i), Name: "m", Role: membership.RoleMember})
		if err != nil {
			t.Fatal(err)
		}
		w.members = append(w.members, m)
		for j, r := range w.resources {
			if granted(i, j) {
				if _, err := w.svc.CreateGrant(ctx, w.owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &membership.MemberRef{ID: m.ID}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return w
}

// granted says whether member i has a grant to resource j.
func granted(i, j int) bool { return (i+j)%3 == 0 }

// eachCheck runs check(n) for n below workers*checks, from workers
// goroutines at once, each stopping at its first error; it returns the
// errors.
func eachCheck(workers, checks int, check func(n int) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range checks {
				if err := check(g*checks + k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// TestBatchedAccessChecksEachGetTheirOwn runs many concurrent checks,
// allowed, denied and not found, of different members and resources and
// by id and by UUID, some of them cancelled: each check gets exactly its
// own answer, however the checks were batched, and a cancelled one fails
// no other. The pool's acquisitions show that checks did go together.
func TestBatchedAccessChecksEachGetTheirOwn(t *testing.T) {
	ctx := context.Background()
	w := newBatchWorld(t, 4, 24, 5)
	removed := w.members[len(w.members)-1] // granted resources, yet denied
	if _, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: removed.ID}}); err != nil {
		t.Fatal(err)
	}
	const workers, checks = 32, 150
	acquired := w.st.Pool().Stat().AcquireCount()
	var answered atomic.Int64
	for _, err := range eachCheck(workers, checks, func(n int) error {
		i, j := n%(len(w.members)+1), (n/7)%(len(w.resources)+1)
		mref, rref := membership.MemberRef{ID: 1 << 40}, membership.Ref{ID: 1 << 40}
		if i < len(w.members) {
			mref = membership.MemberRef{ID: w.members[i].ID}
			if n%5 == 0 {
				mref = membership.MemberRef{UUID: w.members[i].UUID}
			}
		}
		if j < len(w.resources) {
			rref = membership.Ref{ID: w.resources[j].ID}
		}
		cctx := ctx
		if n%11 == 0 {
			c, cancel := context.WithCancel(ctx)
			cancel()
			cctx = c
		}
		got, err := w.bare.CheckAccess(cctx, w.owner, mref, rref)
		if cctx != ctx && errors.Is(err, context.Canceled) {
			return nil // else answered before it noticed: the answer must be right
		}
		want := ""
		switch {
		case i == len(w.members):
			want = membership.ErrMemberNotFound.Message
		case j == len(w.resources):
			want = "resource not found"
		}
		if want != "" {
			if membership.ErrorCode(err) != membership.CodeNotFound || membership.ErrorMessage(err) != want {
				return fmt.Errorf("check %d (member %d, resource %d): %v, want not found %q", n, i, j, err, want)
			}
			answered.Add(1)
			return nil
		}
		if err != nil {
			return fmt.Errorf("check %d (member %d, resource %d): %v", n, i, j, err)
		}
		allowed := granted(i, j) && w.members[i].ID != removed.ID
		if got.Allowed != allowed || got.Allowed != got.Direct || got.ResourceID != w.resources[j].ID {
			return fmt.Errorf("check %d (member %d, resource %d): %+v, want allowed %v", n, i, j, got, allowed)
		}
		answered.Add(1)
		return nil
	}) {
		t.Error(err)
	}
	if a := answered.Load(); a < workers*checks*8/10 {
		t.Errorf("%d checks of %d answered", a, workers*checks)
	}
	if n := w.st.Pool().Stat().AcquireCount() - acquired; n >= workers*checks*9/10 {
		t.Errorf("%d connections acquired for %d concurrent checks: they were not batched", n, workers*checks)
	}
}

// TestBatchedAccessChecksNeverStale removes and restores members while
// checkers keep asking, by themselves or batched: a check that starts
// after a removal was acknowledged, and before the restore that follows
// it began, is refused, with the access index and without.
func TestBatchedAccessChecksNeverStale(t *testing.T) {
	ctx := context.Background()
	w := newBatchWorld(t, 4, 6, 3)
	var (
		mu      sync.RWMutex
		removed = map[int64]bool{} // acknowledged removal, restore not begun
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	var checked atomic.Int64
	for g := range 16 {
		svc := w.bare
		if g%2 == 1 {
			svc = w.svc
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := g; cctx.Err() == nil; n++ {
				i := n % len(w.members)
				j := (3 - i%3) % 3 // granted(i, j)
				m := w.members[i]
				// Holding the read lock across the check keeps the state
				// it was started in: no restore can begin meanwhile.
				mu.RLock()
				mustDeny := removed[m.ID]
				got, err := svc.CheckAccess(ctx, w.owner, membership.MemberRef{ID: m.ID}, membership.Ref{ID: w.resources[j].ID})
				mu.RUnlock()
				if err != nil {
					errs <- err
					return
				}
				if mustDeny && got.Allowed {
					errs <- fmt.Errorf("member %d: a check after an acknowledged removal was allowed", i)
					return
				}
				checked.Add(1)
			}
		}()
	}
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	for r := range rounds {
		m := w.members[r%len(w.members)]
		if _, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
			t.Fatalf("round %d: remove: %v", r, err)
		}
		mu.Lock()
		removed[m.ID] = true
		mu.Unlock()
		// Let checks start, alone and batched, while it stays removed.
		for c0 := checked.Load(); checked.Load() < c0+32 && len(errs) == 0; {
			runtime.Gosched()
		}
		mu.Lock()
		removed[m.ID] = false
		mu.Unlock()
		if _, err := w.svc.RestoreMember(ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
			t.Fatalf("round %d: restore: %v", r, err)
		}
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if checked.Load() == 0 {
		t.Fatal("no check ran")
	}
}

// TestBatchedAccessChecksKeepTheirPlan: batches of a few checks each keep
// the batched statement's generic plan rather than plan each batch anew,
// which cost more backend CPU than batching saved.
func TestBatchedAccessChecksKeepTheirPlan(t *testing.T) {
	ctx := context.Background()
	w := newBatchWorld(t, 1, 4, 2) // one connection: its prepared statements are all there are
	for range 100 {
		var wg sync.WaitGroup
		for _, m := range w.members[:3] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.bare.CheckAccess(ctx, w.owner, membership.MemberRef{ID: m.ID}, membership.Ref{ID: w.resources[0].ID}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	var generic, custom int64
	err := w.st.Pool().QueryRow(ctx, `SELECT COALESCE(sum(generic_plans), 0), COALESCE(sum(custom_plans), 0)
  FROM pg_prepared_statements WHERE statement LIKE '%WITH ORDINALITY%'`).Scan(&generic, &custom)
	if err != nil {
		t.Fatal(err)
	}
	if generic == 0 || custom > 5 {
		t.Errorf("batched statements ran %d generic and %d custom plans; want the generic plan after the first five", generic, custom)
	}
}

// TestBatchedAccessChecksOfTwoOrganizations runs concurrent checks of two
// organizations, some of them asking one organization about the other's
// member: a batch of one organization's checks passes the organization
// once, one that mixes them passes it a check, and either way each check
// is answered in its own organization.
func TestBatchedAccessChecksOfTwoOrganizations(t *testing.T) {
	ctx := context.Background()
	w := newBatchWorld(t, 1, 6, 3)
	b, err := w.svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Beta", OwnerEmail: "owner@beta.test"})
	if err != nil {
		t.Fatal(err)
	}
	other := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Interface: "test"}
	door, err := w.svc.CreateResource(ctx, other, membership.CreateResourceRequest{Kind: "lock", Name: "beta door"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateGrant(ctx, other, membership.CreateGrantRequest{Resource: membership.Ref{ID: door.ID}, Member: &membership.MemberRef{ID: b.Owner.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, err := range eachCheck(16, 60, func(n int) error {
		i, j := n%len(w.members), n%len(w.resources)
		switch {
		case n%2 == 1: // Beta's owner, about its own door
			got, err := w.bare.CheckAccess(ctx, other, membership.MemberRef{ID: b.Owner.ID}, membership.Ref{ID: door.ID})
			if err != nil || !got.Allowed {
				return fmt.Errorf("check %d in Beta: %+v, %v; want allowed", n, got, err)
			}
		case n%8 == 0: // Acme's owner, about Beta's owner
			_, err := w.bare.CheckAccess(ctx, w.owner, membership.MemberRef{ID: b.Owner.ID}, membership.Ref{ID: w.resources[j].ID})
			if membership.ErrorCode(err) != membership.CodeNotFound {
				return fmt.Errorf("check %d of Beta's owner in Acme: %v, want not found", n, err)
			}
		default:
			got, err := w.bare.CheckAccess(ctx, w.owner, membership.MemberRef{ID: w.members[i].ID}, membership.Ref{ID: w.resources[j].ID})
			if err != nil || got.Allowed != granted(i, j) {
				return fmt.Errorf("check %d (member %d, resource %d): %+v, %v; want allowed %v", n, i, j, got, err, granted(i, j))
			}
		}
		return nil
	}) {
		t.Fatal(err)
	}
	// Both forms ran (one connection: its prepared statements are all).
	var shared, unshared int64
	err = w.st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE '%CAST($1 AS bigint)%'),
  count(*) FILTER (WHERE statement LIKE '%$1::bigint[]%')
  FROM pg_prepared_statements WHERE statement LIKE '%WITH ORDINALITY%'`).Scan(&shared, &unshared)
	if err != nil {
		t.Fatal(err)
	}
	if shared == 0 || unshared == 0 {
		t.Errorf("batched statements: %d with the organization passed once, %d with it passed a check; want both", shared, unshared)
	}
}

// TestBatchedAccessChecksWithAndWithoutSince runs concurrent checks that
// the access index has answers for (asked with Since) and checks it has
// none for: they go in batches together, as the form with Since, and
// each gets its own answer.
func TestBatchedAccessChecksWithAndWithoutSince(t *testing.T) {
	ctx := context.Background()
	w := newBatchWorld(t, 1, 6, 3)
	for i, m := range w.members { // the index holds these
		if _, err := w.svc.CheckAccess(ctx, w.owner, membership.MemberRef{ID: m.ID}, membership.Ref{ID: w.resources[i%len(w.resources)].ID}); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range eachCheck(16, 60, func(n int) error {
		i, j := n%len(w.members), n%len(w.resources)
		svc := w.bare
		if n%2 == 0 {
			svc, j = w.svc, i%len(w.resources)
		}
		got, err := svc.CheckAccess(ctx, w.owner, membership.MemberRef{ID: w.members[i].ID}, membership.Ref{ID: w.resources[j].ID})
		if err != nil || got.Allowed != granted(i, j) {
			return fmt.Errorf("check %d (member %d, resource %d): %+v, %v; want allowed %v", n, i, j, got, err, granted(i, j))
		}
		return nil
	}) {
		t.Fatal(err)
	}
	// One connection: its prepared statements are all there are.
	var withSince, without int64
	err := w.st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE '%<> b.p%'), count(*) FILTER (WHERE statement NOT LIKE '%<> b.p%')
  FROM pg_prepared_statements WHERE statement LIKE '%WITH ORDINALITY%'`).Scan(&withSince, &without)
	if err != nil {
		t.Fatal(err)
	}
	if withSince == 0 || without != 0 {
		t.Errorf("batched statements: %d with Since, %d without; want them all with", withSince, without)
	}
}
