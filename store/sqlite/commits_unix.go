//go:build unix

package sqlite

import (
	"fmt"
	"os"
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
	mem []byte
	n   *atomic.Uint64
}

// openCommitCounter maps the counter file of the database at path,
// creating it with the database's permissions if needed; nil for a
// database that is not a file of its own.
func openCommitCounter(path string) (*commitCounter, error) {
	if strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, nil
	}
	perm := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	f, err := os.OpenFile(path+commitsSuffix, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	const size = 4096
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	// A file another process created and is about to extend reads short:
	// extending it again to the same size is harmless, and shrinking it
	// never happens.
	if fi.Size() < size {
		if err := f.Truncate(size); err != nil {
			return nil, fmt.Errorf("commit counter: %w", err)
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	// The mapping is page-aligned, so its first eight bytes are an
	// aligned word that atomic operations of every process act on.
	return &commitCounter{mem: mem, n: (*atomic.Uint64)(unsafe.Pointer(&mem[0]))}, nil
}

// load is the number of commits made so far.
func (c *commitCounter) load() uint64 { return c.n.Load() }

// add counts one commit and returns the new count.
func (c *commitCounter) add() uint64 { return c.n.Add(1) }

func (c *commitCounter) close() error { return syscall.Munmap(c.mem) }
