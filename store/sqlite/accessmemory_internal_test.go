package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// groupsWorld is a member who reaches a resource through group A, and
// whose membership of group B (also granted it) has ended; the copy of
// access in memory is on.
type groupsWorld struct {
	st                       *Store
	svc                      *membership.Service
	owner                    membership.Actor
	org, member, resource    int64
	groupA, groupB, gmA, gmB int64
}

func newGroupsWorld(t *testing.T) *groupsWorld {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test", OwnerName: "Owner"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, b.Secret)
	if err != nil {
		t.Fatal(err)
	}
	owner := membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: "test", Member: p.Member}
	m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: "m@acme.test", Name: "m", Role: membership.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "lock", Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	w := &groupsWorld{st: st, svc: svc, owner: owner, org: owner.OrgID, member: m.ID, resource: r.ID}
	for _, g := range []*int64{&w.groupA, &w.groupB} {
		grp, err := svc.CreateGroup(ctx, owner, "g")
		if err != nil {
			t.Fatal(err)
		}
		*g = grp.ID
		if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: grp.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	gmA, err := svc.AddGroupMember(ctx, owner, membership.Ref{ID: w.groupA}, membership.MemberRef{ID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	gmB, err := svc.AddGroupMember(ctx, owner, membership.Ref{ID: w.groupB}, membership.MemberRef{ID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.gmA, w.gmB = gmA.ID, gmB.ID
	w.exec(t, `UPDATE group_members SET status = 'removed' WHERE id = ?`, w.gmB)
	if err := st.EnableAccessMemory(ctx, DefaultAccessMemory, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return w
}

// exec runs one statement in a write transaction of the store's own.
func (w *groupsWorld) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if err := w.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
		_, err := tx.ExecContext(context.Background(), q, args...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// fromMemory waits up to d for the copy to answer.
func (w *groupsWorld) fromMemory(t *testing.T, d time.Duration) *membership.AccessAnswer {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ans, ok := w.st.AccessInMemory(w.org, w.member, w.resource); ok {
			return ans
		}
		if time.Now().After(deadline) {
			t.Fatal("the copy never answered")
		}
		time.Sleep(time.Millisecond)
	}
}

// statement is the check's statement's answer.
func (w *groupsWorld) statement(t *testing.T) *membership.AccessAnswer {
	t.Helper()
	var ans *membership.AccessAnswer
	if err := w.st.View(context.Background(), func(tx membership.Tx) (err error) {
		ans, err = tx.AccessCheckRef(context.Background(), &membership.AccessCheckRefParams{
			Member: membership.MemberGetParams{OrgID: w.org, ID: w.member}, Resource: membership.RefParams{OrgID: w.org, ID: w.resource}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ans
}

// TestAccessMemorySeesDeletes: no memberd statement deletes a tracked row,
// but a delete through the writer must be seen all the same, by every
// driver's hook (modernc's pre-update hook names a deleted row by its old
// id only).
func TestAccessMemorySeesDeletes(t *testing.T) {
	w := newGroupsWorld(t)
	if got := w.fromMemory(t, 5*time.Second).Access.GroupIDs; !slices.Equal(got, []int64{w.groupA}) {
		t.Fatalf("before: %v", got)
	}
	w.exec(t, `DELETE FROM group_members WHERE id = ?`, w.gmA)
	time.Sleep(100 * time.Millisecond) // any pass has run
	mem, sqlAns := w.fromMemory(t, 5*time.Second), w.statement(t)
	if mem.Access.Allowed != sqlAns.Access.Allowed || !slices.Equal(mem.Access.GroupIDs, sqlAns.Access.GroupIDs) {
		t.Fatalf("after the delete: copy %+v, statement %+v", *mem.Access, *sqlAns.Access)
	}
}

// gateSource holds the writer, once armed, inside Store.ended: after its
// COMMIT, before its rows are marked.
type gateSource struct {
	changeSource
	armed            atomic.Bool
	entered, release chan struct{}
}

func (g *gateSource) take(dst []rowKey) ([]rowKey, bool) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.changeSource.take(dst)
}

// TestAccessMemoryCommitWindow: between a commit and its rows' marks, a
// pass that reads back a row an earlier commit marked, and this one also
// changed, clears that mark with the new state while the transaction's
// other rows are not marked yet. The copy must not answer from that mix of
// before and after (it answered groups [A B] when the member moved from A
// to B in one transaction).
func TestAccessMemoryCommitWindow(t *testing.T) {
	w := newGroupsWorld(t)
	if got := w.fromMemory(t, 5*time.Second).Access.GroupIDs; !slices.Equal(got, []int64{w.groupA}) {
		t.Fatalf("before: %v", got)
	}
	gate := &gateSource{changeSource: w.st.changes, entered: make(chan struct{}), release: make(chan struct{})}
	w.st.changes = gate // between transactions; hookWriter keeps it (same driver conn)
	gate.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		// Move the member from group A to group B in one transaction.
		done <- w.st.UpdateSQL(context.Background(), func(tx *sql.Tx, _ membership.Tx) error {
			if _, err := tx.Exec(`UPDATE group_members SET status = 'removed' WHERE id = ?`, w.gmA); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE group_members SET status = 'active' WHERE id = ?`, w.gmB)
			return err
		})
	}()
	<-gate.entered // committed, not yet acknowledged
	sqlAns := w.statement(t)
	if c, ok := w.st.AccessInMemory(w.org, w.member, w.resource); ok {
		t.Logf("statement after COMMIT: %v; copy: %v", sqlAns.Access.GroupIDs, c.Access.GroupIDs)
	}
	// An earlier commit marked gmB (what Store.ended does for it) and its
	// pass has not run yet.
	m := w.st.memory.Load()
	m.mu.Lock()
	m.seq++
	m.dirty[rowKey{tableGroupMembers, w.gmB}] = m.seq
	m.mu.Unlock()
	before := m.passes.Load()
	m.poke()
	for m.passes.Load() == before || w.st.AccessMemoryDirty() != 0 {
		time.Sleep(time.Millisecond)
	}
	mem, ok := w.st.AccessInMemory(w.org, w.member, w.resource)
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !ok {
		return
	}
	if got := mem.Access.GroupIDs; !slices.Equal(got, []int64{w.groupA}) && !slices.Equal(got, []int64{w.groupB}) {
		t.Fatalf("the copy answered groups %v: neither before (%d) nor after (%d) the commit", got, w.groupA, w.groupB)
	}
}

// TestAccessMemoryWriterReplaced: database/sql replaces a writer
// connection that reports driver.ErrBadConn. The next write transaction
// must put the update hook on the new connection before its first
// statement, or the copy never learns of that connection's changes; and
// a replaced connection's change buffer goes with it, not once per
// replacement for the life of the process.
func TestAccessMemoryWriterReplaced(t *testing.T) {
	w := newGroupsWorld(t)
	ctx := context.Background()
	const replacements = 20
	live := liveChangeSources()
	for i := range replacements {
		c, err := w.st.writer.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Raw(func(any) error { return driver.ErrBadConn }); !errors.Is(err, driver.ErrBadConn) {
			t.Fatalf("Raw: %v", err)
		}
		_ = c.Close() // already closed with the bad connection
		status := []string{"removed", "active"}[i%2]
		w.exec(t, `UPDATE group_members SET status = ? WHERE id = ?`, status, w.gmA)
		mem, sqlAns := w.fromMemory(t, 5*time.Second), w.statement(t)
		if mem.Access.Allowed != (status == "active") || mem.Access.Allowed != sqlAns.Access.Allowed {
			t.Fatalf("replacement %d, group membership %s: copy allowed=%v, statement allowed=%v", i, status, mem.Access.Allowed, sqlAns.Access.Allowed)
		}
	}
	if live < 0 {
		return // this driver's hook keeps its changes on the Go heap
	}
	// Each replaced connection is freed by the collector, its prepared
	// statements' finalizers first, so give it a few cycles.
	for range 50 {
		runtime.GC()
		if liveChangeSources()-live < replacements/2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d change buffers live after %d writer connections were replaced (%d before)", liveChangeSources(), replacements, live)
}

// TestAccessMemoryReloadPace: whole reloads that answer no check before
// the next is needed back off from 50 ms, doubling, to at most 10 s; a
// reload that answered one, or came after a quiet spell, waits for
// nothing.
func TestAccessMemoryReloadPace(t *testing.T) {
	a := &accessMemory{lastReload: time.Now()}
	want := []time.Duration{0, 50, 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	a.answered.Store(1) // the first reload answered a check since the last
	for i, ms := range want {
		if got := a.reloadWait(); got != ms*time.Millisecond {
			t.Fatalf("reload %d: waited %v, want %v", i, got, ms*time.Millisecond)
		}
		a.lastReload, a.answeredAtReload = time.Now(), a.answered.Load()
	}
	a.answered.Add(1)
	if got := a.reloadWait(); got != 0 {
		t.Fatalf("after a reload that answered a check: waited %v", got)
	}
	a.answeredAtReload = a.answered.Load()
	if got := a.reloadWait(); got != 50*time.Millisecond {
		t.Fatalf("the backoff starts again from: %v", got)
	}
	a.lastReload = time.Now().Add(-2 * reloadQuiet)
	if got := a.reloadWait(); got != 0 {
		t.Fatalf("after a quiet spell: waited %v", got)
	}
}
