package membership

import (
	"context"
	"slices"
)

// CreateSpace creates a space.
func (s *Service) CreateSpace(ctx context.Context, a Actor, name string) (*Space, error) {
	if err := checkName("space name", name); err != nil {
		return nil, s.refuse(ctx, a, ActionSpaceCreated, err)
	}
	return mutate(ctx, s, a, ActionSpaceCreated, func(tx Tx) (*Space, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		sp := &Space{UUID: NewUUID(), OrgID: a.OrgID, Name: name, CreatedAt: s.now()}
		if err := tx.SpaceCreate(ctx, sp); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, ActionSpaceCreated, nil, nil, sp)
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
	ctx = WithEventTarget(ctx, EventTarget{Type: "space", Ref: req.Space, Member: req.Member})
	roles := []string{}
	if len(req.Roles) > 0 {
		var err error
		if roles, err = CleanRoles(req.Roles); err != nil {
			return nil, s.refuse(ctx, a, ActionSpaceMemberAdded, err)
		}
		// A role set reads back sorted; answer in the same order.
		slices.Sort(roles)
	}
	return mutate(ctx, s, a, ActionSpaceMemberAdded, func(tx Tx) (*SpaceMember, error) {
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
		_, err = s.record(ctx, tx, a, ActionSpaceMemberAdded, target, nil, sm)
		return sm, err
	})
}
