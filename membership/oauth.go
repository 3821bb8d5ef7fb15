package membership

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file owns OAuth 2.0 clients and the tokens they obtain: the
// clients owners register (a secret shown once, the member the client acts
// as, allowed scopes, exact redirect URIs, a token lifetime), and how an
// access token authenticates a request. The grants that issue tokens are
// in oauth_grant.go.
//
// A client acts through a credential of its own, made with it: that
// credential is what events name and what rate limits and idempotency
// keys are counted against, and revoking the client revokes it too. An
// access token is opaque and stored only as a hash; every request joins it
// to its client, credential and members, so revoking a client or removing
// its member ends every token at once (promise 2).

// OAuth lifetimes and bounds.
const (
	// DefaultOAuthTokenLifetime is an access token's lifetime unless the
	// client sets one: short, as Workiva's ten minutes.
	DefaultOAuthTokenLifetime = 10 * time.Minute
	// MinOAuthTokenLifetime and MaxOAuthTokenLifetime bound a client's.
	MinOAuthTokenLifetime = time.Minute
	MaxOAuthTokenLifetime = 24 * time.Hour
	// OAuthCodeLifetime is how long an authorization code may be exchanged
	// (HighQ: "valid for 30 minutes").
	OAuthCodeLifetime = 30 * time.Minute
	// OAuthRefreshLifetime is how long a refresh token lasts unused.
	OAuthRefreshLifetime = 30 * 24 * time.Hour
	// maxRedirectURIs bounds a client's redirect URIs.
	maxRedirectURIs = 10
)

// Token prefixes: recognizable by secret scanners and never confused with
// one another or with a credential (mbd_), a session (mbs_) or a link (mbl_).
const (
	oauthClientIDPrefix = "mbc_"
	oauthSecretPrefix   = "mbcs_"
	oauthAccessPrefix   = "mbo_"
	oauthRefreshPrefix  = "mbr_"
	oauthCodePrefix     = "mba_"
)

// OAuth token kinds.
const (
	OAuthAccess  = "access"
	OAuthRefresh = "refresh"
)

// OAuthClient is a registered OAuth client. Only the SHA-256 of its secret
// is kept; a public client has none and proves itself with PKCE.
type OAuthClient struct {
	ID           int64      `json:"-"`
	UUID         string     `json:"id"`
	OrgID        int64      `json:"organization_id"`
	ClientID     string     `json:"client_id"`
	Name         string     `json:"name"`
	SecretHash   []byte     `json:"-"`
	Public       bool       `json:"public"`
	MemberID     int64      `json:"member_id"`
	CredentialID int64      `json:"credential_id"`
	Scopes       []string   `json:"scopes"`
	RedirectURIs []string   `json:"redirect_uris"`
	TokenTTL     int64      `json:"token_lifetime_seconds"`
	CreatedAt    time.Time  `json:"created_at"`
	RotatedAt    *time.Time `json:"rotated_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// OAuthToken is an issued access or refresh token. Chain names the grant
// it descends from (one client-credentials exchange, or one authorization
// code and every refresh after it): reuse of a spent refresh token or code
// revokes the whole chain.
type OAuthToken struct {
	ID        int64
	OrgID     int64
	ClientID  int64 // the client's row id
	MemberID  int64
	Kind      string
	Hash      []byte
	Scopes    []string
	Chain     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // a refresh token that was exchanged
	RevokedAt *time.Time
}

// OAuthCode is an authorization code: single use, OAuthCodeLifetime long.
type OAuthCode struct {
	ID            int64
	OrgID         int64
	ClientID      int64 // the client's row id
	MemberID      int64 // who consented; the tokens act as them
	Hash          []byte
	Scopes        []string
	RedirectURI   string
	CodeChallenge string // PKCE S256; "" without PKCE
	Chain         string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

// OAuthTokenRow is what OAuthTokenGetByHash reads in one statement: the
// token, its client, the client's credential, the member the token acts
// as and the client's own member.
type OAuthTokenRow struct {
	Token        *OAuthToken
	Client       *OAuthClient
	Credential   *Credential
	Member       *Member
	ClientMember *Member
}

// OAuthRevokeParams selects tokens to revoke: one token, a chain, or every
// token of a client.
type OAuthRevokeParams struct {
	ID       int64
	Chain    string
	ClientID int64
	At       time.Time
}

// OAuthTx is the storage of OAuth clients, codes and tokens; Tx embeds it.
type OAuthTx interface {
	// OAuthClientCreate inserts c and sets its ID.
	OAuthClientCreate(ctx context.Context, c *OAuthClient) error
	// OAuthClientGet finds a client of p.OrgID by ID or UUID; CodeNotFound
	// if absent or in another organization.
	OAuthClientGet(ctx context.Context, p *RefParams) (*OAuthClient, error)
	// OAuthClientGetByClientID finds a client of any organization by its
	// public client_id; CodeNotFound if absent.
	OAuthClientGetByClientID(ctx context.Context, clientID string) (*OAuthClient, error)
	// OAuthClientList lists an organization's clients in ID order.
	OAuthClientList(ctx context.Context, orgID int64) ([]*OAuthClient, error)
	// OAuthClientUpdate stores c's secret hash, rotation and revocation.
	OAuthClientUpdate(ctx context.Context, c *OAuthClient) error
	// OAuthCodeCreate inserts c and sets its ID.
	OAuthCodeCreate(ctx context.Context, c *OAuthCode) error
	// OAuthCodeUse marks the code whose hash is hash used at at and returns
	// it with first set; a code already used is returned with first false.
	// CodeNotFound if absent.
	OAuthCodeUse(ctx context.Context, hash []byte, at time.Time) (c *OAuthCode, first bool, err error)
	// OAuthTokenCreate inserts t and sets its ID.
	OAuthTokenCreate(ctx context.Context, t *OAuthToken) error
	// OAuthTokenGetByHash returns the token whose hash is hash with its
	// client, credential and members, whatever their states; CodeNotFound
	// if absent.
	OAuthTokenGetByHash(ctx context.Context, hash []byte) (*OAuthTokenRow, error)
	// OAuthTokenUse marks an unused, unrevoked refresh token used at at and
	// reports whether this call did.
	OAuthTokenUse(ctx context.Context, id int64, at time.Time) (bool, error)
	// OAuthTokensRevoke revokes the unrevoked tokens p selects and returns
	// how many.
	OAuthTokensRevoke(ctx context.Context, p *OAuthRevokeParams) (int, error)
}

// IsOAuthAccessToken reports whether secret has the form of an OAuth
// access token, so that Authenticate knows where to look it up.
func IsOAuthAccessToken(secret string) bool { return strings.HasPrefix(secret, oauthAccessPrefix) }

// OAuthError is a refusal of an OAuth endpoint: Kind is RFC 6749's error
// code (invalid_client, invalid_grant, ...), Err says what
// went wrong in words with the Code that classifies it. RedirectURI is set
// when an authorization request's error is to be sent back to the client
// rather than shown to the user.
type OAuthError struct {
	Kind        string
	RedirectURI string
	State       string
	Err         *Error
}

func (e *OAuthError) Error() string { return e.Kind + ": " + e.Err.Error() }

// Unwrap exposes the core error so ErrorCode and ErrorMessage find it.
func (e *OAuthError) Unwrap() error { return e.Err }

// RFC 6749 error codes.
const (
	OAuthInvalidRequest     = "invalid_request"
	OAuthInvalidClient      = "invalid_client"
	OAuthInvalidGrant       = "invalid_grant"
	OAuthUnauthorizedClient = "unauthorized_client"
	OAuthUnsupportedGrant   = "unsupported_grant_type"
	OAuthInvalidScope       = "invalid_scope"
	OAuthAccessDenied       = "access_denied"
	OAuthUnsupportedResp    = "unsupported_response_type"
)

func oauthErrorf(kind string, code Code, format string, args ...any) *OAuthError {
	return &OAuthError{Kind: kind, Err: Errorf(code, format, args...)}
}

// OAuthErrorKind returns the RFC 6749 error code of err: its own when it
// is an *OAuthError, otherwise the one that fits its Code.
func OAuthErrorKind(err error) string {
	var oe *OAuthError
	if errors.As(err, &oe) {
		return oe.Kind
	}
	switch ErrorCode(err) {
	case CodeUnauthorized:
		return OAuthInvalidClient
	case CodeForbidden, CodeNotFound:
		return OAuthAccessDenied
	case CodeInvalid, CodeTooLarge, CodeUnsupportedMedia, CodeMethodNotAllowed:
		return OAuthInvalidRequest
	case CodeRateLimited, CodeUnavailable:
		return "temporarily_unavailable"
	}
	return "server_error"
}

func hashesEqual(a, b []byte) bool { return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1 }

// ParseScope splits an RFC 6749 scope parameter into its distinct scopes.
func ParseScope(s string) []string {
	var out []string
	for _, sc := range strings.Fields(s) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// narrowScopes returns the scopes asked for in requested (all of allowed
// when empty), refusing any allowed does not hold: a token's scope is
// narrowed on request, never widened.
func narrowScopes(allowed []string, requested string) ([]string, error) {
	want := ParseScope(requested)
	if len(want) == 0 {
		return slices.Clone(allowed), nil
	}
	for _, sc := range want {
		if !slices.Contains(allowed, sc) {
			return nil, oauthErrorf(OAuthInvalidScope, CodeInvalid, "scope %q is not allowed for this client", sc)
		}
	}
	return want, nil
}

// pkceS256 is RFC 7636's S256 transform of a code verifier.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636's verifier (and challenge) form: 43 to 128
// unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// CreateOAuthClientRequest asks for a new OAuth client.
type CreateOAuthClientRequest struct {
	Name          string
	Member        MemberRef // who the client acts as; zero: the actor
	Scopes        []string
	RedirectURIs  []string
	TokenLifetime time.Duration // zero: DefaultOAuthTokenLifetime
	// Public makes a client without a secret (a browser or desktop app),
	// which must use the authorization code flow with PKCE.
	Public bool
}

// IssuedOAuthClient is a client with its secret, shown once. A replay of
// the creating call answers with SecretShown set and no secret.
type IssuedOAuthClient struct {
	Client      *OAuthClient `json:"client"`
	Secret      string       `json:"client_secret,omitempty"`
	SecretShown bool         `json:"secret_already_shown,omitempty"`
}

func (c *IssuedOAuthClient) withoutSecret() any {
	return &IssuedOAuthClient{Client: c.Client, SecretShown: !c.Client.Public}
}

func checkRedirectURIs(uris []string, public bool) error {
	if len(uris) > maxRedirectURIs {
		return Errorf(CodeInvalid, "at most %d redirect URIs", maxRedirectURIs)
	}
	if public && len(uris) == 0 {
		return Errorf(CodeInvalid, "a public client needs at least one redirect URI")
	}
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Fragment != "" || strings.ContainsAny(u, " \t\r\n") || len(u) > 2000 {
			return Errorf(CodeInvalid, "redirect URI %q must be an absolute URI without a fragment", clip(u, 200))
		}
		scheme := strings.ToLower(p.Scheme)
		if slices.Contains(scriptSchemes, scheme) {
			return Errorf(CodeInvalid, "redirect URI %q: the %s scheme runs in or reads from the browser; use http(s), or a private-use scheme of a native app (RFC 8252)", clip(u, 200), scheme)
		}
		if (scheme == "http" || scheme == "https") && p.Host == "" {
			return Errorf(CodeInvalid, "redirect URI %q has no host", clip(u, 200))
		}
	}
	return nil
}

// scriptSchemes are URI schemes a browser does not leave the page for:
// a redirect to one would run the authorization code into script or a
// local resource instead of handing it to the client.
var scriptSchemes = []string{"javascript", "vbscript", "data", "blob", "file", "about", "filesystem"}

// checkClientScopes refuses unknown scopes and any the actor lacks.
func checkClientScopes(a Actor, scopes []string) error {
	if len(scopes) == 0 {
		return Errorf(CodeInvalid, "at least one scope is required")
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes(), sc) {
			return Errorf(CodeInvalid, "unknown scope %q", sc)
		}
		if !hasScope(a.Scopes, sc) {
			return Errorf(CodeForbidden, "cannot grant scope %q that your own credential lacks", sc)
		}
	}
	return nil
}

// errOwnersOnly refuses a client change by anyone but an owner.
func errOwnersOnly() *Error { return Errorf(CodeForbidden, "only an owner can manage OAuth clients") }

// CreateOAuthClient registers an OAuth client, with the credential it acts
// through. Only owners register clients; no client carries a scope its
// maker lacks.
func (s *Service) CreateOAuthClient(ctx context.Context, a Actor, req CreateOAuthClientRequest) (*IssuedOAuthClient, error) {
	ttl := req.TokenLifetime
	if ttl == 0 {
		ttl = DefaultOAuthTokenLifetime
	}
	err := checkName("client name", req.Name)
	if err == nil {
		err = checkClientScopes(a, req.Scopes)
	}
	if err == nil {
		err = checkRedirectURIs(req.RedirectURIs, req.Public)
	}
	if err == nil && (ttl < MinOAuthTokenLifetime || ttl > MaxOAuthTokenLifetime || ttl%time.Second != 0) {
		err = Errorf(CodeInvalid, "token lifetime must be whole seconds between %s and %s", MinOAuthTokenLifetime, MaxOAuthTokenLifetime)
	}
	if err != nil {
		return nil, s.refuse(ctx, a, ActionOAuthClientCreated, err)
	}
	return mutate(ctx, s, a, ActionOAuthClientCreated, func(tx Tx) (*IssuedOAuthClient, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if actor.Role != RoleOwner {
			return nil, errOwnersOnly()
		}
		target := actor
		if req.Member != (MemberRef{}) {
			if target, err = s.lockMember(ctx, tx, a.OrgID, req.Member); err != nil {
				return nil, err
			}
		}
		if !target.Active() {
			return nil, Errorf(CodeConflict, "the member is removed")
		}
		now := s.now()
		cred, _ := NewCredential(a.OrgID, target.ID, "OAuth client "+req.Name, slices.Clone(req.Scopes), nil, now)
		if err := tx.CredentialCreate(ctx, cred); err != nil {
			return nil, err
		}
		c := &OAuthClient{
			UUID: NewUUID(), OrgID: a.OrgID, ClientID: oauthClientIDPrefix + hex.EncodeToString(randomBytes(8)),
			Name: req.Name, Public: req.Public, MemberID: target.ID, CredentialID: cred.ID,
			Scopes: slices.Clone(req.Scopes), RedirectURIs: slices.Clone(req.RedirectURIs),
			TokenTTL: int64(ttl / time.Second), CreatedAt: now,
		}
		var secret string
		if !req.Public {
			secret, c.SecretHash = newSecret(oauthSecretPrefix)
		}
		if err := tx.OAuthClientCreate(ctx, c); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, ActionOAuthClientCreated, target, nil, c); err != nil {
			return nil, err
		}
		return &IssuedOAuthClient{Client: c, Secret: secret}, nil
	})
}

// OAuthClients lists the organization's OAuth clients (never their secrets).
func (s *Service) OAuthClients(ctx context.Context, a Actor) ([]*OAuthClient, error) {
	return view(ctx, s, func(tx Tx) ([]*OAuthClient, error) { return tx.OAuthClientList(ctx, a.OrgID) })
}

// OAuthClient returns one client of the actor's organization by UUID;
// another organization's is CodeNotFound.
func (s *Service) OAuthClient(ctx context.Context, a Actor, id string) (*OAuthClient, error) {
	return view(ctx, s, func(tx Tx) (*OAuthClient, error) {
		return tx.OAuthClientGet(ctx, &RefParams{OrgID: a.OrgID, UUID: id})
	})
}

// changeOAuthClient loads a live client of the actor's organization for an
// owner to change.
func (s *Service) changeOAuthClient(ctx context.Context, tx Tx, a Actor, id string) (*OAuthClient, error) {
	actor, err := s.actingMember(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	c, err := tx.OAuthClientGet(ctx, &RefParams{OrgID: a.OrgID, UUID: id, Lock: true})
	if err != nil {
		return nil, err
	}
	if actor.Role != RoleOwner {
		return nil, errOwnersOnly()
	}
	if c.RevokedAt != nil {
		return nil, Errorf(CodeConflict, "the client has been revoked")
	}
	return c, nil
}

// RotateOAuthClientSecret gives a confidential client a new secret, shown
// once; the old one stops working at once. Tokens already issued live on
// until they expire or the client is revoked.
func (s *Service) RotateOAuthClientSecret(ctx context.Context, a Actor, id string) (*IssuedOAuthClient, error) {
	return mutate(ctx, s, a, ActionOAuthClientRotated, func(tx Tx) (*IssuedOAuthClient, error) {
		c, err := s.changeOAuthClient(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		if c.Public {
			return nil, Errorf(CodeConflict, "a public client has no secret to rotate")
		}
		now := s.now()
		var secret string
		secret, c.SecretHash = newSecret(oauthSecretPrefix)
		c.RotatedAt = &now
		if err := tx.OAuthClientUpdate(ctx, c); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, ActionOAuthClientRotated, nil, nil, c); err != nil {
			return nil, err
		}
		return &IssuedOAuthClient{Client: c, Secret: secret}, nil
	})
}

// RevokeOAuthClient revokes a client, its credential and every token it
// issued, in one transaction: none works after the answer.
func (s *Service) RevokeOAuthClient(ctx context.Context, a Actor, id string) (*OAuthClient, error) {
	return mutate(ctx, s, a, ActionOAuthClientRevoked, func(tx Tx) (*OAuthClient, error) {
		c, err := s.changeOAuthClient(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		now := s.now()
		c.RevokedAt = &now
		if err := tx.OAuthClientUpdate(ctx, c); err != nil {
			return nil, err
		}
		if err := tx.CredentialRevoke(ctx, c.OrgID, c.CredentialID, now); err != nil {
			return nil, err
		}
		if _, err := tx.OAuthTokensRevoke(ctx, &OAuthRevokeParams{ClientID: c.ID, At: now}); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, ActionOAuthClientRevoked, nil, nil, c)
		return c, err
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// oauthTokenState says why a token row no longer works, or "" if it does.
func (s *Service) oauthTokenState(row *OAuthTokenRow) string {
	t, c := row.Token, row.Client
	switch {
	case t.RevokedAt != nil:
		return "token has been revoked"
	case !s.now().Before(t.ExpiresAt):
		return "token has expired"
	case c.RevokedAt != nil || row.Credential.RevokedAt != nil:
		return "the token's client has been revoked"
	case !row.ClientMember.Active() || !row.Member.Active():
		return "the token's member has been removed"
	}
	return ""
}

// authenticateOAuth is Authenticate for an OAuth access token. The
// principal's credential is the client's, carrying the token's scopes and
// member, so every interface checks it as it checks any credential.
func (s *Service) authenticateOAuth(ctx context.Context, token string) (*Principal, error) {
	row, err := view(ctx, s, func(tx Tx) (*OAuthTokenRow, error) { return tx.OAuthTokenGetByHash(ctx, hashSecret(token)) })
	if ErrorCode(err) == CodeNotFound || (err == nil && row.Token.Kind != OAuthAccess) {
		return nil, Errorf(CodeUnauthorized, "invalid token")
	} else if err != nil {
		return nil, err
	}
	if why := s.oauthTokenState(row); why != "" {
		return nil, Errorf(CodeUnauthorized, "%s", why)
	}
	cred := *row.Credential
	cred.MemberID, cred.Scopes, cred.Name = row.Member.ID, row.Token.Scopes, "OAuth client "+row.Client.Name
	expires := row.Token.ExpiresAt
	cred.ExpiresAt = &expires
	return &Principal{Credential: &cred, Member: row.Member}, nil
}

// credentialTouchEvery bounds the writes that keep a credential's last
// use to one per credential per minute, like a session's.
const credentialTouchEvery = time.Minute

// touchCredential records c's use for the profile page's "last used",
// at most once per credentialTouchEvery. A failure to record it is logged:
// it must not refuse a request the credential is good for. It reports
// whether it recorded one.
func (s *Service) touchCredential(ctx context.Context, c *Credential) bool {
	now := s.now()
	if c.LastUsedAt != nil && now.Sub(*c.LastUsedAt) < credentialTouchEvery {
		return false
	}
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.CredentialTouch(ctx, c.ID, now) }); err != nil {
		s.cfg.Logger.WarnContext(ctx, "record a credential's last use", "credential_id", c.ID, "err", err)
		return false
	}
	c.LastUsedAt = &now
	return true
}
