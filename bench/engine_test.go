package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// dbFilesOpen lists the database files under dir this process holds open.
func dbFilesOpen(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			open = append(open, target)
		}
	}
	return open
}

// TestDetachLeavesTheFile checks that a server phase finds the database
// file alone: detached, the bench holds none of its files (no checkpointer
// of its own competes with the server's), S1's checkpoint still empties
// the WAL, and withServer reopens the store afterwards even when the
// server failed to start.
func TestDetachLeavesTheFile(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, "sqlite", t.TempDir())
	d, err := Setup(ctx, e.Store, DefaultShape(1))
	if err != nil {
		t.Fatal(err)
	}
	if open := dbFilesOpen(t, e.DataDir); len(open) == 0 {
		t.Fatal("the attached store holds no file of the database: the check below proves nothing")
	}
	if err := e.detach(); err != nil {
		t.Fatal(err)
	}
	if open := dbFilesOpen(t, e.DataDir); len(open) > 0 {
		t.Fatalf("detached, the bench still holds %v", open)
	}
	if _, err := e.Settle(ctx); err != nil {
		t.Fatalf("checkpoint while detached: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(e.DataDir, "bench.db-wal")); err == nil && fi.Size() > 0 {
		t.Errorf("the WAL holds %d bytes after a detached checkpoint", fi.Size())
	}
	if open := dbFilesOpen(t, e.DataDir); len(open) > 0 {
		t.Fatalf("after the detached checkpoint the bench still holds %v", open)
	}
	if err := e.attach(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx, membership.NewService(e.Store, membership.DefaultConfig())); err != nil {
		t.Fatalf("reattached store: %v", err)
	}

	r := &runner{cfg: Config{Bin: filepath.Join(t.TempDir(), "no-such-memberd")}, e: e, d: d}
	if _, err := r.withServer(ctx, nil, func(*Client) { t.Error("fn ran without a server") }); err == nil {
		t.Fatal("a server that cannot start started")
	}
	if e.Store == nil {
		t.Fatal("withServer left the store closed after the server failed to start")
	}
	if _, err := e.tables(ctx); err != nil {
		t.Fatalf("store after withServer: %v", err)
	}
}
