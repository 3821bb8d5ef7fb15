package membership

import "context"

// This file holds single-entity reads the native API needs to answer
// "what access does this member have" and to give every created entity a
// URL (its Location) that can be read back.

// MemberAccess lists every resource the member can use right now, read
// from committed state like CheckAccess.
func (s *Service) MemberAccess(ctx context.Context, a Actor, ref MemberRef) ([]*Access, error) {
	return view(ctx, s, func(tx Tx) ([]*Access, error) {
		if ref.Raw != "" {
			return nil, ErrMemberNotFound
		}
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: ref.ID, UUID: ref.UUID, Email: NormalizeEmail(ref.Email)})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrMemberNotFound
		} else if err != nil {
			return nil, err
		}
		access, err := tx.AccessList(ctx, a.OrgID, m.ID)
		if access == nil && err == nil {
			access = []*Access{}
		}
		return access, err
	})
}

// Group returns one group of the actor's organization.
func (s *Service) Group(ctx context.Context, a Actor, ref Ref) (*Group, error) {
	return view(ctx, s, func(tx Tx) (*Group, error) { return tx.GroupGet(ctx, ref.params(a.OrgID)) })
}

// GroupMembership returns a member's membership of a group, active or removed.
func (s *Service) GroupMembership(ctx context.Context, a Actor, group Ref, member MemberRef) (*GroupMember, error) {
	return view(ctx, s, func(tx Tx) (*GroupMember, error) {
		g, err := tx.GroupGet(ctx, group.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		if member.Raw != "" {
			return nil, ErrMemberNotFound
		}
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: member.ID, UUID: member.UUID, Email: NormalizeEmail(member.Email)})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrMemberNotFound
		} else if err != nil {
			return nil, err
		}
		gm, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: a.OrgID, GroupID: g.ID, MemberID: m.ID})
		if ErrorCode(err) == CodeNotFound {
			return nil, ErrNotMember
		}
		return gm, err
	})
}

// Resource returns one resource of the actor's organization.
func (s *Service) Resource(ctx context.Context, a Actor, ref Ref) (*Resource, error) {
	return view(ctx, s, func(tx Tx) (*Resource, error) { return tx.ResourceGet(ctx, ref.params(a.OrgID)) })
}

// Grant returns one grant of the actor's organization by ID.
func (s *Service) Grant(ctx context.Context, a Actor, id int64) (*Grant, error) {
	return view(ctx, s, func(tx Tx) (*Grant, error) { return tx.GrantGet(ctx, &RefParams{OrgID: a.OrgID, ID: id}) })
}

// Booking returns one booking of the actor's organization by ID.
func (s *Service) Booking(ctx context.Context, a Actor, id int64) (*Booking, error) {
	return view(ctx, s, func(tx Tx) (*Booking, error) { return tx.BookingGet(ctx, &RefParams{OrgID: a.OrgID, ID: id}) })
}

// Credential returns one credential of the actor's organization by ID
// (never its secret).
func (s *Service) Credential(ctx context.Context, a Actor, id int64) (*Credential, error) {
	return view(ctx, s, func(tx Tx) (*Credential, error) {
		return tx.CredentialGet(ctx, &RefParams{OrgID: a.OrgID, ID: id})
	})
}
