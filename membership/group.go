package membership

import "context"

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, a Actor, name string) (*Group, error) {
	if err := checkName("group name", name); err != nil {
		return nil, s.refuse(ctx, a, ActionGroupCreated, err)
	}
	return mutate(ctx, s, a, ActionGroupCreated, func(tx Tx) (*Group, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		g := &Group{UUID: NewUUID(), OrgID: a.OrgID, Name: name, CreatedAt: s.now()}
		if err := tx.GroupCreate(ctx, g); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, ActionGroupCreated, nil, nil, g)
		return g, err
	})
}

// Groups lists the organization's groups.
func (s *Service) Groups(ctx context.Context, a Actor) ([]*Group, error) {
	return view(ctx, s, func(tx Tx) ([]*Group, error) { return tx.GroupList(ctx, a.OrgID) })
}

// Group returns one group of the actor's organization.
func (s *Service) Group(ctx context.Context, a Actor, ref Ref) (*Group, error) {
	return view(ctx, s, func(tx Tx) (*Group, error) { return tx.GroupGet(ctx, ref.params(a.OrgID)) })
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

// GroupMembership returns a member's membership of a group, active or removed.
func (s *Service) GroupMembership(ctx context.Context, a Actor, group Ref, member MemberRef) (*GroupMember, error) {
	return view(ctx, s, func(tx Tx) (*GroupMember, error) {
		g, err := tx.GroupGet(ctx, group.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		m, err := findMember(ctx, tx, a.OrgID, member)
		if err != nil {
			return nil, err
		}
		gm, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: a.OrgID, GroupID: g.ID, MemberID: m.ID})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrNotMember
		}
		return gm, err
	})
}

// AddGroupMember adds an active member to a group.
func (s *Service) AddGroupMember(ctx context.Context, a Actor, group Ref, member MemberRef) (*GroupMember, error) {
	ctx = WithEventTarget(ctx, EventTarget{Type: "group", Ref: group, Member: member})
	return mutate(ctx, s, a, ActionGroupMemberAdded, func(tx Tx) (*GroupMember, error) {
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
		_, err = s.record(ctx, tx, a, ActionGroupMemberAdded, target, nil, gm)
		return gm, err
	})
}
