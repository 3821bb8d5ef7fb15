package admin

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// This file owns the console's OAuth pages: the consent page the
// authorization endpoints (package oauth) send a browser to, and the
// profile page where a member keeps their own API keys.

// authorizeRequest reads an authorization request from a query or form.
func authorizeRequest(v url.Values) membership.AuthorizeRequest {
	return membership.AuthorizeRequest{
		ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		Scope: v.Get("scope"), State: v.Get("state"), CodeChallenge: v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"),
	}
}

// backToClient sends an authorization's answer to the client's redirect
// URI, keeping any query it already has (RFC 6749 3.1.2).
func backToClient(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	u, err := url.Parse(redirect)
	if err != nil { // registered URIs were checked when the client was made
		http.Error(w, "bad redirect URI", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, v := range params {
		if v[0] != "" {
			q.Set(k, v[0])
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// authorizeFailed answers a refused authorization request: back to the
// client when the refusal says where, on a page otherwise (an unknown
// client or an unregistered redirect URI must not redirect anywhere).
func (h *handler) authorizeFailed(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var oe *membership.OAuthError
	if errors.As(err, &oe) && oe.RedirectURI != "" {
		backToClient(w, r, oe.RedirectURI, url.Values{"error": {oe.Kind}, "error_description": {membership.ErrorMessage(err)}, "state": {oe.State}})
		return
	}
	h.fail(w, r, c, err, "")
}

type consentView struct {
	Client  *membership.OAuthClient
	Scopes  []string
	Request membership.AuthorizeRequest
	Origin  string // where the answer goes, shown to the member
}

// formAction is the CSP source that lets the consent form's answer
// redirect to the client: browsers hold a form's redirects to form-action.
func formAction(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// consent shows what the client asks for, on behalf of whom.
func (h *handler) consent(w http.ResponseWriter, r *http.Request, c *call) {
	req := authorizeRequest(r.URL.Query())
	p, err := h.svc.PrepareAuthorization(r.Context(), c.Actor, req)
	if err != nil {
		h.authorizeFailed(w, r, c, err)
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+formAction(p.RedirectURI), 1))
	h.render(w, r, http.StatusOK, "consent", &view{Title: "Authorize " + p.Client.Name, Me: c.Principal.Member, CSRF: c.csrf,
		Data: &consentView{Client: p.Client, Scopes: p.Scopes, Request: req, Origin: formAction(p.RedirectURI)}})
}

// decide answers the consent form: a code for the client, or access_denied.
func (h *handler) decide(w http.ResponseWriter, r *http.Request, c *call) {
	req := authorizeRequest(r.PostForm)
	if r.PostFormValue("decision") != "allow" {
		p, err := h.svc.PrepareAuthorization(r.Context(), c.Actor, req)
		if err != nil {
			h.authorizeFailed(w, r, c, err)
			return
		}
		c.Refuse(membership.Errorf(membership.CodeForbidden, "the member denied client %s access", p.Client.ClientID))
		backToClient(w, r, p.RedirectURI, url.Values{"error": {membership.OAuthAccessDenied},
			"error_description": {"the member denied access"}, "state": {req.State}})
		return
	}
	az, err := h.svc.Authorize(r.Context(), c.Actor, req)
	if err != nil {
		h.authorizeFailed(w, r, c, err)
		return
	}
	backToClient(w, r, az.RedirectURI, url.Values{"code": {az.Code}, "state": {az.State}})
}

type profileView struct {
	Keys   []*membership.Credential
	Scopes []string // what a new key may carry: the session's own
	New    *membership.IssuedCredential
	Notice string
	Error  string
}

// myKeys lists the member's own API keys, leaving out the credentials
// OAuth clients act through (they are the client's, managed with it).
func (h *handler) myKeys(r *http.Request, c *call) ([]*membership.Credential, error) {
	all, err := h.svc.Credentials(r.Context(), c.Actor)
	if err != nil {
		return nil, err
	}
	clients, err := h.svc.OAuthClients(r.Context(), c.Actor)
	if err != nil {
		return nil, err
	}
	var out []*membership.Credential
	for _, k := range all {
		if k.MemberID == c.Principal.Member.ID && !slices.ContainsFunc(clients, func(oc *membership.OAuthClient) bool { return oc.CredentialID == k.ID }) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (h *handler) renderProfile(w http.ResponseWriter, r *http.Request, c *call, status int, v *profileView) {
	keys, err := h.myKeys(r, c)
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	v.Keys, v.Scopes = keys, c.Principal.Credential.Scopes
	h.render(w, r, status, "profile", &view{Title: "Your profile", Nav: "profile", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}

// profile lists the member's API keys ("grab your API key from your
// profile page", as WiggleDesk tells its users).
func (h *handler) profile(w http.ResponseWriter, r *http.Request, c *call) {
	h.renderProfile(w, r, c, http.StatusOK, &profileView{Notice: r.URL.Query().Get("notice")})
}

// createKey makes an API key for the member and shows its secret once, on
// this answer only (a reload does not show it again).
func (h *handler) createKey(w http.ResponseWriter, r *http.Request, c *call) {
	req := membership.CreateCredentialRequest{Name: r.PostFormValue("name"), Scopes: r.PostForm["scope"]}
	if d := r.PostFormValue("expires_days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			err := c.Refuse(membership.Errorf(membership.CodeInvalid, "expiry must be a whole number of days from 1 to 3650"))
			h.renderProfile(w, r, c, http.StatusBadRequest, &profileView{Error: membership.ErrorMessage(err)})
			return
		}
		at := time.Now().Add(time.Duration(n) * 24 * time.Hour)
		req.ExpiresAt = &at
	}
	ic, err := h.svc.CreateCredential(r.Context(), c.Actor, req)
	if err != nil {
		if code := membership.ErrorCode(err); code == membership.CodeInvalid || code == membership.CodeForbidden {
			h.renderProfile(w, r, c, http.StatusBadRequest, &profileView{Error: membership.ErrorMessage(err)})
			return
		}
		h.fail(w, r, c, err, Prefix+"/profile")
		return
	}
	h.renderProfile(w, r, c, http.StatusCreated, &profileView{New: ic})
}

// revokeKey revokes one of the member's own keys; another's is not found
// here, whoever is asking.
func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request, c *call) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	keys, lerr := h.myKeys(r, c)
	if lerr != nil {
		h.fail(w, r, c, lerr, Prefix+"/profile")
		return
	}
	if err != nil || !slices.ContainsFunc(keys, func(k *membership.Credential) bool { return k.ID == id }) {
		h.fail(w, r, c, c.Refuse(membership.Errorf(membership.CodeNotFound, "API key not found")), Prefix+"/profile")
		return
	}
	k, err := h.svc.RevokeCredential(r.Context(), c.Actor, id)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/profile")
		return
	}
	notice := "API key " + k.Prefix + " was revoked; it stopped working with this answer."
	if k.ID == c.Principal.Credential.ID {
		notice += " It is the key this session was opened with, so the session has ended too."
	}
	http.Redirect(w, r, Prefix+"/profile?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

type clientsView struct {
	Clients []*membership.OAuthClient
	Scopes  []string
	New     *membership.IssuedOAuthClient
	Notice  string
	Error   string
}

func (h *handler) renderClients(w http.ResponseWriter, r *http.Request, c *call, status int, v *clientsView) {
	cs, err := h.svc.OAuthClients(r.Context(), c.Actor)
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	v.Clients, v.Scopes = cs, c.Principal.Credential.Scopes
	h.render(w, r, status, "oauth_clients", &view{Title: "OAuth clients", Nav: "oauth", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}

// oauthClients lists the organization's OAuth clients.
func (h *handler) oauthClients(w http.ResponseWriter, r *http.Request, c *call) {
	h.renderClients(w, r, c, http.StatusOK, &clientsView{Notice: r.URL.Query().Get("notice")})
}

// clientShown answers a client change that reveals a secret (once), or
// shows its refusal on the page.
func (h *handler) clientShown(w http.ResponseWriter, r *http.Request, c *call, ic *membership.IssuedOAuthClient, status int, err error) {
	if err != nil {
		switch membership.ErrorCode(err) {
		case membership.CodeInvalid, membership.CodeForbidden, membership.CodeConflict:
			h.renderClients(w, r, c, respond.Status(err), &clientsView{Error: membership.ErrorMessage(err)})
		default:
			h.fail(w, r, c, err, Prefix+"/oauth/clients")
		}
		return
	}
	h.renderClients(w, r, c, status, &clientsView{New: ic})
}

// createOAuthClient registers a client from the console's form.
func (h *handler) createOAuthClient(w http.ResponseWriter, r *http.Request, c *call) {
	req := membership.CreateOAuthClientRequest{Name: r.PostFormValue("name"), Scopes: r.PostForm["scope"],
		RedirectURIs: strings.Fields(r.PostFormValue("redirect_uris")), Public: r.PostFormValue("public") == "on"}
	if m := strings.TrimSpace(r.PostFormValue("member")); m != "" {
		req.Member = membership.MemberRef{Email: m}
		if id, err := strconv.ParseInt(m, 10, 64); err == nil {
			req.Member = membership.MemberRef{ID: id}
		}
	}
	if s := r.PostFormValue("lifetime"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1 // refused by the core with the bounds in words
		}
		req.TokenLifetime = time.Duration(n) * time.Second
	}
	ic, err := h.svc.CreateOAuthClient(r.Context(), c.Actor, req)
	h.clientShown(w, r, c, ic, http.StatusCreated, err)
}

// rotateOAuthClient gives a client a new secret, shown once.
func (h *handler) rotateOAuthClient(w http.ResponseWriter, r *http.Request, c *call) {
	ic, err := h.svc.RotateOAuthClientSecret(r.Context(), c.Actor, r.PathValue("id"))
	h.clientShown(w, r, c, ic, http.StatusOK, err)
}

// revokeOAuthClient revokes a client and every token it issued.
func (h *handler) revokeOAuthClient(w http.ResponseWriter, r *http.Request, c *call) {
	oc, err := h.svc.RevokeOAuthClient(r.Context(), c.Actor, r.PathValue("id"))
	if err != nil {
		h.clientShown(w, r, c, nil, 0, err)
		return
	}
	notice := "OAuth client " + oc.Name + " was revoked; every token it issued stopped working with this answer."
	http.Redirect(w, r, Prefix+"/oauth/clients?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}
