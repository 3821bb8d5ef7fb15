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

	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/sqlstore"
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
	// flagSets, when set, is handed each command's flags before they
	// are parsed, so that tests can hold every flag to the README.
	flagSets func(*flag.FlagSet)
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
  memberd config [serve's flags]                         print the settings serve would run with
  memberd version                                        print the version and VCS revision
  memberd audit verify|export|prune|keygen [--db DSN]   check, export and prune the audit trail (memberd audit for more)

DSN is sqlite:PATH (default sqlite:memberd.db) or a postgres:// URL.
Every flag also reads an environment variable (MEMBERD_DB, MEMBERD_ADDR, MEMBERD_SERVER,
MEMBERD_TOKEN, ...): memberd COMMAND --help lists them.
`

// Run runs the subcommand named by args[0]. Asking for help is not an
// error: --help on any command prints its usage and returns nil.
func (m *Main) Run(ctx context.Context, args []string) error {
	if err := m.run(ctx, args); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errors.New("no command given")
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
	case "config":
		return m.config(args[1:])
	case "version", "-version", "--version":
		fmt.Fprintln(m.Stdout, buildVersion())
		return nil
	case "audit":
		return m.audit(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprint(m.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// openStore opens the store a DSN names. groupCommit off gives every
// write its own transaction and flush: only the benchmark wants that.
// observe, when set, is told of every group commit.
func openStore(ctx context.Context, dsn string, groupCommit bool, observe sqlstore.CommitObserver) (membership.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.WithGroupCommit(groupCommit), postgres.WithCommitObserver(observe))
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("sqlite DSN needs a path: sqlite:PATH")
		}
		return sqlite.Open(ctx, path, sqlite.WithGroupCommit(groupCommit), sqlite.WithCommitObserver(observe))
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
		return jobs.NewQueue(ctx, jobs.SQLiteDriver(st.Writer(), st.Reader()), sqlite.SQLTx, cfg)
	case *postgres.Store:
		return jobs.NewQueue(ctx, riverpgxv5.New(st.Pool()), postgres.PgxTx, cfg)
	}
	return nil, fmt.Errorf("store %T has no job queue driver", store)
}
