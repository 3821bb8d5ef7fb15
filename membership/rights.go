package membership

import "context"

// RemovalRule says how far an organization admin's right to remove reaches.
// Owners remove anyone and plain members remove nobody under every rule.
type RemovalRule int

const (
	// RuleAdminAnyMember lets an admin remove any member who is not an owner.
	RuleAdminAnyMember RemovalRule = iota
	// RuleAdminAddedOnly lets an admin remove only the members they added
	// (HighQ: "admins remove only users they added").
	RuleAdminAddedOnly
)

// errNoRights is the refusal every rights check gives, so that clients
// learn nothing about why beyond "not you".
func errNoRights() *Error {
	return Errorf(CodeForbidden, "you do not have rights to remove the specified user")
}

// mayRemoveMember decides whether actor may remove target from the
// organization. addedBy is the member who added what is being removed
// (the membership itself, or the space or group membership).
func mayRemove(actor, target *Member, addedBy int64, rule RemovalRule) error {
	if actor.Role == RoleOwner {
		return nil
	}
	if target.Role == RoleOwner {
		return Errorf(CodeForbidden, "only an owner can remove an owner")
	}
	if actor.Role == RoleAdmin && (rule == RuleAdminAnyMember || addedBy == actor.ID) {
		return nil
	}
	return errNoRights()
}

// mayRemoveFromSpace extends mayRemove with the space admin's right: a
// member holding the space's admin role removes the space members they added.
func mayRemoveFromSpace(actor, target *Member, actorSpace, targetSpace *SpaceMember, rule RemovalRule) error {
	err := mayRemove(actor, target, targetSpace.AddedBy, rule)
	if err == nil || target.Role == RoleOwner {
		return err
	}
	if actorSpace != nil && actorSpace.Status == StatusActive && actorSpace.HasRole(SpaceAdminRole) &&
		targetSpace.AddedBy == actor.ID {
		return nil
	}
	return err
}

// manager loads the acting member and checks that they may change the
// organization (mayManage).
func (s *Service) manager(ctx context.Context, tx Tx, a Actor) (*Member, error) {
	actor, err := s.actingMember(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	return actor, mayManage(actor)
}

// mayManage decides whether actor may add members, spaces, groups,
// resources and grants: owners and admins may.
func mayManage(actor *Member) error {
	if actor.Role == RoleOwner || actor.Role == RoleAdmin {
		return nil
	}
	return Errorf(CodeForbidden, "only owners and admins can change the organization")
}
