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
	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/oauth"
	"github.com/memberd/memberd/scim"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	if v := m.Getenv("MEMBERD_ADDR"); v != "" {
		cfg.Addr = v
	}
	dbFromEnv := m.Getenv("MEMBERD_DB") != ""
	cfg.TrustProxy = m.Getenv("MEMBERD_TRUST_PROXY") == "1"
	cfg.WebhookAllowCIDR = m.Getenv("MEMBERD_WEBHOOK_ALLOW_CIDR")
	if v, err := strconv.Atoi(m.Getenv("MEMBERD_WEBHOOK_MAX_PENDING")); err == nil {
		cfg.WebhookMaxPending = v
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
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", cfg.TrustProxy, "behind a reverse proxy: trust its X-Forwarded-Proto and X-Forwarded-For in the admin console (env MEMBERD_TRUST_PROXY=1)")
	fs.StringVar(&cfg.WebhookAllowCIDR, "webhook-allow-cidr", cfg.WebhookAllowCIDR, "comma-separated CIDRs webhooks may reach although loopback, private, link-local or otherwise special, for on-premises receivers (env MEMBERD_WEBHOOK_ALLOW_CIDR)")
	fs.IntVar(&cfg.WebhookMaxPending, "webhook-max-pending", cfg.WebhookMaxPending, "most pending deliveries one webhook endpoint holds; beyond it new messages for it are dropped and counted (env MEMBERD_WEBHOOK_MAX_PENDING)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole server run to this file (for benchmarks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	allow, err := netguard.ParseAllow(cfg.WebhookAllowCIDR)
	if err != nil {
		return fmt.Errorf("--webhook-allow-cidr: %w", err)
	}
	guard := &netguard.Guard{Allow: allow}
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
	jobCfg.HTTPClient = guard.Client(jobs.DefaultDeliveryTimeout)
	queue, err := newQueue(ctx, store, jobCfg)
	if err != nil {
		return err
	}
	svc := membership.NewService(store, membership.Config{
		BatchLimit: cfg.BatchLimit, KeepFutureBookings: cfg.KeepFutureBookings, Logger: logger, Queue: queue,
		WebhookGuard: guard, WebhookMaxPending: cfg.WebhookMaxPending,
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
	authn := auth.New(svc, auth.Limits{Rate: cfg.RateLimit, Burst: cfg.RateBurst})

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
		Handler:           respond.WithLogger(routes(svc, authn, cfg), logger),
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
	native := httpapi.NewHandler(svc, authn)
	mux.Handle("/api/v1/", native)
	mux.Handle("/openapi.json", native)
	mux.Handle("/docs", native)
	mux.Handle(wiggledesk.Path, wiggledesk.NewHandler(svc, authn))
	mux.Handle("/api/3/", highq.NewHandler(svc, authn))
	mux.Handle("/api/v37/", tedee.NewHandler(svc, authn))
	mux.Handle(jicoo.Prefix, jicoo.NewHandler(svc, authn))
	workivaCfg := workiva.DefaultConfig()
	workivaCfg.ServeAfterSunset = cfg.WorkivaAfterSunset
	mux.Handle("/prototype/", workiva.NewHandler(svc, authn, workivaCfg))
	oauthHandler := oauth.NewHandler(svc, oauth.DefaultConfig())
	for _, p := range oauth.Paths {
		mux.Handle(p, oauthHandler)
	}
	adminCfg := admin.DefaultConfig()
	adminCfg.TrustProxy = cfg.TrustProxy
	mux.Handle(admin.Prefix+"/", admin.NewHandler(svc, adminCfg))
	mux.Handle("GET "+admin.Prefix, http.RedirectHandler(admin.Prefix+"/", http.StatusSeeOther))
	mux.Handle(scim.Prefix, scim.NewHandler(svc, authn))
	return respond.WithRequestID(respond.Recover(mux, func(w http.ResponseWriter, r *http.Request, err error) {
		respond.JSON(w, respond.Status(err), map[string]string{"error": respond.Message(r, err)})
	}))
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
