//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// commitsSuffix names the file, beside the database's, that holds the
// count of commits every memberd process has made to it (commitCounter).
const commitsSuffix = "-memberd-commits"

// commitCounter is a count of commits shared by every process that has
// the database open, in a small file each maps into memory: a writer adds
// one after each commit and before it answers anyone, so a process that
// keeps a copy of the database in memory (accessMemory) learns of another
// process's commit with one atomic load, before any check it answers
// after that commit was acknowledged. It is what SQLite's own wal-index
// (-shm) is to its readers, for memberd's copy.
type commitCounter struct {
	n    *atomic.Uint64
	path string
	dev  uint64 // the mapped file, to tell whether the path still names it
	ino  uint64
}

// openCommitCounter maps the counter file of the database at path,
// creating it with the database's owner and permissions if needed; nil for
// a database that is not a file of its own. The path is resolved as SQLite
// resolves it for its own -wal and -shm files, through symbolic links, so
// every process that opens the database by any such name shares the count.
func openCommitCounter(path string) (*commitCounter, error) {
	if strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, nil
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	var db syscall.Stat_t
	if err := syscall.Stat(path, &db); err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	f, err := os.OpenFile(path+commitsSuffix, os.O_RDWR|os.O_CREATE, os.FileMode(db.Mode&0o666))
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	// Run as root (a migration by hand, say), the file would be root's and
	// the server, running as the database's owner, could not open it: it
	// is handed to the database's owner, as SQLite does with -wal and -shm.
	if os.Geteuid() == 0 && (st.Uid != db.Uid || st.Gid != db.Gid) {
		if err := f.Chown(int(db.Uid), int(db.Gid)); err != nil {
			return nil, fmt.Errorf("commit counter: %w", err)
		}
	}
	const size = 4096
	// A file another process created and is about to extend reads short:
	// extending it again to the same size is harmless, and shrinking it
	// never happens.
	if st.Size < size {
		if err := f.Truncate(size); err != nil {
			return nil, fmt.Errorf("commit counter: %w", err)
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	// The mapping is page-aligned, so its first eight bytes are an aligned
	// word that atomic operations of every process act on. It is never
	// unmapped: one page, and a call that comes after the store closed
	// (a request still in flight at shutdown) must not fault.
	return &commitCounter{n: (*atomic.Uint64)(unsafe.Pointer(&mem[0])), path: path + commitsSuffix,
		dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// load is the number of commits made so far.
func (c *commitCounter) load() uint64 { return c.n.Load() }

// add counts one commit and returns the new count.
func (c *commitCounter) add() uint64 { return c.n.Add(1) }

// same reports whether the counter's path still names the file this
// process mapped: a file deleted or replaced under a running server would
// split the processes onto two counts.
func (c *commitCounter) same() bool {
	var st syscall.Stat_t
	return syscall.Stat(c.path, &st) == nil && uint64(st.Dev) == c.dev && uint64(st.Ino) == c.ino
}
