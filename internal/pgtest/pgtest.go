// Package pgtest owns the throwaway PostgreSQL clusters that memberd's tests
// run against: it finds the server binaries on the machine, creates a
// private cluster in a temporary directory, starts it on a free loopback
// port, hands out fresh databases, and tears everything down again.
//
// Tests normally use NewDatabase, which starts one shared cluster lazily per
// test binary, and call Main from TestMain so that the cluster is stopped
// when the tests finish:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.NewDatabase(t)
//		...
//	}
//
// Main calls Stop on the shared cluster. A test binary that crashes, panics,
// hits the -timeout, is killed with SIGKILL, or never calls Main still does
// not leave a server behind: every cluster has a small watchdog shell process
// that waits for the test binary to exit (its stdin is a pipe only the test
// binary holds) and then stops the server and removes the directory.
//
// PostgreSQL refuses to run as root. When the tests run as root (as they do
// locally and in CI here) every PostgreSQL command runs as the "postgres"
// system user through runuser, and the cluster's directory is chowned to
// that user; as any other user the commands run directly.
//
// The server keeps fsync on, because the crash tests rely on durability;
// only initdb skips syncing, since a cluster that crashes during initdb is
// thrown away anyway.
//
// Cost, measured on the project's 2-core machine while other builds ran:
// Start takes 0.9-1.4 s, nearly all of it initdb (0.7-1.3 s; pg_ctl start
// 0.12 s), and Stop 0.13 s; BenchmarkStartStop gave 1.39 s for the pair.
// Each NewDatabase costs about 0.3 s more, nearly all of it the server
// copying template1 for CREATE DATABASE; the drop takes 20-50 ms.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// BinDirEnv names the environment variable that overrides where the
// PostgreSQL server binaries (initdb, pg_ctl, postgres) are looked for.
const BinDirEnv = "MEMBERD_PG_BINDIR"

// serverUser is the system user the server runs as when the tests run as
// root, because postgres refuses to run as root.
const serverUser = "postgres"

// Cluster is a running throwaway PostgreSQL cluster. Its zero value is not
// usable; get one from Start.
type Cluster struct {
	dir     string // temporary directory holding everything below
	dataDir string
	sockDir string
	logPath string
	binDir  string
	port    int

	// runAs is the user the PostgreSQL commands run as through runuser,
	// or "" to run them directly.
	runAs   string
	runuser string

	// watchdog stops the server and removes dir once watchdogW is closed,
	// which the kernel also does when the test binary dies.
	watchdog  *exec.Cmd
	watchdogW *os.File

	// settings are extra server settings, name=value, after the defaults.
	settings []string

	stopOnce sync.Once
	stopErr  error
}

// Option changes how Start sets up a cluster.
type Option func(*Cluster)

// WithSetting starts the server with setting name at value (as
// postgres -c name=value), after and so over the defaults. The bench uses
// it to run the server configured as an operator would; the tests keep the
// small defaults.
func WithSetting(name, value string) Option {
	return func(c *Cluster) { c.settings = append(c.settings, name+"="+value) }
}

// Start creates and starts a new cluster. The caller must Stop it.
func Start(opts ...Option) (*Cluster, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{binDir: binDir}
	for _, o := range opts {
		o(c)
	}
	if os.Geteuid() == 0 {
		if c.runuser, err = findRunuser(); err != nil {
			return nil, fmt.Errorf("start postgres: running as root: %w", err)
		}
		c.runAs = serverUser
	}

	// Created under os.TempDir (world-traversable /tmp) rather than a
	// caller's t.TempDir, whose parents the postgres user may not be able
	// to enter.
	c.dir, err = os.MkdirTemp(os.TempDir(), "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c.dataDir = filepath.Join(c.dir, "data")
	c.sockDir = filepath.Join(c.dir, "sock")
	c.logPath = filepath.Join(c.dir, "postgres.log")
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.prepareDir(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.startWatchdog(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	if err := c.initdb(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.startServer(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return c, nil
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir is the cluster's data directory, for tests that inspect or damage
// it on purpose.
func (c *Cluster) DataDir() string { return c.dataDir }

// DSN returns the connection string for database dbname as the superuser
// postgres, which trust authentication lets in without a password.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, dbname)
}

// CreateDatabase creates database name and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.DSN(name), nil
}

// dropDatabase drops database name, disconnecting any sessions still on it
// so that a test that leaked a connection cannot block the cleanup.
func (c *Cluster) dropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down without a checkpoint (the data is thrown away)
// and removes the cluster's directory. It is safe to call more than once;
// later calls return the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.port != 0 {
			if out, err := c.command("pg_ctl", "-D", c.dataDir, "-m", "immediate", "-w", "-s", "stop").CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("pg_ctl stop: %w: %s", err, bytes.TrimSpace(out)))
			}
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		// The watchdog finds nothing left to do and exits.
		if c.watchdogW != nil {
			c.watchdogW.Close()
			c.watchdog.Wait()
		}
		if err := errors.Join(errs...); err != nil {
			c.stopErr = fmt.Errorf("stop postgres: %w", err)
		}
	})
	return c.stopErr
}

// prepareDir makes the temporary directory usable by the user the server
// runs as.
func (c *Cluster) prepareDir() error {
	if c.runAs == "" {
		return nil
	}
	u, err := user.Lookup(c.runAs)
	if err != nil {
		return fmt.Errorf("running as root needs the %s system user: %w", c.runAs, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("user %s: uid %q: %w", c.runAs, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("user %s: gid %q: %w", c.runAs, u.Gid, err)
	}
	// The whole directory belongs to the server user, so initdb creates the
	// data directory and pg_ctl the log file as that user.
	if err := os.Chown(c.dir, uid, gid); err != nil {
		return err
	}
	return os.Chown(c.sockDir, uid, gid)
}

// watchdogScript waits for EOF on stdin, which comes when Stop closes the
// pipe or when the test binary dies and the kernel closes it, then stops a
// server that is still running and removes the directory. Its arguments are
// the directory, the data directory and the pg_ctl stop command.
const watchdogScript = `trap '' INT HUP
dir=$1 data=$2
shift 2
cat >/dev/null
if [ -f "$data/postmaster.pid" ]; then "$@" >/dev/null 2>&1; fi
rm -rf "$dir"
`

func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	stop := c.command("pg_ctl", "-D", c.dataDir, "-m", "immediate", "-w", "stop").Args
	args := append([]string{"-c", watchdogScript, "pgtest-watchdog", c.dir, c.dataDir}, stop...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	cmd.Dir = c.dir
	// Its own process group, so a ^C aimed at the test run does not kill
	// the watchdog before it has cleaned up. Stdout and stderr stay
	// /dev/null: go test waits for every holder of the test binary's
	// output pipe to exit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("watchdog: %w", err)
	}
	c.watchdog, c.watchdogW = cmd, w
	return nil
}

func (c *Cluster) initdb() error {
	out, err := c.command("initdb",
		"-D", c.dataDir,
		"-U", "postgres",
		"--auth=trust",
		"--no-sync",
		"--encoding=UTF8",
		"--locale=C",
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb in %s: %w: %s", c.dataDir, err, tail(out))
	}
	return nil
}

// startServer starts the server on a free port. The port is picked by
// binding :0 and closing the listener, so another process (often a
// parallel test binary doing the same) can take it before postgres binds
// it; a start that fails for that reason is retried on a new port.
func (c *Cluster) startServer() error {
	const attempts = 5
	var err error
	for range attempts {
		c.port, err = freePort()
		if err != nil {
			return err
		}
		// max_wal_size: bench/ bulk-loads millions of members, and at the
		// default 1 GB every checkpoint restarts full-page writes, which
		// roughly doubles the WAL a load writes.
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on -c max_connections=200 -c shared_buffers=128MB -c max_wal_size=8GB -c checkpoint_timeout=30min",
			c.port, shellQuote(c.sockDir))
		for _, kv := range c.settings {
			opts += " -c " + shellQuote(kv)
		}
		out, runErr := c.command("pg_ctl", "-D", c.dataDir, "-l", c.logPath, "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
		if runErr == nil {
			return nil
		}
		log := c.logTail()
		err = fmt.Errorf("pg_ctl start (data dir %s): %w: %s\nserver log:\n%s", c.dataDir, runErr, bytes.TrimSpace(out), log)
		if !strings.Contains(log, "could not bind") && !strings.Contains(log, "already in use") {
			break
		}
		// Truncate the log so the next attempt's tail is its own.
		os.Truncate(c.logPath, 0)
	}
	c.port = 0
	return err
}

// command returns cmd from the bin dir, run as the server user if needed.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.binDir, name)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.Command(c.runuser, append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	// The server user must be able to resolve its working directory, and
	// the caller's (say /root/...) may be closed to it.
	cmd.Dir = c.dir
	return cmd
}

func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return tail(b)
}

// tail returns the last lines of out, enough to show why a command failed.
func tail(out []byte) string {
	const maxLines = 30
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinDir returns the directory holding initdb, pg_ctl and postgres.
func findBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if !isBinDir(dir) {
			return "", fmt.Errorf("%s=%s: no initdb, pg_ctl and postgres there", BinDirEnv, dir)
		}
		return dir, nil
	}
	// pg_config can come from a client-only install (libpq-dev) whose
	// bindir lacks the server, so its answer is checked like the others.
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); isBinDir(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "15" > "9.6" compared as numbers.
	sort.Slice(dirs, func(i, j int) bool {
		return version(dirs[i]) > version(dirs[j])
	})
	for _, dir := range dirs {
		if isBinDir(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries: set %s, put pg_config on PATH, or install postgresql (.ci/install-deps)", BinDirEnv)
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isBinDir(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

func findRunuser() (string, error) {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p, nil
	}
	// /usr/sbin is often missing from PATH.
	for _, p := range []string{"/usr/sbin/runuser", "/sbin/runuser"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("runuser not found")
}

// shellQuote quotes s for the shell that pg_ctl runs the server through.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
