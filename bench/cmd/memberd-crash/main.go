// Command memberd-crash is the crash campaign of docs/reliability.md: for
// each engine it seeds the demo organization, then round after round
// starts the real `memberd serve` on 127.0.0.1 against the same database,
// sends mixed load (single and batch removals, restores, role
// revocations, schedules that fall due, webhook deliveries to a loopback
// receiver), kills the server with SIGKILL at a random moment, restarts
// it and checks that every acknowledged change, its audit event and its
// webhook outbox row are there, that no atomic change is half applied,
// and that `memberd audit verify` passes. It exits 1 on any loss.
//
//	cd bench && go run ./cmd/memberd-crash -engine sqlite,postgres -rounds 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/memberd/memberd/bench"
	"github.com/memberd/memberd/internal/pgtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "memberd-crash:", err)
		os.Exit(1)
	}
}

// errLoss is the error of a campaign that found a loss, a half-applied
// change or a failed verification.
var errLoss = errors.New("the campaign found losses")

// errNoPostgres says no throwaway PostgreSQL cluster could be started.
var errNoPostgres = errors.New("postgres unavailable")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("memberd-crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engines := fs.String("engine", "sqlite,postgres", "comma-separated engines: sqlite, postgres")
	rounds := fs.Int("rounds", 100, "SIGKILL rounds per engine")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the load's choices and kill moments")
	minLoad := fs.Duration("min-load", 300*time.Millisecond, "shortest load before the kill")
	maxLoad := fs.Duration("max-load", 2*time.Second, "longest load before the kill")
	workers := fs.Int("workers", 4, "concurrent clients of the load")
	late := fs.Bool("late-schedules", false, "send schedules only in the last round, due after its kill (short runs: a job killed mid-run waits 2 min for River's rescue)")
	timeout := fs.Duration("timeout", 2*time.Hour, "bound of the whole campaign")
	keep := fs.String("dir", "", "directory for the binary and the SQLite database, kept afterwards (default: a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 || *rounds > 100000 || *minLoad < 0 || *maxLoad < *minLoad || *workers < 1 || *workers > 256 {
		return errors.New("want 1 <= -rounds <= 100000, 0 <= -min-load <= -max-load, 1 <= -workers <= 256")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var err error
	dir := *keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "memberd-crash-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mod, err := bench.ModuleDir()
	if err != nil {
		return err
	}
	bin, err := bench.BuildServer(ctx, mod, dir, "")
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Fprintf(stdout, "memberd-crash -engine %s -rounds %d -seed %d -min-load %s -max-load %s -workers %d -late-schedules=%t\n%s, %s/%s, %d CPUs, host %s\n",
		*engines, *rounds, *seed, *minLoad, *maxLoad, *workers, *late, time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host)
	failed := false
	for _, engine := range strings.Split(*engines, ",") {
		cfg := bench.CrashConfig{Bin: bin, Engine: engine, Rounds: *rounds, Seed: *seed, MinLoad: *minLoad, MaxLoad: *maxLoad, Workers: *workers, LateSchedules: *late, Log: stderr}
		var cleanup func() error
		switch engine {
		case "sqlite":
			cfg.DSN = "sqlite:" + filepath.Join(dir, "crash.db")
		case "postgres":
			cluster, err := pgtest.Start()
			if err != nil {
				return fmt.Errorf("%w: %v", errNoPostgres, err)
			}
			cleanup = cluster.Stop
			if cfg.DSN, err = cluster.CreateDatabase(ctx, "crash"); err != nil {
				cluster.Stop()
				return err
			}
		default:
			return fmt.Errorf("unknown engine %q (want sqlite or postgres)", engine)
		}
		fig, err := bench.RunCrash(ctx, cfg)
		if cleanup != nil {
			cleanup()
		}
		if fig != nil {
			fmt.Fprint(stdout, fig)
			failed = failed || fig.Failed()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
	}
	if failed {
		return errLoss
	}
	return nil
}
