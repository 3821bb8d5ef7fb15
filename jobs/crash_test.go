package jobs_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

// The crash tests run memberd nodes as child processes (this test binary
// re-executed into TestHelperNode) and kill them with SIGKILL in the
// middle of a job: inside the transaction that applies the job's effect,
// before it commits. A second node on the same database must then finish
// the job with its effect applied exactly once.

const (
	envHelper = "MEMBERD_JOBS_HELPER_NODE" // "sqlite:PATH" or "postgres:DSN"
	envBlock  = "MEMBERD_JOBS_HELPER_BLOCK"
)

// helperConfig lets River rescue a killed node's job within seconds.
func helperConfig() jobs.Config {
	cfg := testConfig()
	cfg.JobTimeout = 2 * time.Second
	cfg.RescueAfter = 3 * time.Second
	return cfg
}

// TestHelperNode is not a test: it is a memberd node that crash tests
// start as a child process and kill.
func TestHelperNode(t *testing.T) {
	spec := os.Getenv(envHelper)
	if spec == "" {
		t.Skip("runs only as a crash test's child process")
	}
	ctx := context.Background()
	st := openSpec(t, spec)
	cfg := helperConfig()
	block := os.Getenv(envBlock) != ""
	cfg.BeforeComplete = func(ctx context.Context, kind string) {
		fmt.Printf("IN_TX %s\n", kind)
		if block {
			select {} // hold the transaction open until the parent kills us
		}
	}
	_, r := queuedService(t, st, cfg, svcConfig())
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("STARTED")
	time.Sleep(2 * time.Minute) // bounded: the parent kills us long before
}

func openSpec(tb testing.TB, spec string) membership.Store {
	tb.Helper()
	engine, where, _ := strings.Cut(spec, ":")
	var st membership.Store
	var err error
	if engine == "sqlite" {
		st, err = sqlite.Open(context.Background(), where)
	} else {
		st, err = postgres.Open(context.Background(), where)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// child is a running helper node.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, spec string, block bool) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNode$", "-test.v")
	cmd.Env = append(os.Environ(), envHelper+"="+spec)
	if block {
		cmd.Env = append(cmd.Env, envBlock+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		close(c.lines)
	}()
	t.Cleanup(c.kill)
	return c
}

// waitLine waits for a line starting with prefix.
func (c *child) waitLine(t *testing.T, prefix string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("helper exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-timeout:
			t.Fatalf("helper did not print %q within %s", prefix, d)
		}
	}
}

func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

// crashDB is a database the parent and its children share.
func crashDB(t *testing.T, engine string) string {
	if engine == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "memberd.db")
	}
	return "postgres:" + pgtest.NewDatabase(t)
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests take about half a minute per case")
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each case waits ~20 s for River's leader and rescuer
			for _, tc := range []struct {
				name string
				// start makes the job; the parent's runner is never started.
				start func(t *testing.T, svc *membership.Service, o *org) string
				kind  string
			}{
				{"Operation", func(t *testing.T, svc *membership.Service, o *org) string {
					op, err := svc.StartOperation(context.Background(), o.owner, membership.StartOperationRequest{
						Request: membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: []string{"viewer", "editor"}}},
					})
					if err != nil {
						t.Fatal(err)
					}
					return op.UUID
				}, "memberd_operation"},
				{"Schedule", func(t *testing.T, svc *membership.Service, o *org) string {
					at := time.Now().Add(time.Second)
					op, err := svc.StartOperation(context.Background(), o.owner, membership.StartOperationRequest{
						Request:     membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: []string{"viewer", "editor"}}},
						EffectiveAt: &at,
					})
					if err != nil {
						t.Fatal(err)
					}
					return op.UUID
				}, "memberd_operation"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					spec := crashDB(t, engine)
					parent := openSpec(t, spec)
					defer parent.Close()
					svc, _ := queuedService(t, parent, helperConfig(), svcConfig())
					o := setupOrg(t, svc, "crash")
					id := tc.start(t, svc, o)

					first := startChild(t, spec, true)
					first.waitLine(t, "IN_TX "+tc.kind, 30*time.Second)
					first.kill()

					op, err := svc.Operation(context.Background(), o.owner, id)
					if err != nil {
						t.Fatal(err)
					}
					if op.Status.Done() {
						t.Fatalf("operation %s after the kill, before its transaction committed", op.Status)
					}
					sm, _ := svc.SpaceMembership(context.Background(), o.owner, o.sm.ID)
					if len(sm.Roles) != 3 {
						t.Fatalf("roles %v after the kill: a half-done job leaked", sm.Roles)
					}

					second := startChild(t, spec, false)
					second.waitLine(t, "STARTED", 30*time.Second)
					op = waitOperation(t, svc, o.owner, id, 90*time.Second)
					if op.Status != membership.OperationSucceeded || op.Attempts != 2 {
						t.Fatalf("operation %s after %d attempts: %+v", op.Status, op.Attempts, op.Error)
					}
					sm, _ = svc.SpaceMembership(context.Background(), o.owner, o.sm.ID)
					if diff := cmp.Diff([]string{"approver"}, sm.Roles); diff != "" {
						t.Fatalf("roles (-want +got):\n%s", diff)
					}
					events, err := svc.Events(context.Background(), o.owner, membership.EventListParams{Action: "roles.revoked"})
					if err != nil || len(events) != 1 {
						t.Fatalf("%d roles.revoked events, want exactly 1 (%v)", len(events), err)
					}
				})
			}

			t.Run("Delivery", func(t *testing.T) {
				t.Parallel()
				spec := crashDB(t, engine)
				parent := openSpec(t, spec)
				defer parent.Close()
				svc, _ := queuedService(t, parent, helperConfig(), svcConfig())
				o := setupOrg(t, svc, "crashhook")
				rc := newReceiver(t)
				ep, err := svc.CreateWebhookEndpoint(context.Background(), o.owner, membership.CreateWebhookEndpointRequest{URL: rc.srv.URL, Events: []string{membership.WebhookMemberRemoved}})
				if err != nil {
					t.Fatal(err)
				}
				rc.secret = ep.Secret
				if _, err := svc.RemoveMember(context.Background(), o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
					t.Fatal(err)
				}
				first := startChild(t, spec, true)
				// Killed after the receiver answered, before the outcome committed.
				first.waitLine(t, "IN_TX memberd_webhook_delivery", 30*time.Second)
				first.kill()
				second := startChild(t, spec, false)
				second.waitLine(t, "STARTED", 30*time.Second)
				ds, err := svc.WebhookDeliveries(context.Background(), o.owner, "", membership.WebhookDeliveryListParams{})
				if err != nil || len(ds) != 1 {
					t.Fatalf("deliveries %v %v", ds, err)
				}
				log := waitDelivery90(t, svc, o, ds[0].UUID)
				got := rc.received()
				if len(got) != 2 || got[0].ID != got[1].ID || got[0].ID != log.Message.UUID {
					// At least once: the receiver saw it before the kill
					// and again after, with the same webhook-id to dedupe on.
					t.Fatalf("received %+v, want the message twice", got)
				}
				if len(log.Attempts) != 1 {
					t.Fatalf("%d attempts logged, want the one that committed", len(log.Attempts))
				}
			})
		})
	}
}

func waitDelivery90(t *testing.T, svc *membership.Service, o *org, id string) *membership.WebhookDeliveryLog {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		log, err := svc.WebhookDelivery(context.Background(), o.owner, id)
		if err != nil {
			t.Fatal(err)
		}
		if log.Delivery.Status == membership.DeliveryDelivered {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery still %s", log.Delivery.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoNodes runs two nodes on one PostgreSQL and checks that every
// job ran on exactly one of them, once.
func TestTwoNodes(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := engine{name: "postgres", open: func(tb testing.TB) membership.Store {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			tb.Fatal(err)
		}
		return st
	}}
	var mu sync.Mutex
	ran := map[string]int{} // job completions per node
	cfgFor := func(name string) jobs.Config {
		cfg := testConfig()
		cfg.BeforeComplete = func(context.Context, string) {
			mu.Lock()
			ran[name]++
			mu.Unlock()
		}
		return cfg
	}
	a := startNode(t, db, cfgFor("a"), svcConfig())
	b := startNode(t, db, cfgFor("b"), svcConfig())
	ctx := context.Background()
	const n = 30
	type job struct {
		o  *org
		id string
	}
	var started []job
	for i := range n {
		o := setupOrg(t, a.svc, fmt.Sprintf("two%d", i))
		svc := a.svc
		if i%2 == 1 {
			svc = b.svc
		}
		op, err := svc.StartOperation(ctx, o.owner, membership.StartOperationRequest{
			Request: membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: []string{"viewer"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, job{o, op.UUID})
	}
	for _, j := range started {
		op := waitOperation(t, b.svc, j.o.owner, j.id, 30*time.Second)
		if op.Status != membership.OperationSucceeded || op.Attempts != 1 {
			t.Fatalf("operation %s after %d attempts", op.Status, op.Attempts)
		}
		events, err := a.svc.Events(ctx, j.o.owner, membership.EventListParams{Action: "roles.revoked"})
		if err != nil || len(events) != 1 {
			t.Fatalf("%d roles.revoked events, want 1 (%v)", len(events), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if ran["a"]+ran["b"] != n {
		t.Fatalf("completions a=%d b=%d, want %d in all", ran["a"], ran["b"], n)
	}
	t.Logf("node a ran %d jobs, node b %d", ran["a"], ran["b"])
}
