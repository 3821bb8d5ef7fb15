package membership

import (
	"context"
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// An access check request used to run two statements: authentication
// (which also reads the organization's access epoch) and the check. The
// credential cache folds the first into the second. A credential is
// valid at an epoch; every change that could end its validity (its
// revocation, its member's removal) is an audited change of its
// organization and so moves the epoch; expiry is a matter of the clock.
// So a credential read at epoch e is still valid in any snapshot where the
// epoch is still e, and the check's own statement reads the epoch of its
// snapshot anyway. Only calls that confirm the credential may take such
// an actor, marked by WithDeferredAuthentication: the native access check
// (by the epoch) and a single removal (Jicoo's, the native plain DELETE),
// whose statement that locks the member reads the actor's role only while
// the credential is not revoked (parties); expiry is checked against the
// clock on every hit.

// maxCachedCredentials bounds the credential cache: a few hundred bytes
// an entry, so a little over a megabyte when full.
const maxCachedCredentials = 4096

// UnconfirmedCredential says a request's credential was not read for it:
// it was valid at Epoch, and CheckAccess, which accepts such an actor,
// confirms the epoch in its own statement, which reads the
// credential's state too when the epoch has moved.
type UnconfirmedCredential struct {
	Epoch  int64
	prefix string
	hash   [sha256.Size]byte
}

type deferredAuthKey struct{}

// WithDeferredAuthentication marks ctx's request as one whose only core
// call is CheckAccess or RemoveMember: Authenticate may then answer from
// the credential cache with an unconfirmed principal
// (Principal.Unconfirmed), which nothing but those two accepts; each
// confirms the credential in its own statement.
func WithDeferredAuthentication(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredAuthKey{}, true)
}

// WithoutDeferredAuthentication undoes WithDeferredAuthentication for a
// call that must read the credential: one made to refuse a request before
// its CheckAccess could confirm a cached credential.
func WithoutDeferredAuthentication(ctx context.Context) context.Context {
	if !deferredAuthentication(ctx) {
		return ctx
	}
	return context.WithValue(ctx, deferredAuthKey{}, false)
}

type confirmingKey struct{}

// confirming says ctx's change confirms an unconfirmed actor's credential
// in its own transaction before it decides anything (RemoveMember), so
// that mutate may take the actor.
func confirming(ctx context.Context) bool {
	c, _ := ctx.Value(confirmingKey{}).(bool)
	return c
}

// confirmActor reads an unconfirmed actor's credential with the statement
// Authenticate would have run, for a call answered before its own
// statement could confirm it, and returns the actor confirmed.
func (s *Service) confirmActor(ctx context.Context, a Actor) (Actor, error) {
	u := a.Unconfirmed
	p, err := view(WithOneStatement(ctx), s, func(tx Tx) (*Principal, error) { return s.principal(ctx, tx, u.prefix, u.hash) })
	if err != nil {
		err = s.credentialRefused(u, err)
		if ErrorCode(err) == CodeUnauthorized {
			s.AuditRefusedAuth(ctx, a.Interface, a.RequestID, u.prefix, RefusalReason(err))
		}
		return a, err
	}
	a.Unconfirmed, a.Member, a.AccessEpoch = nil, p.Member, p.AccessEpoch
	return a, nil
}

// credentialRefused drops the cached credential u when err says it is no
// longer in force, so that no later request takes it, and returns err.
func (s *Service) credentialRefused(u *UnconfirmedCredential, err error) error {
	if ErrorCode(err) == CodeUnauthorized {
		s.creds.drop(u.hash)
	}
	return err
}

func deferredAuthentication(ctx context.Context) bool {
	d, _ := ctx.Value(deferredAuthKey{}).(bool)
	return d
}

// credentialCache keeps principals authenticated for checks, by the hash
// of their secret, with the epoch they were read at.
type credentialCache struct {
	max int // 0: off

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedPrincipal
}

type cachedPrincipal struct {
	credential Credential
	member     Member
	epoch      int64
}

func newCredentialCache(accessIndex int) *credentialCache {
	size := maxCachedCredentials
	if accessIndex < 0 {
		size = 0 // the access index is off, and so is this cache
	}
	return &credentialCache{max: size, entries: map[[sha256.Size]byte]cachedPrincipal{}}
}

// get returns an unconfirmed principal for the secret hashing to sum,
// with copies the caller may change.
func (c *credentialCache) get(sum [sha256.Size]byte, prefix string) (*Principal, bool) {
	if c.max == 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	cr, m := e.credential, e.member
	cr.Scopes = slices.Clone(cr.Scopes)
	return &Principal{Credential: &cr, Member: &m, Unconfirmed: &UnconfirmedCredential{Epoch: e.epoch, prefix: prefix, hash: sum}}, true
}

// put keeps p, read with its epoch; a full cache drops an arbitrary entry.
func (c *credentialCache) put(sum [sha256.Size]byte, p *Principal) {
	if c.max == 0 || p.AccessEpoch == nil {
		return
	}
	e := cachedPrincipal{credential: *p.Credential, member: *p.Member, epoch: *p.AccessEpoch}
	e.credential.Scopes = slices.Clone(p.Credential.Scopes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[sum] = e
}

// touched notes that the credential's last use was recorded, so that the
// next hits do not record it again.
func (c *credentialCache) touched(sum [sha256.Size]byte, cr *Credential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[sum]; ok && e.credential.ID == cr.ID {
		e.credential.LastUsedAt = cr.LastUsedAt
		c.entries[sum] = e
	}
}

// advance notes that the credential cached for sum is still in force at
// epoch, as a check read it. The entry is kept only while its member is
// the one cached (memberUpdatedAt unchanged): the member's other fields
// travel with the principal, and a changed member is read again instead.
func (c *credentialCache) advance(sum [sha256.Size]byte, credentialID, epoch int64, memberUpdatedAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[sum]
	switch {
	case !ok || e.credential.ID != credentialID || e.epoch >= epoch:
	case !e.member.UpdatedAt.Equal(memberUpdatedAt):
		delete(c.entries, sum)
	default:
		e.epoch = epoch
		c.entries[sum] = e
	}
}

func (c *credentialCache) drop(sum [sha256.Size]byte) {
	c.mu.Lock()
	delete(c.entries, sum)
	c.mu.Unlock()
}
