package membership

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Scopes a credential can carry. Native scopes are memberd's own; the
// dialect scopes are the names the vendors' documents require.
const (
	ScopeMembersRead       = "members:read"
	ScopeMembersWrite      = "members:write"
	ScopeCredentialsManage = "credentials:manage"
	ScopeAuditRead         = "audit:read"
	// ScopeTedeeReadWrite is Tedee's "Organization.ReadWrite".
	ScopeTedeeReadWrite = "Organization.ReadWrite"
	// ScopeWorkivaOrgRead is Workiva's "organization:read".
	ScopeWorkivaOrgRead = "organization:read"
	// ScopeSCIM lets an identity provider provision and deprovision
	// through SCIM 2.0.
	ScopeSCIM = "scim"
)

// AllScopes lists every scope memberd knows.
func AllScopes() []string {
	return []string{ScopeMembersRead, ScopeMembersWrite, ScopeCredentialsManage, ScopeAuditRead,
		ScopeTedeeReadWrite, ScopeWorkivaOrgRead, ScopeSCIM}
}

// tokenPrefix starts every memberd secret, so leaked keys are recognizable
// by secret scanners.
const tokenPrefix = "mbd_"

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewCredential makes a credential and its secret. The secret is returned
// once and only its SHA-256 is kept: secrets are 256 random bits, so a
// fast hash is enough and a slow one would only slow every request.
func NewCredential(orgID, memberID int64, name string, scopes []string, expiresAt *time.Time, now time.Time) (*Credential, string) {
	var id [8]byte
	var secret [32]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	_, _ = rand.Read(secret[:])
	prefix := hex.EncodeToString(id[:])
	token := tokenPrefix + prefix + "_" + strings.ToLower(tokenEncoding.EncodeToString(secret[:]))
	sum := sha256.Sum256([]byte(token))
	return &Credential{
		UUID: NewUUID(), OrgID: orgID, MemberID: memberID, Name: name, Prefix: prefix, Hash: sum[:],
		Scopes: scopes, CreatedAt: now, ExpiresAt: expiresAt,
	}, token
}

// CredentialPrefix returns the lookup prefix of a secret, or "" if the
// secret is not of memberd's form.
func CredentialPrefix(token string) string {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return ""
	}
	prefix, _, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) != 16 {
		return ""
	}
	return prefix
}

// hiddenReason is why a secret was refused, kept from the client.
type hiddenReason string

func (h hiddenReason) Error() string { return string(h) }

// errBadToken refuses a secret with one message for every reason, so that
// a client cannot tell a revoked or expired credential from a wrong one
// (and so learn that a leaked secret was once real); the audit records
// the reason (see RefusalReason).
func errBadToken(reason string) *Error {
	return &Error{Code: CodeUnauthorized, Message: "invalid token", Err: hiddenReason(reason)}
}

// RefusalReason is what the audit records of a refusal: the real reason
// behind a message that hides it from the client, or else the message.
func RefusalReason(err error) string {
	var h hiddenReason
	if errors.As(err, &h) {
		return string(h)
	}
	return ErrorMessage(err)
}

// Principal is an authenticated credential and the member it acts as.
type Principal struct {
	Credential *Credential
	Member     *Member
	// AccessEpoch is the organization's access epoch read in the same
	// statement as the credential, nil when the credential was found
	// another way. It lets a check made for this request answer from the
	// access index with no statement of its own (see Actor.AccessEpoch).
	AccessEpoch *int64
	// Unconfirmed is set when the credential came from the credential
	// cache instead of a read (see WithDeferredAuthentication).
	Unconfirmed *UnconfirmedCredential
}

// Authenticate checks a secret and returns who it acts for. Every failure
// is CodeUnauthorized with a reason safe to show. A credential of a removed
// member, a revoked or an expired one stops working at once. An OAuth
// access token (oauth.go) authenticates here too, so that every interface
// accepts it wherever its scopes reach.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if IsOAuthAccessToken(token) {
		return s.authenticateOAuth(ctx, token)
	}
	prefix := CredentialPrefix(token)
	if prefix == "" {
		return nil, errBadToken("invalid token")
	}
	sum := sha256.Sum256([]byte(token))
	deferred := deferredAuthentication(ctx)
	if deferred {
		if p, ok := s.creds.get(sum, prefix); ok {
			if exp := p.Credential.ExpiresAt; exp == nil || s.now().Before(*exp) {
				if s.touchCredential(ctx, p.Credential) {
					// Only then has the entry's last use changed: a hit
					// takes the cache's lock once, not twice.
					s.creds.touched(sum, p.Credential)
				}
				return p, nil
			}
			s.creds.drop(sum) // expired: the full path says so
		}
	}
	p, err := view(WithOneStatement(ctx), s, func(tx Tx) (*Principal, error) { return s.principal(ctx, tx, prefix, sum) })
	if ErrorCode(err) == CodeUnauthorized {
		s.creds.drop(sum) // no longer in force: no deferred request may take it
	}
	if err != nil {
		return nil, err
	}
	s.touchCredential(ctx, p.Credential)
	if deferred {
		s.creds.put(sum, p)
	}
	return p, nil
}

// principal reads the credential named by prefix and returns who it acts
// for, if the secret hashing to sum is its secret and it is in force.
func (s *Service) principal(ctx context.Context, tx Tx, prefix string, sum [sha256.Size]byte) (*Principal, error) {
	p, err := tx.PrincipalGetByPrefix(ctx, prefix)
	if ErrorCode(err) == CodeNotFound {
		return nil, errBadToken("invalid token")
	} else if err != nil {
		return nil, err
	}
	c := p.Credential
	if subtle.ConstantTimeCompare(sum[:], c.Hash) != 1 {
		return nil, errBadToken("invalid token")
	}
	if err := s.inForce(c.RevokedAt, c.ExpiresAt, p.Member.Active()); err != nil {
		return nil, err
	}
	return p, nil
}

// inForce refuses a credential that is revoked, expired or held by a
// removed member, the reason kept for the audit.
func (s *Service) inForce(revokedAt, expiresAt *time.Time, memberActive bool) error {
	switch {
	case revokedAt != nil:
		return errBadToken("token has been revoked")
	case expiresAt != nil && !s.now().Before(*expiresAt):
		return errBadToken("token has expired")
	case !memberActive:
		return errBadToken("the token's member has been removed")
	}
	return nil
}

// CreateCredentialRequest asks for a new credential.
type CreateCredentialRequest struct {
	Member    MemberRef // zero: the actor
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// IssuedCredential is a created credential with its secret, shown once.
// A replay of the creating call (same Idempotency-Key) answers with the
// credential, an empty Secret and SecretShown set: the secret is stored
// nowhere, not even in the idempotency record.
type IssuedCredential struct {
	Credential  *Credential `json:"credential"`
	Secret      string      `json:"secret"`
	SecretShown bool        `json:"secret_already_shown,omitempty"`
}

func (c *IssuedCredential) withoutSecret() any {
	return &IssuedCredential{Credential: c.Credential, SecretShown: true}
}

// CreateCredential makes a credential. Owners make them for anyone; others
// only for themselves. No credential can carry a scope its maker lacks.
func (s *Service) CreateCredential(ctx context.Context, a Actor, req CreateCredentialRequest) (*IssuedCredential, error) {
	if err := checkName("credential name", req.Name); err != nil {
		return nil, s.refuse(ctx, a, ActionCredentialCreated, err)
	}
	if len(req.Scopes) == 0 {
		return nil, s.refuse(ctx, a, ActionCredentialCreated, Errorf(CodeInvalid, "at least one scope is required"))
	}
	known := map[string]bool{}
	for _, sc := range AllScopes() {
		known[sc] = true
	}
	for _, sc := range req.Scopes {
		if !known[sc] {
			return nil, s.refuse(ctx, a, ActionCredentialCreated, Errorf(CodeInvalid, "unknown scope %q", sc))
		}
		if !hasScope(a.Scopes, sc) {
			return nil, s.refuse(ctx, a, ActionCredentialCreated, Errorf(CodeForbidden, "cannot grant scope %q that your own credential lacks", sc))
		}
	}
	if req.ExpiresAt != nil {
		if err := CheckTime("expires_at", *req.ExpiresAt); err != nil {
			return nil, s.refuse(ctx, a, "credential.create", err)
		}
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(s.now()) {
		return nil, s.refuse(ctx, a, ActionCredentialCreated, Errorf(CodeInvalid, "expires_at must be in the future"))
	}
	return mutate(ctx, s, a, ActionCredentialCreated, func(tx Tx) (*IssuedCredential, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target := actor
		if req.Member != (MemberRef{}) {
			if target, err = s.lockMember(ctx, tx, a.OrgID, req.Member); err != nil {
				return nil, err
			}
		}
		if target.ID != actor.ID && actor.Role != RoleOwner {
			return nil, Errorf(CodeForbidden, "only an owner can create credentials for another member")
		}
		if !target.Active() {
			return nil, Errorf(CodeConflict, "the member is removed")
		}
		var expires *time.Time
		if req.ExpiresAt != nil {
			t := req.ExpiresAt.UTC().Truncate(time.Microsecond)
			expires = &t
		}
		c, secret := NewCredential(a.OrgID, target.ID, req.Name, req.Scopes, expires, s.now())
		if err := tx.CredentialCreate(ctx, c); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, ActionCredentialCreated, target, nil, c); err != nil {
			return nil, err
		}
		return &IssuedCredential{Credential: c, Secret: secret}, nil
	})
}

func hasScope(scopes []string, scope string) bool {
	for _, s := range scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Credentials lists the organization's credentials (never their secrets).
func (s *Service) Credentials(ctx context.Context, a Actor) ([]*Credential, error) {
	return view(ctx, s, func(tx Tx) ([]*Credential, error) { return tx.CredentialList(ctx, a.OrgID) })
}

// RevokeCredential revokes a credential: owners any, others their own.
func (s *Service) RevokeCredential(ctx context.Context, a Actor, id int64) (*Credential, error) {
	ctx = WithEventTarget(ctx, EventTarget{Type: "credential", Ref: Ref{ID: id}})
	return mutate(ctx, s, a, ActionCredentialRevoked, func(tx Tx) (*Credential, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		c, err := tx.CredentialGet(ctx, &RefParams{OrgID: a.OrgID, ID: id})
		if err != nil {
			return nil, err
		}
		if c.MemberID != actor.ID && actor.Role != RoleOwner {
			return nil, Errorf(CodeForbidden, "only an owner can revoke another member's credential")
		}
		if c.RevokedAt != nil {
			return nil, ErrAlreadyRemoved
		}
		now := s.now()
		if err := tx.CredentialRevoke(ctx, a.OrgID, id, now); err != nil {
			return nil, err
		}
		c.RevokedAt = &now
		_, err = s.record(ctx, tx, a, ActionCredentialRevoked, nil, nil, c)
		return c, err
	})
}

// Credential returns one credential of the actor's organization by ID
// (never its secret).
func (s *Service) Credential(ctx context.Context, a Actor, id int64) (*Credential, error) {
	return view(ctx, s, func(tx Tx) (*Credential, error) {
		return tx.CredentialGet(ctx, &RefParams{OrgID: a.OrgID, ID: id})
	})
}
