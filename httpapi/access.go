package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// Access: what a member can use now.

func (h *handler) listMemberAccess(ctx context.Context, a membership.Actor, in *MemberPath) (*out[list[*membership.Access]], error) {
	return listOf(h.svc.MemberAccess(ctx, a, parseMemberRef(in.Member)))
}

type accessInput struct {
	Member   string `query:"member" required:"true" maxLength:"320" doc:"The member's numeric id, UUID or e-mail address."`
	Resource string `query:"resource" required:"true" maxLength:"36" doc:"The resource's numeric id or UUID."`
}

func (h *handler) checkAccess(ctx context.Context, a membership.Actor, in *accessInput) (*out[*membership.Access], error) {
	r, err := pathRef("resource", in.Resource)
	if err != nil {
		return nil, err
	}
	m := parseMemberRef(in.Member)
	if m.Raw != "" {
		return nil, membership.ErrMemberNotFound
	}
	return result(h.svc.CheckAccess(ctx, a, m, r))
}
