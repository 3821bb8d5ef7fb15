package main

import (
	"io"
	"sync"
)

// maxLogBatch bounds the lines waiting for a write: past it, writers wait
// for the write in flight to end. It is PIPE_BUF, the most a write to a
// pipe (journald's stream) moves at once, so that a SIGKILL cannot cut a
// batch's last line in two; 16 requests' lines fit.
const maxLogBatch = 4096

// groupWriter writes the server's log lines to w, coalescing the lines of
// concurrent requests into one write instead of one write(2) each. A
// line joins the batch being filled; the writer that finds no write in
// flight writes the whole batch; and every Write returns only once the
// write holding its bytes has returned, so a line is in the kernel (on
// journald's pipe, or in the file) before the request it logs is
// answered, as with a plain writer, and a SIGKILL loses no line of an
// answered request. No timer delays a line: a batch grows only while the
// previous write is in flight. Each Write's bytes stay together, so lines
// never tear or interleave.
type groupWriter struct {
	w io.Writer

	mu      sync.Mutex
	done    sync.Cond // a write ended
	buf     []byte    // the batch being filled
	spare   []byte    // the last written batch's memory, for the next
	writing bool      // a batch is being written
	filling uint64    // the number of the batch buf holds
	written uint64    // batches up to this number are written
	errAt   uint64    // the batch whose write failed last
	err     error
}

func newGroupWriter(w io.Writer) *groupWriter {
	g := &groupWriter{w: w, filling: 1}
	g.done.L = &g.mu
	return g
}

// Write adds p to the batch and returns once the batch is written, with
// that write's error.
func (g *groupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.buf) > 0 && len(g.buf)+len(p) > maxLogBatch {
		g.done.Wait()
	}
	g.buf = append(g.buf, p...)
	mine := g.filling
	for g.written < mine {
		if g.writing {
			g.done.Wait()
			continue
		}
		// No write in flight, and mine not written: buf is batch mine.
		b := g.buf
		g.buf, g.spare = g.spare[:0], nil
		g.filling++
		g.writing = true
		g.mu.Unlock()
		_, err := g.w.Write(b)
		g.mu.Lock()
		g.writing = false
		g.written = mine
		if err != nil {
			g.errAt, g.err = mine, err
		}
		if cap(b) <= 2*maxLogBatch {
			g.spare = b[:0]
		}
		g.done.Broadcast()
	}
	if g.errAt == mine {
		return 0, g.err
	}
	return len(p), nil
}
