package httpapi

import "github.com/memberd/memberd/membership"

// Request rules this adapter checks itself today, although they are rules
// of the requests and not of HTTP: issue 9 moves them into the core's
// request validation so that every interface enforces them the same way.
// They are kept together here, each in one small function, so that the
// move deletes them in one place.

// refuseScheduledDryRun refuses dry_run with effective_at. A dry run
// cannot be scheduled: the preview of a scheduled removal is GET
// /operations/{id}/preview, which shows what it would take away at the
// time of asking, not at the time it was scheduled.
func refuseScheduledDryRun(dryRun bool) error {
	if !dryRun {
		return nil
	}
	return membership.Errorf(membership.CodeInvalid,
		"dry_run and effective_at cannot be combined; preview a scheduled removal with GET %s/operations/{id}/preview", Prefix)
}

// requireBatchTarget refuses a batch removal from a space or a group that
// does not name it.
func requireBatchTarget(scope membership.BatchScope, space, group *ref) error {
	switch {
	case scope == membership.ScopeSpace && space == nil:
		return membership.Errorf(membership.CodeInvalid, "space is required for scope space")
	case scope == membership.ScopeGroup && group == nil:
		return membership.Errorf(membership.CodeInvalid, "group is required for scope group")
	}
	return nil
}

// scheduleRequest builds the removal a POST /schedules body names, or
// says in the client's terms what the body lacks.
func scheduleRequest(kind string, hasEffectiveAt bool, member *memberRef, space, group *ref, spaceMembership int64, roles []string) (membership.OperationRequest, error) {
	var req membership.OperationRequest
	if !hasEffectiveAt {
		return req, membership.Errorf(membership.CodeInvalid, "effective_at is required (RFC 3339)")
	}
	need := func(ok bool, what string) error {
		if !ok {
			return membership.Errorf(membership.CodeInvalid, "%s needs %s", kind, what)
		}
		return nil
	}
	switch kind {
	case membership.KindRemoveMember:
		if err := need(member != nil, "member"); err != nil {
			return req, err
		}
		req.RemoveMember = &membership.RemoveMemberRequest{Member: member.MemberRef}
	case membership.KindRemoveSpaceMember:
		if err := need(member != nil && space != nil, "member and space"); err != nil {
			return req, err
		}
		req.RemoveSpaceMember = &membership.RemoveSpaceMemberRequest{Space: space.Ref, Member: member.MemberRef}
	case membership.KindRemoveGroupMember:
		if err := need(member != nil && group != nil, "member and group"); err != nil {
			return req, err
		}
		req.RemoveGroupMember = &membership.RemoveGroupMemberRequest{Group: group.Ref, Member: member.MemberRef}
	case membership.KindRevokeRoles:
		if err := need(spaceMembership > 0 && len(roles) > 0, "space_membership and roles"); err != nil {
			return req, err
		}
		req.RevokeRoles = &membership.RevokeRolesRequest{SpaceMemberID: spaceMembership, Roles: roles}
	default:
		return req, membership.Errorf(membership.CodeInvalid, "kind must be one of %s, %s, %s, %s", membership.KindRemoveMember,
			membership.KindRemoveSpaceMember, membership.KindRemoveGroupMember, membership.KindRevokeRoles)
	}
	return req, nil
}
