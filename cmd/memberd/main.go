// Command memberd runs the memberd membership service and its
// administrative commands. main only wires: every behaviour lives in the
// packages it mounts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewMain().Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "memberd:", err)
		}
		os.Exit(exitCode(err))
	}
}

// Main is the program, with its standard streams injectable so tests can
// drive it in-process.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Ready, when set, receives the address serve listens on.
	Ready chan<- string
}

// NewMain returns a Main on the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

const usage = `memberd — the membership service that takes access away properly.

Usage:
  memberd serve [--addr HOST:PORT] [--db DSN] [--demo]   run the server
  memberd bootstrap --org NAME --owner EMAIL [--db DSN]  create the first organization
  memberd offboard --csv FILE [--server URL] [--dry-run] [--at TIME] [--out FILE]
                                                        remove the members a CSV lists; resumable (exit 1: rows failed, 2: could not run)
  memberd members list|show|remove|restore [--server URL] day-to-day work on members through a running server
  memberd openapi                                       print the native API's OpenAPI document
  memberd signin-link --member EMAIL [--org ID] [--db DSN] print a one-time sign-in link to the admin console

DSN is sqlite:PATH (default sqlite:memberd.db) or a postgres:// URL.
Environment: MEMBERD_ADDR, MEMBERD_DB, MEMBERD_SERVER and MEMBERD_TOKEN (offboard, members).
`

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return m.serve(ctx, args[1:])
	case "bootstrap":
		return m.bootstrap(ctx, args[1:])
	case "offboard":
		return m.offboard(ctx, args[1:])
	case "members":
		return m.members(ctx, args[1:])
	case "openapi":
		return m.openapi(ctx, args[1:])
	case "signin-link":
		return m.signInLink(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprint(m.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// Config is everything the server is configured with.
type Config struct {
	Addr               string
	DB                 string
	Demo               bool
	RateLimit          float64
	RateBurst          int
	BatchLimit         int
	KeepFutureBookings bool
	WorkivaAfterSunset bool
	CPUProfile         string
	GroupCommit        bool
	TrustProxy         bool
	// WebhookAllowCIDR admits webhook targets in these comma-separated
	// prefixes that would otherwise be refused (on-premises receivers).
	WebhookAllowCIDR string
	// WebhookMaxPending bounds one webhook endpoint's pending deliveries.
	WebhookMaxPending int
}

// DefaultConfig is the configuration before flags and environment.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", DB: "sqlite:memberd.db", RateLimit: 100, RateBurst: 200,
		BatchLimit: membership.DefaultBatchLimit, GroupCommit: true, WebhookMaxPending: membership.DefaultWebhookMaxPending}
}

// storeFlags registers the flags every database-using command shares.
func (m *Main) storeFlags(fs *flag.FlagSet, cfg *Config) {
	if v := m.Getenv("MEMBERD_DB"); v != "" {
		cfg.DB = v
	}
	fs.StringVar(&cfg.DB, "db", cfg.DB, "database: sqlite:PATH or a postgres:// URL (env MEMBERD_DB)")
}

// openStore opens the store a DSN names. groupCommit off gives every
// write its own transaction and flush: only the benchmark wants that.
func openStore(ctx context.Context, dsn string, groupCommit bool) (membership.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.WithGroupCommit(groupCommit))
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("sqlite DSN needs a path: sqlite:PATH")
		}
		return sqlite.Open(ctx, path, sqlite.WithGroupCommit(groupCommit))
	}
	return nil, fmt.Errorf("unknown database %q: want sqlite:PATH or a postgres:// URL", dsn)
}

// newQueue builds the job queue on River's driver for store's engine:
// River runs on the SQLite store's one writer connection and on the
// PostgreSQL store's pool.
func newQueue(ctx context.Context, store membership.Store, cfg jobs.Config) (*jobs.Queue, error) {
	switch st := store.(type) {
	case *sqlite.Store:
		cfg.PollOnly = true
		return jobs.NewQueue(ctx, riversqlite.New(st.Writer()), sqlite.SQLTx, cfg)
	case *postgres.Store:
		return jobs.NewQueue(ctx, riverpgxv5.New(st.Pool()), postgres.PgxTx, cfg)
	}
	return nil, fmt.Errorf("store %T has no job queue driver", store)
}
