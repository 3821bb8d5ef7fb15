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
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	"github.com/memberd/memberd/store/sqlite"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	fs := m.newFlagSet("serve", "serve [flags]   run the server")
	m.serveFlags(fs, &cfg)
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	// Every request logs a line; concurrent ones share a write.
	logOut := newGroupWriter(m.Stderr)
	logger, err := newLogger(logOut, cfg)
	if err != nil {
		return err
	}
	if cfg.TrustProxy && cfg.TrustedProxies == "" {
		cfg.TrustedProxies = "0.0.0.0/0,::/0"
	}
	trusted, err := respond.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	// Naming trusted proxies also lets the console believe their
	// X-Forwarded-Proto for the Secure cookie.
	cfg.TrustProxy = len(trusted) > 0
	allow, err := netguard.ParseAllow(cfg.WebhookAllowCIDR)
	if err != nil {
		return fmt.Errorf("--webhook-allow-cidr: %w", err)
	}
	guard := &netguard.Guard{Allow: allow}
	if percent, ok := gcPercent(fs, cfg.GCPercent, m.Getenv); ok {
		debug.SetGCPercent(percent)
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	dbGiven := false
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
	if dir, err := prepareSQLiteDir(cfg.DB); err != nil {
		return err
	} else if dir != "" {
		logger.Info("created the database's directory", "dir", dir)
	}

	met := newMetrics()
	store, err := openStore(ctx, cfg.DB, cfg.GroupCommit, met.commitObserver(logger, cfg.SlowCommit))
	if err != nil {
		return err
	}
	defer store.Close()
	if st, ok := store.(*sqlite.Store); ok && cfg.AccessMemory > 0 {
		if err := st.EnableAccessMemory(ctx, cfg.AccessMemory, logger); err != nil {
			logger.Warn("access checks read the database", "reason", err)
		}
	}
	met.registerStore(store)
	// The job queue runs on every node: River coordinates through the
	// database, so each job runs on exactly one of them. The service
	// enqueues into it, so it exists before the service.
	jobCfg := jobs.DefaultConfig()
	jobCfg.Logger = logger
	jobCfg.Observer = jobObserver{m: met, log: logger}
	jobCfg.HTTPClient = guard.Client(jobs.DefaultDeliveryTimeout)
	jobCfg.JobTimeout, jobCfg.RescueAfter = cfg.JobTimeout, cfg.JobRescueAfter
	queue, err := newQueue(ctx, store, jobCfg)
	if err != nil {
		return err
	}
	svc := membership.NewService(store, membership.Config{
		BatchLimit: cfg.BatchLimit, KeepFutureBookings: cfg.KeepFutureBookings, Logger: logger, Queue: queue,
		Observer:     coreObserver{m: met},
		WebhookGuard: guard, WebhookMaxPending: cfg.WebhookMaxPending, OffboardChunk: cfg.OffboardChunk,
		AccessIndex: accessIndex(cfg.AccessIndex),
	})
	var demoLink string
	if cfg.Demo {
		if demoLink, err = m.loadDemo(ctx, store, svc); err != nil {
			return err
		}
	} else if err := firstCredentialHint(ctx, store, logger, cfg.DB); err != nil {
		return err
	}
	authn := auth.New(svc, auth.Limits{Rate: cfg.RateLimit, Burst: cfg.RateBurst,
		FailureRate: cfg.AuthFailureLimit, FailureBurst: cfg.AuthFailureBurst})
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
	met.reg.MustRegister(newQueueDepth(runner))
	ready := &readiness{store: store, running: runner.Running}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen: %w", err), runner.Stop(context.WithoutCancel(ctx)))
	}
	metricsHandler := promhttp.HandlerFor(met.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)})
	onMain := metricsHandler
	if cfg.MetricsAddr != "" {
		onMain = nil
	}
	srv := newHTTPServer(respond.WithLogger(respond.WithClientAddr(routes(svc, authn, cfg, ready, onMain, newAccessLogger(logger, logOut, cfg.LogFormat), met), trusted), logger), logger)
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return errors.Join(fmt.Errorf("listen for metrics: %w", err), m.shutdown(ctx, logger, cfg, servers, runner))
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		msrv := newHTTPServer(mux, logger)
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
		logger.Info("metrics listening", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	fmt.Fprintf(m.Stderr, "memberd listening on http://%s (database %s)\n", ln.Addr(), redact(cfg.DB))
	if cfg.Demo {
		fmt.Fprintf(m.Stdout, "\nAdmin console: http://%s%s/\n  sign in with the MEMBERD_TOKEN above (the owner's credential),\n  or open this one-time link (15 minutes): http://%s%s/signin/link?token=%s\n",
			ln.Addr(), admin.Prefix, ln.Addr(), admin.Prefix, demoLink)
	}
	if m.Ready != nil {
		m.Ready <- ln.Addr().String()
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	ready.draining.Store(true)
	return errors.Join(serveErr, m.shutdown(ctx, logger, cfg, servers, runner))
}

// newHTTPServer returns a server for h with memberd's timeouts.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// shutdown stops taking requests, lets those in flight finish, then stops
// the job workers and lets running jobs finish, each within
// cfg.ShutdownTimeout; a job cut short runs again on the next start or
// another node. It logs how long each took.
func (m *Main) shutdown(ctx context.Context, logger *slog.Logger, cfg Config, servers []*http.Server, runner *jobs.Runner) error {
	logger.Info("shutting down: draining requests, then jobs", "timeout", cfg.ShutdownTimeout)
	start := time.Now()
	var errs []error
	httpCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	for _, srv := range servers {
		if err := srv.Shutdown(httpCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
			_ = srv.Close()
		}
	}
	cancel()
	logger.Info("requests drained", "duration", time.Since(start).Round(time.Millisecond))
	jobStart := time.Now()
	jobsCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := runner.Stop(jobsCtx); err != nil {
		logger.Warn("jobs did not finish in time; they run again later", "err", err)
	} else {
		logger.Info("jobs drained", "duration", time.Since(jobStart).Round(time.Millisecond))
	}
	logger.Info("stopped", "duration", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

// loadDemo loads the demo organization and prints what the README's
// sections use: the credentials, the organization's UUID and the ids.
func (m *Main) loadDemo(ctx context.Context, store membership.Store, svc *membership.Service) (link string, err error) {
	d, err := demo.Load(ctx, store, time.Now())
	if err != nil {
		return "", err
	}
	fmt.Fprintf(m.Stdout, "MEMBERD_TOKEN=%s\nMEMBERD_ADMIN_TOKEN=%s\nMEMBERD_MEMBER_TOKEN=%s\nMEMBERD_ORG_UUID=%s\n",
		d.OwnerToken, d.AdminToken, d.MemberToken, d.Org.UUID)
	if link, _, err = svc.CreateSignInLink(ctx, d.Org.ID, membership.MemberRef{Email: demo.OwnerEmail}); err != nil {
		return "", err
	}
	fmt.Fprintf(m.Stderr, "demo organization %q loaded (id 1, uuid %s): members 1..%d, owner %s, admin %s\n",
		d.Org.Name, d.Org.UUID, demo.Members, demo.OwnerEmail, demo.AdminEmail)
	fmt.Fprintf(m.Stderr, "ids the README's sections use: HighQ site %d; Tedee user group %s; Workiva workspace %d, memberships %d (member 20) and %d (member 21)\n",
		d.Spaces[demo.SpaceDeal], demo.TedeeGroupUUID, d.Spaces[demo.SpaceFinance], d.WorkivaSpace, d.WorkivaSpace+1)
	return link, nil
}

// firstCredentialHint tells the operator of an empty database how to get
// the first credential: nothing can sign in until bootstrap has run.
func firstCredentialHint(ctx context.Context, store membership.Store, logger *slog.Logger, dsn string) error {
	err := store.View(ctx, func(tx membership.Tx) error {
		_, err := tx.OrganizationGet(ctx, 1)
		return err
	})
	switch membership.ErrorCode(err) {
	case membership.CodeNotFound:
		logger.Warn(fmt.Sprintf("the database has no organization yet, so no credential can sign in: create one with "+
			"`memberd bootstrap --org NAME --owner EMAIL --db %s`, which prints the owner's credential once "+
			"(or try `memberd serve --demo`)", redact(dsn)))
		return nil
	case "", membership.CodeInternal:
		if err != nil {
			return fmt.Errorf("read the database: %w", err)
		}
	}
	return nil
}

// routes mounts every interface on one mux. Each adapter owns its paths.
// metricsHandler is nil when /metrics has a listener of its own.
func routes(svc *membership.Service, authn *auth.Authenticator, cfg Config, ready *readiness, metricsHandler http.Handler, access *accessLogger, met *metrics) http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {
		respond.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	mount(mux, "GET /healthz", "health", http.HandlerFunc(ok))
	mount(mux, "GET /livez", "health", http.HandlerFunc(ok))
	mount(mux, "GET /readyz", "health", http.HandlerFunc(ready.serveReady))
	if metricsHandler != nil {
		mount(mux, "GET /metrics", "metrics", metricsHandler)
	}
	// One gate bounds the requests in flight of every interface; each
	// answers the requests it sheds in its own error format. Health and
	// metrics are never shed.
	gate := respond.NewGate(cfg.MaxInFlight, cfg.QueueTimeout)
	native := gate.Wrap(httpapi.NewHandler(svc, authn), httpapi.WriteError)
	mount(mux, "/api/v1/", "native", native)
	mount(mux, "/openapi.json", "native", native)
	mount(mux, "/docs", "native", native)
	mount(mux, wiggledesk.Path, "wiggledesk", gate.Wrap(wiggledesk.NewHandler(svc, authn), wiggledesk.WriteError))
	mount(mux, "/api/3/", "highq", gate.Wrap(highq.NewHandler(svc, authn), highq.WriteError))
	mount(mux, "/api/v37/", "tedee", gate.Wrap(tedee.NewHandler(svc, authn), tedee.WriteError))
	mount(mux, jicoo.Prefix, "jicoo", gate.Wrap(jicoo.NewHandler(svc, authn), jicoo.WriteError))
	workivaCfg := workiva.DefaultConfig()
	workivaCfg.ServeAfterSunset = cfg.WorkivaAfterSunset
	mount(mux, "/prototype/", "workiva", gate.Wrap(workiva.NewHandler(svc, authn, workivaCfg), workiva.WriteError))
	oauthHandler := gate.Wrap(oauth.NewHandler(svc, oauth.DefaultConfig()), oauth.WriteError)
	for _, p := range oauth.Paths {
		mount(mux, p, "oauth", oauthHandler)
	}
	adminCfg := admin.DefaultConfig()
	adminCfg.TrustProxy = cfg.TrustProxy
	mount(mux, admin.Prefix+"/", "admin", gate.Wrap(admin.NewHandler(svc, adminCfg), admin.WriteError))
	mount(mux, "GET "+admin.Prefix, "admin", http.RedirectHandler(admin.Prefix+"/", http.StatusSeeOther))
	mount(mux, scim.Prefix, "scim", gate.Wrap(scim.NewHandler(svc, authn), scim.WriteError))
	return respond.WithRequestID(respond.WithNoSniff(accessLog(respond.Recover(mux, func(w http.ResponseWriter, r *http.Request, err error) {
		respond.JSON(w, respond.Status(err), map[string]string{"error": respond.Message(r, err)})
	}), access, met)))
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

// DefaultGCPercent is memberd's garbage collector target. Go's default,
// 100, collects each time the heap doubles over live data; at 200 the
// server spends about a tenth less CPU on an access check (CPU profiles of
// the bench's S3, collection and allocation assists) for a heap up to
// three times its live data, which the bench's RSS bound still holds.
const DefaultGCPercent = 200

// gcPercent says what --gc-percent sets: the flag when given (or its
// MEMBERD_ variable), else the default unless GOGC already set one.
func gcPercent(fs *flag.FlagSet, percent int, getenv func(string) string) (int, bool) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "gc-percent" })
	return percent, given || getenv("GOGC") == ""
}

// accessIndex turns --access-index into membership.Config.AccessIndex,
// where 0 is the default and a negative size turns the index off.
func accessIndex(size int) int {
	if size <= 0 {
		return -1
	}
	return size
}
