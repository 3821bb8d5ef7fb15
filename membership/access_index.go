package membership

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultAccessIndex is how many answered checks the access index keeps.
// An entry is a key of a few words and one Access: about 400 bytes with
// UUID names and two groups, less with numeric ids (a test holds it), so
// the index stays under 50 MB whatever the number of members.
const DefaultAccessIndex = 100_000

// AccessCheckRefParams names a member and a resource of one organization
// as a client did, for Tx.AccessCheckRef.
type AccessCheckRefParams struct {
	Member   MemberGetParams
	Resource RefParams
	// Since, when set, is the epoch of an answer the caller already holds
	// for this check: while the organization's epoch is still *Since, the
	// statement reads nothing but the epoch (and leaves both Found flags
	// false), so that proving a held answer current costs no more than
	// reading the epoch, and a moved epoch costs no second statement.
	Since *int64
	// Credential, when set, is a credential the caller read at an earlier
	// epoch: when the epoch has moved since, the statement also reads what
	// could have ended it (AccessAnswer.Credential) in its own snapshot.
	Credential *CredentialAt
}

// CredentialAt names a credential read at an access epoch.
type CredentialAt struct {
	ID    int64
	Epoch int64
}

// AccessAnswer is Tx.AccessCheckRef's answer: whether each name resolved,
// the access when both did, and the organization's access epoch in the
// snapshot the answer was read from.
type AccessAnswer struct {
	MemberFound, ResourceFound bool
	Access                     *Access
	Epoch                      int64
	// Credential is the state of the credential the params named, read in
	// the same snapshot; nil unless they named one and Epoch is not the
	// one it was read at.
	Credential *CredentialState
}

// CredentialState is what can end a credential, as one snapshot holds it:
// its revocation, its expiry and its member's removal. A credential's
// other columns never change; its member's UpdatedAt tells whether the
// member did.
type CredentialState struct {
	Found           bool // false: no such credential in the organization
	RevokedAt       *time.Time
	ExpiresAt       *time.Time
	MemberActive    bool
	MemberUpdatedAt time.Time
}

// accessKey is a check as the client named it. Only immutable names
// (numeric ids and UUIDs) are keys: an e-mail address can come to name
// another member without any change to the organization.
type accessKey struct {
	org          int64
	memberID     int64
	memberUUID   string
	resourceID   int64
	resourceUUID string
}

// accessEntry is an answer and the access epoch it was read at: it is
// the answer for as long as the organization's epoch has not moved.
type accessEntry struct {
	epoch  int64
	access Access
}

// accessIndex remembers answered checks by the epoch they were read at.
// It never decides anything alone: a check reads the organization's
// current epoch in its own transaction and uses an entry only when the
// epochs are equal, so an entry can be old but never stale. That holds on
// one node and on many, because the epoch is in the database and every
// access-changing transaction advances it before it commits.
type accessIndex struct {
	max int // 0: off

	mu      sync.RWMutex
	entries map[accessKey]accessEntry
}

func newAccessIndex(size int) *accessIndex {
	if size == 0 {
		size = DefaultAccessIndex
	}
	return &accessIndex{max: max(size, 0), entries: map[accessKey]accessEntry{}}
}

// key returns the index key of a check, false when it is not one the
// index keeps.
func (x *accessIndex) key(org int64, m MemberRef, r Ref) (accessKey, bool) {
	if x.max == 0 || m.Raw != "" || m.Email != "" || (m.ID == 0 && m.UUID == "") || (r.ID == 0 && r.UUID == "") {
		return accessKey{}, false
	}
	k := accessKey{org: org, memberID: m.ID, resourceID: r.ID}
	if m.ID == 0 {
		k.memberUUID = strings.ToLower(m.UUID)
	}
	if r.ID == 0 {
		k.resourceUUID = strings.ToLower(r.UUID)
	}
	return k, true
}

func (x *accessIndex) get(k accessKey) (accessEntry, bool) {
	x.mu.RLock()
	e, ok := x.entries[k]
	x.mu.RUnlock()
	return e, ok
}

// put keeps a copy of a, read at epoch. A full index drops an arbitrary
// entry first (Go's map order is random), which bounds memory without
// bookkeeping on the read path.
func (x *accessIndex) put(k accessKey, epoch int64, a *Access) {
	e := accessEntry{epoch: epoch, access: *a}
	e.access.GroupIDs = slices.Clone(a.GroupIDs)
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.entries[k]; !ok && len(x.entries) >= x.max {
		for old := range x.entries {
			delete(x.entries, old)
			break
		}
	}
	x.entries[k] = e
}

// answer is a copy of the entry's access that the caller may change.
func (e accessEntry) answer() *Access {
	a := e.access
	a.GroupIDs = slices.Clone(e.access.GroupIDs)
	return &a
}

// AccessMemory is a store that keeps in memory what access checks by
// numeric ids read, and proves its copy current without a statement (the
// SQLite store's: one process holds every writer's changes in view).
type AccessMemory interface {
	// AccessInMemory answers what Tx.AccessCheckRef would, with neither
	// Since nor Credential, for a member and a resource named by id; ok
	// is false when the copy cannot prove itself current, and the caller
	// reads the database.
	AccessInMemory(orgID, memberID, resourceID int64) (ans *AccessAnswer, ok bool)
}

type oneStatementKey struct{}

// WithOneStatement marks a view that runs at most one statement (see
// OneStatement); an engine refuses the view's second statement.
func WithOneStatement(ctx context.Context) context.Context {
	return context.WithValue(ctx, oneStatementKey{}, true)
}

// OneStatement reports that the view ctx belongs to runs at most one
// statement, so an engine may run it outside a transaction: a single
// statement reads one consistent snapshot by itself, and PostgreSQL then
// answers in one round trip instead of BEGIN, statement and ROLLBACK
// (SQLite in one driver call instead of three).
func OneStatement(ctx context.Context) bool {
	one, _ := ctx.Value(oneStatementKey{}).(bool)
	return one
}
