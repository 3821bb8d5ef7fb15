// Package admin owns memberd's web console at /admin: the "Manage Users"
// pages an IT administrator uses to find a member, see what they hold and
// why, remove one or many with a preview and per-member results, schedule
// and cancel removals, restore a member, and read the audit trail,
// operations and webhook deliveries.
//
// Pages are server-rendered html/template files embedded in the binary and
// work without JavaScript; the one small script (select-all on the member
// list) is served from /admin/static like the style sheet, under a strict
// Content-Security-Policy. Sign-in exchanges an owner's or admin's API
// credential (or a one-time link from `memberd signin-link`) for a
// server-side session; every page resolves the session through the core,
// builds the same membership.Actor as every adapter (interface "admin"),
// and makes the same core calls as the native API, so rights, refusals and
// the audit trail are the same.
package admin

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Prefix is where the console is mounted.
const Prefix = "/admin"

// Interface names the console in the audit trail.
const Interface = "admin"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults for Config.
const (
	DefaultSignInEvery = 6 * time.Second // one sign-in attempt per address per 6 s on average
	DefaultSignInBurst = 10
	// PageSize is the members, events and operations one page shows.
	PageSize = 50
)

// Config holds the console's optional settings.
type Config struct {
	// TrustProxy honours X-Forwarded-Proto (for the cookie's Secure flag)
	// and X-Forwarded-For (for sign-in rate limits) from a reverse proxy.
	// Leave it off unless a proxy that sets them is the only way in.
	TrustProxy bool
	// SignInEvery and SignInBurst limit sign-in attempts per client
	// address; SignInEvery <= 0 turns the limit off.
	SignInEvery time.Duration
	SignInBurst int
	// Logger receives failures that cannot reach a page.
	Logger *slog.Logger
}

// DefaultConfig returns the settings the console runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{SignInEvery: DefaultSignInEvery, SignInBurst: DefaultSignInBurst, Logger: slog.Default()}
}

// handler serves the console.
type handler struct {
	svc     *membership.Service
	cfg     Config
	pages   map[string]*template.Template
	limiter *auth.AddrLimiter
}

// NewHandler returns the console, to be mounted at Prefix+"/".
func NewHandler(svc *membership.Service, cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{svc: svc, cfg: cfg, pages: parsePages()}
	if cfg.SignInEvery > 0 {
		h.limiter = auth.NewAddrLimiter(rate.Every(cfg.SignInEvery), cfg.SignInBurst)
	}
	static, _ := fs.Sub(staticFS, "static") // the directory is embedded, so Sub cannot fail
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", cacheStatic(filesOnly(http.FileServerFS(static), h))))
	mux.HandleFunc("GET "+Prefix+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/members", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+Prefix+"/signin", h.signInPage)
	mux.HandleFunc("POST "+Prefix+"/signin", h.signIn)
	mux.HandleFunc("GET "+Prefix+"/signin/link", h.linkPage)
	mux.HandleFunc("POST "+Prefix+"/signin/link", h.signInLink)
	mux.HandleFunc("POST "+Prefix+"/signout", h.signed(scopeNone, membership.ActionSessionEnded, h.signOut))

	read, write, audit := membership.ScopeMembersRead, membership.ScopeMembersWrite, membership.ScopeAuditRead
	mux.HandleFunc("GET "+Prefix+"/members", h.signed(read, membership.ActionMemberRead, h.members))
	mux.HandleFunc("GET "+Prefix+"/members/{id}", h.signed(read, membership.ActionMemberRead, h.member))
	mux.HandleFunc("GET "+Prefix+"/members/{id}/remove", h.signed(write, membership.ActionMemberRemoved, h.removePreview))
	mux.HandleFunc("POST "+Prefix+"/members/{id}/remove", h.signed(write, membership.ActionMemberRemoved, h.remove))
	mux.HandleFunc("POST "+Prefix+"/members/{id}/restore", h.signed(write, membership.ActionMemberRestored, h.restore))
	mux.HandleFunc("POST "+Prefix+"/members/{id}/schedule", h.signed(write, membership.ActionScheduledRemovalCreated, h.schedule))
	mux.HandleFunc("GET "+Prefix+"/removals", h.signed(write, membership.ActionBatchRemoved, h.batchPreview))
	mux.HandleFunc("POST "+Prefix+"/removals", h.signed(write, membership.ActionBatchRemoved, h.batchRemove))
	mux.HandleFunc("GET "+Prefix+"/schedules", h.signed(read, membership.ActionOperationRead, h.schedules))
	mux.HandleFunc("GET "+Prefix+"/operations", h.signed(read, membership.ActionOperationRead, h.operations))
	mux.HandleFunc("POST "+Prefix+"/operations/{id}/cancel", h.signed(write, membership.ActionOperationCancelled, h.cancelOperation))
	mux.HandleFunc("GET "+Prefix+"/audit", h.signed(audit, membership.ActionEventRead, h.audit))
	mux.HandleFunc("GET "+Prefix+"/webhooks", h.signed(read, membership.ActionWebhookDeliveryRead, h.webhooks))
	mux.HandleFunc("GET "+Prefix+"/sessions", h.signed(read, membership.ActionSessionRead, h.sessions))
	mux.HandleFunc("POST "+Prefix+"/sessions/{id}/revoke", h.signed(read, membership.ActionSessionRevoked, h.revokeSession))
	// OAuth consent and the profile's API keys (oauth.go).
	mux.HandleFunc("GET "+Prefix+"/oauth/authorize", h.signed(scopeNone, "oauth.authorization.read", h.consent))
	mux.HandleFunc("POST "+Prefix+"/oauth/authorize", h.signed(scopeNone, "oauth.authorized", h.decide))
	manage := membership.ScopeCredentialsManage
	mux.HandleFunc("GET "+Prefix+"/oauth/clients", h.signed(manage, "oauth_client.read", h.oauthClients))
	mux.HandleFunc("POST "+Prefix+"/oauth/clients", h.signed(manage, "oauth_client.created", h.createOAuthClient))
	mux.HandleFunc("POST "+Prefix+"/oauth/clients/{id}/rotate", h.signed(manage, "oauth_client.rotated", h.rotateOAuthClient))
	mux.HandleFunc("POST "+Prefix+"/oauth/clients/{id}/revoke", h.signed(manage, "oauth_client.revoked", h.revokeOAuthClient))
	mux.HandleFunc("GET "+Prefix+"/profile", h.signed(scopeNone, membership.ActionCredentialRead, h.profile))
	mux.HandleFunc("POST "+Prefix+"/profile/keys", h.signed(scopeNone, membership.ActionCredentialCreated, h.createKey))
	mux.HandleFunc("POST "+Prefix+"/profile/keys/{id}/revoke", h.signed(scopeNone, membership.ActionCredentialRevoked, h.revokeKey))
	mux.HandleFunc(Prefix+"/", h.notFound)
	return secure(h.sameOrigin(mux))
}

// sameOrigin refuses a state-changing request a browser sent from another
// site (Sec-Fetch-Site, else Origin against Host), before any form is
// read: the CSRF token already stops it, and this stops it even where a
// token leaked. It is audited with refused authentications, since no
// session is looked at first.
func (h *handler) sameOrigin(next http.Handler) http.Handler {
	check := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := check.Check(r); err != nil {
			h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", "a form posted from another site")
			h.fail(w, r, nil, errCSRF(), "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// filesOnly serves the console's static files but no listing of their
// directory.
func filesOnly(files http.Handler, h *handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			h.notFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "error", &view{Title: "Not found", Data: errorView{Message: "There is no such page."}})
}

// csp allows nothing but the console's own files: no inline script or
// style, no framing, forms only back to memberd.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// secure sets the headers every console answer carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template receives.
type view struct {
	Title string
	Nav   string // the navigation entry to mark current
	Me    *membership.Member
	CSRF  string
	// Refresh, when positive, reloads the page after that many seconds
	// (live status without script).
	Refresh int
	Data    any
}

// errorView is the data of the error page.
type errorView struct {
	Message string
	Back    string
}

var funcs = template.FuncMap{
	"ts": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"join": strings.Join,
	"list": func(v ...string) []string { return v },
	// why says where a member's access to a resource comes from.
	"why": func(a *membership.Access, groups map[int64]string) string {
		var out []string
		if a.Direct {
			out = append(out, "direct grant")
		}
		for _, g := range a.GroupIDs {
			out = append(out, "through group "+groups[g])
		}
		return strings.Join(out, "; ")
	},
	"path": func(parts ...any) string {
		var b strings.Builder
		b.WriteString(Prefix)
		for _, p := range parts {
			fmt.Fprintf(&b, "/%v", p)
		}
		return b.String()
	},
}

// parsePages parses each page with the shared layout. A broken template
// is a bug caught by every test, so it panics.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

// render writes page name with status. A template that fails halfway has
// already sent its status, so the failure is only logged.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if v.Refresh > 0 {
		w.Header().Set("Refresh", fmt.Sprint(v.Refresh))
	}
	w.WriteHeader(status)
	if err := h.pages[name].ExecuteTemplate(w, "layout.html", v); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "render admin page", "page", name, "request_id", respond.RequestID(r), "err", err)
	}
}

// errorPages are the templates WriteError renders with, parsed once.
var errorPages = sync.OnceValue(parsePages)

// WriteError renders err as the console's error page with its status
// (and Retry-After when err says when to retry), for middleware in front
// of the console (load shedding); it carries the console's own headers.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	respond.SetRetryAfter(w, err)
	secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := &handler{cfg: Config{Logger: slog.Default()}, pages: errorPages()}
		title := http.StatusText(respond.Status(err))
		h.render(w, r, respond.Status(err), "error", &view{Title: title, Data: errorView{Message: respond.Message(r, err)}})
	})).ServeHTTP(w, r)
}

// fail renders a refusal or error as a page in words, with the status the
// native API would answer. Internal errors are logged and shown as such.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, c *call, err error, back string) {
	v := &view{Title: "Not done", Data: errorView{Message: respond.Message(r, err), Back: back}}
	if c != nil {
		v.Me, v.CSRF = c.Principal.Member, c.csrf
	}
	status := respond.Status(err)
	if status == http.StatusNotFound {
		v.Title = "Not found"
	}
	h.render(w, r, status, "error", v)
}
