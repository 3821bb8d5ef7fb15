package membership

import (
	"context"
	"slices"
	"strings"
	"time"
)

// This file owns the OAuth 2.0 grants: client credentials (RFC 6749 4.4),
// authorization codes with PKCE (4.1, RFC 7636), rotating refresh tokens
// with reuse detection (6, and the OAuth 2.0 Security BCP), revocation
// (RFC 7009) and introspection (RFC 7662). Every refusal is audited under
// the client's organization and credential when the client is known.

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// OAuthClientAuth is how a request to the token, revocation or
// introspection endpoint names and proves its client.
type OAuthClientAuth struct {
	ClientID     string
	ClientSecret string
	// Interface and RequestID name the attempt in the audit trail.
	Interface string
	RequestID string
}

// TokenRequest is a request to the token endpoint.
type TokenRequest struct {
	OAuthClientAuth
	GrantType    string
	Scope        string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
}

// TokenResponse is RFC 6749's successful token answer (5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// oauthActor is who a token-endpoint attempt is recorded as: the client's
// organization, member and credential once the client is known.
func oauthActor(auth OAuthClientAuth, c *OAuthClient) Actor {
	a := Actor{Interface: auth.Interface, RequestID: auth.RequestID}
	if c != nil {
		a.OrgID, a.MemberID, a.CredentialID, a.Scopes = c.OrgID, c.MemberID, c.CredentialID, c.Scopes
	}
	return a
}

// authenticateClient finds the client auth names and checks its secret.
// A public client authenticates by its id alone; allowPublic says whether
// the endpoint accepts that.
func (s *Service) authenticateClient(ctx context.Context, tx Tx, auth OAuthClientAuth, allowPublic bool) (*OAuthClient, error) {
	fail := oauthErrorf(OAuthInvalidClient, CodeUnauthorized, "client authentication failed")
	if auth.ClientID == "" {
		return nil, oauthErrorf(OAuthInvalidClient, CodeUnauthorized, "client authentication is required")
	}
	c, err := tx.OAuthClientGetByClientID(ctx, auth.ClientID)
	if ErrorCode(err) == CodeNotFound {
		return nil, fail
	} else if err != nil {
		return nil, err
	}
	switch {
	case c.Public && auth.ClientSecret != "":
		return c, fail
	case c.Public && !allowPublic:
		return c, oauthErrorf(OAuthUnauthorizedClient, CodeForbidden, "a public client cannot use this grant")
	case !c.Public && !hashesEqual(hashSecret(auth.ClientSecret), c.SecretHash):
		return c, fail
	case c.RevokedAt != nil:
		return c, oauthErrorf(OAuthInvalidClient, CodeUnauthorized, "the client has been revoked")
	}
	m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: c.OrgID, ID: c.MemberID})
	if err != nil {
		return c, err
	}
	if !m.Active() {
		return c, oauthErrorf(OAuthInvalidClient, CodeUnauthorized, "the client's member has been removed")
	}
	return c, nil
}

// Token answers the token endpoint. A refusal is an *OAuthError (or a
// failure) and is audited as oauth.token; reuse of a spent refresh token
// or code revokes every token descending from it before the refusal is
// answered.
func (s *Service) Token(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	var client *OAuthClient
	var revokeChain string
	var resp *TokenResponse
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		client, err = s.authenticateClient(ctx, tx, req.OAuthClientAuth, req.GrantType != GrantClientCredentials)
		if err != nil {
			return err
		}
		switch req.GrantType {
		case GrantClientCredentials:
			resp, err = s.clientCredentials(ctx, tx, client, req)
		case GrantAuthorizationCode:
			resp, revokeChain, err = s.exchangeCode(ctx, tx, client, req)
		case GrantRefreshToken:
			resp, revokeChain, err = s.refresh(ctx, tx, client, req)
		case "":
			err = oauthErrorf(OAuthInvalidRequest, CodeInvalid, "grant_type is required")
		default:
			err = oauthErrorf(OAuthUnsupportedGrant, CodeInvalid, "grant_type %q is not supported", clip(req.GrantType, 100))
		}
		return err
	})
	if err == nil {
		return resp, nil
	}
	a := oauthActor(req.OAuthClientAuth, client)
	if revokeChain != "" {
		// The attempt's transaction was rolled back; the chain's revocation
		// is a change of its own that must stand.
		rerr := s.store.Update(ctx, func(tx Tx) error {
			n, err := tx.OAuthTokensRevoke(ctx, &OAuthRevokeParams{Chain: revokeChain, At: s.now()})
			if err != nil {
				return err
			}
			_, err = s.record(ctx, tx, a, ActionOAuthChainRevoked, nil, nil, map[string]any{"chain": revokeChain, "tokens": n})
			return err
		})
		if rerr != nil {
			return nil, rerr
		}
	}
	s.auditOAuthRefusal(ctx, req.OAuthClientAuth, client, ActionOAuthTokenIssued, err)
	return nil, err
}

// auditOAuthRefusal audits a refused call of an OAuth endpoint. A call
// whose client proved nothing (none found, a wrong secret, or a public
// client, which anyone may name) is counted with refused authentications,
// at most one row per source and window (refuseAuth), in fixed words:
// anyone can send it, and must not make memberd write per attempt. A
// confidential client's refusal is a row of its own.
func (s *Service) auditOAuthRefusal(ctx context.Context, auth OAuthClientAuth, c *OAuthClient, action string, err error) {
	switch {
	case ErrorCode(err) == CodeInternal:
	case c == nil || c.Public || OAuthErrorKind(err) == OAuthInvalidClient:
		src := refusalSource{Interface: auth.Interface}
		if c != nil {
			src.OrgID = c.OrgID
		}
		s.refuseAuth(ctx, src, auth.RequestID, action+" refused: "+OAuthErrorKind(err))
	default:
		s.auditRefusal(ctx, oauthActor(auth, c), action, err)
	}
}

// issue makes an access token, and a refresh token when withRefresh, for
// member on client's chain.
func (s *Service) issue(ctx context.Context, tx Tx, c *OAuthClient, memberID int64, scopes []string, chain string, withRefresh bool) (*TokenResponse, error) {
	now := s.now()
	ttl := time.Duration(c.TokenTTL) * time.Second
	access, hash := newSecret(oauthAccessPrefix)
	t := &OAuthToken{OrgID: c.OrgID, ClientID: c.ID, MemberID: memberID, Kind: OAuthAccess, Hash: hash,
		Scopes: scopes, Chain: chain, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := tx.OAuthTokenCreate(ctx, t); err != nil {
		return nil, err
	}
	resp := &TokenResponse{AccessToken: access, ExpiresIn: c.TokenTTL, Scope: strings.Join(scopes, " "), TokenType: "Bearer"}
	if withRefresh {
		refresh, hash := newSecret(oauthRefreshPrefix)
		rt := &OAuthToken{OrgID: c.OrgID, ClientID: c.ID, MemberID: memberID, Kind: OAuthRefresh, Hash: hash,
			Scopes: scopes, Chain: chain, CreatedAt: now, ExpiresAt: now.Add(OAuthRefreshLifetime)}
		if err := tx.OAuthTokenCreate(ctx, rt); err != nil {
			return nil, err
		}
		resp.RefreshToken = refresh
	}
	a := Actor{OrgID: c.OrgID, MemberID: memberID, CredentialID: c.CredentialID, Interface: "oauth"}
	_, err := s.record(ctx, tx, a, ActionOAuthTokenIssued, nil, nil, map[string]any{
		"client_id": c.ClientID, "chain": chain, "scope": resp.Scope, "expires_at": t.ExpiresAt, "refresh": withRefresh})
	return resp, err
}

func (s *Service) clientCredentials(ctx context.Context, tx Tx, c *OAuthClient, req TokenRequest) (*TokenResponse, error) {
	scopes, err := narrowScopes(c.Scopes, req.Scope)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, tx, c, c.MemberID, scopes, NewUUID(), false)
}

func (s *Service) exchangeCode(ctx context.Context, tx Tx, c *OAuthClient, req TokenRequest) (*TokenResponse, string, error) {
	bad := oauthErrorf(OAuthInvalidGrant, CodeInvalid, "the authorization code is invalid, expired or already used")
	if req.Code == "" {
		return nil, "", oauthErrorf(OAuthInvalidRequest, CodeInvalid, "code is required")
	}
	code, first, err := tx.OAuthCodeUse(ctx, hashSecret(req.Code), s.now())
	if ErrorCode(err) == CodeNotFound {
		return nil, "", bad
	} else if err != nil {
		return nil, "", err
	}
	if code.ClientID != c.ID {
		return nil, "", bad
	}
	if !first {
		// A code presented twice was intercepted or replayed: whatever it
		// bought is revoked (RFC 6749 4.1.2).
		return nil, code.Chain, oauthErrorf(OAuthInvalidGrant, CodeInvalid,
			"the authorization code was already used; every token issued for it has been revoked")
	}
	if !s.now().Before(code.ExpiresAt) {
		return nil, "", bad
	}
	if req.RedirectURI != "" && req.RedirectURI != code.RedirectURI {
		return nil, "", oauthErrorf(OAuthInvalidGrant, CodeInvalid, "redirect_uri does not match the authorization request's")
	}
	if code.CodeChallenge != "" {
		if req.CodeVerifier == "" {
			return nil, "", oauthErrorf(OAuthInvalidRequest, CodeInvalid, "code_verifier is required")
		}
		if !validVerifier(req.CodeVerifier) || !hashesEqual([]byte(pkceS256(req.CodeVerifier)), []byte(code.CodeChallenge)) {
			return nil, "", oauthErrorf(OAuthInvalidGrant, CodeInvalid, "code_verifier does not match the code challenge")
		}
	}
	m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: c.OrgID, ID: code.MemberID})
	if err != nil {
		return nil, "", err
	}
	if !m.Active() {
		return nil, "", oauthErrorf(OAuthInvalidGrant, CodeInvalid, "the member who authorized the client has been removed")
	}
	scopes, err := narrowScopes(code.Scopes, req.Scope)
	if err != nil {
		return nil, "", err
	}
	resp, err := s.issue(ctx, tx, c, code.MemberID, scopes, code.Chain, true)
	return resp, "", err
}

func (s *Service) refresh(ctx context.Context, tx Tx, c *OAuthClient, req TokenRequest) (*TokenResponse, string, error) {
	bad := oauthErrorf(OAuthInvalidGrant, CodeInvalid, "the refresh token is invalid, expired or revoked")
	if req.RefreshToken == "" {
		return nil, "", oauthErrorf(OAuthInvalidRequest, CodeInvalid, "refresh_token is required")
	}
	row, err := tx.OAuthTokenGetByHash(ctx, hashSecret(req.RefreshToken))
	if ErrorCode(err) == CodeNotFound {
		return nil, "", bad
	} else if err != nil {
		return nil, "", err
	}
	t := row.Token
	if t.Kind != OAuthRefresh || t.ClientID != c.ID {
		return nil, "", bad
	}
	if t.UsedAt != nil {
		return nil, t.Chain, oauthErrorf(OAuthInvalidGrant, CodeInvalid,
			"the refresh token was already used; every token of its grant has been revoked")
	}
	if why := s.oauthTokenState(row); why != "" {
		return nil, "", oauthErrorf(OAuthInvalidGrant, CodeInvalid, "%s", strings.Replace(why, "token", "refresh token", 1))
	}
	scopes, err := narrowScopes(t.Scopes, req.Scope)
	if err != nil {
		return nil, "", err
	}
	used, err := tx.OAuthTokenUse(ctx, t.ID, s.now())
	if err != nil {
		return nil, "", err
	}
	if !used {
		// A concurrent refresh spent it first: that is reuse too.
		return nil, t.Chain, oauthErrorf(OAuthInvalidGrant, CodeInvalid,
			"the refresh token was already used; every token of its grant has been revoked")
	}
	resp, err := s.issue(ctx, tx, c, t.MemberID, scopes, t.Chain, true)
	return resp, "", err
}

// AuthorizeRequest is an authorization request (RFC 6749 4.1.1, RFC 7636).
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string
	Scope               string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
}

// AuthorizePrompt is what a consent page shows: the client, where the
// answer goes, and the scopes the member would grant.
type AuthorizePrompt struct {
	Client      *OAuthClient
	RedirectURI string
	Scopes      []string
}

// PrepareAuthorization checks an authorization request made by a signed-in
// member. An unknown client (or another organization's) or a redirect URI
// the client did not register is an *OAuthError without RedirectURI, to be
// shown to the member; any other refusal carries the RedirectURI and State
// to send it back to the client. The scopes granted are those asked for
// (all the client's when none), narrowed to those the member's own
// credential holds.
func (s *Service) PrepareAuthorization(ctx context.Context, a Actor, req AuthorizeRequest) (*AuthorizePrompt, error) {
	p, err := view(ctx, s, func(tx Tx) (*AuthorizePrompt, error) { return s.prepareAuthorization(ctx, tx, a, req) })
	if err != nil && ErrorCode(err) != CodeInternal {
		s.auditRefusal(ctx, a, ActionOAuthAuthorized, err)
	}
	return p, err
}

func (s *Service) prepareAuthorization(ctx context.Context, tx Tx, a Actor, req AuthorizeRequest) (*AuthorizePrompt, error) {
	c, err := tx.OAuthClientGetByClientID(ctx, req.ClientID)
	if ErrorCode(err) == CodeNotFound || (err == nil && (c.OrgID != a.OrgID || c.RevokedAt != nil)) {
		return nil, oauthErrorf(OAuthInvalidRequest, CodeNotFound, "unknown client_id %q", clip(req.ClientID, 100))
	} else if err != nil {
		return nil, err
	}
	redirect := req.RedirectURI
	if redirect == "" && len(c.RedirectURIs) == 1 {
		redirect = c.RedirectURIs[0]
	}
	if redirect == "" || !slices.Contains(c.RedirectURIs, redirect) {
		return nil, oauthErrorf(OAuthInvalidRequest, CodeInvalid, "redirect_uri %q is not registered for this client", clip(req.RedirectURI, 200))
	}
	back := func(kind, format string, args ...any) error {
		e := oauthErrorf(kind, CodeInvalid, format, args...)
		e.RedirectURI, e.State = redirect, req.State
		return e
	}
	if req.ResponseType != "code" {
		return nil, back(OAuthUnsupportedResp, "response_type must be code")
	}
	switch {
	case req.CodeChallenge == "" && c.Public:
		return nil, back(OAuthInvalidRequest, "a public client must send a PKCE code_challenge")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != "S256":
		return nil, back(OAuthInvalidRequest, "code_challenge_method must be S256")
	case req.CodeChallenge != "" && (len(req.CodeChallenge) != 43 || !validVerifier(req.CodeChallenge)):
		return nil, back(OAuthInvalidRequest, "code_challenge is not an S256 challenge")
	}
	want, err := narrowScopes(c.Scopes, req.Scope)
	if err != nil {
		return nil, back(OAuthInvalidScope, "%s", ErrorMessage(err))
	}
	var scopes []string
	for _, sc := range want {
		if hasScope(a.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, back(OAuthInvalidScope, "you hold none of the scopes the client asks for")
	}
	return &AuthorizePrompt{Client: c, RedirectURI: redirect, Scopes: scopes}, nil
}

// Authorization is a granted authorization: the code and where to send it.
type Authorization struct {
	Code        string
	RedirectURI string
	State       string
}

// Authorize grants an authorization request the member consented to and
// returns a single-use code, valid OAuthCodeLifetime, for the client to
// exchange. Refusals are those of PrepareAuthorization.
func (s *Service) Authorize(ctx context.Context, a Actor, req AuthorizeRequest) (*Authorization, error) {
	return mutate(ctx, s, a, ActionOAuthAuthorized, func(tx Tx) (*Authorization, error) {
		if _, err := s.actingMember(ctx, tx, a); err != nil {
			return nil, err
		}
		prompt, err := s.prepareAuthorization(ctx, tx, a, req)
		if err != nil {
			return nil, err
		}
		code, hash := newSecret(oauthCodePrefix)
		now := s.now()
		oc := &OAuthCode{OrgID: a.OrgID, ClientID: prompt.Client.ID, MemberID: a.MemberID, Hash: hash, Scopes: prompt.Scopes,
			RedirectURI: prompt.RedirectURI, CodeChallenge: req.CodeChallenge, Chain: NewUUID(), CreatedAt: now,
			ExpiresAt: now.Add(OAuthCodeLifetime)}
		if err := tx.OAuthCodeCreate(ctx, oc); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, ActionOAuthAuthorized, nil, nil, map[string]any{
			"client_id": prompt.Client.ClientID, "scope": strings.Join(prompt.Scopes, " "), "chain": oc.Chain})
		return &Authorization{Code: code, RedirectURI: prompt.RedirectURI, State: req.State}, err
	})
}

// RevokeToken answers RFC 7009: the client revokes one of its own tokens
// (a refresh token with its whole chain). An unknown token, or another
// client's, is not an error: the answer must not say which tokens exist.
func (s *Service) RevokeToken(ctx context.Context, auth OAuthClientAuth, token string) error {
	var client *OAuthClient
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if client, err = s.authenticateClient(ctx, tx, auth, true); err != nil {
			return err
		}
		if token == "" {
			return oauthErrorf(OAuthInvalidRequest, CodeInvalid, "token is required")
		}
		row, err := tx.OAuthTokenGetByHash(ctx, hashSecret(token))
		if ErrorCode(err) == CodeNotFound || (err == nil && row.Token.ClientID != client.ID) {
			return nil
		} else if err != nil {
			return err
		}
		p := &OAuthRevokeParams{ID: row.Token.ID, At: s.now()}
		if row.Token.Kind == OAuthRefresh {
			p = &OAuthRevokeParams{Chain: row.Token.Chain, At: p.At}
		}
		n, err := tx.OAuthTokensRevoke(ctx, p)
		if err != nil || n == 0 {
			return err
		}
		_, err = s.record(ctx, tx, oauthActor(auth, client), ActionOAuthTokenRevoked, nil, nil,
			map[string]any{"client_id": client.ClientID, "kind": row.Token.Kind, "chain": row.Token.Chain, "tokens": n})
		return err
	})
	if err != nil {
		s.auditOAuthRefusal(ctx, auth, client, ActionOAuthTokenRevoked, err)
	}
	return err
}

// Introspection is RFC 7662's answer. Only Active is set for a token that
// does not work or is not the asking client's organization's.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Iss       string `json:"iss,omitempty"`
}

// IntrospectToken answers RFC 7662 for a confidential client (a resource
// server): whether token works now, and for what. Tokens of another
// organization are inactive to it (promise 6).
func (s *Service) IntrospectToken(ctx context.Context, auth OAuthClientAuth, token string) (*Introspection, error) {
	var client *OAuthClient
	out, err := view(ctx, s, func(tx Tx) (*Introspection, error) {
		var err error
		if client, err = s.authenticateClient(ctx, tx, auth, false); err != nil {
			return nil, err
		}
		if token == "" {
			return nil, oauthErrorf(OAuthInvalidRequest, CodeInvalid, "token is required")
		}
		row, err := tx.OAuthTokenGetByHash(ctx, hashSecret(token))
		if ErrorCode(err) == CodeNotFound {
			return &Introspection{}, nil
		} else if err != nil {
			return nil, err
		}
		t := row.Token
		if t.OrgID != client.OrgID || s.oauthTokenState(row) != "" || (t.Kind == OAuthRefresh && t.UsedAt != nil) {
			return &Introspection{}, nil
		}
		kind := "Bearer"
		if t.Kind == OAuthRefresh {
			kind = "refresh_token"
		}
		return &Introspection{Active: true, Scope: strings.Join(t.Scopes, " "), ClientID: row.Client.ClientID,
			Username: row.Member.Email, TokenType: kind, Exp: t.ExpiresAt.Unix(), Iat: t.CreatedAt.Unix(), Sub: row.Member.UUID}, nil
	})
	if err != nil {
		s.auditOAuthRefusal(ctx, auth, client, ActionOAuthTokenRead, err)
	}
	return out, err
}
