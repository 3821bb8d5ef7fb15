package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/compat/highq"
	"github.com/memberd/memberd/compat/jicoo"
	"github.com/memberd/memberd/compat/tedee"
	"github.com/memberd/memberd/compat/wiggledesk"
	"github.com/memberd/memberd/compat/workiva"
	"github.com/memberd/memberd/httpapi"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	if v := m.Getenv("MEMBERD_ADDR"); v != "" {
		cfg.Addr = v
	}
	dbFromEnv := m.Getenv("MEMBERD_DB") != ""
	cfg.TrustProxy = m.Getenv("MEMBERD_TRUST_PROXY") == "1"
	cfg.TrustedProxies = m.Getenv("MEMBERD_TRUSTED_PROXIES")
	if err := envInt(m, "MEMBERD_MAX_IN_FLIGHT", &cfg.MaxInFlight); err != nil {
		return err
	}
	if v := m.Getenv("MEMBERD_QUEUE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("MEMBERD_QUEUE_TIMEOUT: %w", err)
		}
		cfg.QueueTimeout = d
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	m.storeFlags(fs, &cfg)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (env MEMBERD_ADDR)")
	fs.BoolVar(&cfg.Demo, "demo", false, "load the demo organization into a fresh database and print its credentials")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per second per credential (0: no limit)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "burst of requests per credential")
	fs.IntVar(&cfg.BatchLimit, "batch-limit", cfg.BatchLimit, "most members one batch removal may name")
	fs.BoolVar(&cfg.KeepFutureBookings, "keep-future-bookings", false, "keep a removed member's future bookings instead of cancelling them")
	fs.BoolVar(&cfg.WorkivaAfterSunset, "workiva-after-sunset", false, "keep serving the deprecated Workiva endpoint after its sunset date (2027-01-31) instead of 410 Gone")
	fs.BoolVar(&cfg.GroupCommit, "group-commit", cfg.GroupCommit, "coalesce concurrent writes into one transaction and one flush (off: one each, to measure what it buys)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", cfg.TrustProxy, "behind a reverse proxy: trust X-Forwarded-Proto and X-Forwarded-For from any peer, as --trusted-proxies 0.0.0.0/0,::/0 (env MEMBERD_TRUST_PROXY=1)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", cfg.TrustedProxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/Forwarded name the client address (env MEMBERD_TRUSTED_PROXIES)")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", cfg.MaxInFlight, "requests served at once; more wait up to --queue-timeout, then get 503 (0: no bound; env MEMBERD_MAX_IN_FLIGHT)")
	fs.DurationVar(&cfg.QueueTimeout, "queue-timeout", cfg.QueueTimeout, "how long a request waits for room under --max-in-flight before 503 (env MEMBERD_QUEUE_TIMEOUT)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole server run to this file (for benchmarks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.TrustProxy && cfg.TrustedProxies == "" {
		cfg.TrustedProxies = "0.0.0.0/0,::/0"
	}
	trusted, err := respond.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg.TrustProxy = len(trusted) > 0
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	dbGiven := dbFromEnv
	fs.Visit(func(f *flag.Flag) { dbGiven = dbGiven || f.Name == "db" })
	if cfg.Demo && !dbGiven {
		// The demo's ids must be exact, so it gets a database of its own.
		dir, err := os.MkdirTemp("", "memberd-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DB = "sqlite:" + filepath.Join(dir, "demo.db")
	}

	logger := slog.New(slog.NewTextHandler(m.Stderr, nil))
	store, err := openStore(ctx, cfg.DB, cfg.GroupCommit)
	if err != nil {
		return err
	}
	defer store.Close()
	// The job queue runs on every node: River coordinates through the
	// database, so each job runs on exactly one of them. The service
	// enqueues into it, so it exists before the service.
	jobCfg := jobs.DefaultConfig()
	jobCfg.Logger = logger
	queue, err := newQueue(ctx, store, jobCfg)
	if err != nil {
		return err
	}
	svc := membership.NewService(store, membership.Config{
		BatchLimit: cfg.BatchLimit, KeepFutureBookings: cfg.KeepFutureBookings, Logger: logger, Queue: queue,
	})
	var demoLink string
	if cfg.Demo {
		d, err := demo.Load(ctx, store, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "MEMBERD_TOKEN=%s\nMEMBERD_ADMIN_TOKEN=%s\nMEMBERD_MEMBER_TOKEN=%s\n", d.OwnerToken, d.AdminToken, d.MemberToken)
		if demoLink, _, err = svc.CreateSignInLink(ctx, d.Org.ID, membership.MemberRef{Email: demo.OwnerEmail}); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "demo organization %q loaded (id 1, uuid %s): members 1..%d, owner %s, admin %s\n",
			d.Org.Name, d.Org.UUID, demo.Members, demo.OwnerEmail, demo.AdminEmail)
	}
	authn := auth.New(svc, auth.Limits{Rate: cfg.RateLimit, Burst: cfg.RateBurst,
		FailureRate: auth.DefaultFailureRate, FailureBurst: auth.DefaultFailureBurst})
	// Refused authentications are counted in memory and written in
	// aggregate; the last counts are written after the server stops.
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() { defer close(flushed); svc.RunAuthRefusalFlusher(flushCtx, membership.AuthRefusalWindow/4) }()
	defer func() { stopFlush(); <-flushed }()

	runner, err := jobs.NewRunner(svc, queue)
	if err != nil {
		return err
	}
	if err := runner.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := runner.Stop(stopCtx); err != nil {
			logger.Warn("stop jobs", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           respond.WithLogger(respond.WithClientAddr(routes(svc, authn, cfg), trusted), logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(m.Stderr, "memberd listening on http://%s (database %s)\n", ln.Addr(), redact(cfg.DB))
	if cfg.Demo {
		fmt.Fprintf(m.Stdout, "\nAdmin console: http://%s%s/\n  sign in with the MEMBERD_TOKEN above (the owner's credential),\n  or open this one-time link (15 minutes): http://%s%s/signin/link?token=%s\n",
			ln.Addr(), admin.Prefix, ln.Addr(), admin.Prefix, demoLink)
	}
	if m.Ready != nil {
		m.Ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// routes mounts every interface on one mux. Each adapter owns its paths.
func routes(svc *membership.Service, authn *auth.Authenticator, cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		respond.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	// One gate bounds the requests in flight of every interface; each
	// answers the requests it sheds in its own error format. Health is
	// never shed.
	gate := respond.NewGate(cfg.MaxInFlight, cfg.QueueTimeout)
	native := gate.Wrap(httpapi.NewHandler(svc, authn), httpapi.WriteError)
	mux.Handle("/api/v1/", native)
	mux.Handle("/openapi.json", native)
	mux.Handle("/docs", native)
	mux.Handle(wiggledesk.Path, gate.Wrap(wiggledesk.NewHandler(svc, authn), wiggledesk.WriteError))
	mux.Handle("/api/3/", gate.Wrap(highq.NewHandler(svc, authn), highq.WriteError))
	mux.Handle("/api/v37/", gate.Wrap(tedee.NewHandler(svc, authn), tedee.WriteError))
	mux.Handle(jicoo.Prefix, gate.Wrap(jicoo.NewHandler(svc, authn), jicoo.WriteError))
	workivaCfg := workiva.DefaultConfig()
	workivaCfg.ServeAfterSunset = cfg.WorkivaAfterSunset
	mux.Handle("/prototype/", gate.Wrap(workiva.NewHandler(svc, authn, workivaCfg), workiva.WriteError))
	adminCfg := admin.DefaultConfig()
	adminCfg.TrustProxy = cfg.TrustProxy
	mux.Handle(admin.Prefix+"/", gate.Wrap(admin.NewHandler(svc, adminCfg), admin.WriteError))
	mux.Handle("GET "+admin.Prefix, http.RedirectHandler(admin.Prefix+"/", http.StatusSeeOther))
	return respond.WithRequestID(respond.WithNoSniff(respond.Recover(mux, func(w http.ResponseWriter, r *http.Request, err error) {
		respond.JSON(w, respond.Status(err), map[string]string{"error": respond.Message(r, err)})
	})))
}

// startCPUProfile profiles the server until the returned func runs, so a
// benchmark can see where a request's CPU goes without a debug listener.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// redact hides a password in a postgres URL before it is logged.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}

// envInt reads an integer setting from the environment when it is set.
func envInt(m *Main, name string, dst *int) error {
	v := m.Getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = n
	return nil
}
