package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter keeps what reaches it, write by write, and can hold
// each write until released, as a slow pipe would.
type recordingWriter struct {
	mu      sync.Mutex
	written bytes.Buffer    // bytes whose write has returned
	lines   map[string]bool // the lines in written
	writes  int
	largest int
	gate    chan struct{} // when not nil, each write waits for a value
	started chan int      // when not nil, told each write's size as it starts
	err     error
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.started != nil {
		w.started <- len(p)
	}
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.written.Write(p)
	if w.lines == nil {
		w.lines = map[string]bool{}
	}
	for _, line := range strings.SplitAfter(string(p), "\n") {
		w.lines[line] = true
	}
	w.writes++
	w.largest = max(w.largest, len(p))
	return len(p), nil
}

func (w *recordingWriter) has(line string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines[line]
}

// TestGroupWriterLinesWhole checks, under many concurrent writers, that
// each Write returns only once its line has reached the writer below
// (so an answered request's line is in the kernel), that no line tears or
// interleaves with another, that none is lost or doubled, and that
// concurrent lines share writes.
func TestGroupWriterLinesWhole(t *testing.T) {
	under := &recordingWriter{}
	g := newGroupWriter(under)
	const writers, lines = 32, 300
	// Lines of different lengths, some long, so that a torn one could not
	// pass for another.
	line := func(i, j int) string {
		return fmt.Sprintf("w%d l%d %s\n", i, j, strings.Repeat(string(rune('a'+i%26)), (i*j)%200))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			for j := range lines {
				line := line(i, j)
				if _, err := g.Write([]byte(line)); err != nil {
					errs <- err
					return
				}
				if !under.has(line) {
					errs <- fmt.Errorf("Write of %q returned before its line was written", line)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range writers {
		for j := range lines {
			want[line(i, j)] = true
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(under.written.String(), "\n") {
		if line == "" {
			continue // after the last newline
		}
		if !want[line] {
			t.Fatalf("torn or interleaved line %q", line)
		}
		if seen[line] {
			t.Fatalf("line %q written twice", line)
		}
		seen[line] = true
	}
	if len(seen) != writers*lines {
		t.Fatalf("%d lines written, want %d", len(seen), writers*lines)
	}
	t.Logf("%d lines in %d writes", writers*lines, under.writes)
}

// TestGroupWriterCoalesces checks that lines written while a write is in
// flight go out together in the next write, and only once it returns.
func TestGroupWriterCoalesces(t *testing.T) {
	under := &recordingWriter{gate: make(chan struct{}), started: make(chan int, 100)}
	g := newGroupWriter(under)
	first := make(chan error, 1)
	go func() { _, err := g.Write([]byte("first\n")); first <- err }()
	<-under.started // the first write is in flight and held
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { _, _ = g.Write(fmt.Appendf(nil, "line %d\n", i)) })
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return bytes.Count(g.buf, []byte("\n")) == 10 })
	select {
	case <-first:
		t.Fatal("Write returned while its write was held")
	default:
	}
	under.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := <-under.started; n != 10*len("line 0\n") {
		t.Errorf("second write of %d bytes, want the 10 waiting lines in one", n)
	}
	under.gate <- struct{}{}
	wg.Wait()
	if under.writes != 2 {
		t.Errorf("%d writes, want 2", under.writes)
	}
}

// TestGroupWriterBounded checks that while a write is held, the lines
// waiting for the next stay under maxLogBatch and further writers wait,
// and that a line larger than the bound still goes out, alone.
func TestGroupWriterBounded(t *testing.T) {
	under := &recordingWriter{gate: make(chan struct{}), started: make(chan int, 1000)}
	g := newGroupWriter(under)
	line := []byte(strings.Repeat("x", 1000) + "\n")
	var wg sync.WaitGroup
	for range 200 { // 200 KB of lines against a 64 KiB bound
		wg.Go(func() { _, _ = g.Write(line) })
	}
	<-under.started
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.buf)+len(line) > maxLogBatch })
	time.Sleep(20 * time.Millisecond) // writers past the bound would have appended by now
	g.mu.Lock()
	if len(g.buf) > maxLogBatch {
		t.Errorf("%d bytes waiting, bound %d", len(g.buf), maxLogBatch)
	}
	g.mu.Unlock()
	go func() {
		for range under.started {
			under.gate <- struct{}{}
		}
	}()
	under.gate <- struct{}{}
	wg.Wait()
	if under.largest > maxLogBatch {
		t.Errorf("a write of %d bytes, bound %d", under.largest, maxLogBatch)
	}
	if got := under.written.Len(); got != 200*len(line) {
		t.Errorf("%d bytes written, want %d", got, 200*len(line))
	}
	big := bytes.Repeat([]byte("y"), 2*maxLogBatch)
	if n, err := g.Write(big); n != len(big) || err != nil {
		t.Errorf("Write of a line past the bound: %d, %v", n, err)
	}
	close(under.started)
}

// TestGroupWriterError checks that a failed write is reported to the
// writers whose lines it held.
func TestGroupWriterError(t *testing.T) {
	under := &recordingWriter{err: errors.New("disk gone")}
	g := newGroupWriter(under)
	if _, err := g.Write([]byte("a\n")); err == nil {
		t.Fatal("no error from a failed write")
	}
	under.mu.Lock()
	under.err = nil
	under.mu.Unlock()
	if _, err := g.Write([]byte("b\n")); err != nil {
		t.Fatalf("error after the writer recovered: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
