package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// startCluster starts a private cluster with NewDatabase's policy: skip
// without PostgreSQL, fail under CI.
func startCluster(tb testing.TB) *Cluster {
	tb.Helper()
	start := time.Now()
	c, err := Start()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal(err)
		}
		tb.Skipf("skipping, PostgreSQL is unavailable (with CI set this fails): %v", err)
	}
	tb.Logf("Start took %v (port %d, dir %s)", time.Since(start).Round(time.Millisecond), c.Port(), c.dir)
	tb.Cleanup(func() { c.Stop() })
	return c
}

// querySelf connects to dsn and returns current_database() after checking
// that SELECT 1 works.
func querySelf(tb testing.TB, dsn string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		tb.Fatalf("SELECT 1 on %s: got %d, %v", dsn, one, err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		tb.Fatalf("current_database on %s: %v", dsn, err)
	}
	return db
}

// requireGone fails tb unless dir has been removed and nothing listens on
// port, waiting up to wait for both.
func requireGone(tb testing.TB, dir string, port int, wait time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		_, statErr := os.Stat(dir)
		conn, dialErr := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if conn != nil {
			conn.Close()
		}
		if errors.Is(statErr, fs.ErrNotExist) && dialErr != nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: dir %s stat err %v; port %d dial err %v", wait, dir, statErr, port, dialErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartCreateDatabasesStop(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, name := range []string{"alpha", "beta"} {
		dsn, err := c.CreateDatabase(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.DSN(name); dsn != want {
			t.Errorf("CreateDatabase(%q) = %q, want %q", name, dsn, want)
		}
		if got := querySelf(t, dsn); got != name {
			t.Errorf("connected to %q via %s, want %q", got, dsn, name)
		}
	}
	if _, err := c.CreateDatabase(ctx, "alpha"); err == nil {
		t.Error("creating alpha twice succeeded")
	}

	// fsync must stay on: the crash tests rely on it.
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var fsync, listen string
	err = conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('listen_addresses')").Scan(&fsync, &listen)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fsync != "on" || listen != "127.0.0.1" {
		t.Errorf("fsync=%s listen_addresses=%s, want on and 127.0.0.1", fsync, listen)
	}

	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %v", time.Since(start).Round(time.Millisecond))
	requireGone(t, c.dir, c.Port(), 0)
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestWithSetting checks that settings reach the server over the
// defaults, and that values with spaces and quotes survive pg_ctl's shell.
func TestWithSetting(t *testing.T) {
	c, err := Start(WithSetting("shared_buffers", "64MB"), WithSetting("cluster_name", "it's a test"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skipf("skipping, PostgreSQL is unavailable (with CI set this fails): %v", err)
	}
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var buffers, name, fsync string
	if err := conn.QueryRow(ctx, "SELECT current_setting('shared_buffers'), current_setting('cluster_name'), current_setting('fsync')").Scan(&buffers, &name, &fsync); err != nil {
		t.Fatal(err)
	}
	if buffers != "64MB" || name != "it's a test" || fsync != "on" {
		t.Errorf("shared_buffers=%s cluster_name=%q fsync=%s, want 64MB, \"it's a test\" and on", buffers, name, fsync)
	}
}

func TestNewDatabaseDistinct(t *testing.T) {
	a := NewDatabase(t)
	b := NewDatabase(t)
	if a == b {
		t.Fatalf("two NewDatabase calls both returned %s", a)
	}
	dbA, dbB := querySelf(t, a), querySelf(t, b)
	if dbA == dbB {
		t.Fatalf("both DSNs reach database %s", dbA)
	}

	// A connection left open must not keep the cleanup from dropping the
	// database: that is what WITH (FORCE) is for.
	leaked, err := pgx.Connect(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leaked.Close(context.Background()) })
}

func TestDBName(t *testing.T) {
	long := strings.Repeat("Sub/Test ", 20)
	a, b := dbName(long), dbName(long)
	if a == b {
		t.Errorf("dbName repeated %s", a)
	}
	for _, n := range []string{a, b, dbName("TestX/with-dash")} {
		if len(n) > 63 {
			t.Errorf("%s is %d bytes, over postgres's 63", n, len(n))
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("%s needs quoting", n)
		}
	}
}

// crashHelperEnv makes TestCrashHelper, run in a child process, start the
// shared cluster, print its directory and port, and wait to be killed.
const crashHelperEnv = "PGTEST_CRASH_HELPER"

func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) == "" {
		t.Skip("run by TestKilledBinaryLeavesNoServer")
	}
	NewDatabase(t)
	c, _ := sharedCluster()
	fmt.Printf("%s %d\n", c.dir, c.Port())
	select {}
}

// A test binary killed with SIGKILL runs no cleanup of its own; the
// watchdog must stop the server and remove the directory anyway.
func TestKilledBinaryLeavesNoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts another cluster")
	}
	NewDatabase(t) // skips, or fails under CI, where the helper could not start one
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	line, err := bufio.NewReader(out).ReadString('\n')
	var dir string
	var port int
	if _, scanErr := fmt.Sscanf(line, "%s %d", &dir, &port); err != nil || scanErr != nil {
		t.Fatalf("helper printed %q: %v %v", line, err, scanErr)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	start := time.Now()
	requireGone(t, dir, port, 15*time.Second)
	t.Logf("watchdog cleaned up %v after SIGKILL", time.Since(start).Round(time.Millisecond))
}

// BenchmarkStartStop measures the figure quoted in the package doc.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		c, err := Start()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
