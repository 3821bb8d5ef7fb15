package httpapi

import "github.com/memberd/memberd/membership"

// requireBatchTarget is the one request rule this adapter still checks
// itself: the core cannot tell a batch that names no space from HighQ's
// site 0 (both are Ref{}), and HighQ must answer site 0 with its 404.

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
