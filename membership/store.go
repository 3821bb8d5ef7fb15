package membership

import (
	"context"
	"time"
)

// Store is memberd's storage. Every read and write happens inside a
// transaction so that a removal and everything it implies (cascades, the
// audit event, the idempotency record) commit together or not at all.
type Store interface {
	// Update runs fn in one read-write transaction and commits it durably
	// before returning nil. If fn returns an error, nothing fn wrote is kept.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the store's connections.
	Close() error
}

// Tx is one transaction. Methods are named noun-first so the interface
// sorts by entity. Every lookup is scoped to an organization: an id that
// belongs to another organization answers CodeNotFound exactly like an
// absent one (promise 6).
type Tx interface {
	// Savepoint runs fn so that, if fn fails, only fn's writes are undone
	// and the transaction goes on. Batches use it for per-item outcomes.
	Savepoint(ctx context.Context, fn func() error) error

	// OrganizationCreate inserts o and sets its ID.
	OrganizationCreate(ctx context.Context, o *Organization) error
	// OrganizationGet returns CodeNotFound if absent.
	OrganizationGet(ctx context.Context, id int64) (*Organization, error)
	// OrganizationGetByUUID returns CodeNotFound if absent.
	OrganizationGetByUUID(ctx context.Context, uuid string) (*Organization, error)
	// OrganizationGetByOwner returns the oldest organization named name
	// that the user with e-mail email (already lower-case) owns as an
	// active member; CodeNotFound if none.
	OrganizationGetByOwner(ctx context.Context, name, email string) (*Organization, error)

	// UserUpsert returns the user with e-mail email (already lower-case),
	// creating it if needed.
	UserUpsert(ctx context.Context, email, name string) (*User, error)

	// MemberCreate inserts m as user userID's membership and opens its
	// first active period. Returns CodeConflict if the user already has a
	// membership of the organization. A Member does not carry its user's
	// id: that id is the same in every organization, so no answer may show
	// it, and a value that is never shown must not differ between an
	// answer and its idempotent replay either.
	MemberCreate(ctx context.Context, userID int64, m *Member) error
	// MemberGet finds one member by ID, UUID or e-mail within p.OrgID.
	// Returns CodeNotFound if absent or in another organization.
	MemberGet(ctx context.Context, p *MemberGetParams) (*Member, error)
	// MemberGetActing is MemberGet that also reads, in the same
	// statement, the role of member actorID of p.OrgID: empty unless that
	// member is active. Returns CodeNotFound as MemberGet does.
	MemberGetActing(ctx context.Context, p *MemberGetParams, actorID int64) (*Member, Role, error)
	// MembersLock locks the members of orgID among ids in ascending id
	// order, so that two changes locking some of the same members never
	// each hold a lock the other waits for; ids of no member of orgID are
	// passed over. An engine whose write transactions are already
	// exclusive need not run a statement.
	MembersLock(ctx context.Context, orgID int64, ids []int64) error
	// MemberList lists members in ID order after p.AfterID.
	MemberList(ctx context.Context, p *MemberListParams) ([]*Member, error)
	// MemberCount counts the members MemberList would find without
	// p.Limit and p.Offset, for dialects that page by number.
	MemberCount(ctx context.Context, p *MemberListParams) (int, error)
	// MemberSetStatus switches a member active or removed, closing or
	// opening a membership period. Returns CodeNotFound if absent.
	MemberSetStatus(ctx context.Context, p *MemberSetStatusParams) error
	// MemberUpdate changes a member's role and name.
	MemberUpdate(ctx context.Context, m *Member) error
	// MemberPeriodList returns every period of a member, oldest first.
	MemberPeriodList(ctx context.Context, memberID int64) ([]*MemberPeriod, error)

	// SpaceCreate inserts s and sets its ID.
	SpaceCreate(ctx context.Context, s *Space) error
	// SpaceGet finds a space by ID or UUID in p.OrgID; CodeNotFound if absent.
	SpaceGet(ctx context.Context, p *RefParams) (*Space, error)
	// SpaceList lists an organization's spaces in ID order.
	SpaceList(ctx context.Context, orgID int64) ([]*Space, error)
	// SpaceMemberAdd inserts sm (with its roles) or, when the membership
	// exists but is removed, reactivates it with sm.Roles.
	// Returns CodeConflict if it is already active.
	SpaceMemberAdd(ctx context.Context, sm *SpaceMember) error
	// SpaceMemberGet finds a space membership by ID, or by space and
	// member. CodeNotFound if absent or in another organization.
	SpaceMemberGet(ctx context.Context, p *SpaceMemberGetParams) (*SpaceMember, error)
	// SpaceMemberList lists space memberships matching p in ID order.
	SpaceMemberList(ctx context.Context, p *SpaceMemberListParams) ([]*SpaceMember, error)
	// SpaceMembersDeactivate removes the active space memberships matching
	// p and returns, in ID order as they were before, all of them when
	// p.Limit is 0, else at least the first p.Limit of them and the first
	// p.Limit of them holding roles; and how many it removed and how many
	// roles those held in all.
	SpaceMembersDeactivate(ctx context.Context, p *DeactivateParams) (rows []*SpaceMember, n, roles int, err error)
	// SpaceMembersReactivate restores the member's space memberships that
	// were removed with p.Cause and returns them.
	SpaceMembersReactivate(ctx context.Context, p *ReactivateParams) ([]*SpaceMember, error)
	// SpaceRolesGrant adds roles to an active space membership.
	SpaceRolesGrant(ctx context.Context, p *SpaceRolesParams) error
	// SpaceRolesRevoke revokes roles from a space membership, keeping a
	// record of each, and returns how many were held.
	SpaceRolesRevoke(ctx context.Context, p *SpaceRolesParams) (int, error)

	// GroupCreate inserts g and sets its ID.
	GroupCreate(ctx context.Context, g *Group) error
	// GroupGet finds a group by ID or UUID in p.OrgID; CodeNotFound if absent.
	GroupGet(ctx context.Context, p *RefParams) (*Group, error)
	// GroupList lists an organization's groups in ID order.
	GroupList(ctx context.Context, orgID int64) ([]*Group, error)
	// GroupMemberAdd inserts gm or reactivates a removed one.
	// Returns CodeConflict if it is already active.
	GroupMemberAdd(ctx context.Context, gm *GroupMember) error
	// GroupMemberGet finds the membership of p.MemberID in p.GroupID.
	// CodeNotFound if absent.
	GroupMemberGet(ctx context.Context, p *GroupMemberGetParams) (*GroupMember, error)
	// GroupMemberList lists group memberships matching p in ID order.
	GroupMemberList(ctx context.Context, p *GroupMemberListParams) ([]*GroupMember, error)
	// GroupMembersDeactivate removes the active group memberships matching
	// p and returns them as they were before.
	GroupMembersDeactivate(ctx context.Context, p *DeactivateParams) ([]*GroupMember, error)
	// GroupMembersReactivate restores group memberships removed with p.Cause.
	GroupMembersReactivate(ctx context.Context, p *ReactivateParams) ([]*GroupMember, error)

	// ResourceCreate inserts r and sets its ID.
	ResourceCreate(ctx context.Context, r *Resource) error
	// ResourceGet finds a resource by ID or UUID; CodeNotFound if absent.
	ResourceGet(ctx context.Context, p *RefParams) (*Resource, error)
	// ResourceList lists an organization's resources in ID order.
	ResourceList(ctx context.Context, orgID int64) ([]*Resource, error)

	// GrantCreate inserts g and sets its ID.
	GrantCreate(ctx context.Context, g *Grant) error
	// GrantGet finds a grant by ID or UUID; CodeNotFound if absent.
	GrantGet(ctx context.Context, p *RefParams) (*Grant, error)
	// GrantList lists grants matching p in ID order.
	GrantList(ctx context.Context, p *GrantListParams) ([]*Grant, error)
	// GrantCount counts the grants matching p (p.Limit aside).
	GrantCount(ctx context.Context, p *GrantListParams) (int, error)
	// GrantKeys lists the keys of the grants matching p in ID order, at
	// most p.Limit when set: what a plan tag digests of each grant, read
	// without the rest of the row.
	GrantKeys(ctx context.Context, p *GrantListParams) ([]GrantKey, error)
	// GrantListCounted lists the grants matching p as GrantList does and
	// returns how many match, as GrantCount counts them; when keys is not
	// nil it also sets it to their keys as GrantKeys lists them with a
	// limit of MaxReportLimit. An engine may find the matching grants
	// once for all three.
	GrantListCounted(ctx context.Context, p *GrantListParams, keys *[]GrantKey) ([]*Grant, int, error)
	// GrantsDeactivate revokes the member's active direct grants, returns
	// the first p.Limit of them (all when 0) in ID order as they were
	// before, and how many it revoked.
	GrantsDeactivate(ctx context.Context, p *DeactivateParams) ([]*Grant, int, error)
	// GrantsReactivate restores direct grants revoked with p.Cause.
	GrantsReactivate(ctx context.Context, p *ReactivateParams) ([]*Grant, error)

	// AccessCheck reports whether the member can use the resource now.
	AccessCheck(ctx context.Context, p *AccessParams) (*Access, error)
	// AccessList lists every resource the member can use now.
	AccessList(ctx context.Context, orgID, memberID int64) ([]*Access, error)
	// AccessCheckRef resolves the member and the resource p names within
	// p.OrgID and answers whether the member can use it now, in one
	// statement that also reads the organization's access epoch (see
	// AccessEpoch) from the same snapshot. A name that resolves to nothing
	// leaves its Found flag false; it is not an error.
	AccessCheckRef(ctx context.Context, p *AccessCheckRefParams) (*AccessAnswer, error)
	// AccessEpoch returns the organization's access epoch: a number that
	// every committed transaction changing what its members can use
	// advances (the head of its audit chain), 0 before any.
	AccessEpoch(ctx context.Context, orgID int64) (int64, error)

	// BookingCreate inserts b. Returns CodeConflict if it overlaps an
	// active booking of the same resource.
	BookingCreate(ctx context.Context, b *Booking) error
	// BookingGet finds a booking by ID or UUID; CodeNotFound if absent.
	BookingGet(ctx context.Context, p *RefParams) (*Booking, error)
	// BookingList lists bookings matching p in ID order.
	BookingList(ctx context.Context, p *BookingListParams) ([]*Booking, error)
	// BookingsCancel cancels the member's active bookings that start after
	// p.After and returns them; with p.OnlyWithoutAccess, only those whose
	// resource the member can no longer use.
	BookingsCancel(ctx context.Context, p *BookingsCancelParams) ([]*Booking, error)
	// MemberOffboard removes a member and what hangs on the membership:
	// it does what MemberSetStatus, SpaceMembersDeactivate,
	// GroupMembersDeactivate, GrantsDeactivate and (when p.Bookings is
	// set) BookingsCancel do, in that order, and returns what they
	// return (and, with p.GroupGrants, what GrantListCounted returns for
	// the groups left). An engine that can sends them to its server
	// together, one round trip where they would be six (PostgreSQL's
	// pipeline).
	MemberOffboard(ctx context.Context, p *MemberOffboardParams) (*MemberOffboarded, error)
	// BookingHolders returns the members among memberIDs, of orgID, that
	// hold an active booking starting after after, in ascending order.
	BookingHolders(ctx context.Context, orgID int64, memberIDs []int64, after time.Time) ([]int64, error)

	// EventAppend appends e and sets its ID.
	EventAppend(ctx context.Context, e *Event) error
	// EventList lists events matching p, newest first (oldest first with
	// p.Ascending).
	EventList(ctx context.Context, p *EventListParams) ([]*Event, error)
	// EventGet reads one event by ID, whatever its organization;
	// CodeNotFound if absent.
	EventGet(ctx context.Context, id int64) (*Event, error)
	// EventSeal chains the events appended in this transaction that are
	// not chained yet (see ChainEvent), locking each organization's chain
	// head until the transaction ends. Stores seal before every commit
	// themselves, a group commit once for all its callers; the core does
	// not call it, so that no change holds a head for longer than its
	// commit (a receipt's hash is read after the commit instead).
	EventSeal(ctx context.Context) error
	// EventChainHead returns organization orgID's chain head (0: the
	// events of no organization), a zero head if it has no chain; lock
	// holds it until the transaction ends.
	EventChainHead(ctx context.Context, orgID int64, lock bool) (*ChainHead, error)
	// EventChainList lists orgID's chained events with seq above afterSeq
	// in seq order.
	EventChainList(ctx context.Context, orgID int64, afterSeq int64, limit int) ([]*Event, error)
	// EventChainOrgs lists the organizations that have a chain head.
	EventChainOrgs(ctx context.Context) ([]int64, error)
	// EventUnchained counts orgID's events without a hash and returns the
	// lowest id of one that comes after a chained event (0 if none).
	EventUnchained(ctx context.Context, orgID int64) (count, stray int64, err error)
	// EventPrune deletes the longest prefix of orgID's chain whose events
	// are all older than before (and the unchained events before it), and
	// returns the last event deleted (nil if none) and how many were.
	EventPrune(ctx context.Context, orgID int64, before time.Time) (last *Event, deleted int64, err error)
	// EventCheckpointGet returns orgID's retention checkpoint;
	// CodeNotFound if it never pruned.
	EventCheckpointGet(ctx context.Context, orgID int64) (*Checkpoint, error)
	// EventCheckpointPut stores cp as its organization's checkpoint,
	// replacing any earlier one.
	EventCheckpointPut(ctx context.Context, cp *Checkpoint) error

	// CredentialCreate inserts c and sets its ID.
	CredentialCreate(ctx context.Context, c *Credential) error
	// CredentialGetByPrefix returns CodeNotFound if absent.
	CredentialGetByPrefix(ctx context.Context, prefix string) (*Credential, error)
	// PrincipalGetByPrefix returns the credential with this prefix and the
	// member it acts as, whatever their states; CodeNotFound if absent.
	PrincipalGetByPrefix(ctx context.Context, prefix string) (*Principal, error)
	// CredentialGet finds a credential by ID or UUID; CodeNotFound if absent.
	CredentialGet(ctx context.Context, p *RefParams) (*Credential, error)
	// CredentialList lists an organization's credentials in ID order.
	CredentialList(ctx context.Context, orgID int64) ([]*Credential, error)
	// CredentialRevoke marks a credential revoked; CodeNotFound if absent.
	CredentialRevoke(ctx context.Context, orgID, id int64, at time.Time) error
	// CredentialTouch records that a credential authenticated a request at at.
	CredentialTouch(ctx context.Context, id int64, at time.Time) error

	// OperationCreate inserts op and sets its ID. Returns CodeConflict if a
	// waiting or running operation holds op.LockKey.
	OperationCreate(ctx context.Context, op *Operation) error
	// OperationGet finds an operation by UUID in p.OrgID (any organization
	// when p.OrgID is 0). Returns CodeNotFound if absent.
	OperationGet(ctx context.Context, p *OperationGetParams) (*Operation, error)
	// OperationList lists operations matching p, newest first.
	OperationList(ctx context.Context, p *OperationListParams) ([]*Operation, error)
	// OperationUpdate stores op's status, result, error, attempts and times.
	// Returns CodeNotFound if op.ID is absent.
	OperationUpdate(ctx context.Context, op *Operation) error
	// OperationProgressGet returns the stored progress state of a chunked
	// operation, nil if it has none yet.
	OperationProgressGet(ctx context.Context, operationID int64) ([]byte, error)
	// OperationProgressPut stores a chunked operation's progress state.
	OperationProgressPut(ctx context.Context, operationID int64, state []byte, at time.Time) error
	// SpaceMembersDeactivateFirst removes the lowest n (by ID) of p's
	// member's active space memberships and returns them with their roles.
	SpaceMembersDeactivateFirst(ctx context.Context, p *DeactivateParams, n int) ([]*SpaceMember, error)
	// GroupMembersDeactivateFirst removes the lowest n of p's member's
	// active group memberships and returns them.
	GroupMembersDeactivateFirst(ctx context.Context, p *DeactivateParams, n int) ([]*GroupMember, error)
	// GrantsDeactivateFirst revokes the lowest n of p's member's active
	// direct grants and returns them as they were.
	GrantsDeactivateFirst(ctx context.Context, p *DeactivateParams, n int) ([]*Grant, error)

	// WebhookEndpointCreate inserts e and sets its ID.
	WebhookEndpointCreate(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpointGet finds an endpoint by UUID (or ID) in orgID (any
	// organization when 0). Returns CodeNotFound if absent.
	WebhookEndpointGet(ctx context.Context, orgID, id int64, uuid string) (*WebhookEndpoint, error)
	// WebhookEndpointList lists an organization's endpoints in ID order.
	WebhookEndpointList(ctx context.Context, orgID int64) ([]*WebhookEndpoint, error)
	// WebhookEndpointUpdate stores e's URL, events, description, status,
	// breaker state and DroppingSince (not Dropped or LastDroppedAt, which
	// only WebhookEndpointDropped changes).
	WebhookEndpointUpdate(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpointDropped counts one message not queued for endpoint id
	// at at, and reports whether it opened a run of drops (DroppingSince
	// was unset). Returns CodeNotFound if the endpoint is absent.
	WebhookEndpointDropped(ctx context.Context, id int64, at time.Time) (bool, error)
	// WebhookMessageCreate appends m to the outbox and sets its ID.
	WebhookMessageCreate(ctx context.Context, m *WebhookMessage) error
	// WebhookMessageGet returns the outbox message with that ID, or
	// CodeNotFound if absent.
	WebhookMessageGet(ctx context.Context, id int64) (*WebhookMessage, error)
	// WebhookDeliveryCreate inserts d and sets its ID.
	WebhookDeliveryCreate(ctx context.Context, d *WebhookDelivery) error
	// WebhookDeliveryGet finds a delivery by UUID (or ID) in orgID (any
	// organization when 0). Returns CodeNotFound if absent.
	WebhookDeliveryGet(ctx context.Context, orgID, id int64, uuid string) (*WebhookDelivery, error)
	// WebhookDeliveryList lists deliveries matching p, newest first.
	WebhookDeliveryList(ctx context.Context, p *WebhookDeliveryListParams) ([]*WebhookDelivery, error)
	// WebhookDeliveryUpdate stores d's status, attempts and last outcome.
	WebhookDeliveryUpdate(ctx context.Context, d *WebhookDelivery) error
	// WebhookDeliveryCountPending counts the endpoint's pending
	// deliveries, up to limit.
	WebhookDeliveryCountPending(ctx context.Context, endpointID int64, limit int) (int, error)
	// WebhookDeliveryPrev returns the newest pending delivery of the same
	// endpoint and order key (any key when empty) with an ID below
	// beforeID (any when 0), locking it. It decides who goes first in a
	// line. Returns CodeNotFound if there is none.
	WebhookDeliveryPrev(ctx context.Context, endpointID int64, orderKey string, beforeID int64) (*WebhookDelivery, error)
	// WebhookDeliveryNext returns the oldest pending delivery of the same
	// endpoint and order key (any key when empty) with an ID above
	// afterID. Returns CodeNotFound if there is none.
	WebhookDeliveryNext(ctx context.Context, endpointID int64, orderKey string, afterID int64) (*WebhookDelivery, error)
	// WebhookAttemptAppend records one delivery attempt and sets its ID.
	WebhookAttemptAppend(ctx context.Context, at *WebhookAttempt) error
	// WebhookAttemptList lists a delivery's attempts, oldest first.
	WebhookAttemptList(ctx context.Context, deliveryID int64) ([]*WebhookAttempt, error)

	// IdempotencyGet returns CodeNotFound if no record exists.
	IdempotencyGet(ctx context.Context, credentialID int64, key string) (*IdempotencyRecord, error)
	// IdempotencyPut stores r; CodeConflict if the key is taken.
	IdempotencyPut(ctx context.Context, r *IdempotencyRecord) error

	// SessionCreate inserts a console session and sets its ID.
	SessionCreate(ctx context.Context, s *Session) error
	// SessionGetByHash returns the session whose token hashes to hash,
	// with its member and credential, whatever their states; CodeNotFound
	// if absent.
	SessionGetByHash(ctx context.Context, hash []byte) (*SessionRow, error)
	// SessionGet finds a session of orgID by UUID; CodeNotFound if absent
	// or in another organization.
	SessionGet(ctx context.Context, orgID int64, uuid string) (*Session, error)
	// SessionList lists the sessions live at p.At (not revoked, expired or
	// idle, member active, credential not revoked), newest first.
	SessionList(ctx context.Context, p *SessionListParams) ([]*Session, error)
	// SessionTouch records that a session was used at at.
	SessionTouch(ctx context.Context, id int64, at time.Time) error
	// SessionRevoke ends a session at at; CodeNotFound if absent.
	SessionRevoke(ctx context.Context, id int64, at time.Time) error
	// SignInLinkCreate inserts l and sets its ID.
	SignInLinkCreate(ctx context.Context, l *SignInLink) error
	// SignInLinkUse marks the unused link whose token hashes to hash used
	// at at and returns it; CodeNotFound if absent or already used.
	SignInLinkUse(ctx context.Context, hash []byte, at time.Time) (*SignInLink, error)
	// OAuthTx holds OAuth clients, codes and tokens (oauth.go).
	OAuthTx
	// PlanCreate inserts a saved plan and sets its ID.
	PlanCreate(ctx context.Context, p *Plan) error
	// PlanGet finds a plan by UUID in p.OrgID, locking it with p.Lock.
	// Returns CodeNotFound if absent or in another organization.
	PlanGet(ctx context.Context, p *PlanGetParams) (*Plan, error)
	// PlanUpdate stores p's status, report or batch and execution.
	// Returns CodeNotFound if p.ID is absent.
	PlanUpdate(ctx context.Context, p *Plan) error

	// RemovalCreate keeps a removal call and sets its ID, or leaves it 0
	// when the engine writes the row only as the transaction commits
	// (then RemovalGet does not find it before the commit; RemovalCount
	// counts it).
	RemovalCreate(ctx context.Context, r *Removal) error
	// RemovalGet finds a removal by UUID in p.OrgID, locking it with p.Lock.
	// Returns CodeNotFound if absent or in another organization.
	RemovalGet(ctx context.Context, p *RemovalGetParams) (*Removal, error)
	// RemovalUpdate stores r's undo. Returns CodeNotFound if r.ID is absent.
	RemovalUpdate(ctx context.Context, r *Removal) error

	// RemovalCount counts the members removed by the organization's
	// removal calls made after since.
	RemovalCount(ctx context.Context, orgID int64, since time.Time) (int, error)
	// PolicyGet returns the organization's policy (no limits if none was set).
	PolicyGet(ctx context.Context, orgID int64) (*Policy, error)
	// PolicyPut replaces the organization's policy.
	PolicyPut(ctx context.Context, p *Policy) error

	// MemberSearch lists members matching p by keyset: after p.AfterID in
	// ID order, or the p.Limit just before p.BeforeID, still in ID order.
	MemberSearch(ctx context.Context, p *MemberSearchParams) ([]*Member, error)
	// DirectoryTx holds what identity providers (SCIM) read and write.
	DirectoryTx
}

// RefParams addresses an entity of an organization by ID or UUID.
type RefParams struct {
	OrgID int64
	ID    int64
	UUID  string
	Lock  bool // hold a row lock until the transaction ends
}

// MemberGetParams addresses a member by ID, UUID or e-mail.
type MemberGetParams struct {
	OrgID int64
	ID    int64
	UUID  string
	Email string
	Lock  bool // serialize changes to this member (FOR UPDATE)
	// Credential, with MemberGetActing, is the acting credential: the
	// actor's role is read only while it is not revoked, so the statement
	// that locks a removal's member also confirms a credential that came
	// from the credential cache (Actor.Unconfirmed).
	Credential int64
}

// MemberListParams filters MemberList.
type MemberListParams struct {
	OrgID   int64
	Status  Status // empty: all
	Role    Role   // empty: all
	Query   string // substring of e-mail or name
	AfterID int64
	Limit   int
	Offset  int // rows to skip after AfterID, for dialects that page by number
}

// MemberSetStatusParams switches a member's status.
type MemberSetStatusParams struct {
	ID     int64
	Status Status
	At     time.Time
	By     int64
}

// SpaceMemberGetParams addresses a space membership by ID or by pair.
type SpaceMemberGetParams struct {
	OrgID    int64
	ID       int64
	SpaceID  int64
	MemberID int64
}

// SpaceMemberListParams filters SpaceMemberList; zero fields match all.
type SpaceMemberListParams struct {
	OrgID    int64
	SpaceID  int64
	MemberID int64
	Status   Status
}

// SpaceRolesParams names roles of one space membership.
type SpaceRolesParams struct {
	SpaceMemberID int64
	Roles         []string
	At            time.Time
	By            int64
}

// GroupMemberGetParams addresses one group membership.
type GroupMemberGetParams struct {
	OrgID    int64
	GroupID  int64
	MemberID int64
}

// GroupMemberListParams filters GroupMemberList; zero fields match all.
type GroupMemberListParams struct {
	OrgID    int64
	GroupID  int64
	MemberID int64
	Status   Status
}

// DeactivateParams selects a member's active rows to remove: all of them,
// or those of one space or group.
type DeactivateParams struct {
	OrgID    int64
	MemberID int64
	SpaceID  int64 // SpaceMembersDeactivate: 0 means every space
	GroupID  int64 // GroupMembersDeactivate: 0 means every group
	Cause    string
	At       time.Time
	Limit    int // GrantsDeactivate, SpaceMembersDeactivate: return at most this many; 0 means all
	// Keys, when set, has GrantsDeactivate also set it to the keys of
	// the grants it revokes, as GrantKeys lists the member's active
	// direct grants with a limit of MaxReportLimit: a plan tag covers
	// them, and an engine may read them in the statement that revokes.
	Keys *[]GrantKey
}

// ReactivateParams selects a member's rows removed with Cause.
type ReactivateParams struct {
	OrgID    int64
	MemberID int64
	Cause    string
}

// GrantListParams filters GrantList; zero fields match all.
type GrantListParams struct {
	OrgID      int64
	MemberID   int64   // direct grants of this member
	GroupIDs   []int64 // grants through these groups
	ResourceID int64
	Status     Status
	Limit      int // GrantList: at most this many, the lowest IDs; 0 means all
}

// GrantKey is what a plan tag digests of a grant: a removal that reads
// 10,000 grants to tag its plan reads these four numbers of each, not the
// whole row.
type GrantKey struct {
	ID, ResourceID, MemberID, GroupID int64
}

// AccessParams asks whether a member can use a resource.
type AccessParams struct {
	OrgID      int64
	MemberID   int64
	ResourceID int64
}

// Access is the answer to an access check, with the reasons it holds.
type Access struct {
	ResourceID int64   `json:"resource_id"`
	Allowed    bool    `json:"allowed"`
	Direct     bool    `json:"direct"`
	GroupIDs   []int64 `json:"group_ids,omitempty"`
}

// BookingListParams filters BookingList; zero fields match all.
type BookingListParams struct {
	OrgID      int64
	MemberID   int64
	ResourceID int64
	Status     string
}

// MemberOffboardParams is what a removal of a member ends at once: the
// membership (Status), its space memberships (Spaces), its group
// memberships and direct grants (Off) and, unless nil, its future
// bookings. With GroupGrants it also lists and counts the active grants
// of the groups left, as GrantListCounted with their ids and Off.Limit
// does (no keys), for a report.
type MemberOffboardParams struct {
	Status      MemberSetStatusParams
	Spaces      DeactivateParams
	Off         DeactivateParams
	Bookings    *BookingsCancelParams
	GroupGrants bool
}

// MemberOffboarded is what MemberOffboard ended, as the calls it stands
// for return it.
type MemberOffboarded struct {
	Spaces            []*SpaceMember
	SpaceCount, Roles int
	Groups            []*GroupMember
	Grants            []*Grant
	GrantCount        int
	Bookings          []*Booking
	// GroupGrants and GroupGrantCount are the grants of the groups left,
	// with p.GroupGrants.
	GroupGrants     []*Grant
	GroupGrantCount int
}

// BookingsCancelParams selects the future bookings a removal cancels.
type BookingsCancelParams struct {
	OrgID             int64
	MemberID          int64
	After             time.Time
	OnlyWithoutAccess bool
	Reason            string
	At                time.Time
}

// EventListParams filters EventList. MemberID matches events about or by
// that member; every other filter matches its field exactly, and Since
// and Until bound At (Since included, Until excluded).
type EventListParams struct {
	OrgID     int64
	MemberID  int64
	ActorID   int64
	Action    string
	Outcome   string
	Interface string
	RequestID string
	Since     time.Time
	Until     time.Time
	BeforeID  int64 // page backwards from this id; 0 starts at the newest
	// Ascending lists oldest first, from AfterID on, for export.
	Ascending bool
	AfterID   int64
	Limit     int
}
