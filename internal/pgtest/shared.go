package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// shared is the cluster NewDatabase hands databases out of: one per test
// binary, started on first use so that test binaries that never touch
// PostgreSQL pay nothing, and stopped by Main.
var shared struct {
	once sync.Once
	mu   sync.Mutex
	c    *Cluster
	err  error // why the cluster could not start; remembered, not retried
}

// dbSeq numbers the databases of this test binary so their names are unique.
var dbSeq atomic.Int64

// statementTimeout bounds what NewDatabase and its cleanup run, so a wedged
// server fails a test instead of hanging it until the go test -timeout.
const statementTimeout = 30 * time.Second

func sharedCluster() (*Cluster, error) {
	shared.once.Do(func() {
		c, err := Start()
		shared.mu.Lock()
		shared.c, shared.err = c, err
		shared.mu.Unlock()
	})
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.c, shared.err
}

// stopShared stops the shared cluster if it was started.
func stopShared() error {
	shared.mu.Lock()
	c := shared.c
	shared.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Stop()
}

// NewDatabase returns the DSN of a new, empty database on the shared
// cluster, dropped again when tb finishes.
//
// If no cluster can be started the test is skipped with the reason, except
// under CI (env CI non-empty), where it fails instead: there a missing
// PostgreSQL is a broken machine, not an excuse to test less.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	c, err := sharedCluster()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("pgtest: CI is set and PostgreSQL is unavailable: %v", err)
		}
		tb.Skipf("pgtest: skipping, PostgreSQL is unavailable (with CI set this fails): %v", err)
	}

	name := dbName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
	defer cancel()
	dsn, err := c.CreateDatabase(ctx, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
		defer cancel()
		if err := c.dropDatabase(ctx, name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// dbName makes a database name that is unique in this test binary and
// still says which test it belongs to, for reading server logs.
func dbName(testName string) string {
	const maxLen = 63 // NAMEDATALEN-1; postgres would truncate silently
	var b strings.Builder
	fmt.Fprintf(&b, "t%d_", dbSeq.Add(1))
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxLen {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Main runs the tests and stops the shared cluster; call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// On SIGINT or SIGTERM it stops the cluster first and then dies of the
// signal as it would have without Main. (Without Main, or on SIGKILL, the
// cluster's watchdog cleans up once the process is gone.) The cleanups
// run after the tests, or on that signal, before the cluster stops.
func Main(m *testing.M, cleanups ...func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		for _, cleanup := range cleanups {
			cleanup()
		}
		stopShared()
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		// The signal arrives asynchronously; exit only if it does not.
		time.Sleep(5 * time.Second)
		os.Exit(1)
	}()

	code := m.Run()
	for _, cleanup := range cleanups {
		cleanup()
	}

	signal.Stop(sigs)
	if err := stopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
