package httpapi

import (
	"context"
	"net/url"

	"github.com/memberd/memberd/membership"
)

// Access: what a member can use now.

func (h *handler) listMemberAccess(ctx context.Context, a membership.Actor, in *MemberPath) (*out[list[*membership.Access]], error) {
	return listOf(h.svc.MemberAccess(ctx, a, parseMemberRef(in.Member)))
}

// maxMemberQuery bounds the member a check names, an e-mail address at most.
const maxMemberQuery = 320

type accessInput struct {
	Member   string `query:"member" required:"true" maxLength:"320" doc:"The member's numeric id, UUID or e-mail address."`
	Resource string `query:"resource" required:"true" maxLength:"36" doc:"The resource's numeric id or UUID."`
}

func (h *handler) checkAccess(ctx context.Context, a membership.Actor, in *accessInput) (*out[*membership.Access], error) {
	m, r, err := in.refs()
	if err != nil {
		return nil, err
	}
	return result(h.svc.CheckAccess(ctx, a, m, r))
}

// refs reads the member and the resource the check names; a name that
// cannot name anything answers not found, as one naming nobody does.
func (in *accessInput) refs() (membership.MemberRef, membership.Ref, error) {
	r, err := pathRef("resource", in.Resource)
	if err != nil {
		return membership.MemberRef{}, r, err
	}
	m := parseMemberRef(in.Member)
	if m.Raw != "" {
		return m, r, membership.ErrMemberNotFound
	}
	return m, r, nil
}

// accessRequestReachesCheck tells, from its query, an access check request
// whose input huma accepts and whose names are readable, so that
// checkAccess makes its core call, which confirms a credential from the
// credential cache.
func accessRequestReachesCheck(q url.Values) bool {
	in := accessInput{Member: q.Get("member"), Resource: q.Get("resource")}
	_, _, err := in.refs()
	return err == nil && len(in.Member) <= maxMemberQuery
}
