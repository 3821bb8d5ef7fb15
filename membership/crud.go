package membership

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxNameLen bounds every free-text name the service stores.
const maxNameLen = 200

func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(CodeInvalid, "%s is required", what)
	}
	return checkOptionalName(what, name)
}

// checkOptionalName bounds a name and refuses what no engine can store
// faithfully (PostgreSQL text cannot hold NUL) or no screen can show.
func checkOptionalName(what, name string) error {
	if len(name) > maxNameLen {
		return Errorf(CodeInvalid, "%s is longer than %d characters", what, maxNameLen)
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return Errorf(CodeInvalid, "%s must be valid text without control characters", what)
	}
	return nil
}

// ValidEmail checks an address the way the native API and dialects need:
// one plain address, no display name.
func ValidEmail(email string) error {
	if email == "" {
		return Errorf(CodeInvalid, "e-mail is required")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		return Errorf(CodeInvalid, "enter a valid email address")
	}
	return nil
}

// Bootstrap is the result of creating an organization with its owner.
type Bootstrap struct {
	Organization *Organization `json:"organization"`
	Owner        *Member       `json:"owner"`
	Credential   *Credential   `json:"credential"`
	Secret       string        `json:"secret"`
}

// BootstrapRequest names a new organization and its first owner.
type BootstrapRequest struct {
	OrgName    string
	OwnerEmail string
	OwnerName  string
}

// CreateOrganization creates an organization, its owner and an owner
// credential holding every scope. It is how an installation starts, so it
// takes no actor.
func (s *Service) CreateOrganization(ctx context.Context, req BootstrapRequest) (*Bootstrap, error) {
	if err := checkName("organization name", req.OrgName); err != nil {
		return nil, err
	}
	email := NormalizeEmail(req.OwnerEmail)
	if err := ValidEmail(email); err != nil {
		return nil, err
	}
	return mutate(ctx, s, Actor{Interface: "cli"}, "organization.create", func(tx Tx) (*Bootstrap, error) {
		now := s.now()
		org := &Organization{UUID: NewUUID(), Name: req.OrgName, CreatedAt: now}
		if err := tx.OrganizationCreate(ctx, org); err != nil {
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, email, req.OwnerName)
		if err != nil {
			return nil, err
		}
		owner := &Member{UUID: NewUUID(), OrgID: org.ID, UserID: user.ID, Email: user.Email, Name: user.Name,
			Role: RoleOwner, Status: StatusActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.MemberCreate(ctx, owner); err != nil {
			return nil, err
		}
		cred, secret := NewCredential(org.ID, owner.ID, "bootstrap", AllScopes(), nil, now)
		if err := tx.CredentialCreate(ctx, cred); err != nil {
			return nil, err
		}
		a := Actor{OrgID: org.ID, MemberID: owner.ID, Interface: "cli"}
		if _, err := s.record(ctx, tx, a, "organization.created", owner, nil, org); err != nil {
			return nil, err
		}
		return &Bootstrap{Organization: org, Owner: owner, Credential: cred, Secret: secret}, nil
	})
}

// Organization returns the actor's organization.
func (s *Service) Organization(ctx context.Context, a Actor) (*Organization, error) {
	return view(ctx, s, func(tx Tx) (*Organization, error) { return tx.OrganizationGet(ctx, a.OrgID) })
}

// OrganizationByUUID returns the organization with that UUID if it is the
// actor's, and CodeNotFound otherwise (promise 6).
func (s *Service) OrganizationByUUID(ctx context.Context, a Actor, uuid string) (*Organization, error) {
	org, err := s.Organization(ctx, a)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(org.UUID, uuid) {
		return nil, Errorf(CodeNotFound, "organization not found")
	}
	return org, nil
}

// AddMemberRequest adds a user (by e-mail) to the organization.
type AddMemberRequest struct {
	Email string
	Name  string
	Role  Role
}

// AddMember adds a user to the actor's organization, recording the actor as
// the member who added them. Admins cannot add owners.
func (s *Service) AddMember(ctx context.Context, a Actor, req AddMemberRequest) (*Member, error) {
	email := NormalizeEmail(req.Email)
	if err := ValidEmail(email); err != nil {
		return nil, s.refuse(ctx, a, "member.add", err)
	}
	if req.Role == "" {
		req.Role = RoleMember
	}
	if !req.Role.Valid() {
		return nil, s.refuse(ctx, a, "member.add", Errorf(CodeInvalid, "role must be owner, admin or member"))
	}
	if err := checkOptionalName("name", req.Name); err != nil {
		return nil, s.refuse(ctx, a, "member.add", err)
	}
	return mutate(ctx, s, a, "member.add", func(tx Tx) (*Member, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if req.Role == RoleOwner && actor.Role != RoleOwner {
			return nil, Errorf(CodeForbidden, "only an owner can add an owner")
		}
		if existing, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, Email: email}); err == nil {
			if existing.Active() {
				return nil, Errorf(CodeConflict, "%s is already a member", email)
			}
			return nil, Errorf(CodeConflict, "%s is a removed member: restore the membership instead", email)
		} else if ErrorCode(err) != CodeNotFound {
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, email, req.Name)
		if err != nil {
			return nil, err
		}
		now := s.now()
		m := &Member{UUID: NewUUID(), OrgID: a.OrgID, UserID: user.ID, Email: email, Name: req.Name,
			Role: req.Role, Status: StatusActive, AddedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
		if err := tx.MemberCreate(ctx, m); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "member.added", m, nil, m); err != nil {
			return nil, err
		}
		return m, nil
	})
}

// UpdateMemberRequest changes a member's name or role; empty fields stay.
type UpdateMemberRequest struct {
	Member MemberRef
	Name   *string
	Role   Role
	// ActiveOnly refuses a removed member with ErrMemberNotFound, for
	// dialects in which a removed user is no longer in the organization.
	ActiveOnly bool
}

// UpdateMember changes a member's name or organization role.
func (s *Service) UpdateMember(ctx context.Context, a Actor, req UpdateMemberRequest) (*Member, error) {
	if req.Role != "" && !req.Role.Valid() {
		return nil, s.refuse(ctx, a, "member.update", Errorf(CodeInvalid, "role must be owner, admin or member"))
	}
	if req.Name != nil {
		if err := checkOptionalName("name", *req.Name); err != nil {
			return nil, s.refuse(ctx, a, "member.update", err)
		}
	}
	return mutate(ctx, s, a, "member.update", func(tx Tx) (*Member, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target, err := s.lockMember(ctx, tx, a.OrgID, req.Member)
		if err != nil {
			return nil, err
		}
		if req.ActiveOnly && !target.Active() {
			return nil, ErrMemberNotFound
		}
		if actor.ID != target.ID || req.Role != "" {
			if err := mayManage(actor); err != nil {
				return nil, err
			}
			if (req.Role == RoleOwner || target.Role == RoleOwner) && actor.Role != RoleOwner {
				return nil, Errorf(CodeForbidden, "only an owner can change an owner")
			}
		}
		if target.Role == RoleOwner && req.Role != "" && req.Role != RoleOwner {
			if err := keepAnOwner(ctx, tx, a.OrgID, target.ID); err != nil {
				return nil, err
			}
		}
		before := *target
		if req.Name != nil {
			target.Name = *req.Name
		}
		if req.Role != "" {
			target.Role = req.Role
		}
		target.UpdatedAt = s.now()
		if err := tx.MemberUpdate(ctx, target); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "member.updated", target, &before, target); err != nil {
			return nil, err
		}
		return target, nil
	})
}

// Member returns one member of the actor's organization.
func (s *Service) Member(ctx context.Context, a Actor, ref MemberRef) (*Member, error) {
	return view(ctx, s, func(tx Tx) (*Member, error) {
		if ref.Raw != "" {
			return nil, ErrMemberNotFound
		}
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: ref.ID, UUID: ref.UUID, Email: NormalizeEmail(ref.Email)})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrMemberNotFound
		}
		return m, err
	})
}

// ListLimit clamps a client's page size.
func ListLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

// Members lists the actor's organization's members.
func (s *Service) Members(ctx context.Context, a Actor, p MemberListParams) ([]*Member, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Member, error) { return tx.MemberList(ctx, &p) })
}

// MemberPage is one numbered page of members and how many match in all.
type MemberPage struct {
	Members []*Member
	Total   int
}

// MemberPageOf lists the members matching p (paged by p.Offset and p.Limit)
// and counts them all, in one snapshot so the two agree.
func (s *Service) MemberPageOf(ctx context.Context, a Actor, p MemberListParams) (*MemberPage, error) {
	p.OrgID, p.Limit, p.Offset = a.OrgID, ListLimit(p.Limit), max(p.Offset, 0)
	return view(ctx, s, func(tx Tx) (*MemberPage, error) {
		members, err := tx.MemberList(ctx, &p)
		if err != nil {
			return nil, err
		}
		total, err := tx.MemberCount(ctx, &p)
		if err != nil {
			return nil, err
		}
		return &MemberPage{Members: members, Total: total}, nil
	})
}

// MemberHistory is a member with every membership period and its space
// and group memberships, active or removed.
type MemberHistory struct {
	Member   *Member         `json:"member"`
	Periods  []*MemberPeriod `json:"periods"`
	Spaces   []*SpaceMember  `json:"spaces"`
	Groups   []*GroupMember  `json:"groups"`
	Bookings []*Booking      `json:"bookings"`
}

// History returns everything memberd keeps about a member's membership.
func (s *Service) History(ctx context.Context, a Actor, ref MemberRef) (*MemberHistory, error) {
	m, err := s.Member(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	return view(ctx, s, func(tx Tx) (*MemberHistory, error) {
		h := &MemberHistory{Member: m}
		var err error
		if h.Periods, err = tx.MemberPeriodList(ctx, m.ID); err != nil {
			return nil, err
		}
		if h.Spaces, err = tx.SpaceMemberList(ctx, &SpaceMemberListParams{OrgID: a.OrgID, MemberID: m.ID}); err != nil {
			return nil, err
		}
		if h.Groups, err = tx.GroupMemberList(ctx, &GroupMemberListParams{OrgID: a.OrgID, MemberID: m.ID}); err != nil {
			return nil, err
		}
		h.Bookings, err = tx.BookingList(ctx, &BookingListParams{OrgID: a.OrgID, MemberID: m.ID})
		return h, err
	})
}

// CreateSpace creates a space.
func (s *Service) CreateSpace(ctx context.Context, a Actor, name string) (*Space, error) {
	if err := checkName("space name", name); err != nil {
		return nil, s.refuse(ctx, a, "space.create", err)
	}
	return mutate(ctx, s, a, "space.create", func(tx Tx) (*Space, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		sp := &Space{UUID: NewUUID(), OrgID: a.OrgID, Name: name, CreatedAt: s.now()}
		if err := tx.SpaceCreate(ctx, sp); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, "space.created", nil, nil, sp)
		return sp, err
	})
}

// Spaces lists the organization's spaces.
func (s *Service) Spaces(ctx context.Context, a Actor) ([]*Space, error) {
	return view(ctx, s, func(tx Tx) ([]*Space, error) { return tx.SpaceList(ctx, a.OrgID) })
}

// Space returns one space.
func (s *Service) Space(ctx context.Context, a Actor, ref Ref) (*Space, error) {
	return view(ctx, s, func(tx Tx) (*Space, error) { return tx.SpaceGet(ctx, ref.params(a.OrgID)) })
}

// SpaceMembers lists a space's memberships; status empty lists all.
func (s *Service) SpaceMembers(ctx context.Context, a Actor, space Ref, status Status) ([]*SpaceMember, error) {
	return view(ctx, s, func(tx Tx) ([]*SpaceMember, error) {
		sp, err := tx.SpaceGet(ctx, space.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		return tx.SpaceMemberList(ctx, &SpaceMemberListParams{OrgID: a.OrgID, SpaceID: sp.ID, Status: status})
	})
}

// SpaceMembership returns one space membership by its ID.
func (s *Service) SpaceMembership(ctx context.Context, a Actor, id int64) (*SpaceMember, error) {
	return view(ctx, s, func(tx Tx) (*SpaceMember, error) {
		return tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: id})
	})
}

// AddSpaceMemberRequest adds a member to a space with roles.
type AddSpaceMemberRequest struct {
	Space  Ref
	Member MemberRef
	Roles  []string
}

// AddSpaceMember adds an active member to a space. Owners, admins and the
// space's own admins may add; the actor is recorded as the one who added.
func (s *Service) AddSpaceMember(ctx context.Context, a Actor, req AddSpaceMemberRequest) (*SpaceMember, error) {
	roles := []string{}
	if len(req.Roles) > 0 {
		var err error
		if roles, err = CleanRoles(req.Roles); err != nil {
			return nil, s.refuse(ctx, a, "space_member.add", err)
		}
		// A role set reads back sorted; answer in the same order.
		slices.Sort(roles)
	}
	return mutate(ctx, s, a, "space_member.add", func(tx Tx) (*SpaceMember, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		sp, err := tx.SpaceGet(ctx, req.Space.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		if err := mayManage(actor); err != nil {
			actorSpace, gerr := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, SpaceID: sp.ID, MemberID: actor.ID})
			if gerr != nil || actorSpace.Status != StatusActive || !actorSpace.HasRole(SpaceAdminRole) {
				return nil, err
			}
		}
		target, err := s.lockMember(ctx, tx, a.OrgID, req.Member)
		if err != nil {
			return nil, err
		}
		if !target.Active() {
			return nil, Errorf(CodeConflict, "the member is removed from the organization")
		}
		sm := &SpaceMember{UUID: NewUUID(), OrgID: a.OrgID, SpaceID: sp.ID, MemberID: target.ID, Email: target.Email,
			Roles: roles, Status: StatusActive, AddedBy: actor.ID, CreatedAt: s.now()}
		if err := tx.SpaceMemberAdd(ctx, sm); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "space_member.added", target, nil, sm)
		return sm, err
	})
}

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, a Actor, name string) (*Group, error) {
	if err := checkName("group name", name); err != nil {
		return nil, s.refuse(ctx, a, "group.create", err)
	}
	return mutate(ctx, s, a, "group.create", func(tx Tx) (*Group, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		g := &Group{UUID: NewUUID(), OrgID: a.OrgID, Name: name, CreatedAt: s.now()}
		if err := tx.GroupCreate(ctx, g); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, "group.created", nil, nil, g)
		return g, err
	})
}

// Groups lists the organization's groups.
func (s *Service) Groups(ctx context.Context, a Actor) ([]*Group, error) {
	return view(ctx, s, func(tx Tx) ([]*Group, error) { return tx.GroupList(ctx, a.OrgID) })
}

// GroupMembers lists a group's memberships; status empty lists all.
func (s *Service) GroupMembers(ctx context.Context, a Actor, group Ref, status Status) ([]*GroupMember, error) {
	return view(ctx, s, func(tx Tx) ([]*GroupMember, error) {
		g, err := tx.GroupGet(ctx, group.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		return tx.GroupMemberList(ctx, &GroupMemberListParams{OrgID: a.OrgID, GroupID: g.ID, Status: status})
	})
}

// AddGroupMember adds an active member to a group.
func (s *Service) AddGroupMember(ctx context.Context, a Actor, group Ref, member MemberRef) (*GroupMember, error) {
	return mutate(ctx, s, a, "group_member.add", func(tx Tx) (*GroupMember, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		g, err := tx.GroupGet(ctx, group.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		target, err := s.lockMember(ctx, tx, a.OrgID, member)
		if err != nil {
			return nil, err
		}
		if !target.Active() {
			return nil, Errorf(CodeConflict, "the member is removed from the organization")
		}
		gm := &GroupMember{OrgID: a.OrgID, GroupID: g.ID, MemberID: target.ID, Status: StatusActive, AddedBy: actor.ID, CreatedAt: s.now()}
		if err := tx.GroupMemberAdd(ctx, gm); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "group_member.added", target, nil, gm)
		return gm, err
	})
}

// CreateResourceRequest creates a resource, optionally inside a space.
type CreateResourceRequest struct {
	Kind  string
	Name  string
	Space Ref
}

// ResourceKinds are the kinds of resource memberd grants access to.
var ResourceKinds = []string{"desk", "room", "device", "lock", "parking"}

// CreateResource creates a resource.
func (s *Service) CreateResource(ctx context.Context, a Actor, req CreateResourceRequest) (*Resource, error) {
	if err := checkName("resource name", req.Name); err != nil {
		return nil, s.refuse(ctx, a, "resource.create", err)
	}
	valid := false
	for _, k := range ResourceKinds {
		valid = valid || k == req.Kind
	}
	if !valid {
		return nil, s.refuse(ctx, a, "resource.create", Errorf(CodeInvalid, "kind must be one of %s", strings.Join(ResourceKinds, ", ")))
	}
	return mutate(ctx, s, a, "resource.create", func(tx Tx) (*Resource, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		r := &Resource{UUID: NewUUID(), OrgID: a.OrgID, Kind: req.Kind, Name: req.Name, CreatedAt: s.now()}
		if req.Space != (Ref{}) {
			sp, err := tx.SpaceGet(ctx, req.Space.params(a.OrgID))
			if err != nil {
				return nil, err
			}
			r.SpaceID = sp.ID
		}
		if err := tx.ResourceCreate(ctx, r); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, "resource.created", nil, nil, r)
		return r, err
	})
}

// Resources lists the organization's resources.
func (s *Service) Resources(ctx context.Context, a Actor) ([]*Resource, error) {
	return view(ctx, s, func(tx Tx) ([]*Resource, error) { return tx.ResourceList(ctx, a.OrgID) })
}

// CreateGrantRequest grants a resource to a member directly or to a group.
type CreateGrantRequest struct {
	Resource Ref
	Member   *MemberRef
	Group    *Ref
}

// CreateGrant grants access to a resource.
func (s *Service) CreateGrant(ctx context.Context, a Actor, req CreateGrantRequest) (*Grant, error) {
	if (req.Member == nil) == (req.Group == nil) {
		return nil, s.refuse(ctx, a, "grant.create", Errorf(CodeInvalid, "a grant names exactly one of member or group"))
	}
	return mutate(ctx, s, a, "grant.create", func(tx Tx) (*Grant, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		res, err := tx.ResourceGet(ctx, req.Resource.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		g := &Grant{UUID: NewUUID(), OrgID: a.OrgID, ResourceID: res.ID, Status: StatusActive, CreatedAt: s.now()}
		var target *Member
		if req.Member != nil {
			if target, err = s.lockMember(ctx, tx, a.OrgID, *req.Member); err != nil {
				return nil, err
			}
			if !target.Active() {
				return nil, Errorf(CodeConflict, "the member is removed from the organization")
			}
			g.MemberID = target.ID
		} else {
			grp, err := tx.GroupGet(ctx, req.Group.params(a.OrgID))
			if err != nil {
				return nil, err
			}
			g.GroupID = grp.ID
		}
		if err := tx.GrantCreate(ctx, g); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "grant.created", target, nil, g)
		return g, err
	})
}

// Grants lists grants matching p within the actor's organization.
func (s *Service) Grants(ctx context.Context, a Actor, p GrantListParams) ([]*Grant, error) {
	p.OrgID = a.OrgID
	return view(ctx, s, func(tx Tx) ([]*Grant, error) { return tx.GrantList(ctx, &p) })
}

// CheckAccess answers whether a member can use a resource right now,
// reading committed state only: no cache can serve a revoked grant.
func (s *Service) CheckAccess(ctx context.Context, a Actor, member MemberRef, resource Ref) (*Access, error) {
	return view(ctx, s, func(tx Tx) (*Access, error) {
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: member.ID, UUID: member.UUID, Email: NormalizeEmail(member.Email)})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrMemberNotFound
		} else if err != nil {
			return nil, err
		}
		r, err := tx.ResourceGet(ctx, resource.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		return tx.AccessCheck(ctx, &AccessParams{OrgID: a.OrgID, MemberID: m.ID, ResourceID: r.ID})
	})
}

// MaxBookingLength bounds one booking.
const MaxBookingLength = 31 * 24 * time.Hour

// CreateBookingRequest books a resource; Member defaults to the actor.
type CreateBookingRequest struct {
	Resource Ref
	Member   *MemberRef
	StartsAt time.Time
	EndsAt   time.Time
}

// CreateBooking books a resource. The member must be active and have
// access at booking time; owners and admins may book for others.
func (s *Service) CreateBooking(ctx context.Context, a Actor, req CreateBookingRequest) (*Booking, error) {
	if !req.EndsAt.After(req.StartsAt) {
		return nil, s.refuse(ctx, a, "booking.create", Errorf(CodeInvalid, "ends_at must be after starts_at"))
	}
	if req.EndsAt.Sub(req.StartsAt) > MaxBookingLength {
		return nil, s.refuse(ctx, a, "booking.create", Errorf(CodeInvalid, "a booking lasts at most %d days", int(MaxBookingLength.Hours()/24)))
	}
	return mutate(ctx, s, a, "booking.create", func(tx Tx) (*Booking, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target := actor
		if req.Member != nil {
			if target, err = s.lockMember(ctx, tx, a.OrgID, *req.Member); err != nil {
				return nil, err
			}
			if target.ID != actor.ID {
				if err := mayManage(actor); err != nil {
					return nil, err
				}
			}
		}
		if !target.Active() {
			return nil, Errorf(CodeForbidden, "the member is removed and cannot make bookings")
		}
		res, err := tx.ResourceGet(ctx, req.Resource.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		access, err := tx.AccessCheck(ctx, &AccessParams{OrgID: a.OrgID, MemberID: target.ID, ResourceID: res.ID})
		if err != nil {
			return nil, err
		}
		if !access.Allowed {
			return nil, Errorf(CodeForbidden, "the member has no access to this resource")
		}
		b := &Booking{UUID: NewUUID(), OrgID: a.OrgID, ResourceID: res.ID, MemberID: target.ID,
			StartsAt: req.StartsAt.UTC().Truncate(time.Microsecond), EndsAt: req.EndsAt.UTC().Truncate(time.Microsecond),
			Status: BookingActive, CreatedAt: s.now()}
		if err := tx.BookingCreate(ctx, b); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "booking.created", target, nil, b)
		return b, err
	})
}

// Bookings lists bookings within the actor's organization.
func (s *Service) Bookings(ctx context.Context, a Actor, p BookingListParams) ([]*Booking, error) {
	p.OrgID = a.OrgID
	return view(ctx, s, func(tx Tx) ([]*Booking, error) { return tx.BookingList(ctx, &p) })
}

// Events lists the organization's audit events, newest first.
func (s *Service) Events(ctx context.Context, a Actor, p EventListParams) ([]*Event, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Event, error) { return tx.EventList(ctx, &p) })
}
