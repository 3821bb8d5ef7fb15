package membership

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// This file owns the admin console's sign-in: sessions exchanged for an
// owner's or admin's API credential or for a one-time sign-in link, and
// the member directory the console pages through. A session is a
// server-side row found by the hash of its token; it ends when it expires,
// is revoked or signed out, and when its credential or member stops
// working, because every request re-reads both.

// Session lifetimes.
const (
	// SessionTTL is how long a session lasts however busy it is.
	SessionTTL = 8 * time.Hour
	// SessionIdle ends a session nobody used for this long.
	SessionIdle = 30 * time.Minute
	// SignInLinkTTL is how long a one-time sign-in link stays usable.
	SignInLinkTTL = 15 * time.Minute
	// sessionTouchEvery bounds the writes that keep a session alive to one
	// per session per minute, not one per page view.
	sessionTouchEvery = time.Minute
)

// Ways a session was made.
const (
	SessionViaCredential = "credential"
	SessionViaLink       = "link"
)

// Token prefixes: recognizable by secret scanners, and never confused with
// an API credential (mbd_).
const (
	sessionTokenPrefix = "mbs_"
	linkTokenPrefix    = "mbl_"
)

// linkScopes are what a session made from a sign-in link may do: the
// console's reads and removals, never credential management.
var linkScopes = []string{ScopeMembersRead, ScopeMembersWrite, ScopeAuditRead}

// Session is a signed-in console session. Only Hash, the SHA-256 of its
// token, is stored.
type Session struct {
	ID           int64      `json:"-"`
	UUID         string     `json:"id"`
	OrgID        int64      `json:"organization_id"`
	MemberID     int64      `json:"member_id"`
	CredentialID int64      `json:"credential_id,omitempty"`
	Hash         []byte     `json:"-"`
	Scopes       []string   `json:"scopes"`
	Via          string     `json:"via"`
	UserAgent    string     `json:"user_agent,omitempty"`
	Address      string     `json:"address,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	LastSeenAt   time.Time  `json:"last_seen_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	// Email is the member's, filled by SessionList for display.
	Email string `json:"email,omitempty"`
}

// SessionPrincipal is a live session with the principal it acts as. For a
// session made from a sign-in link, Credential is a stand-in with ID 0
// carrying the session's scopes.
type SessionPrincipal struct {
	Session *Session
	Principal
}

// SessionRow is what SessionGetByHash reads in one statement: the
// session, its member and, for a credential session, the credential.
type SessionRow struct {
	Session    *Session
	Member     *Member
	Credential *Credential // nil for a link session
}

// SignInLink is a one-time link that opens a console session for a
// member. Only the SHA-256 of its token is stored.
type SignInLink struct {
	ID        int64
	UUID      string
	OrgID     int64
	MemberID  int64
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// SessionListParams filters SessionList to sessions live at At.
type SessionListParams struct {
	OrgID    int64
	MemberID int64 // 0: every member's
	At       time.Time
}

// MemberSearchParams filters and pages MemberSearch by keyset: AfterID
// pages forwards (ID order), BeforeID backwards; never by offset, so the
// thousandth page costs what the first does.
type MemberSearchParams struct {
	OrgID    int64
	Status   Status
	Role     Role
	Query    string // substring of e-mail or name, case-insensitive
	SpaceID  int64  // only active members of this space
	GroupID  int64  // only active members of this group
	AfterID  int64
	BeforeID int64
	Limit    int
}

// NewSession is a session just made, with its token shown once.
type NewSession struct {
	Session *Session
	Token   string
	Member  *Member
}

// SignInRequest exchanges an API credential for a session.
type SignInRequest struct {
	Secret    string
	UserAgent string
	Address   string
	// Interface and RequestID name the attempt in the audit trail.
	Interface string
	RequestID string
}

func newSecret(prefix string) (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token := prefix + strings.ToLower(tokenEncoding.EncodeToString(b[:]))
	return token, hashSecret(token)
}

func hashSecret(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// errConsoleRole refuses a member who may not use the console.
func errConsoleRole() *Error {
	return Errorf(CodeForbidden, "only owners and admins can use the admin console")
}

// SignIn checks an API credential of an owner or admin and opens a console
// session for it. Failures are audited: an unknown, revoked or expired
// credential as CodeUnauthorized, a plain member's or one without the
// members:read scope as CodeForbidden.
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (*NewSession, error) {
	if IsOAuthAccessToken(strings.TrimSpace(req.Secret)) {
		// A session would outlive the short-lived token it was opened with.
		req.Secret = ""
	}
	p, err := s.Authenticate(ctx, strings.TrimSpace(req.Secret))
	if err != nil {
		if ErrorCode(err) == CodeUnauthorized {
			s.AuditRefusedAuth(ctx, req.Interface, req.RequestID, CredentialPrefix(strings.TrimSpace(req.Secret)), RefusalReason(err))
		}
		return nil, err
	}
	a := Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: req.Interface, RequestID: req.RequestID}
	if !p.Credential.HasScope(ScopeMembersRead) {
		return nil, s.refuse(ctx, a, ActionSessionCreated, Errorf(CodeForbidden, "the credential lacks the %q scope the console needs", ScopeMembersRead))
	}
	return mutate(ctx, s, a, ActionSessionCreated, func(tx Tx) (*NewSession, error) {
		m, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if mayManage(m) != nil {
			return nil, errConsoleRole()
		}
		return s.openSession(ctx, tx, a, m, p.Credential.ID, p.Credential.Scopes, SessionViaCredential, req)
	})
}

func (s *Service) openSession(ctx context.Context, tx Tx, a Actor, m *Member, credentialID int64, scopes []string, via string, req SignInRequest) (*NewSession, error) {
	token, hash := newSecret(sessionTokenPrefix)
	now := s.now()
	sess := &Session{
		UUID: NewUUID(), OrgID: m.OrgID, MemberID: m.ID, CredentialID: credentialID, Hash: hash,
		Scopes: scopes, Via: via, UserAgent: clip(req.UserAgent, 200), Address: clip(req.Address, 100),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionTTL),
	}
	if err := tx.SessionCreate(ctx, sess); err != nil {
		return nil, err
	}
	if _, err := s.record(ctx, tx, a, ActionSessionCreated, m, nil, sess); err != nil {
		return nil, err
	}
	return &NewSession{Session: sess, Token: token, Member: m}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// CreateSignInLink makes a one-time sign-in link for an owner or admin of
// organization orgID, for the CLI: whoever can run it already holds the
// database. The token is returned once.
func (s *Service) CreateSignInLink(ctx context.Context, orgID int64, ref MemberRef) (string, *SignInLink, error) {
	a := Actor{OrgID: orgID, Interface: "cli"}
	var token string
	link, err := mutate(ctx, s, a, ActionSigninLinkCreated, func(tx Tx) (*SignInLink, error) {
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: orgID, ID: ref.ID, UUID: ref.UUID, Email: NormalizeEmail(ref.Email)})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrMemberNotFound
		} else if err != nil {
			return nil, err
		}
		if !m.Active() {
			return nil, Errorf(CodeConflict, "the member is removed")
		}
		if mayManage(m) != nil {
			return nil, errConsoleRole()
		}
		var hash []byte
		token, hash = newSecret(linkTokenPrefix)
		now := s.now()
		l := &SignInLink{UUID: NewUUID(), OrgID: orgID, MemberID: m.ID, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(SignInLinkTTL)}
		if err := tx.SignInLinkCreate(ctx, l); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, ActionSigninLinkCreated, m, nil, map[string]any{"id": l.UUID, "expires_at": l.ExpiresAt})
		return l, err
	})
	return token, link, err
}

// SignInWithLink uses a one-time sign-in link: the link is spent whether
// or not a session results, and an expired, spent or unknown link is
// CodeUnauthorized (audited).
func (s *Service) SignInWithLink(ctx context.Context, req SignInRequest) (*NewSession, error) {
	token := strings.TrimSpace(req.Secret)
	refuse := func(msg string) error {
		err := Errorf(CodeUnauthorized, "%s", msg)
		s.AuditRefusedAuth(ctx, req.Interface, req.RequestID, "", msg)
		return err
	}
	if !strings.HasPrefix(token, linkTokenPrefix) {
		return nil, refuse("invalid sign-in link")
	}
	var link *SignInLink
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		link, err = tx.SignInLinkUse(ctx, hashSecret(token), s.now())
		return err
	})
	if ErrorCode(err) == CodeNotFound {
		return nil, refuse("the sign-in link is unknown or was already used")
	} else if err != nil {
		return nil, err
	}
	if !s.now().Before(link.ExpiresAt) {
		return nil, refuse("the sign-in link has expired")
	}
	a := Actor{OrgID: link.OrgID, MemberID: link.MemberID, Scopes: linkScopes, Interface: req.Interface, RequestID: req.RequestID}
	return mutate(ctx, s, a, ActionSessionCreated, func(tx Tx) (*NewSession, error) {
		m, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if mayManage(m) != nil {
			return nil, errConsoleRole()
		}
		return s.openSession(ctx, tx, a, m, 0, linkScopes, SessionViaLink, req)
	})
}

// SessionFor resolves a session token to who it acts as. A token that is
// unknown, expired, idle too long, revoked, or whose credential or member
// no longer works (revoked, expired, removed, no longer an owner or admin)
// is CodeUnauthorized; callers audit it with AuditRefusedSession. Use
// keeps the session alive at most once a minute.
func (s *Service) SessionFor(ctx context.Context, token string) (*SessionPrincipal, error) {
	if !strings.HasPrefix(token, sessionTokenPrefix) {
		return nil, Errorf(CodeUnauthorized, "not signed in")
	}
	row, err := view(ctx, s, func(tx Tx) (*SessionRow, error) { return tx.SessionGetByHash(ctx, hashSecret(token)) })
	if ErrorCode(err) == CodeNotFound {
		return nil, Errorf(CodeUnauthorized, "not signed in")
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	sess, m, c := row.Session, row.Member, row.Credential
	switch {
	case sess.RevokedAt != nil:
		return nil, Errorf(CodeUnauthorized, "the session was ended")
	case !now.Before(sess.ExpiresAt):
		return nil, Errorf(CodeUnauthorized, "the session has expired")
	case !now.Before(sess.LastSeenAt.Add(SessionIdle)):
		return nil, Errorf(CodeUnauthorized, "the session timed out after %s without use", SessionIdle)
	case !m.Active():
		return nil, Errorf(CodeUnauthorized, "the session's member has been removed")
	case mayManage(m) != nil:
		return nil, Errorf(CodeUnauthorized, "the session's member is no longer an owner or admin")
	}
	if sess.Via == SessionViaCredential {
		switch {
		case c == nil || c.RevokedAt != nil:
			return nil, Errorf(CodeUnauthorized, "the credential the session was opened with has been revoked")
		case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
			return nil, Errorf(CodeUnauthorized, "the credential the session was opened with has expired")
		}
	} else {
		c = &Credential{OrgID: sess.OrgID, MemberID: m.ID, Name: "sign-in link", Scopes: sess.Scopes}
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.SessionTouch(ctx, sess.ID, now) }); err != nil {
			return nil, err
		}
		sess.LastSeenAt = now
	}
	return &SessionPrincipal{Session: sess, Principal: Principal{Credential: c, Member: m}}, nil
}

// AuditRefusedSession records a console request refused because its
// session no longer works, under the session's organization, member and
// credential when the token names a session at all, like AuditRefusedAuth
// does for an API credential.
func (s *Service) AuditRefusedSession(ctx context.Context, iface, requestID, token, reason string) {
	src := refusalSource{Interface: iface}
	if strings.HasPrefix(token, sessionTokenPrefix) {
		if row, err := view(ctx, s, func(tx Tx) (*SessionRow, error) { return tx.SessionGetByHash(ctx, hashSecret(token)) }); err == nil {
			src.OrgID, src.MemberID, src.CredentialID = row.Session.OrgID, row.Session.MemberID, row.Session.CredentialID
		}
	}
	s.refuseAuth(ctx, src, requestID, reason)
}

// Sessions lists the organization's live console sessions: an owner sees
// everyone's, an admin their own.
func (s *Service) Sessions(ctx context.Context, a Actor) ([]*Session, error) {
	return view(ctx, s, func(tx Tx) ([]*Session, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		p := &SessionListParams{OrgID: a.OrgID, At: s.now()}
		if actor.Role != RoleOwner {
			p.MemberID = actor.ID
		}
		return tx.SessionList(ctx, p)
	})
}

// RevokeSession ends a console session: owners any, admins their own.
// Another organization's session is CodeNotFound.
func (s *Service) RevokeSession(ctx context.Context, a Actor, id string) (*Session, error) {
	return mutate(ctx, s, a, ActionSessionRevoked, func(tx Tx) (*Session, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		sess, err := tx.SessionGet(ctx, a.OrgID, id)
		if err != nil {
			return nil, err
		}
		if sess.MemberID != actor.ID && actor.Role != RoleOwner {
			return nil, Errorf(CodeForbidden, "only an owner can end another member's session")
		}
		if sess.RevokedAt != nil {
			return nil, ErrAlreadyRemoved
		}
		return sess, s.endSession(ctx, tx, a, ActionSessionRevoked, sess)
	})
}

// endSession revokes sess now and records it under action.
func (s *Service) endSession(ctx context.Context, tx Tx, a Actor, action string, sess *Session) error {
	now := s.now()
	if err := tx.SessionRevoke(ctx, sess.ID, now); err != nil {
		return err
	}
	sess.RevokedAt = &now
	_, err := s.record(ctx, tx, a, action, nil, nil, sess)
	return err
}

// SignOut ends the session a token opened. Signing out twice is not an
// error: the session is over either way.
func (s *Service) SignOut(ctx context.Context, a Actor, token string) error {
	_, err := mutate(ctx, s, a, ActionSessionEnded, func(tx Tx) (*Session, error) {
		row, err := tx.SessionGetByHash(ctx, hashSecret(token))
		if ErrorCode(err) == CodeNotFound {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		sess := row.Session
		if sess.RevokedAt != nil {
			return sess, nil
		}
		return sess, s.endSession(ctx, tx, a, ActionSessionEnded, sess)
	})
	return err
}

// MemberDirectory pages through the organization's members for the
// console: filtered by state, role, space, group and a search, in ID
// order by keyset. It answers CodeNotFound for another organization's
// space or group.
func (s *Service) MemberDirectory(ctx context.Context, a Actor, p MemberSearchParams) ([]*Member, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Member, error) {
		if p.SpaceID != 0 {
			if _, err := tx.SpaceGet(ctx, &RefParams{OrgID: a.OrgID, ID: p.SpaceID}); err != nil {
				return nil, err
			}
		}
		if p.GroupID != 0 {
			if _, err := tx.GroupGet(ctx, &RefParams{OrgID: a.OrgID, ID: p.GroupID}); err != nil {
				return nil, err
			}
		}
		return tx.MemberSearch(ctx, &p)
	})
}
