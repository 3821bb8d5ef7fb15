package membership

import (
	"context"
	"strings"
)

// SpaceMembershipViewRequest names one space membership the way a URL
// does: its organization, its space and its own id.
type SpaceMembershipViewRequest struct {
	// OrgUUID, when set, must be the actor's organization's UUID (in
	// either case); another organization's is CodeNotFound (promise 6).
	OrgUUID string
	Space   Ref
	ID      int64
}

// SpaceMembershipView is a space membership with what a reader shows
// beside it, all read in one snapshot.
type SpaceMembershipView struct {
	Organization *Organization
	Space        *Space
	Membership   *SpaceMember
	Member       *Member
	// AddedBy is the member who added the membership; nil when no one
	// did (it was seeded or imported) or that member no longer exists.
	AddedBy *Member
}

// SpaceMembershipView reads one space membership, its space, its member
// and who added it in one snapshot, for dialects whose one read shows all
// of them (Workiva's WorkspaceMembership). It returns CodeNotFound when
// the organization is not the actor's, the space is absent, or the
// membership is absent or belongs to another space; a removed membership
// is returned as it is, for the caller to show or hide.
func (s *Service) SpaceMembershipView(ctx context.Context, a Actor, req SpaceMembershipViewRequest) (*SpaceMembershipView, error) {
	notFound := Errorf(CodeNotFound, "space membership not found")
	return view(ctx, s, func(tx Tx) (*SpaceMembershipView, error) {
		member := func(id int64) (*Member, error) {
			m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: id})
			if ErrorCode(err) == CodeNotFound {
				return nil, ErrMemberNotFound
			}
			return m, err
		}
		var v SpaceMembershipView
		var err error
		if v.Organization, err = tx.OrganizationGet(ctx, a.OrgID); err != nil {
			return nil, err
		}
		if req.OrgUUID != "" && !strings.EqualFold(v.Organization.UUID, req.OrgUUID) {
			return nil, Errorf(CodeNotFound, "organization not found")
		}
		if v.Space, err = tx.SpaceGet(ctx, req.Space.params(a.OrgID)); err != nil {
			return nil, err
		}
		if req.ID <= 0 {
			return nil, notFound
		}
		if v.Membership, err = tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: req.ID}); err != nil {
			return nil, err
		}
		if v.Membership.SpaceID != v.Space.ID {
			return nil, notFound
		}
		if v.Member, err = member(v.Membership.MemberID); err != nil {
			return nil, err
		}
		if by := v.Membership.AddedBy; by != 0 {
			v.AddedBy, err = member(by)
			if ErrorCode(err) == CodeNotFound {
				v.AddedBy, err = nil, nil
			}
			if err != nil {
				return nil, err
			}
		}
		return &v, nil
	})
}
