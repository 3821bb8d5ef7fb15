package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlstore"
)

// idleQueue takes jobs and never runs them.
type idleQueue struct{}

func (idleQueue) EnqueueOperation(context.Context, membership.Tx, *membership.Operation) error {
	return nil
}

func (idleQueue) EnqueueDelivery(context.Context, membership.Tx, int64, time.Time) error { return nil }

// recordedStore records the statements of its write transactions.
type recordedStore struct {
	membership.Store
	rec sqlstore.Recorder
	// sealed records the seal's statements too: the recording is not
	// stopped, and the transaction ends with the seal.
	sealed bool
}

func (r *recordedStore) Update(ctx context.Context, fn func(membership.Tx) error) error {
	return r.Store.Update(ctx, func(tx membership.Tx) error {
		if st, ok := tx.(*sqlstore.Tx); ok {
			if stop := st.Record(&r.rec); !r.sealed {
				defer stop()
			}
		}
		return fn(tx)
	})
}

// TestConfigCacheNeverStale changes an organization's removal policy and
// webhook endpoints through one store (node A) and removes a member
// through another store on the same database (node B) right after each
// change is acknowledged, many times: every removal applies the
// configuration as it was last changed, although node B keeps it between
// removals; and a removal after no change reads neither from the
// database.
func TestConfigCacheNeverStale(t *testing.T) {
	for _, groupCommit := range []bool{true, false} {
		t.Run(fmt.Sprintf("GroupCommit=%v", groupCommit), func(t *testing.T) {
			testConfigCacheNeverStale(t, groupCommit)
		})
	}
}

func testConfigCacheNeverStale(t *testing.T, groupCommit bool) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	open := func() *postgres.Store {
		st, err := postgres.Open(ctx, dsn, postgres.WithGroupCommit(groupCommit))
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	cfg := membership.DefaultConfig()
	cfg.WebhookGuard = &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	cfg.Queue = idleQueue{}
	nodeA := membership.NewService(open(), cfg)
	storeB := &recordedStore{Store: open()}
	nodeB := membership.NewService(storeB, cfg)
	deliveries := func() int64 {
		t.Helper()
		var n int64
		if err := storeB.Store.(*postgres.Store).Pool().QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	b, err := nodeA.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	// As authentication makes it: the acting member is at hand, so the
	// removal's first statement locks the target and reads the version.
	owner := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Member: b.Owner, Interface: "test"}
	ep, err := nodeA.CreateWebhookEndpoint(ctx, owner, membership.CreateWebhookEndpointRequest{
		URL: "http://127.0.0.1:9/hook", Events: []string{membership.ActionMemberRemoved}})
	if err != nil {
		t.Fatal(err)
	}
	limited, active := false, true
	rounds := 150
	if testing.Short() {
		rounds = 40
	}
	for r := range rounds {
		changed := r%2 == 0 // odd rounds change nothing: node B's copy answers
		if changed {
			k := r / 2
			if wantLimited := k%3 == 1; wantLimited != limited {
				limited = wantLimited
				p := membership.Policy{}
				if limited { // at least one removal was made in round 0
					p.MaxPerHour = 1
				}
				if _, err := nodeA.SetPolicy(ctx, owner, p); err != nil {
					t.Fatalf("round %d: set policy: %v", r, err)
				}
			}
			if wantActive := k%2 == 0; wantActive != active {
				active = wantActive
				change := nodeA.DisableWebhookEndpoint
				if active {
					change = nodeA.EnableWebhookEndpoint
				}
				if _, err := change(ctx, owner, ep.Endpoint.UUID); err != nil {
					t.Fatalf("round %d: change endpoint: %v", r, err)
				}
			}
		}
		m, err := nodeA.AddMember(ctx, owner, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@acme.test", r), Name: "m", Role: membership.RoleMember})
		if err != nil {
			t.Fatalf("round %d: add member: %v", r, err)
		}
		before := deliveries()
		storeB.rec.Reset()
		_, err = nodeB.RemoveMember(ctx, owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
		switch {
		case limited && membership.ErrorCode(err) != membership.CodeApprovalRequired:
			t.Fatalf("round %d: removal above the policy's limit: got %v, want %s", r, err, membership.CodeApprovalRequired)
		case !limited && err != nil:
			t.Fatalf("round %d: removal with no limit: %v", r, err)
		}
		if !limited {
			want := int64(0)
			if active {
				want = 1
			}
			if got := deliveries() - before; got != want {
				t.Fatalf("round %d: deliveries queued with the endpoint active=%v: got %d, want %d", r, active, got, want)
			}
		}
		if !changed && !limited {
			for _, q := range storeB.rec.Queries() {
				if strings.Contains(q, "FROM removal_policies") || strings.Contains(q, "FROM webhook_endpoints") {
					t.Errorf("round %d: with nothing changed, the removal read its configuration: %s", r, q)
				}
			}
		}
	}
}
