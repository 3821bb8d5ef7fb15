package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engine names a database both nodes of a test can open.
type engine struct {
	name string
	// open opens a new store on the test's one database.
	open func(tb testing.TB) membership.Store
}

// engines returns SQLite and PostgreSQL, each on a fresh database for tb.
func engines() []struct {
	name string
	db   func(tb testing.TB) engine
} {
	return []struct {
		name string
		db   func(tb testing.TB) engine
	}{
		{"sqlite", func(tb testing.TB) engine {
			path := filepath.Join(tb.TempDir(), "memberd.db")
			return engine{name: "sqlite", open: func(tb testing.TB) membership.Store {
				tb.Helper()
				st, err := sqlite.Open(context.Background(), path)
				if err != nil {
					tb.Fatal(err)
				}
				return st
			}}
		}},
		{"postgres", func(tb testing.TB) engine {
			dsn := pgtest.NewDatabase(tb)
			return engine{name: "postgres", open: func(tb testing.TB) membership.Store {
				tb.Helper()
				st, err := postgres.Open(context.Background(), dsn)
				if err != nil {
					tb.Fatal(err)
				}
				return st
			}}
		}},
	}
}

// forEngines runs test once per engine.
func forEngines(t *testing.T, test func(t *testing.T, db engine)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) { test(t, e.db(t)) })
	}
}

// clock is a settable test clock; zero means the real time.
type node struct {
	svc    *membership.Service
	store  membership.Store
	runner *jobs.Runner
}

// loopback admits the tests' webhook receivers, which listen on 127.0.0.1
// only; without it memberd refuses them as it would in production.
var loopback = &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// svcConfig is the service's default configuration with loopback allowed.
func svcConfig() membership.Config {
	cfg := membership.DefaultConfig()
	cfg.WebhookGuard = loopback
	return cfg
}

func testConfig() jobs.Config {
	cfg := jobs.DefaultConfig()
	cfg.HTTPClient = loopback.Client(0)
	cfg.FetchPollInterval = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Webhook = membership.WebhookRetryPolicy{MaxAttempts: 4, Backoff: func(n int) time.Duration {
		return 100 * time.Millisecond << (n - 1)
	}}
	return cfg
}

// startNode opens a store on db, connects a job runner and starts it.
// Both stop when tb ends (or earlier through stop).
func startNode(tb testing.TB, db engine, cfg jobs.Config, svcCfg membership.Config) *node {
	tb.Helper()
	n := &node{store: db.open(tb)}
	tb.Cleanup(n.stop)
	svc, r := queuedService(tb, n.store, cfg, svcCfg)
	if err := r.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	n.svc, n.runner = svc, r
	return n
}

// queuedService returns a service on st with a job queue on st's engine,
// and the queue's runner, not yet started.
func queuedService(tb testing.TB, st membership.Store, cfg jobs.Config, svcCfg membership.Config) (*membership.Service, *jobs.Runner) {
	tb.Helper()
	q := jobstest.NewQueue(tb, st, cfg)
	svcCfg.Queue = q
	svc := membership.NewService(st, svcCfg)
	r, err := jobs.NewRunner(svc, q)
	if err != nil {
		tb.Fatal(err)
	}
	return svc, r
}

// stop stops the node's runner, if it started, and closes its store.
func (n *node) stop() {
	if n.store == nil {
		return
	}
	if n.runner != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.runner.Stop(ctx)
	}
	_ = n.store.Close()
	n.store, n.runner = nil, nil
}

// org is an organization with an owner and a member in a space and group.
type org struct {
	owner   membership.Actor
	secret  string
	org     *membership.Organization
	member  *membership.Member
	space   *membership.Space
	sm      *membership.SpaceMember
	group   *membership.Group
	ownerID int64
}

func setupOrg(tb testing.TB, svc *membership.Service, name string) *org {
	tb.Helper()
	ctx := context.Background()
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: name, OwnerEmail: "owner@" + name + ".test"})
	if err != nil {
		tb.Fatal(err)
	}
	a := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID,
		Scopes: b.Credential.Scopes, Interface: "test"}
	o := &org{owner: a, secret: b.Secret, org: b.Organization, ownerID: b.Owner.ID}
	if o.member, err = svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "bob@" + name + ".test"}); err != nil {
		tb.Fatal(err)
	}
	if o.space, err = svc.CreateSpace(ctx, a, "HQ"); err != nil {
		tb.Fatal(err)
	}
	if o.sm, err = svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: o.space.ID},
		Member: membership.MemberRef{ID: o.member.ID}, Roles: []string{"editor", "viewer", "approver"}}); err != nil {
		tb.Fatal(err)
	}
	if o.group, err = svc.CreateGroup(ctx, a, "Eng"); err != nil {
		tb.Fatal(err)
	}
	if _, err = svc.AddGroupMember(ctx, a, membership.Ref{ID: o.group.ID}, membership.MemberRef{ID: o.member.ID}); err != nil {
		tb.Fatal(err)
	}
	return o
}

// waitOperation polls an operation until it is final or d passes.
func waitOperation(tb testing.TB, svc *membership.Service, a membership.Actor, id string, d time.Duration) *membership.Operation {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		op, err := svc.Operation(context.Background(), a, id)
		if err != nil {
			tb.Fatal(err)
		}
		if op.Status.Done() {
			return op
		}
		if time.Now().After(deadline) {
			tb.Fatalf("operation %s still %s after %s", id, op.Status, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
