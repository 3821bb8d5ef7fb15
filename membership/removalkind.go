package membership

import (
	"context"
	"fmt"
	"strings"
)

// removalKind is one kind of removal that can run after it is
// acknowledged. Operations, schedules and batches dispatch through it
// alone, so a new kind of removal is one type implementing it, plus its
// field in OperationRequest (the stored form) and its entry in
// removalKinds.
type removalKind interface {
	// kind names the removal in Operation.Kind and RemovalSpec.Kind.
	kind() string
	// fromSpec fills the request from a spec naming its kind and says, in
	// the client's terms, which part it lacks.
	fromSpec(spec RemovalSpec) error
	// into stores the request in its field of r.
	into(r *OperationRequest)
	// validate checks the request's shape before any lookup and readies it
	// to run later; scheduled says it has an effective time.
	validate(scheduled bool) error
	// resolve checks in tx that everything the request names exists in
	// orgID (and, when spaceID is set, belongs to that space), pins the
	// request to IDs and sets op's target member, space and lock key.
	resolve(ctx context.Context, s *Service, tx Tx, orgID, spaceID int64, op *Operation) error
	// exec runs the removal in tx on behalf of a.
	exec(ctx context.Context, s *Service, tx Tx, a Actor) (*Report, error)
}

// memberRemoval is a removal kind that takes one member out of something,
// so that a batch of its scope can run it item by item.
type memberRemoval interface {
	removalKind
	// scope is the batch scope the kind serves.
	scope() BatchScope
	// fromBatch fills the request from a batch of its scope. A space or
	// group the batch leaves zero is looked up like any other and not
	// found: HighQ's site 0 must answer like any absent site.
	fromBatch(req BatchRequest)
	// remover looks up in tx what members are removed from, once, and
	// returns the removal of one member from it.
	remover(ctx context.Context, s *Service, tx Tx, a Actor) (func(MemberRef) (*Report, error), error)
}

// removalKinds lists every removal kind, in the order error messages name
// them.
var removalKinds = []func() removalKind{
	func() removalKind { return &RemoveMemberRequest{} },
	func() removalKind { return &RemoveSpaceMemberRequest{} },
	func() removalKind { return &RemoveGroupMemberRequest{} },
	func() removalKind { return &RevokeRolesRequest{} },
}

// removals lists the requests r names; a valid r names exactly one.
func (r *OperationRequest) removals() []removalKind {
	var set []removalKind
	if r.RemoveMember != nil {
		set = append(set, r.RemoveMember)
	}
	if r.RemoveSpaceMember != nil {
		set = append(set, r.RemoveSpaceMember)
	}
	if r.RemoveGroupMember != nil {
		set = append(set, r.RemoveGroupMember)
	}
	if r.RevokeRoles != nil {
		set = append(set, r.RevokeRoles)
	}
	return set
}

// removal returns the one request r names.
func (r *OperationRequest) removal() (removalKind, error) {
	set := r.removals()
	if len(set) != 1 {
		return nil, Errorf(CodeInvalid, "exactly one removal must be named")
	}
	return set[0], nil
}

// RemovalSpec names a removal by its kind, with the parts that kind
// needs, the way a client that picks the kind by name sends it.
type RemovalSpec struct {
	Kind          string // one of the Kind constants
	Member        *MemberRef
	Space         *Ref  // KindRemoveSpaceMember
	Group         *Ref  // KindRemoveGroupMember
	SpaceMemberID int64 // KindRevokeRoles
	Roles         []string
}

// NewOperationRequest builds the removal spec names. An unknown kind or a
// part the kind needs that is missing is refused with CodeInvalid.
func NewOperationRequest(spec RemovalSpec) (OperationRequest, error) {
	var req OperationRequest
	kinds := make([]string, len(removalKinds))
	for i, newKind := range removalKinds {
		k := newKind()
		if kinds[i] = k.kind(); kinds[i] != spec.Kind {
			continue
		}
		if err := k.fromSpec(spec); err != nil {
			return req, err
		}
		k.into(&req)
		req.Kind = spec.Kind
		return req, nil
	}
	return req, Errorf(CodeInvalid, "kind must be one of %s", strings.Join(kinds, ", "))
}

// needs refuses a spec of kind that lacks what.
func needs(ok bool, kind, what string) error {
	if !ok {
		return Errorf(CodeInvalid, "%s needs %s", kind, what)
	}
	return nil
}

// errDryRunScheduled refuses a preview of a removal that has not happened
// yet: a scheduled removal is previewed through its operation, which
// shows what it would take away at the time of asking. The message names
// the native API's route, the one interface that offers both.
var errDryRunScheduled = &Error{Code: CodeInvalid,
	Message: "dry_run and effective_at cannot be combined; preview a scheduled removal with GET /api/v1/operations/{id}/preview"}

// readyToRun refuses a dry run that was scheduled and otherwise drops the
// dry-run flag: an operation always runs for real.
func readyToRun(dryRun *bool, scheduled bool) error {
	if *dryRun && scheduled {
		return errDryRunScheduled
	}
	*dryRun = false
	return nil
}

// targetMember locks the member a request names and makes it op's target.
func targetMember(ctx context.Context, s *Service, tx Tx, orgID int64, ref MemberRef, op *Operation) (*Member, error) {
	m, err := s.lockMember(ctx, tx, orgID, ref)
	if err != nil {
		return nil, err
	}
	op.TargetMemberID = m.ID
	return m, nil
}

// exec removes the member r names through r's own remover.
func execMemberRemoval(ctx context.Context, s *Service, tx Tx, a Actor, r memberRemoval, member MemberRef) (*Report, error) {
	remove, err := r.remover(ctx, s, tx, a)
	if err != nil {
		return nil, err
	}
	return remove(member)
}

func (r *RemoveMemberRequest) kind() string               { return KindRemoveMember }
func (r *RemoveMemberRequest) into(req *OperationRequest) { req.RemoveMember = r }
func (r *RemoveMemberRequest) scope() BatchScope          { return ScopeOrganization }
func (r *RemoveMemberRequest) validate(scheduled bool) error {
	return readyToRun(&r.DryRun, scheduled)
}

func (r *RemoveMemberRequest) fromSpec(spec RemovalSpec) error {
	if err := needs(spec.Member != nil, spec.Kind, "member"); err != nil {
		return err
	}
	r.Member = *spec.Member
	return nil
}

func (r *RemoveMemberRequest) fromBatch(req BatchRequest) { r.Rule = req.Rule }

func (r *RemoveMemberRequest) resolve(ctx context.Context, s *Service, tx Tx, orgID, _ int64, op *Operation) error {
	m, err := targetMember(ctx, s, tx, orgID, r.Member, op)
	if err != nil {
		return err
	}
	r.Member = MemberRef{ID: m.ID}
	op.LockKey = fmt.Sprintf("member:%d", m.ID)
	return nil
}

func (r *RemoveMemberRequest) remover(ctx context.Context, s *Service, tx Tx, a Actor) (func(MemberRef) (*Report, error), error) {
	return func(ref MemberRef) (*Report, error) {
		req := *r
		req.Member = ref
		return s.removeMember(ctx, tx, a, req)
	}, nil
}

func (r *RemoveMemberRequest) exec(ctx context.Context, s *Service, tx Tx, a Actor) (*Report, error) {
	return execMemberRemoval(ctx, s, tx, a, r, r.Member)
}

func (r *RemoveSpaceMemberRequest) kind() string               { return KindRemoveSpaceMember }
func (r *RemoveSpaceMemberRequest) into(req *OperationRequest) { req.RemoveSpaceMember = r }
func (r *RemoveSpaceMemberRequest) scope() BatchScope          { return ScopeSpace }
func (r *RemoveSpaceMemberRequest) validate(scheduled bool) error {
	return readyToRun(&r.DryRun, scheduled)
}

func (r *RemoveSpaceMemberRequest) fromSpec(spec RemovalSpec) error {
	if err := needs(spec.Member != nil && spec.Space != nil, spec.Kind, "member and space"); err != nil {
		return err
	}
	r.Space, r.Member = *spec.Space, *spec.Member
	return nil
}

func (r *RemoveSpaceMemberRequest) fromBatch(req BatchRequest) {
	r.Space, r.Rule = req.Space, req.Rule
}

func (r *RemoveSpaceMemberRequest) resolve(ctx context.Context, s *Service, tx Tx, orgID, _ int64, op *Operation) error {
	sp, err := tx.SpaceGet(ctx, r.Space.params(orgID))
	if err != nil {
		return err
	}
	m, err := targetMember(ctx, s, tx, orgID, r.Member, op)
	if err != nil {
		return err
	}
	if _, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: orgID, SpaceID: sp.ID, MemberID: m.ID}); ErrorCode(err) == CodeNotFound {
		return ErrNotMember
	} else if err != nil {
		return err
	}
	r.Space, r.Member = Ref{ID: sp.ID}, MemberRef{ID: m.ID}
	op.SpaceID = sp.ID
	op.LockKey = fmt.Sprintf("space:%d:member:%d", sp.ID, m.ID)
	return nil
}

func (r *RemoveSpaceMemberRequest) remover(ctx context.Context, s *Service, tx Tx, a Actor) (func(MemberRef) (*Report, error), error) {
	space, err := tx.SpaceGet(ctx, r.Space.params(a.OrgID))
	if err != nil {
		return nil, err
	}
	return func(ref MemberRef) (*Report, error) {
		req := *r
		req.Member = ref
		return s.removeSpaceMember(ctx, tx, a, space, req)
	}, nil
}

func (r *RemoveSpaceMemberRequest) exec(ctx context.Context, s *Service, tx Tx, a Actor) (*Report, error) {
	return execMemberRemoval(ctx, s, tx, a, r, r.Member)
}

func (r *RemoveGroupMemberRequest) kind() string               { return KindRemoveGroupMember }
func (r *RemoveGroupMemberRequest) into(req *OperationRequest) { req.RemoveGroupMember = r }
func (r *RemoveGroupMemberRequest) scope() BatchScope          { return ScopeGroup }
func (r *RemoveGroupMemberRequest) validate(scheduled bool) error {
	return readyToRun(&r.DryRun, scheduled)
}

func (r *RemoveGroupMemberRequest) fromSpec(spec RemovalSpec) error {
	if err := needs(spec.Member != nil && spec.Group != nil, spec.Kind, "member and group"); err != nil {
		return err
	}
	r.Group, r.Member = *spec.Group, *spec.Member
	return nil
}

func (r *RemoveGroupMemberRequest) fromBatch(req BatchRequest) {
	r.Group, r.Rule = req.Group, req.Rule
}

func (r *RemoveGroupMemberRequest) resolve(ctx context.Context, s *Service, tx Tx, orgID, _ int64, op *Operation) error {
	g, err := tx.GroupGet(ctx, r.Group.params(orgID))
	if err != nil {
		return err
	}
	m, err := targetMember(ctx, s, tx, orgID, r.Member, op)
	if err != nil {
		return err
	}
	if _, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: orgID, GroupID: g.ID, MemberID: m.ID}); ErrorCode(err) == CodeNotFound {
		return ErrNotMember
	} else if err != nil {
		return err
	}
	r.Group, r.Member = Ref{ID: g.ID}, MemberRef{ID: m.ID}
	op.LockKey = fmt.Sprintf("group:%d:member:%d", g.ID, m.ID)
	return nil
}

func (r *RemoveGroupMemberRequest) remover(ctx context.Context, s *Service, tx Tx, a Actor) (func(MemberRef) (*Report, error), error) {
	group, err := tx.GroupGet(ctx, r.Group.params(a.OrgID))
	if err != nil {
		return nil, err
	}
	return func(ref MemberRef) (*Report, error) {
		req := *r
		req.Member = ref
		return s.removeGroupMember(ctx, tx, a, group, req)
	}, nil
}

func (r *RemoveGroupMemberRequest) exec(ctx context.Context, s *Service, tx Tx, a Actor) (*Report, error) {
	return execMemberRemoval(ctx, s, tx, a, r, r.Member)
}

func (r *RevokeRolesRequest) kind() string               { return KindRevokeRoles }
func (r *RevokeRolesRequest) into(req *OperationRequest) { req.RevokeRoles = r }

func (r *RevokeRolesRequest) fromSpec(spec RemovalSpec) error {
	if err := needs(spec.SpaceMemberID > 0 && len(spec.Roles) > 0, spec.Kind, "space_membership and roles"); err != nil {
		return err
	}
	r.SpaceMemberID, r.Roles = spec.SpaceMemberID, spec.Roles
	return nil
}

func (r *RevokeRolesRequest) validate(scheduled bool) error {
	if err := readyToRun(&r.DryRun, scheduled); err != nil {
		return err
	}
	roles, err := CleanRoles(r.Roles)
	if err != nil {
		return err
	}
	r.Roles = roles
	return nil
}

func (r *RevokeRolesRequest) resolve(ctx context.Context, s *Service, tx Tx, orgID, spaceID int64, op *Operation) error {
	sm, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: orgID, ID: r.SpaceMemberID})
	if err != nil {
		return err
	}
	if spaceID != 0 && sm.SpaceID != spaceID {
		return Errorf(CodeNotFound, "space membership not found")
	}
	if _, err := targetMember(ctx, s, tx, orgID, MemberRef{ID: sm.MemberID}, op); err != nil {
		return err
	}
	op.SpaceID = sm.SpaceID
	op.LockKey = fmt.Sprintf("space_member:%d:roles", sm.ID)
	return nil
}

func (r *RevokeRolesRequest) exec(ctx context.Context, s *Service, tx Tx, a Actor) (*Report, error) {
	roles, err := CleanRoles(r.Roles)
	if err != nil {
		return nil, err
	}
	return s.revokeRoles(ctx, tx, a, *r, roles)
}
