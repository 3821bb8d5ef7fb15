package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
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
	st, path := openCheckpointStore(t)
	svc, a := checkpointOrg(t, st)
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
	removed.Store(churn(t, svc, a, 8, 2*time.Second))
	close(stop)
	wg.Wait()
	t.Logf("%d removals; largest WAL %d KiB", removed.Load(), maxWAL.Load()>>10)
	if maxWAL.Load() > walBound {
		t.Errorf("largest WAL: got %d bytes, want at most %d", maxWAL.Load(), walBound)
	}
	// Idle: the checkpointer truncates the WAL once the writer has been
	// quiet for half a second.
	var size int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fi, err := os.Stat(path + "-wal")
		if size = 0; err == nil {
			size = fi.Size()
		}
		if size == 0 {
			break
		}
	}
	if size != 0 {
		t.Errorf("idle WAL: got %d bytes, want 0", size)
	}
}

// TestCheckpointLeavesBusyWALAlone holds each of a series of write
// transactions open for longer than the checkpointer's look at the WAL,
// so that the WAL's file stays unchanged across looks while the writer is
// busy: the checkpointer must not take that for idleness and empty the
// WAL (a TRUNCATE holds the write lock for its copy and syncs, which
// stalled every caller queued behind it).
func TestCheckpointLeavesBusyWALAlone(t *testing.T) {
	ctx := context.Background()
	st, path := openCheckpointStore(t)
	if _, err := st.Writer().ExecContext(ctx, "CREATE TABLE busy (n INTEGER)"); err != nil {
		t.Fatal(err)
	}
	var emptied atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() == 0 {
				emptied.Add(1)
			}
		}
	}()
	for i := range 12 {
		if err := st.UpdateSQL(ctx, func(tx *sql.Tx, _ membership.Tx) error {
			time.Sleep(120 * time.Millisecond) // two looks of the checkpointer
			_, err := tx.ExecContext(ctx, "INSERT INTO busy (n) VALUES (?)", i)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // a gap, as between requests
	}
	close(stop)
	<-watched
	if n := emptied.Load(); n > 0 {
		t.Errorf("WAL found empty %d times between busy transactions, want never", n)
	}
}

// TestCheckpointSparesWriterFromOldReader holds a read transaction on an
// old snapshot, as a long export does, while writes drive the WAL past
// the restart threshold: a RESTART cannot finish until that reader ends,
// and since it waits on the writer's pool, it must give up quickly rather
// than hold the single writer for the busy timeout (10 s), stopping every
// write meanwhile.
func TestCheckpointSparesWriterFromOldReader(t *testing.T) {
	ctx := context.Background()
	const restart = 1 << 20
	st, _ := openCheckpointStore(t, sqlite.WithCheckpointSizes(restart/4, restart, 16*restart))
	svc, a := checkpointOrg(t, st)
	rtx, err := st.Reader().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	var n int
	if err := rtx.QueryRowContext(ctx, "SELECT count(*) FROM members").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var slowest time.Duration
	for i, deadline := 0, time.Now().Add(1500*time.Millisecond); time.Now().Before(deadline); i++ {
		start := time.Now()
		if _, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: fmt.Sprintf("r%d@acme.test", i), Name: "M"}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("slowest write beside an old reader: %v", slowest)
	if slowest > time.Second {
		t.Errorf("slowest write beside an old reader: got %v, want under 1s", slowest)
	}
}

// TestCheckpointRestartsWALInPlace drives the WAL past the checkpointer's
// restart threshold several times and checks that each time the writer
// started it over in the same file, keeping its blocks, instead of
// truncating it: a commit that also allocates the file's blocks makes its
// fdatasync a journal commit.
func TestCheckpointRestartsWALInPlace(t *testing.T) {
	const restart = 1 << 20
	st, path := openCheckpointStore(t, sqlite.WithCheckpointSizes(restart/4, restart, 16*restart))
	svc, a := checkpointOrg(t, st)
	// The WAL header's checkpoint sequence number (bytes 12-15) changes
	// each time the WAL is started over.
	header := func() (seq uint32, size int64, ok bool) {
		f, err := os.Open(path + "-wal")
		if err != nil {
			return 0, 0, false
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return 0, 0, false
		}
		var h [16]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			return 0, fi.Size(), false
		}
		return binary.BigEndian.Uint32(h[12:]), fi.Size(), true
	}
	var inPlace, truncated int
	var maxWAL int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		lastSeq, lastSize, known := header()
		shrunk := false
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			seq, size, ok := header()
			if size < lastSize {
				shrunk = true
				truncated++
			}
			maxWAL = max(maxWAL, size)
			lastSize = size
			if !ok {
				continue
			}
			if known && seq != lastSeq {
				if !shrunk {
					inPlace++
				}
				shrunk = false
			}
			lastSeq, known = seq, true
		}
	}()
	churn(t, svc, a, 4, 3*time.Second)
	close(stop)
	<-watched
	t.Logf("WAL started over in place %d times, shrunk %d times; largest %d KiB", inPlace, truncated, maxWAL>>10)
	if inPlace < 2 {
		t.Errorf("WAL started over in place: got %d times, want at least 2", inPlace)
	}
	if inPlace <= truncated {
		t.Errorf("WAL shrunk %d times under load, started over in place %d times: want mostly in place", truncated, inPlace)
	}
	if maxWAL > 16*restart {
		t.Errorf("largest WAL: got %d bytes, want at most %d", maxWAL, 16*restart)
	}
}

// TestCheckpointCutsLargeWAL writes one transaction several times the
// restart threshold, as a bulk import does, then commits small changes:
// the first commit after the WAL is started over must cut its file back
// (journal_size_limit), not keep it at the large transaction's size.
func TestCheckpointCutsLargeWAL(t *testing.T) {
	ctx := context.Background()
	const restart, limit = 1 << 20, 4 << 20
	st, path := openCheckpointStore(t, sqlite.WithCheckpointSizes(restart/4, restart, limit))
	svc, a := checkpointOrg(t, st)
	if err := st.UpdateSQL(ctx, func(tx *sql.Tx, _ membership.Tx) error {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE bulk (b BLOB)"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO bulk (b) VALUES (zeroblob(?))", 4*limit)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	grown := walSize()
	if grown < 4*limit {
		t.Fatalf("WAL after the large transaction: %d bytes, want at least %d", grown, 4*limit)
	}
	// The checkpointer empties only an idle WAL, and churn never lets it
	// be idle: the size when churn stops is what the limit left.
	churn(t, svc, a, 4, 2*time.Second)
	size := walSize()
	t.Logf("WAL %d KiB after the large transaction, %d KiB under churn", grown>>10, size>>10)
	if size > 2*limit {
		t.Errorf("WAL under churn after a large transaction: %d bytes, want at most %d", size, 2*limit)
	}
}

// openCheckpointStore opens a store on a fresh file, closed when t ends,
// and returns it with the file's path.
func openCheckpointStore(t *testing.T, opts ...sqlite.Option) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "memberd.db")
	st, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// checkpointOrg creates an organization on st and returns the service and
// its owner acting on it.
func checkpointOrg(t *testing.T, st membership.Store) (*membership.Service, membership.Actor) {
	t.Helper()
	ctx := context.Background()
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test", OwnerName: "Owner"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, actorOf(t, svc, b.Secret)
}

// churn adds and removes members from workers goroutines for d and
// returns how many it removed.
func churn(t *testing.T, svc *membership.Service, a membership.Actor, workers int, d time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	var removed atomic.Int64
	deadline := time.Now().Add(d)
	var load sync.WaitGroup
	for g := range workers {
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
	return removed.Load()
}
