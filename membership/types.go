// Package membership is memberd's core: the nouns (organizations, members,
// spaces, groups, resources, grants, bookings, events, credentials), the
// rules of who may take what away from whom, and the removal engine. It
// knows nothing of HTTP or SQL: adapters call a *Service, and the Service
// reaches storage only through the Store interface.
package membership

import (
	"encoding/json"
	"time"
)

// Role is a member's role in an organization.
type Role string

// Organization roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Valid reports whether r is one of the organization roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// Status is the state of a membership, grant or space/group membership.
// Removal is a state change: rows are never deleted (promise 3).
type Status string

// Membership states.
const (
	StatusActive  Status = "active"
	StatusRemoved Status = "removed"
)

// CauseMemberRemoved marks space memberships, group memberships and grants
// that were switched off because the whole organization membership was
// removed; restoring the member switches exactly those back on.
const CauseMemberRemoved = "member_removed"

// CauseDirect marks a row removed by a removal aimed at it.
const CauseDirect = "removed"

// CauseMemberRecreated marks what a member's removal switched off once a
// provider created the member's userName again after deleting it: the
// rows stay as history, and no restore switches them back on.
const CauseMemberRecreated = "member_recreated"

// SpaceAdminRole is the space role that lets a member remove the space
// members they added (HighQ's site-admin rule).
const SpaceAdminRole = "admin"

// Ref addresses a space, group or resource by ID or UUID.
type Ref struct {
	ID   int64  `json:"id,omitempty"`
	UUID string `json:"uuid,omitempty"`
}

func (r Ref) params(orgID int64) *RefParams { return &RefParams{OrgID: orgID, ID: r.ID, UUID: r.UUID} }

// Organization is a tenant. Dialects address it by ID or by UUID.
type Organization struct {
	ID        int64     `json:"id"`
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person, identified globally by a lower-case e-mail address.
type User struct {
	ID        int64     `json:"id"`
	UUID      string    `json:"uuid"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Member is a user's membership of an organization.
type Member struct {
	ID        int64      `json:"id"`
	UUID      string     `json:"uuid"`
	OrgID     int64      `json:"organization_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	Status    Status     `json:"status"`
	AddedBy   int64      `json:"added_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	RemovedBy int64      `json:"removed_by,omitempty"`
}

// Active reports whether the membership is in force.
func (m *Member) Active() bool { return m.Status == StatusActive }

// MemberPeriod is one span during which a membership was active. Every
// period is kept; at most one per member is open.
type MemberPeriod struct {
	MemberID  int64      `json:"member_id"`
	StartedAt time.Time  `json:"started_at"`
	StartedBy int64      `json:"started_by,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndedBy   int64      `json:"ended_by,omitempty"`
}

// Space is a site or workspace inside an organization.
type Space struct {
	ID        int64     `json:"id"`
	UUID      string    `json:"uuid"`
	OrgID     int64     `json:"organization_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// SpaceMember is a member's membership of a space with its set of roles.
type SpaceMember struct {
	ID        int64      `json:"id"`
	UUID      string     `json:"uuid"`
	OrgID     int64      `json:"organization_id"`
	SpaceID   int64      `json:"space_id"`
	MemberID  int64      `json:"member_id"`
	Email     string     `json:"email"`
	Roles     []string   `json:"roles"`
	Status    Status     `json:"status"`
	AddedBy   int64      `json:"added_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	Cause     string     `json:"cause,omitempty"`
}

// HasRole reports whether the space membership holds role.
func (sm *SpaceMember) HasRole(role string) bool {
	for _, r := range sm.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Group is a user group inside an organization.
type Group struct {
	ID        int64     `json:"id"`
	UUID      string    `json:"uuid"`
	OrgID     int64     `json:"organization_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// GroupMember is a member's membership of a group.
type GroupMember struct {
	ID        int64      `json:"id"`
	OrgID     int64      `json:"organization_id"`
	GroupID   int64      `json:"group_id"`
	MemberID  int64      `json:"member_id"`
	Status    Status     `json:"status"`
	AddedBy   int64      `json:"added_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	Cause     string     `json:"cause,omitempty"`
}

// Resource is something access is granted to: a desk, room, device or lock.
// A resource inside a space is reachable only by the space's active members.
type Resource struct {
	ID        int64     `json:"id"`
	UUID      string    `json:"uuid"`
	OrgID     int64     `json:"organization_id"`
	SpaceID   int64     `json:"space_id,omitempty"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Grant gives access to a resource, either directly to a member (MemberID)
// or through a group (GroupID); exactly one of the two is set.
type Grant struct {
	ID         int64      `json:"id"`
	UUID       string     `json:"uuid"`
	OrgID      int64      `json:"organization_id"`
	ResourceID int64      `json:"resource_id"`
	MemberID   int64      `json:"member_id,omitempty"`
	GroupID    int64      `json:"group_id,omitempty"`
	Status     Status     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Cause      string     `json:"cause,omitempty"`
}

// Origin names where a grant's access comes from: "direct" or "group".
func (g *Grant) Origin() string {
	if g.GroupID != 0 {
		return "group"
	}
	return "direct"
}

// Booking states.
const (
	BookingActive    = "active"
	BookingCancelled = "cancelled"
)

// Booking is a member's reservation of a resource for [StartsAt, EndsAt).
type Booking struct {
	ID           int64      `json:"id"`
	UUID         string     `json:"uuid"`
	OrgID        int64      `json:"organization_id"`
	ResourceID   int64      `json:"resource_id"`
	MemberID     int64      `json:"member_id"`
	StartsAt     time.Time  `json:"starts_at"`
	EndsAt       time.Time  `json:"ends_at"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
	CancelReason string     `json:"cancel_reason,omitempty"`
}

// Event outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
)

// Event is an append-only audit record of a change or a refused attempt.
type Event struct {
	ID             int64           `json:"id"`
	UUID           string          `json:"uuid"`
	OrgID          int64           `json:"organization_id,omitempty"`
	At             time.Time       `json:"at"`
	ActorMemberID  int64           `json:"actor_member_id,omitempty"`
	CredentialID   int64           `json:"credential_id,omitempty"`
	Interface      string          `json:"interface"`
	RequestID      string          `json:"request_id,omitempty"`
	Action         string          `json:"action"`
	Outcome        string          `json:"outcome"`
	TargetType     string          `json:"target_type,omitempty"`
	TargetID       int64           `json:"target_id,omitempty"`
	TargetMemberID int64           `json:"target_member_id,omitempty"`
	TargetRef      string          `json:"target_ref,omitempty" doc:"The reference the client sent for the target (an id, uuid or e-mail), kept when it names nothing in the organization."`
	Message        string          `json:"message,omitempty"`
	Before         json.RawMessage `json:"before,omitempty"`
	After          json.RawMessage `json:"after,omitempty"`
	Seq            int64           `json:"seq,omitempty" doc:"The event's place in its organization's hash chain, from 1."`
	PrevHash       string          `json:"prev_hash,omitempty" doc:"Hash of the organization's previous event (empty for the first)."`
	Hash           string          `json:"hash,omitempty" doc:"SHA-256 (hex) of the event's canonical content, which includes prev_hash."`
}

// Credential is an API key bound to one organization and one acting
// member. Only a hash of its secret is stored.
type Credential struct {
	ID        int64      `json:"id"`
	UUID      string     `json:"uuid"`
	OrgID     int64      `json:"organization_id"`
	MemberID  int64      `json:"member_id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Hash      []byte     `json:"-"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// LastUsedAt is when it last authenticated a request, to the minute.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// HasScope reports whether the credential carries scope.
func (c *Credential) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// IdempotencyRecord remembers the result of a mutating call made with an
// Idempotency-Key so that a retry gets the same answer and no second effect.
type IdempotencyRecord struct {
	CredentialID int64
	Key          string
	RequestHash  string
	Result       json.RawMessage
	CreatedAt    time.Time
}
