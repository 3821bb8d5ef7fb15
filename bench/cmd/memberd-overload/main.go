// Command memberd-overload runs the hardening scenarios of
// docs/security.md against a `memberd serve --demo` it starts on
// 127.0.0.1: a flood of forged credentials (what it costs and what the
// audit trail keeps), and an overload at a multiple of the measured
// capacity (admitted p99, the share shed, peak RSS, other 5xx).
//
//	cd bench && go run ./cmd/memberd-overload -factor 10
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/memberd/memberd/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "memberd-overload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	factor := flag.Float64("factor", 10, "offered load as a multiple of the measured capacity")
	conc := flag.Int("concurrency", 32, "clients of the capacity loop")
	measure := flag.Duration("measure", 5*time.Second, "length of the capacity loop")
	offer := flag.Duration("offer", 10*time.Second, "length of the overload")
	flood := flag.Int("flood", 20000, "forged-token requests of the flood")
	extra := flag.String("server-flags", "", "extra flags for memberd serve, e.g. -server-flags=--max-in-flight=0")
	flag.Parse()
	dir, err := os.MkdirTemp("", "memberd-overload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mod, err := bench.ModuleDir()
	if err != nil {
		return err
	}
	bin, err := bench.BuildServer(ctx, mod, dir, "")
	if err != nil {
		return err
	}
	args := []string{"--demo"}
	if *extra != "" {
		args = append(args, *extra)
	}
	db := "sqlite:" + filepath.Join(dir, "flood.db")
	srv, err := bench.StartServer(ctx, bin, db, args...)
	if err != nil {
		return err
	}
	token, err := bench.DemoToken(srv)
	if err != nil {
		return err
	}
	fr, err := bench.Flood(ctx, srv, token, *flood, 64)
	if err != nil {
		return err
	}
	_, peak, _ := srv.RSS()
	// Stopping the server writes what it still counted.
	if err := srv.Stop(); err != nil {
		return err
	}
	srv, err = bench.StartServer(ctx, bin, db, "--rate-limit", "0")
	if err != nil {
		return err
	}
	if err := bench.CountAuthRows(ctx, srv.URL, token, fr); err != nil {
		return err
	}
	fmt.Printf("flood: %s; peak RSS %.0f MB\n", fr, float64(peak)/(1<<20))
	if err := srv.Stop(); err != nil {
		return err
	}

	args = []string{"--demo", "--rate-limit", "0"}
	if *extra != "" {
		args = append(args, *extra)
	}
	srv, err = bench.StartServer(ctx, bin, "sqlite:"+filepath.Join(dir, "overload.db"), args...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	token, err = bench.DemoToken(srv)
	if err != nil {
		return err
	}
	res, err := bench.Overload(ctx, srv, token, *conc, *factor, *measure, *offer)
	if err != nil {
		return err
	}
	fmt.Printf("overload: %s\n", res)
	return nil
}
