package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// This file owns sign-in, sign-out, the session cookie, CSRF tokens and
// the sign-in rate limit.

// Cookie names. The session cookie is scoped to the console's path.
const (
	SessionCookie = "memberd_admin"
	signInCookie  = "memberd_admin_signin" // double-submit token of the sign-in forms
	csrfField     = "csrf"
)

// scopeNone admits any live session (signing out needs no scope).
const scopeNone = ""

// call is a console request from a live session: who acts, and the one
// way to refuse it so that the refusal is audited like any other.
type call struct {
	Principal *membership.Principal
	Actor     membership.Actor

	svc     *membership.Service
	r       *http.Request
	action  string
	session *membership.Session
	token   string
	csrf    string
}

// Refuse audits err as a refused attempt at the page's action and returns
// it, for refusals the console makes before a core call (a malformed
// filter, a form naming too many members).
func (c *call) Refuse(err error) error {
	c.svc.AuditRefused(c.r.Context(), c.Actor, c.action, err)
	return err
}

// secureRequest says whether the browser reached memberd over TLS, itself
// or (when trusted) through a proxy that says so.
func (h *handler) secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return h.cfg.TrustProxy && strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https")
}

// clientAddr is the address sign-in attempts are limited by: the one the
// server found from its trusted proxies (respond.WithClientAddr), or, when
// the console is mounted without it, its own reading.
func (h *handler) clientAddr(r *http.Request) string {
	if addr := membership.ClientAddress(r.Context()); addr != "" {
		return addr
	}
	if h.cfg.TrustProxy {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			return strings.TrimSpace(strings.Split(fwd, ",")[0])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) cookie(r *http.Request, name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: h.secureRequest(r),
	}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// csrfToken is bound to the session token: a page can only post forms of
// the session that rendered it, and nothing needs storing.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("memberd admin csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func errCSRF() error {
	return membership.Errorf(membership.CodeForbidden,
		"the form has expired or did not come from this console; go back, reload the page and try again")
}

// signed wraps a page that needs a live session holding scope. A request
// without one is sent to sign in (a stale or ended session is audited); a
// missing scope and a state-changing form without this session's CSRF
// token are refused on a page and audited under action.
func (h *handler) signed(scope, action string, page func(w http.ResponseWriter, r *http.Request, c *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(SessionCookie)
		if err != nil || ck.Value == "" {
			if r.Method != http.MethodGet {
				h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", "not signed in")
			}
			h.toSignIn(w, r, "")
			return
		}
		sp, err := h.svc.SessionFor(r.Context(), ck.Value)
		if err != nil {
			if membership.ErrorCode(err) != membership.CodeUnauthorized {
				h.fail(w, r, nil, err, "")
				return
			}
			h.svc.AuditRefusedSession(r.Context(), Interface, respond.RequestID(r), ck.Value, membership.ErrorMessage(err))
			http.SetCookie(w, h.cookie(r, SessionCookie, "", time.Time{}))
			h.toSignIn(w, r, membership.ErrorMessage(err))
			return
		}
		c := &call{
			Principal: &sp.Principal, Actor: auth.Actor(&sp.Principal, Interface, r),
			svc: h.svc, r: r, action: action, session: sp.Session, token: ck.Value, csrf: csrfToken(ck.Value),
		}
		if scope != scopeNone {
			if err := auth.RequireScope(&sp.Principal, scope); err != nil {
				h.fail(w, r, c, c.Refuse(err), "")
				return
			}
		}
		if r.Method == http.MethodPost {
			if err := readForm(w, r); err != nil {
				h.fail(w, r, c, c.Refuse(err), "")
				return
			}
			if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(c.csrf)) {
				h.fail(w, r, c, c.Refuse(errCSRF()), "")
				return
			}
		}
		page(w, r, c)
	}
}

// readForm reads a posted form within respond.DefaultMaxBody, so that a
// form too large is answered as one (413), not as a missing CSRF token.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, respond.DefaultMaxBody)
	err := r.ParseForm()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return membership.Errorf(membership.CodeTooLarge, "the form is larger than the %d bytes a form may have", tooLarge.Limit)
	case err != nil:
		return membership.Errorf(membership.CodeInvalid, "the form could not be read")
	}
	return nil
}

// signInForm reads a sign-in form (readForm); one that cannot be read is
// answered on page as what it is (413 for one too large), audited with
// refused authentications, and ok is false.
func (h *handler) signInForm(w http.ResponseWriter, r *http.Request, page, title string) (ok bool) {
	err := readForm(w, r)
	if err == nil {
		return true
	}
	h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", "a sign-in form that could not be read")
	v := signInView{Next: Prefix + "/members", Token: h.formToken(w, r), Error: respond.Message(r, err)}
	h.render(w, r, respond.Status(err), page, &view{Title: title, Data: v})
	return false
}

// toSignIn sends the browser to the sign-in page, back to where it was
// going afterwards (GET pages only: a form cannot be replayed).
func (h *handler) toSignIn(w http.ResponseWriter, r *http.Request, reason string) {
	q := url.Values{}
	if r.Method == http.MethodGet {
		q.Set("next", r.URL.RequestURI())
	}
	if reason != "" {
		q.Set("reason", reason)
	}
	target := Prefix + "/signin"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// nextPath keeps only console paths, so the sign-in page cannot be made
// to send anyone elsewhere.
func nextPath(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return Prefix + "/members"
}

type signInView struct {
	Next    string
	Notice  string
	Error   string
	Token   string // form token of the sign-in form
	Link    string // the one-time link's token, on the link page
	Expired bool
}

// formToken sets the double-submit cookie the sign-in forms echo: there is
// no session yet to bind a CSRF token to, and this stops another site from
// signing a browser in to an account of its choosing.
func (h *handler) formToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(signInCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, h.cookie(r, signInCookie, tok, time.Now().Add(time.Hour)))
	return tok
}

func (h *handler) formTokenOK(r *http.Request) bool {
	ck, err := r.Cookie(signInCookie)
	return err == nil && len(ck.Value) >= 32 && hmac.Equal([]byte(ck.Value), []byte(r.PostFormValue(csrfField)))
}

func (h *handler) signInPage(w http.ResponseWriter, r *http.Request) {
	v := signInView{Next: nextPath(r.URL.Query().Get("next")), Notice: r.URL.Query().Get("reason"), Token: h.formToken(w, r)}
	if len(v.Notice) > 200 {
		v.Notice = ""
	}
	h.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Data: v})
}

// allowSignIn applies the per-address sign-in limit, refusing on the page
// (429, audited) when it is spent.
func (h *handler) allowSignIn(w http.ResponseWriter, r *http.Request, page string, v signInView) bool {
	if h.limiter == nil {
		return true
	}
	wait, ok := h.limiter.Allow(h.clientAddr(r))
	if ok {
		return true
	}
	secs := int(math.Ceil(wait.Seconds()))
	msg := fmt.Sprintf("too many sign-in attempts from this address; try again in %d seconds", secs)
	h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), membership.CredentialPrefix(r.PostFormValue("credential")), msg)
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	v.Error = "Too many sign-in attempts from this address. Try again in " + fmt.Sprint(secs) + " seconds."
	h.render(w, r, http.StatusTooManyRequests, page, &view{Title: "Sign in", Data: v})
	return false
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	if !h.signInForm(w, r, "signin", "Sign in") {
		return
	}
	v := signInView{Next: nextPath(r.PostFormValue("next")), Token: h.formToken(w, r)}
	if !h.formTokenOK(r) {
		h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", "sign-in form without its form token")
		v.Error = "The sign-in form expired. Please try again."
		h.render(w, r, http.StatusForbidden, "signin", &view{Title: "Sign in", Data: v})
		return
	}
	if !h.allowSignIn(w, r, "signin", v) {
		return
	}
	ns, err := h.svc.SignIn(r.Context(), membership.SignInRequest{
		Secret: r.PostFormValue("credential"), UserAgent: r.UserAgent(), Address: h.clientAddr(r),
		Interface: Interface, RequestID: respond.RequestID(r),
	})
	if err != nil {
		h.signInFailed(w, r, "signin", v, err)
		return
	}
	h.startSession(w, r, ns, v.Next)
}

func (h *handler) signInFailed(w http.ResponseWriter, r *http.Request, page string, v signInView, err error) {
	switch membership.ErrorCode(err) {
	case membership.CodeUnauthorized:
		v.Error = "Sign-in failed: " + membership.ErrorMessage(err) + "."
	case membership.CodeForbidden:
		v.Error = "Sign-in refused: " + membership.ErrorMessage(err) + "."
	default:
		h.fail(w, r, nil, err, Prefix+"/signin")
		return
	}
	h.render(w, r, respond.Status(err), page, &view{Title: "Sign in", Data: v})
}

func (h *handler) startSession(w http.ResponseWriter, r *http.Request, ns *membership.NewSession, next string) {
	http.SetCookie(w, h.cookie(r, SessionCookie, ns.Token, ns.Session.ExpiresAt))
	http.SetCookie(w, h.cookie(r, signInCookie, "", time.Time{}))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// linkPage shows the confirmation of a one-time link: the link is spent
// only by the form's POST, so a mail scanner or a prefetch that follows
// the link does not use it up.
func (h *handler) linkPage(w http.ResponseWriter, r *http.Request) {
	v := signInView{Next: Prefix + "/members", Link: r.URL.Query().Get("token"), Token: h.formToken(w, r)}
	h.render(w, r, http.StatusOK, "link", &view{Title: "Sign in with a link", Data: v})
}

func (h *handler) signInLink(w http.ResponseWriter, r *http.Request) {
	if !h.signInForm(w, r, "link", "Sign in with a link") {
		return
	}
	v := signInView{Next: Prefix + "/members", Link: r.PostFormValue("token"), Token: h.formToken(w, r)}
	if !h.formTokenOK(r) {
		h.svc.AuditRefusedAuth(r.Context(), Interface, respond.RequestID(r), "", "sign-in form without its form token")
		v.Error = "The sign-in form expired. Please try again."
		h.render(w, r, http.StatusForbidden, "link", &view{Title: "Sign in with a link", Data: v})
		return
	}
	if !h.allowSignIn(w, r, "link", v) {
		return
	}
	ns, err := h.svc.SignInWithLink(r.Context(), membership.SignInRequest{
		Secret: v.Link, UserAgent: r.UserAgent(), Address: h.clientAddr(r), Interface: Interface, RequestID: respond.RequestID(r),
	})
	if err != nil {
		v.Link = ""
		h.signInFailed(w, r, "link", v, err)
		return
	}
	h.startSession(w, r, ns, v.Next)
}

func (h *handler) signOut(w http.ResponseWriter, r *http.Request, c *call) {
	if err := h.svc.SignOut(r.Context(), c.Actor, c.token); err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	http.SetCookie(w, h.cookie(r, SessionCookie, "", time.Time{}))
	http.Redirect(w, r, Prefix+"/signin?reason="+url.QueryEscape("You are signed out."), http.StatusSeeOther)
}
