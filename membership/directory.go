package membership

import (
	"context"
	"errors"
	"strings"
	"time"
)

// This file is the core's side of directory provisioning (SCIM 2.0 in
// package scim): what an identity provider knows of members and groups
// beyond memberd's own fields, a neutral filter model the store turns into
// SQL, and the changes a provider makes. A provider's deactivation is the
// same removal every interface makes; only the Actor's Interface differs.

// DirectoryTx is the part of Tx that serves identity providers.
type DirectoryTx interface {
	// DirectoryUserList lists the members a provider sees (all but those
	// it deleted and that stayed removed) matching p, ordered by p.SortBy
	// then ID, from p.Offset for p.Limit; and counts every match.
	// Returns CodeInvalid for a filter naming a field users lack.
	DirectoryUserList(ctx context.Context, p *DirectoryQuery) ([]*DirectoryUser, int, error)
	// MemberProfileGet returns a member's profile; one never written is
	// the zero profile with MemberID and OrgID set.
	MemberProfileGet(ctx context.Context, orgID, memberID int64) (*MemberProfile, error)
	// MemberProfilePut writes p, replacing any earlier profile.
	MemberProfilePut(ctx context.Context, p *MemberProfile) error
	// MemberRemovalRetire marks the member's space memberships, group
	// memberships and direct grants removed with p.Cause as p.Retired, so
	// that no restore (which selects by cause) switches them back on.
	MemberRemovalRetire(ctx context.Context, p *MemberRemovalRetireParams) error
	// MemberUserSet moves membership memberID to user userID (a changed
	// e-mail). Returns CodeConflict if that user already has a membership
	// of the organization.
	MemberUserSet(ctx context.Context, memberID, userID int64, at time.Time) error
	// DirectoryGroupList lists the groups a provider sees (all but those it
	// deleted) matching p, without their members, and counts every match.
	DirectoryGroupList(ctx context.Context, p *DirectoryQuery) ([]*DirectoryGroup, int, error)
	// GroupProfileGet returns a group's profile; one never written has
	// GroupID and OrgID set and UpdatedAt zero.
	GroupProfileGet(ctx context.Context, orgID, groupID int64) (*GroupProfile, error)
	// GroupProfilePut writes p and g's name.
	GroupProfilePut(ctx context.Context, g *Group, p *GroupProfile) error
	// MemberGroupList lists the groups a provider sees (all but those it
	// deleted) in which each of p.MemberIDs is an active member, in one read
	// whatever their number, ordered by member then group ID. Members and
	// groups of other organizations are never listed.
	MemberGroupList(ctx context.Context, p *MemberGroupListParams) ([]*MemberGroup, error)
}

// MemberRemovalRetireParams selects a member's rows removed with Cause,
// to be marked Retired.
type MemberRemovalRetireParams struct {
	OrgID    int64
	MemberID int64
	Cause    string
	Retired  string
}

// MemberGroupListParams names the members of one organization whose
// groups MemberGroupList reads.
type MemberGroupListParams struct {
	OrgID     int64
	MemberIDs []int64
}

// MemberGroup is one active membership of a member in a group.
type MemberGroup struct {
	MemberID int64
	Group    *Group
}

// MemberProfile is what an identity provider keeps about a member beyond
// the e-mail and name memberd owns.
type MemberProfile struct {
	MemberID   int64
	OrgID      int64
	ExternalID string
	GivenName  string
	FamilyName string
	// UserName is the userName as the provider sent it, when it differs
	// from the member's e-mail (lower case) in case alone; "" otherwise.
	UserName string
	// DeletedAt is when the provider deleted the member: the membership
	// was removed and the provider no longer sees it unless it is restored.
	DeletedAt *time.Time
}

// GroupProfile is what an identity provider keeps about a group.
type GroupProfile struct {
	GroupID    int64
	OrgID      int64
	ExternalID string
	UpdatedAt  time.Time // zero until a provider changed the group
	DeletedAt  *time.Time
}

// DirectoryUser is a member as an identity provider sees it. Groups are
// the groups a provider sees that it is an active member of, in ID order,
// loaded only when asked for (nil otherwise); a removed member has none,
// as its removal ended its group memberships.
type DirectoryUser struct {
	Member  *Member
	Profile *MemberProfile
	Groups  []*Group
}

// DirectoryGroup is a group as an identity provider sees it. Members are
// its active members, loaded only when asked for.
type DirectoryGroup struct {
	Group   *Group
	Profile *GroupProfile
	Members []*Member
}

// LastModified is when the group or its provider-made changes last changed.
func (g *DirectoryGroup) LastModified() time.Time {
	if g.Profile.UpdatedAt.After(g.Group.CreatedAt) {
		return g.Profile.UpdatedAt
	}
	return g.Group.CreatedAt
}

// Field is an attribute a directory filter or sort can name.
type Field string

// Directory fields. Users have every field but FieldGroupName and
// FieldMember; groups have FieldUUID, FieldExternalID, FieldGroupName,
// FieldMember, FieldCreated and FieldUpdated.
const (
	FieldUUID       Field = "uuid"
	FieldEmail      Field = "email" // compared case-insensitively
	FieldExternalID Field = "external_id"
	FieldName       Field = "name"
	FieldGivenName  Field = "given_name"
	FieldFamilyName Field = "family_name"
	FieldActive     Field = "active"
	FieldCreated    Field = "created"
	FieldUpdated    Field = "updated"
	FieldGroupName  Field = "group_name"
	// FieldMember matches groups with an active member of this UUID (eq only).
	FieldMember Field = "member"
	// FieldGroupID matches members active in the group of this ID (an
	// int64; eq only).
	FieldGroupID Field = "group_id"
	// FieldGroup matches active members of the group of this UUID, among
	// the groups providers see (eq only): a SCIM User's groups.value.
	FieldGroup Field = "group"
)

// FilterOp is a directory filter's operator.
type FilterOp string

// Filter operators: the SCIM comparison operators, the logical ones, and
// FilterNothing, which matches no row (a filter on an attribute memberd
// knows but never holds, such as a home e-mail).
const (
	FilterEq      FilterOp = "eq"
	FilterNe      FilterOp = "ne"
	FilterCo      FilterOp = "co"
	FilterSw      FilterOp = "sw"
	FilterEw      FilterOp = "ew"
	FilterPr      FilterOp = "pr"
	FilterGt      FilterOp = "gt"
	FilterGe      FilterOp = "ge"
	FilterLt      FilterOp = "lt"
	FilterLe      FilterOp = "le"
	FilterAnd     FilterOp = "and"
	FilterOr      FilterOp = "or"
	FilterNot     FilterOp = "not"
	FilterNothing FilterOp = "nothing"
)

// Filter is a condition on directory rows, evaluated by the store in SQL.
// Value is a string, a bool (FieldActive) or a time.Time (FieldCreated,
// FieldUpdated); Sub holds the operands of and, or (two) and not (one).
// CaseExact asks for exact string comparison; otherwise strings compare
// case-insensitively (RFC 7643 §2.2's caseExact).
type Filter struct {
	Op        FilterOp
	Field     Field
	Value     any
	CaseExact bool
	Sub       []*Filter
}

// DirectoryQuery selects a page of directory users or groups.
type DirectoryQuery struct {
	OrgID      int64
	Filter     *Filter // nil matches every row
	SortBy     Field   // "" sorts by ID
	Descending bool
	Offset     int
	Limit      int
	// IncludeDeleted lists members a provider deleted, too.
	IncludeDeleted bool
}

// DirectoryUserPage is one page of directory users and the number of
// matches in all, read in one snapshot.
type DirectoryUserPage struct {
	Users []*DirectoryUser
	Total int
}

// DirectoryUsers lists the members an identity provider sees, with their
// groups when withGroups (one read for the page, in the same snapshot).
func (s *Service) DirectoryUsers(ctx context.Context, a Actor, q DirectoryQuery, withGroups bool) (*DirectoryUserPage, error) {
	q.OrgID, q.Offset = a.OrgID, max(q.Offset, 0)
	if q.Limit < 0 {
		q.Limit = 0
	}
	return view(ctx, s, func(tx Tx) (*DirectoryUserPage, error) {
		if q.Limit == 0 { // a count alone (RFC 7644 §3.4.2.4: count=0)
			_, n, err := tx.DirectoryUserList(ctx, &DirectoryQuery{OrgID: q.OrgID, Filter: q.Filter, Limit: 1})
			return &DirectoryUserPage{Users: []*DirectoryUser{}, Total: n}, err
		}
		users, n, err := tx.DirectoryUserList(ctx, &q)
		if err == nil && withGroups {
			err = userGroups(ctx, tx, q.OrgID, users...)
		}
		return &DirectoryUserPage{Users: users, Total: n}, err
	})
}

// userGroups sets the Groups of users with one read. Removed members are
// not asked about: their removal ended their group memberships, so a page
// of removed members (or the answer to a deactivation) costs no read.
func userGroups(ctx context.Context, tx Tx, orgID int64, users ...*DirectoryUser) error {
	byID := make(map[int64]*DirectoryUser, len(users))
	var ids []int64
	for _, u := range users {
		u.Groups = []*Group{}
		if u.Member.Active() {
			byID[u.Member.ID] = u
			ids = append(ids, u.Member.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	mgs, err := tx.MemberGroupList(ctx, &MemberGroupListParams{OrgID: orgID, MemberIDs: ids})
	if err != nil {
		return err
	}
	for _, mg := range mgs {
		if u := byID[mg.MemberID]; u != nil {
			u.Groups = append(u.Groups, mg.Group)
		}
	}
	return nil
}

// withGroups passes on a change's answer with its groups read.
func withGroups(ctx context.Context, tx Tx, orgID int64) func(*DirectoryUser, error) (*DirectoryUser, error) {
	return func(u *DirectoryUser, err error) (*DirectoryUser, error) {
		if err != nil {
			return nil, err
		}
		return u, userGroups(ctx, tx, orgID, u)
	}
}

// DirectoryUser returns one member by UUID as a provider sees it, with its
// groups; ErrMemberNotFound if absent, another organization's, or deleted
// by a provider and still removed.
func (s *Service) DirectoryUser(ctx context.Context, a Actor, uuid string) (*DirectoryUser, error) {
	return view(ctx, s, func(tx Tx) (*DirectoryUser, error) {
		return withGroups(ctx, tx, a.OrgID)(s.directoryUser(ctx, tx, a.OrgID, uuid, false))
	})
}

func (s *Service) directoryUser(ctx context.Context, tx Tx, orgID int64, uuid string, lock bool) (*DirectoryUser, error) {
	if uuid == "" {
		return nil, ErrMemberNotFound
	}
	m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: orgID, UUID: uuid, Lock: lock})
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrMemberNotFound
	} else if err != nil {
		return nil, err
	}
	p, err := tx.MemberProfileGet(ctx, orgID, m.ID)
	if err != nil {
		return nil, err
	}
	if p.DeletedAt != nil && !m.Active() {
		return nil, ErrMemberNotFound
	}
	return &DirectoryUser{Member: m, Profile: p}, nil
}

// UserInput is a provider's writable view of a member.
type UserInput struct {
	// Email is the userName; check keeps it as sent in UserName and
	// leaves Email in the lower case memberd compares e-mails in.
	Email      string
	UserName   string
	Name       string
	GivenName  string
	FamilyName string
	ExternalID string
	Active     bool
}

// UserName is u's userName: its e-mail, in the case the provider sent it.
func (u *DirectoryUser) UserName() string {
	if u.Profile != nil && u.Profile.UserName != "" && strings.EqualFold(u.Profile.UserName, u.Member.Email) {
		return u.Profile.UserName
	}
	return u.Member.Email
}

// Input returns u's writable attributes, for a change to start from.
func (u *DirectoryUser) Input() UserInput {
	return UserInput{Email: u.UserName(), Name: u.Member.Name, GivenName: u.Profile.GivenName,
		FamilyName: u.Profile.FamilyName, ExternalID: u.Profile.ExternalID, Active: u.Member.Active()}
}

func (in *UserInput) check() error {
	sent := strings.TrimSpace(in.Email)
	in.Email, in.UserName = NormalizeEmail(sent), ""
	if sent != in.Email {
		in.UserName = sent
	}
	if err := ValidEmail(in.Email); err != nil {
		return Errorf(CodeInvalid, "userName must be a valid e-mail address")
	}
	for _, f := range []struct{ what, v string }{{"name", in.Name}, {"givenName", in.GivenName},
		{"familyName", in.FamilyName}, {"externalId", in.ExternalID}} {
		if err := checkOptionalName(f.what, f.v); err != nil {
			return err
		}
	}
	return nil
}

// ErrUserNameTaken refuses a provider's create or rename onto an e-mail
// that already has an active membership.
var ErrUserNameTaken = &Error{Code: CodeConflict, Message: "userName is already taken by an active member"}

// ErrUserNameDeactivated refuses a provider's create of the userName of a
// deactivated member it still sees: a duplicate as RFC 7644 §3.3 has it.
// Reactivating is a change of that user's active, which restores what its
// removal took; a create must not do that behind the provider's back.
var ErrUserNameDeactivated = &Error{Code: CodeConflict,
	Message: "userName is already taken by a deactivated user; set its active to true to reactivate it"}

// ProvisionUser creates a member for a provider. A userName whose
// membership a provider deleted is created again as that same membership,
// so that one person keeps one history, but afresh (see provisionAfresh);
// one the provider still sees answers ErrUserNameTaken when active and
// ErrUserNameDeactivated when removed. in.Active false creates (or leaves)
// the membership removed. The answer has its groups.
func (s *Service) ProvisionUser(ctx context.Context, a Actor, in UserInput) (*DirectoryUser, error) {
	if err := in.check(); err != nil {
		return nil, s.refuse(ctx, a, "member.provision", err)
	}
	return heldIn[*DirectoryUser](ctx, s, a)(mutate(ctx, s, a, "member.provision", func(tx Tx) (*DirectoryUser, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, Email: in.Email, Lock: true})
		switch {
		case err == nil && m.Active():
			return nil, ErrUserNameTaken
		case err == nil:
			p, err := tx.MemberProfileGet(ctx, a.OrgID, m.ID)
			if err != nil {
				return nil, err
			}
			if p.DeletedAt == nil {
				return nil, ErrUserNameDeactivated
			}
			return withGroups(ctx, tx, a.OrgID)(s.provisionAfresh(ctx, tx, a, actor, &DirectoryUser{Member: m, Profile: p}, in))
		case ErrorCode(err) != CodeNotFound:
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, in.Email, in.Name)
		if err != nil {
			return nil, err
		}
		now := s.now()
		m = &Member{UUID: NewUUID(), OrgID: a.OrgID, Email: in.Email, Name: in.Name,
			Role: RoleMember, Status: StatusActive, AddedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
		if err := tx.MemberCreate(ctx, user.ID, m); ErrorCode(err) == CodeConflict {
			return nil, ErrUserNameTaken // a concurrent create of the same userName won
		} else if err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "member.added", m, nil, m); err != nil {
			return nil, err
		}
		// A new membership is in no group: its answer needs no read.
		u := &DirectoryUser{Member: m, Profile: &MemberProfile{MemberID: m.ID, OrgID: a.OrgID}, Groups: []*Group{}}
		return s.applyUser(ctx, tx, a, u, in, true)
	}))
}

// provisionAfresh makes u, a member a provider deleted, the member a
// provider's create of its userName asks for: the same membership and
// history, but starting as a new member would, with role member and none
// of the spaces, groups, grants or space roles its removal took. The
// provider believes it created a new user, and where e-mail addresses are
// reused that user is another person, who must not get the previous
// holder's access. What the removal took stays as history, retired so
// that no later restore brings it back. actor is the acting member.
func (s *Service) provisionAfresh(ctx context.Context, tx Tx, a Actor, actor *Member, u *DirectoryUser, in UserInput) (*DirectoryUser, error) {
	m := u.Member
	err := tx.MemberRemovalRetire(ctx, &MemberRemovalRetireParams{OrgID: a.OrgID, MemberID: m.ID,
		Cause: CauseMemberRemoved, Retired: CauseMemberRecreated})
	if err != nil {
		return nil, err
	}
	before := *m
	m.Role = RoleMember
	action := ActionMemberUpdated
	if in.Active {
		now := s.now()
		if err := tx.MemberSetStatus(ctx, &MemberSetStatusParams{ID: m.ID, Status: StatusActive, At: now, By: actor.ID}); err != nil {
			return nil, err
		}
		m.Status, m.RemovedAt, m.RemovedBy, m.UpdatedAt = StatusActive, nil, 0, now
		action = ActionMemberAdded
	}
	// Recorded as a new member's creation is: the membership is new to
	// the provider and to its access.
	if _, err := s.record(ctx, tx, a, action, m, &before, m); err != nil {
		return nil, err
	}
	u.Profile.DeletedAt = nil
	return s.applyUser(ctx, tx, a, u, in, true)
}

// ChangeUser changes a member as a provider asks: edit sees the member as
// it is (locked, so a version check in edit is exact; with its groups when
// curGroups) and sets the attributes it should have. Active false is a
// removal and true a restore of what the removal took, made in the same
// transaction. The answer has its groups.
func (s *Service) ChangeUser(ctx context.Context, a Actor, uuid string, curGroups bool, edit func(cur *DirectoryUser, in *UserInput) error) (*DirectoryUser, error) {
	return heldIn[*DirectoryUser](ctx, s, a)(mutate(ctx, s, a, "member.change", func(tx Tx) (*DirectoryUser, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		u, err := s.directoryUser(ctx, tx, a.OrgID, uuid, true)
		if err != nil {
			return nil, err
		}
		if curGroups {
			if err := userGroups(ctx, tx, a.OrgID, u); err != nil {
				return nil, err
			}
		}
		in := u.Input()
		if err := edit(u, &in); err != nil {
			return nil, err
		}
		if err := in.check(); err != nil {
			return nil, err
		}
		return withGroups(ctx, tx, a.OrgID)(s.applyUser(ctx, tx, a, u, in, false))
	}))
}

// directoryRemoval removes a member for a provider inside the caller's
// transaction, kept as a removal (GET /api/v1/removals/{id}, undo) and
// under the organization's limits like every other interface's removal.
func (s *Service) directoryRemoval(ctx context.Context, tx Tx, a Actor, memberID int64) (*Report, error) {
	ctx = guarded(ctx)
	req := RemoveMemberRequest{Member: MemberRef{ID: memberID}}
	rep, err := logged(ctx, s, a, KindRemoveMember, func(tx Tx) (*Report, error) { return s.removeMember(ctx, tx, a, req) })(tx)
	var over *overLimit
	if errors.As(err, &over) {
		over.member = memberID
	}
	return rep, err
}

// heldIn holds a provider's call refused for going above the limits as a
// plan of the member's removal (a plan runs the core's offboarding; a
// provider's DELETE is its removal, the user then stays visible), or of
// the members' removal from a group (a batch of the group; the change's
// other parts are for the provider to send again).
func heldIn[T any](ctx context.Context, s *Service, a Actor) func(T, error) (T, error) {
	return func(v T, err error) (T, error) {
		var over *overLimit
		if err == nil || !errors.As(err, &over) {
			return v, err
		}
		var zero T
		switch {
		case over.member != 0:
			req := OperationRequest{Kind: KindRemoveMember, RemoveMember: &RemoveMemberRequest{Member: MemberRef{ID: over.member}}}
			return zero, s.held(ctx, a, KindRemoveMember, PlanRequest{Removal: &req}, err)
		case over.group != 0:
			over.msg += " (taking them out of a group; the plan holds those removals alone: the change's other parts, " +
				"such as deleting the group, are for the provider to send again once it has run)"
			batch := BatchRequest{Scope: ScopeGroup, Group: Ref{ID: over.group}, Items: make([]MemberRef, len(over.members))}
			for i, id := range over.members {
				batch.Items[i] = MemberRef{ID: id}
			}
			return zero, s.held(ctx, a, ActionBatchRemoved, PlanRequest{Batch: &batch}, err)
		}
		return v, err
	}
}

// groupRemovals takes members out of a group for a provider inside the
// caller's transaction, kept as one removal (GET /api/v1/removals/{id},
// undo) and under the organization's limits, as a native batch removal
// from the group is: a provider's PATCH, PUT or DELETE of a group must not
// take access away around the two-person rule. A member not in the group
// is passed over; when none was, nothing is logged.
func (s *Service) groupRemovals(ctx context.Context, tx Tx, a Actor, g *Group, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ctx = guarded(ctx)
	_, err := loggedIfAny(ctx, s, a, KindRemoveBatch, func(tx Tx) (*GroupRemoval, error) {
		out := &GroupRemoval{Group: g.UUID}
		for _, id := range ids {
			_, err := s.removeGroupMember(ctx, tx, a, g, RemoveGroupMemberRequest{Member: MemberRef{ID: id}})
			switch {
			case err == nil:
				out.Members = append(out.Members, id)
			case !errors.Is(err, ErrNotMember) && !errors.Is(err, ErrAlreadyRemoved):
				return nil, err
			}
		}
		return out, nil
	})(tx)
	var over *overLimit
	if errors.As(err, &over) {
		over.group, over.members = g.ID, ids
	}
	return err
}

// GroupRemoval is what a provider's change of a group took away, as the
// removal log keeps it: the group and the members taken out of it.
type GroupRemoval struct {
	Group   string  `json:"group"`
	Members []int64 `json:"members"`
}

// applyUser makes u what in says, recording each change.
func (s *Service) applyUser(ctx context.Context, tx Tx, a Actor, u *DirectoryUser, in UserInput, force bool) (*DirectoryUser, error) {
	m := u.Member
	now := s.now()
	before := *m
	changed := false
	if in.Email != m.Email {
		other, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, Email: in.Email})
		if err == nil && other.ID != m.ID {
			return nil, ErrUserNameTaken
		} else if err != nil && ErrorCode(err) != CodeNotFound {
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, in.Email, in.Name)
		if err != nil {
			return nil, err
		}
		if err := tx.MemberUserSet(ctx, m.ID, user.ID, now); err != nil {
			return nil, err
		}
		m.Email, changed = in.Email, true
	}
	if in.Name != m.Name {
		m.Name, changed = in.Name, true
	}
	p := *u.Profile
	p.ExternalID, p.GivenName, p.FamilyName, p.UserName = in.ExternalID, in.GivenName, in.FamilyName, in.UserName
	if changed || p != *u.Profile || force {
		m.UpdatedAt = now
		if err := tx.MemberUpdate(ctx, m); err != nil {
			return nil, err
		}
		if err := tx.MemberProfilePut(ctx, &p); err != nil {
			return nil, err
		}
		u.Profile = &p
		if _, err := s.record(ctx, tx, a, "member.updated", m, &before, m); err != nil {
			return nil, err
		}
	}
	switch {
	case m.Active() && !in.Active:
		report, err := s.directoryRemoval(ctx, tx, a, m.ID)
		if err != nil {
			return nil, err
		}
		u.Member = report.Member
	case !m.Active() && in.Active:
		restored, err := s.restoreMember(ctx, tx, a, m)
		if err != nil {
			return nil, err
		}
		u.Member = restored
	}
	return u, nil
}

// restoreMember makes a removed member active again with what its removal
// switched off, as RestoreMember does, inside the caller's transaction.
func (s *Service) restoreMember(ctx context.Context, tx Tx, a Actor, target *Member) (*Member, error) {
	actor, err := s.actingMember(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	if _, err := s.restore(ctx, tx, a, actor, target); err != nil {
		return nil, err
	}
	return target, nil
}

// DeleteUser is a provider's DELETE: the member is removed (the same
// removal as deactivation) and from then on answers not found to
// providers, while memberd keeps the membership and its history. A later
// ProvisionUser with the same userName starts it afresh. check sees the
// member (with its groups when curGroups: a provider's DELETE without
// If-Match, the common deprovisioning, reads none).
func (s *Service) DeleteUser(ctx context.Context, a Actor, uuid string, curGroups bool, check func(cur *DirectoryUser) error) error {
	_, err := heldIn[struct{}](ctx, s, a)(mutate(ctx, s, a, "member.delete", func(tx Tx) (struct{}, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return struct{}{}, err
		}
		u, err := s.directoryUser(ctx, tx, a.OrgID, uuid, true)
		if err == nil && curGroups {
			err = userGroups(ctx, tx, a.OrgID, u)
		}
		if err != nil {
			return struct{}{}, err
		}
		if err := check(u); err != nil {
			return struct{}{}, err
		}
		if u.Member.Active() {
			if _, err := s.directoryRemoval(ctx, tx, a, u.Member.ID); err != nil {
				return struct{}{}, err
			}
		}
		now := s.now()
		u.Profile.DeletedAt = &now
		if err := tx.MemberProfilePut(ctx, u.Profile); err != nil {
			return struct{}{}, err
		}
		_, err = s.record(ctx, tx, a, "member.deleted", u.Member, nil, nil)
		return struct{}{}, err
	}))
	return err
}

// DirectoryGroupPage is one page of directory groups and the number of
// matches in all.
type DirectoryGroupPage struct {
	Groups []*DirectoryGroup
	Total  int
}

// DirectoryGroups lists the groups a provider sees, with their active
// members when withMembers.
func (s *Service) DirectoryGroups(ctx context.Context, a Actor, q DirectoryQuery, withMembers bool) (*DirectoryGroupPage, error) {
	q.OrgID, q.Offset = a.OrgID, max(q.Offset, 0)
	return view(ctx, s, func(tx Tx) (*DirectoryGroupPage, error) {
		lim := q.Limit
		if lim <= 0 {
			q.Limit = 1
		}
		groups, n, err := tx.DirectoryGroupList(ctx, &q)
		if err != nil {
			return nil, err
		}
		if lim <= 0 {
			groups = []*DirectoryGroup{}
		}
		if withMembers {
			for _, g := range groups {
				if g.Members, err = s.activeGroupMembers(ctx, tx, a.OrgID, g.Group.ID); err != nil {
					return nil, err
				}
			}
		}
		return &DirectoryGroupPage{Groups: groups, Total: n}, nil
	})
}

// maxGroupMembers bounds the members one group answer lists.
const maxGroupMembers = 1 << 20

// activeGroupMembers lists a group's active members in one query.
func (s *Service) activeGroupMembers(ctx context.Context, tx Tx, orgID, groupID int64) ([]*Member, error) {
	users, _, err := tx.DirectoryUserList(ctx, &DirectoryQuery{OrgID: orgID, Limit: maxGroupMembers, IncludeDeleted: true,
		Filter: &Filter{Op: FilterEq, Field: FieldGroupID, Value: groupID}})
	if err != nil {
		return nil, err
	}
	members := make([]*Member, len(users))
	for i, u := range users {
		members[i] = u.Member
	}
	return members, nil
}

// ErrGroupNotFound answers a group that is absent, another organization's
// or deleted by a provider.
var ErrGroupNotFound = &Error{Code: CodeNotFound, Message: "no such group in the organization"}

// DirectoryGroup returns one group by UUID as a provider sees it.
func (s *Service) DirectoryGroup(ctx context.Context, a Actor, uuid string, withMembers bool) (*DirectoryGroup, error) {
	return view(ctx, s, func(tx Tx) (*DirectoryGroup, error) {
		return s.directoryGroup(ctx, tx, a.OrgID, uuid, withMembers, false)
	})
}

func (s *Service) directoryGroup(ctx context.Context, tx Tx, orgID int64, uuid string, withMembers, lock bool) (*DirectoryGroup, error) {
	if uuid == "" {
		return nil, ErrGroupNotFound
	}
	g, err := tx.GroupGet(ctx, &RefParams{OrgID: orgID, UUID: uuid, Lock: lock})
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrGroupNotFound
	} else if err != nil {
		return nil, err
	}
	p, err := tx.GroupProfileGet(ctx, orgID, g.ID)
	if err != nil {
		return nil, err
	}
	if p.DeletedAt != nil {
		return nil, ErrGroupNotFound
	}
	dg := &DirectoryGroup{Group: g, Profile: p}
	if withMembers {
		if dg.Members, err = s.activeGroupMembers(ctx, tx, orgID, g.ID); err != nil {
			return nil, err
		}
	}
	return dg, nil
}

// GroupChange is what a provider asks of a group: its attributes, and the
// members (by UUID) to add and to remove. A member named in Remove loses
// only this group's membership and the access that came through it; a
// removed (deactivated) member named in Add is skipped.
type GroupChange struct {
	Name       string
	ExternalID string
	Add        []string
	Remove     []string
}

// ErrGroupNameTaken refuses a group name another group already has.
var ErrGroupNameTaken = &Error{Code: CodeConflict, Message: "displayName is already taken by another group"}

// ProvisionGroup creates a group with members for a provider.
func (s *Service) ProvisionGroup(ctx context.Context, a Actor, c GroupChange) (*DirectoryGroup, error) {
	if err := checkName("displayName", c.Name); err != nil {
		return nil, s.refuse(ctx, a, "group.provision", err)
	}
	return mutate(ctx, s, a, "group.provision", func(tx Tx) (*DirectoryGroup, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		if err := s.groupNameFree(ctx, tx, a.OrgID, c.Name, 0); err != nil {
			return nil, err
		}
		g := &Group{UUID: NewUUID(), OrgID: a.OrgID, Name: c.Name, CreatedAt: s.now()}
		if err := tx.GroupCreate(ctx, g); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "group.created", nil, nil, g); err != nil {
			return nil, err
		}
		dg := &DirectoryGroup{Group: g, Profile: &GroupProfile{GroupID: g.ID, OrgID: a.OrgID}}
		return s.applyGroup(ctx, tx, a, dg, c, true)
	})
}

// groupNameFree refuses a name (compared case-insensitively) that a group
// other than except already has among those providers see.
func (s *Service) groupNameFree(ctx context.Context, tx Tx, orgID int64, name string, except int64) error {
	groups, _, err := tx.DirectoryGroupList(ctx, &DirectoryQuery{OrgID: orgID, Limit: 2,
		Filter: &Filter{Op: FilterEq, Field: FieldGroupName, Value: name}})
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.Group.ID != except {
			return ErrGroupNameTaken
		}
	}
	return nil
}

// ChangeGroup changes a group as a provider asks: edit sees the group
// (locked, so a version check in edit is exact) and fills in the change.
// withMembers loads its active members for edit and the answer; without
// them a change that names the members to add and remove costs what it
// changes, not the size of the group.
func (s *Service) ChangeGroup(ctx context.Context, a Actor, uuid string, withMembers bool, edit func(cur *DirectoryGroup, c *GroupChange) error) (*DirectoryGroup, error) {
	return heldIn[*DirectoryGroup](ctx, s, a)(mutate(ctx, s, a, "group.change", func(tx Tx) (*DirectoryGroup, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		dg, err := s.directoryGroup(ctx, tx, a.OrgID, uuid, withMembers, true)
		if err != nil {
			return nil, err
		}
		c := GroupChange{Name: dg.Group.Name, ExternalID: dg.Profile.ExternalID}
		if err := edit(dg, &c); err != nil {
			return nil, err
		}
		if c.Name == dg.Group.Name && c.ExternalID == dg.Profile.ExternalID && len(c.Add) == 0 && len(c.Remove) == 0 {
			return dg, nil // nothing asked (an empty Operations list): nothing written
		}
		if err := checkName("displayName", c.Name); err != nil {
			return nil, err
		}
		if !strings.EqualFold(c.Name, dg.Group.Name) {
			if err := s.groupNameFree(ctx, tx, a.OrgID, c.Name, dg.Group.ID); err != nil {
				return nil, err
			}
		}
		return s.applyGroup(ctx, tx, a, dg, c, withMembers)
	}))
}

// applyGroup writes c to dg: attributes, then removals, then additions,
// each membership change recorded as the native one would be; then, when
// reload, reads the members back.
func (s *Service) applyGroup(ctx context.Context, tx Tx, a Actor, dg *DirectoryGroup, c GroupChange, reload bool) (*DirectoryGroup, error) {
	if err := checkOptionalName("externalId", c.ExternalID); err != nil {
		return nil, err
	}
	now := s.now()
	before := *dg.Group
	g, p := dg.Group, dg.Profile
	p.ExternalID, p.UpdatedAt = c.ExternalID, now
	g.Name = c.Name
	if err := tx.GroupProfilePut(ctx, g, p); err != nil {
		return nil, err
	}
	if before.Name != g.Name {
		if _, err := s.record(ctx, tx, a, "group.renamed", nil, &before, g); err != nil {
			return nil, err
		}
	}
	var removing []int64
	for _, uuid := range c.Remove {
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, UUID: uuid})
		if ErrorCode(err) == CodeNotFound {
			continue // not a member of anything here: nothing to take away
		} else if err != nil {
			return nil, err
		}
		removing = append(removing, m.ID)
	}
	if err := s.groupRemovals(ctx, tx, a, g, removing); err != nil {
		return nil, err
	}
	for _, uuid := range c.Add {
		target, err := s.lockMember(ctx, tx, a.OrgID, MemberRef{UUID: uuid})
		if ErrorCode(err) == CodeNotFound {
			return nil, Errorf(CodeInvalid, "member %q does not exist", uuid)
		} else if err != nil {
			return nil, err
		}
		if !target.Active() {
			// Entra ID keeps disabled users in groups and batches adds: one
			// of them must not fail the others. A removed member joins no
			// group, so it is skipped and gets no access.
			continue
		}
		gm := &GroupMember{OrgID: a.OrgID, GroupID: g.ID, MemberID: target.ID, Status: StatusActive, AddedBy: a.MemberID, CreatedAt: now}
		if err := tx.GroupMemberAdd(ctx, gm); ErrorCode(err) == CodeConflict {
			continue // already in the group: an add is idempotent (RFC 7644 §3.5.2.1)
		} else if err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "group_member.added", target, nil, gm); err != nil {
			return nil, err
		}
	}
	if !reload {
		dg.Members = nil
		return dg, nil
	}
	var err error
	dg.Members, err = s.activeGroupMembers(ctx, tx, a.OrgID, g.ID)
	return dg, err
}

// DeleteGroup is a provider's DELETE of a group: every active member
// leaves it (losing only the access that came through it) and providers no
// longer see it; memberd keeps it, its grants and its history.
func (s *Service) DeleteGroup(ctx context.Context, a Actor, uuid string, check func(cur *DirectoryGroup) error) error {
	_, err := heldIn[struct{}](ctx, s, a)(mutate(ctx, s, a, "group.delete", func(tx Tx) (struct{}, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return struct{}{}, err
		}
		dg, err := s.directoryGroup(ctx, tx, a.OrgID, uuid, true, true)
		if err != nil {
			return struct{}{}, err
		}
		if err := check(dg); err != nil {
			return struct{}{}, err
		}
		c := GroupChange{Name: dg.Group.Name, ExternalID: dg.Profile.ExternalID}
		for _, m := range dg.Members {
			c.Remove = append(c.Remove, m.UUID)
		}
		if _, err := s.applyGroup(ctx, tx, a, dg, c, false); err != nil {
			return struct{}{}, err
		}
		now := s.now()
		dg.Profile.DeletedAt = &now
		if err := tx.GroupProfilePut(ctx, dg.Group, dg.Profile); err != nil {
			return struct{}{}, err
		}
		_, err = s.record(ctx, tx, a, "group.deleted", nil, dg.Group, nil)
		return struct{}{}, err
	}))
	return err
}
