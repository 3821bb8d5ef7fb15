package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// foreignWriterEnv makes this test binary the other process of
// TestAccessMemorySeesOtherProcesses: it names the database, the owner's
// secret and the member it removes and restores.
const foreignWriterEnv = "MEMBERD_TEST_FOREIGN_WRITER"

// memoryWorld is an organization with one member who reaches a resource
// by a direct grant, in the database at path.
type memoryWorld struct {
	path     string
	secret   string
	member   int64
	resource int64
}

func newMemoryWorld(t *testing.T) *memoryWorld {
	t.Helper()
	ctx := context.Background()
	w := &memoryWorld{path: filepath.Join(t.TempDir(), "memberd.db")}
	st, err := sqlite.Open(ctx, w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test", OwnerName: "Owner"})
	if err != nil {
		t.Fatal(err)
	}
	owner := actorOf(t, svc, b.Secret)
	m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: "m@acme.test", Name: "m", Role: membership.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "lock", Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &membership.MemberRef{ID: m.ID}}); err != nil {
		t.Fatal(err)
	}
	w.secret, w.member, w.resource = b.Secret, m.ID, r.ID
	return w
}

func actorOf(t testing.TB, svc *membership.Service, secret string) membership.Actor {
	t.Helper()
	p, err := svc.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: "test", Member: p.Member}
}

// writer removes and restores the world's member through a store of its
// own on the same file, as another memberd process does.
type writer interface {
	do(t *testing.T, cmd string)
}

// allowed asks svc, whose store keeps the copy, and fails unless the
// copy answered (once it caught up) and the answer is want.
func (w *memoryWorld) allowed(t *testing.T, svc *membership.Service, st *sqlite.Store, owner membership.Actor, want bool, when string) {
	t.Helper()
	got, err := svc.CheckAccess(context.Background(), owner, membership.MemberRef{ID: w.member}, membership.Ref{ID: w.resource})
	if err != nil {
		t.Fatalf("%s: check: %v", when, err)
	}
	if got.Allowed != want {
		t.Fatalf("%s: allowed = %v, want %v", when, got.Allowed, want)
	}
}

// TestAccessMemorySeesOtherWriters removes and restores a member through
// another store on the same file, in this process and in another one,
// and checks through the store that keeps the copy right after each
// acknowledgement, with the copy current before every change: a removal
// is never allowed after it, a restore is seen at once. Between rounds
// the copy must answer again by itself (it reads itself again whole
// after another writer's commit).
func TestAccessMemorySeesOtherWriters(t *testing.T) {
	for _, mode := range []string{"store", "symlink", "process"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			w := newMemoryWorld(t)
			st, err := sqlite.Open(ctx, w.path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.EnableAccessMemory(ctx, sqlite.DefaultAccessMemory, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			svc := membership.NewService(st, membership.DefaultConfig())
			owner := actorOf(t, svc, w.secret)
			var other writer
			rounds := 300
			switch mode {
			case "store":
				other = newStoreWriter(t, w, w.path)
			case "symlink":
				// The counter is the database's, whatever name a
				// process opens it by, as SQLite's -wal and -shm are.
				link := filepath.Join(t.TempDir(), "link.db")
				if err := os.Symlink(w.path, link); err != nil {
					t.Fatal(err)
				}
				other = newStoreWriter(t, w, link)
			default:
				other = newProcessWriter(t, w)
				rounds = 100
			}
			for i := range rounds {
				w.waitAnswered(t, st, owner.OrgID, fmt.Sprintf("round %d", i))
				w.allowed(t, svc, st, owner, true, fmt.Sprintf("round %d before the removal", i))
				other.do(t, "remove")
				w.allowed(t, svc, st, owner, false, fmt.Sprintf("round %d after the removal", i))
				w.waitAnswered(t, st, owner.OrgID, fmt.Sprintf("round %d", i))
				w.allowed(t, svc, st, owner, false, fmt.Sprintf("round %d after the removal, from the copy", i))
				other.do(t, "restore")
				w.allowed(t, svc, st, owner, true, fmt.Sprintf("round %d after the restore", i))
			}
			if answered, _ := st.AccessMemoryStats(); answered < uint64(rounds) {
				t.Fatalf("the copy answered %d checks of %d rounds", answered, rounds)
			}
		})
	}
}

// waitAnswered waits until the copy answers a check of the world's pair.
func (w *memoryWorld) waitAnswered(t *testing.T, st *sqlite.Store, org int64, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := st.AccessInMemory(org, w.member, w.resource); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the copy did not catch up in 10 s", when)
		}
		time.Sleep(time.Millisecond)
	}
}

// storeWriter writes through a second store in this process: its own
// connections and its own mapping of the commit counter.
type storeWriter struct {
	svc   *membership.Service
	owner membership.Actor
	w     *memoryWorld
}

func newStoreWriter(t *testing.T, w *memoryWorld, path string) *storeWriter {
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := membership.NewService(st, membership.DefaultConfig())
	return &storeWriter{svc: svc, owner: actorOf(t, svc, w.secret), w: w}
}

func (s *storeWriter) do(t *testing.T, cmd string) {
	t.Helper()
	if err := change(s.svc, s.owner, s.w.member, cmd); err != nil {
		t.Fatal(err)
	}
}

func change(svc *membership.Service, owner membership.Actor, member int64, cmd string) error {
	ctx, ref := context.Background(), membership.MemberRef{ID: member}
	var err error
	switch cmd {
	case "remove":
		_, err = svc.RemoveMember(ctx, owner, membership.RemoveMemberRequest{Member: ref})
	case "restore":
		_, err = svc.RestoreMember(ctx, owner, membership.RestoreMemberRequest{Member: ref})
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	return err
}

// processWriter writes through this test binary run as another process
// (TestForeignWriterProcess), one command a line on its stdin, each
// acknowledged on its stdout once committed.
type processWriter struct {
	in  io.Writer
	out *bufio.Scanner
}

func newProcessWriter(t *testing.T, w *memoryWorld) *processWriter {
	cmd := exec.Command(os.Args[0], "-test.run=^TestForeignWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), foreignWriterEnv+"="+w.path+"\n"+w.secret+"\n"+strconv.FormatInt(w.member, 10))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	return &processWriter{in: in, out: bufio.NewScanner(out)}
}

func (p *processWriter) do(t *testing.T, cmd string) {
	t.Helper()
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		t.Fatal(err)
	}
	for p.out.Scan() {
		switch line := p.out.Text(); line {
		case "ok":
			return
		default:
			if len(line) > 6 && line[:6] == "error:" {
				t.Fatalf("the other process: %s", line)
			}
		}
	}
	t.Fatalf("the other process ended: %v", p.out.Err())
}

// TestForeignWriterProcess is the other process of
// TestAccessMemorySeesOtherWriters; run by itself it does nothing.
func TestForeignWriterProcess(t *testing.T) {
	spec := os.Getenv(foreignWriterEnv)
	if spec == "" {
		return
	}
	var path, secret, member string
	if _, err := fmt.Sscanf(spec, "%s\n%s\n%s", &path, &secret, &member); err != nil {
		fmt.Println("error:", err)
		return
	}
	id, _ := strconv.ParseInt(member, 10, 64)
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	owner := actorOf(t, svc, secret)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := change(svc, owner, id, in.Text()); err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("ok")
	}
}

// TestAccessMemoryLimits turns the copy off when the database holds more
// members than it may, at the load or later, and then checks still answer
// from the database and changes are no longer marked; a transaction that
// changes more rows than it lists has the copy read again whole; a closed
// store answers nothing from memory and closes twice.
func TestAccessMemoryLimits(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	open := func(t *testing.T, w *memoryWorld, maxMembers int, opts ...sqlite.Option) (*sqlite.Store, *membership.Service, membership.Actor) {
		st, err := sqlite.Open(ctx, w.path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.EnableAccessMemory(ctx, maxMembers, quiet); err != nil {
			t.Fatal(err)
		}
		svc := membership.NewService(st, membership.DefaultConfig())
		return st, svc, actorOf(t, svc, w.secret)
	}
	addMembers := func(t *testing.T, svc *membership.Service, owner membership.Actor, n int) []int64 {
		var ids []int64
		for i := range n {
			m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: fmt.Sprintf("x%d@acme.test", i), Name: "x", Role: membership.RoleMember})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		return ids
	}
	t.Run("too many at the load", func(t *testing.T) {
		w := newMemoryWorld(t)
		st, svc, owner := open(t, w, 1) // the owner and the member: two
		if _, ok := st.AccessInMemory(owner.OrgID, w.member, w.resource); ok {
			t.Fatal("a copy of two members answered with a limit of one")
		}
		w.allowed(t, svc, st, owner, true, "before the removal")
		if err := change(svc, owner, w.member, "remove"); err != nil {
			t.Fatal(err)
		}
		w.allowed(t, svc, st, owner, false, "after the removal")
		if n := st.AccessMemoryDirty(); n != 0 {
			t.Fatalf("the copy is off and marked %d rows", n)
		}
	})
	t.Run("too many later", func(t *testing.T) {
		w := newMemoryWorld(t)
		st, svc, owner := open(t, w, 3)
		w.waitAnswered(t, st, owner.OrgID, "loaded")
		addMembers(t, svc, owner, 2)
		if err := change(svc, owner, w.member, "remove"); err != nil {
			t.Fatal(err)
		}
		w.allowed(t, svc, st, owner, false, "after the removal")
		deadline := time.Now().Add(10 * time.Second)
		for st.AccessMemoryDirty() != 0 { // turning off clears the marks
			if time.Now().After(deadline) {
				t.Fatal("the copy did not turn itself off")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if _, ok := st.AccessInMemory(owner.OrgID, w.member, w.resource); ok {
			t.Fatal("a copy of four members answered with a limit of three")
		}
		w.allowed(t, svc, st, owner, false, "after the copy turned off")
	})
	t.Run("more changes than listed", func(t *testing.T) {
		w := newMemoryWorld(t)
		st, svc, owner := open(t, w, sqlite.DefaultAccessMemory, sqlite.WithMaxChanges(4))
		ids := append(addMembers(t, svc, owner, 3), w.member)
		w.waitAnswered(t, st, owner.OrgID, "loaded")
		w.allowed(t, svc, st, owner, true, "before the removal")
		var items []membership.MemberRef
		for _, id := range ids {
			items = append(items, membership.MemberRef{ID: id})
		}
		if _, err := svc.RemoveBatch(ctx, owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: items}); err != nil {
			t.Fatal(err)
		}
		w.allowed(t, svc, st, owner, false, "right after the removal")
		w.waitAnswered(t, st, owner.OrgID, "after the removal")
		if ans, _ := st.AccessInMemory(owner.OrgID, w.member, w.resource); ans.Access.Allowed {
			t.Fatal("the copy read again whole still allows the removed member")
		}
	})
	t.Run("closed", func(t *testing.T) {
		w := newMemoryWorld(t)
		st, _, owner := open(t, w, sqlite.DefaultAccessMemory)
		w.waitAnswered(t, st, owner.OrgID, "loaded")
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := st.AccessInMemory(owner.OrgID, w.member, w.resource); ok {
			t.Fatal("a closed store answered from memory")
		}
		_ = st.Close() // twice, as a shutdown may
	})
}
