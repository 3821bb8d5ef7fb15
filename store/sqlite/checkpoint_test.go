package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// walBound is the WAL size the background checkpointer keeps a database
// under while members are added and removed as fast as the writer
// commits. Measured at 7 MiB on a loaded 2-core machine; the margin is for
// faster disks, which commit more between two looks of the checkpointer
// (see docs/decisions.md).
const walBound = 64 << 20

// TestCheckpointBoundsWAL adds and removes members from 8 goroutines for
// two seconds, watching the WAL's size, then checks an idle database's WAL
// is emptied.
func TestCheckpointBoundsWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "memberd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test", OwnerName: "Owner"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, b.Secret)
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID, Scopes: p.Credential.Scopes, Interface: "test", Member: p.Member}
	var maxWAL, removed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the watcher
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	var load sync.WaitGroup
	for g := range 8 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				m, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: fmt.Sprintf("m%d-%d@acme.test", g, i), Name: "M"})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
					t.Error(err)
					return
				}
				removed.Add(1)
			}
		}()
	}
	load.Wait()
	time.Sleep(time.Second) // idle: the checkpointer truncates the WAL
	close(stop)
	wg.Wait()
	t.Logf("%d removals; largest WAL %d KiB", removed.Load(), maxWAL.Load()>>10)
	if maxWAL.Load() > walBound {
		t.Errorf("largest WAL: got %d bytes, want at most %d", maxWAL.Load(), walBound)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("idle WAL: got %d bytes, want 0", fi.Size())
	}
}
