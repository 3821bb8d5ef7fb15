package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

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
	// MetricsAddr, when set, serves /metrics on a listener of its own
	// instead of the main one (see serveFlags).
	MetricsAddr     string
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	SlowCommit      time.Duration
	// WebhookAllowCIDR admits webhook targets in these comma-separated
	// prefixes that would otherwise be refused (on-premises receivers).
	WebhookAllowCIDR string
	// WebhookMaxPending bounds one webhook endpoint's pending deliveries.
	WebhookMaxPending int
	// AccessIndex is how many answered access checks a node keeps (0: none).
	AccessIndex int
	// AccessMemory is the most members a SQLite server's copy of what
	// access checks read may hold (0: no copy).
	AccessMemory int
	// GCPercent is the garbage collector's target (GOGC), see gcPercent.
	GCPercent int
	// TrustedProxies lists the CIDRs of reverse proxies whose
	// X-Forwarded-For or Forwarded header names the client.
	TrustedProxies string
	// MaxInFlight bounds the requests served at once (0: no bound), and
	// QueueTimeout how long one waits for room before it is shed with 503.
	MaxInFlight  int
	QueueTimeout time.Duration
	// AuthFailureLimit is the refill rate, per second, of one client
	// address's budget of failed authentications (0: no limit), and
	// AuthFailureBurst the budget; an address that spent it gets 429.
	AuthFailureLimit float64
	AuthFailureBurst int
	// OffboardChunk is how much one chunk of a background offboarding
	// removes; JobTimeout and JobRescueAfter bound one job run and say
	// when a run whose node died is run again.
	OffboardChunk  int
	JobTimeout     time.Duration
	JobRescueAfter time.Duration
}

// DefaultConfig is the configuration before flags and environment.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", DB: "sqlite:memberd.db", RateLimit: 100, RateBurst: 200,
		BatchLimit: membership.DefaultBatchLimit, GroupCommit: true, LogFormat: "text", LogLevel: "info",
		ShutdownTimeout: 10 * time.Second, SlowCommit: 250 * time.Millisecond,
		WebhookMaxPending: membership.DefaultWebhookMaxPending, AccessIndex: membership.DefaultAccessIndex, AccessMemory: sqlite.DefaultAccessMemory, GCPercent: DefaultGCPercent,
		MaxInFlight: respond.DefaultMaxInFlight, QueueTimeout: respond.DefaultQueueTimeout,
		AuthFailureLimit: auth.DefaultFailureRate, AuthFailureBurst: auth.DefaultFailureBurst,
		OffboardChunk: membership.DefaultOffboardChunk, JobTimeout: jobs.DefaultJobTimeout, JobRescueAfter: jobs.DefaultRescueAfter}
}

// sharedFlags are the flags that mean the same thing in every command,
// so they read the same environment variable everywhere.
var sharedFlags = map[string]bool{"db": true, "addr": true, "log-format": true, "log-level": true,
	"server": true, "token": true}

// envName is the environment variable a command's flag also reads: the
// server's settings (serve, and config, which prints them) and the shared
// flags are MEMBERD_<FLAG>; another command's own flags carry the command's
// name, so that bootstrap's --org (a name) and signin-link's --org (an id)
// cannot read each other's value.
func envName(cmd, flagName string) string {
	up := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if cmd == "serve" || cmd == "config" || sharedFlags[flagName] {
		return "MEMBERD_" + up
	}
	return "MEMBERD_" + strings.ToUpper(strings.ReplaceAll(cmd, "-", "_")) + "_" + up
}

// newFlagSet returns a FlagSet for cmd whose usage names each flag's
// environment variable; synopsis is the line printed above the flags.
func (m *Main) newFlagSet(cmd, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: memberd %s\n\nFlags (each also from its environment variable; a flag given wins):\n", synopsis)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(tw, "  --%s %s\t%s\t%s%s\n", f.Name, name, envName(cmd, f.Name), usage, def)
		})
		tw.Flush()
	}
	return fs
}

// parseFlags sets every flag of fs from its environment variable, then
// from args, so that a flag on the command line overrides the
// environment. An environment value a flag refuses is an error naming
// the variable.
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) error {
	if err := m.applyEnv(fs); err != nil {
		return err
	}
	return fs.Parse(args)
}

// applyEnv sets every flag of fs from its environment variable, for
// commands that parse their arguments themselves.
func (m *Main) applyEnv(fs *flag.FlagSet) error {
	if m.flagSets != nil {
		m.flagSets(fs)
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(fs.Name(), f.Name)
		if v := m.Getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// serveFlags registers the server's settings on fs. serve and config
// share them, so config prints exactly what serve would run with.
func (m *Main) serveFlags(fs *flag.FlagSet, cfg *Config) {
	storeFlags(fs, cfg)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	fs.BoolVar(&cfg.Demo, "demo", false, "load the demo organization into a fresh database and print its credentials")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per second per credential (0: no limit)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "burst of requests per credential")
	fs.Float64Var(&cfg.AuthFailureLimit, "auth-failure-limit", cfg.AuthFailureLimit, "failed authentications per second per client address once its burst is spent; more get 429 (0: no limit)")
	fs.IntVar(&cfg.AuthFailureBurst, "auth-failure-burst", cfg.AuthFailureBurst, "failed authentications one client address may make at once")
	fs.IntVar(&cfg.BatchLimit, "batch-limit", cfg.BatchLimit, "most members one batch removal may name")
	fs.BoolVar(&cfg.KeepFutureBookings, "keep-future-bookings", false, "keep a removed member's future bookings instead of cancelling them")
	fs.BoolVar(&cfg.WorkivaAfterSunset, "workiva-after-sunset", false, "keep serving the deprecated Workiva endpoint after its sunset date (2027-01-31) instead of 410 Gone")
	fs.BoolVar(&cfg.GroupCommit, "group-commit", cfg.GroupCommit, "coalesce concurrent writes into one transaction and one flush (off: one each, to measure what it buys)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", cfg.TrustProxy, "behind a reverse proxy: trust X-Forwarded-Proto and X-Forwarded-For from any peer, as --trusted-proxies 0.0.0.0/0,::/0")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", cfg.TrustedProxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/Forwarded name the client address")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "requests served at once; more wait up to --queue-timeout, then get 503 (0: no bound)")
	fs.DurationVar(&cfg.QueueTimeout, "queue-timeout", cfg.QueueTimeout, "how long a request waits for room under --max-in-flight before 503")
	fs.StringVar(&cfg.WebhookAllowCIDR, "webhook-allow-cidr", cfg.WebhookAllowCIDR, "comma-separated CIDRs webhooks may reach although loopback, private, link-local or otherwise special, for on-premises receivers")
	fs.IntVar(&cfg.WebhookMaxPending, "webhook-max-pending", cfg.WebhookMaxPending, "most pending deliveries one webhook endpoint holds; beyond it new messages for it are dropped and counted")
	fs.IntVar(&cfg.AccessIndex, "access-index", cfg.AccessIndex, "answered access checks kept to answer again while their organization's audit chain has not moved (0: off)")
	fs.IntVar(&cfg.AccessMemory, "access-memory", cfg.AccessMemory, "SQLite: answer access checks from a copy in memory of what they read, kept exact with every commit, for databases of up to this many members (0: off; about 70 bytes a member)")
	fs.IntVar(&cfg.GCPercent, "gc-percent", cfg.GCPercent, "garbage collector target as GOGC: heap growth over live data before a collection, in per cent; more trades memory for CPU (-1: off; GOGC in the environment wins over the default)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole server run to this file (for benchmarks)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the main listener")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGTERM, how long to let requests and jobs finish")
	fs.DurationVar(&cfg.SlowCommit, "slow-commit", cfg.SlowCommit, "log a warning for a group commit slower than this (0: never)")
	fs.IntVar(&cfg.OffboardChunk, "offboard-chunk", cfg.OffboardChunk, "space memberships, group memberships and direct grants one chunk of a background offboarding (Prefer: respond-async) removes, each chunk its own transaction")
	fs.DurationVar(&cfg.JobTimeout, "job-timeout", cfg.JobTimeout, "longest one run of a job may take; a background offboarding goes on in a next run")
	fs.DurationVar(&cfg.JobRescueAfter, "job-rescue-after", cfg.JobRescueAfter, "how long a job may stay running before it is taken to have died with its node and is run again; more than --job-timeout")
	logFlags(fs, cfg)
}

// storeFlags registers the flags every database-using command shares.
func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DB, "db", cfg.DB, "database: sqlite:PATH or a postgres:// URL")
}

// logFlags registers the log settings.
func logFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "least level logged: debug, info, warn or error")
}

// newLogger returns the logger cfg asks for, writing to w.
func newLogger(w io.Writer, cfg Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", cfg.LogFormat)
}

// config prints the settings serve would run with, from the same flags
// and environment, with any password in the database URL hidden.
func (m *Main) config(args []string) error {
	cfg := DefaultConfig()
	fs := m.newFlagSet("config", "config [serve's flags]   print the settings serve would run with")
	m.serveFlags(fs, &cfg)
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	source := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if m.Getenv(envName("config", f.Name)) != "" {
			source[f.Name] = "env " + envName("config", f.Name)
		}
	})
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && fs.Lookup(name) != nil {
			source[name] = "flag"
		}
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	for _, name := range names {
		v := fs.Lookup(name).Value.String()
		if name == "db" {
			v = redact(v)
		}
		src := source[name]
		if src == "" {
			src = "default"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, v, src)
	}
	return tw.Flush()
}

// buildVersion is the module version and VCS revision the binary was
// built from, as the Go toolchain recorded them.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "memberd (no build information)"
	}
	return formatVersion(info)
}

func formatVersion(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	out := "memberd " + version
	if rev := settings["vcs.revision"]; rev != "" {
		out += " revision " + rev
		if settings["vcs.modified"] == "true" {
			out += " (modified)"
		}
		if t := settings["vcs.time"]; t != "" {
			out += " committed " + t
		}
	}
	return out + " " + info.GoVersion
}

// prepareSQLiteDir makes sure the directory of a sqlite: DSN's file
// exists, creating it if it does not, so that a fresh deployment's path
// works and a path that cannot work says why instead of SQLite's
// "unable to open database file".
func prepareSQLiteDir(dsn string) (created string, err error) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == "" || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return "", nil
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case err == nil && !info.IsDir():
		return "", fmt.Errorf("sqlite database %s: %s is not a directory", path, dir)
	case err == nil:
		return "", nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("sqlite database %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("sqlite database %s: its directory %s does not exist and could not be created: %w", path, dir, err)
	}
	return dir, nil
}
