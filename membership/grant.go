package membership

import (
	"context"
	"strings"
)

// This file holds resources, the grants that give access to them, and
// the access check that reads both.

// CreateResourceRequest creates a resource, optionally inside a space.
type CreateResourceRequest struct {
	Kind  string
	Name  string
	Space Ref
}

// ResourceKinds are the kinds of resource memberd grants access to.
var ResourceKinds = []string{"desk", "room", "device", "lock", "parking"}

// CreateResource creates a resource.
func (s *Service) CreateResource(ctx context.Context, a Actor, req CreateResourceRequest) (*Resource, error) {
	if err := checkName("resource name", req.Name); err != nil {
		return nil, s.refuse(ctx, a, ActionResourceCreated, err)
	}
	valid := false
	for _, k := range ResourceKinds {
		valid = valid || k == req.Kind
	}
	if !valid {
		return nil, s.refuse(ctx, a, ActionResourceCreated, Errorf(CodeInvalid, "kind must be one of %s", strings.Join(ResourceKinds, ", ")))
	}
	return mutate(ctx, s, a, ActionResourceCreated, func(tx Tx) (*Resource, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		r := &Resource{UUID: NewUUID(), OrgID: a.OrgID, Kind: req.Kind, Name: req.Name, CreatedAt: s.now()}
		if req.Space != (Ref{}) {
			sp, err := tx.SpaceGet(ctx, req.Space.params(a.OrgID))
			if err != nil {
				return nil, err
			}
			r.SpaceID = sp.ID
		}
		if err := tx.ResourceCreate(ctx, r); err != nil {
			return nil, err
		}
		_, err := s.record(ctx, tx, a, ActionResourceCreated, nil, nil, r)
		return r, err
	})
}

// Resources lists the organization's resources.
func (s *Service) Resources(ctx context.Context, a Actor) ([]*Resource, error) {
	return view(ctx, s, func(tx Tx) ([]*Resource, error) { return tx.ResourceList(ctx, a.OrgID) })
}

// Resource returns one resource of the actor's organization.
func (s *Service) Resource(ctx context.Context, a Actor, ref Ref) (*Resource, error) {
	return view(ctx, s, func(tx Tx) (*Resource, error) { return tx.ResourceGet(ctx, ref.params(a.OrgID)) })
}

// CreateGrantRequest grants a resource to a member directly or to a group.
type CreateGrantRequest struct {
	Resource Ref
	Member   *MemberRef
	Group    *Ref
}

// CreateGrant grants access to a resource.
func (s *Service) CreateGrant(ctx context.Context, a Actor, req CreateGrantRequest) (*Grant, error) {
	if (req.Member == nil) == (req.Group == nil) {
		return nil, s.refuse(ctx, a, ActionGrantCreated, Errorf(CodeInvalid, "a grant names exactly one of member or group"))
	}
	return mutate(ctx, s, a, ActionGrantCreated, func(tx Tx) (*Grant, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		res, err := tx.ResourceGet(ctx, req.Resource.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		g := &Grant{UUID: NewUUID(), OrgID: a.OrgID, ResourceID: res.ID, Status: StatusActive, CreatedAt: s.now()}
		var target *Member
		if req.Member != nil {
			if target, err = s.lockMember(ctx, tx, a.OrgID, *req.Member); err != nil {
				return nil, err
			}
			if !target.Active() {
				return nil, Errorf(CodeConflict, "the member is removed from the organization")
			}
			g.MemberID = target.ID
		} else {
			grp, err := tx.GroupGet(ctx, req.Group.params(a.OrgID))
			if err != nil {
				return nil, err
			}
			g.GroupID = grp.ID
		}
		if err := tx.GrantCreate(ctx, g); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, ActionGrantCreated, target, nil, g)
		return g, err
	})
}

// Grants lists grants matching p within the actor's organization.
func (s *Service) Grants(ctx context.Context, a Actor, p GrantListParams) ([]*Grant, error) {
	p.OrgID = a.OrgID
	return view(ctx, s, func(tx Tx) ([]*Grant, error) { return tx.GrantList(ctx, &p) })
}

// Grant returns one grant of the actor's organization by ID.
func (s *Service) Grant(ctx context.Context, a Actor, id int64) (*Grant, error) {
	return view(ctx, s, func(tx Tx) (*Grant, error) { return tx.GrantGet(ctx, &RefParams{OrgID: a.OrgID, ID: id}) })
}

// CheckAccess answers whether a member can use a resource right now,
// from committed state only. The access index answers when it holds an
// answer read at the organization's current access epoch: the one the
// actor's credential was read with (no statement at all), or else one
// read now by primary key. Otherwise one statement resolves the member
// and the resource and reads the access paths and the epoch
// (Tx.AccessCheckRef), and the index keeps its answer. Every view here
// runs one statement, so PostgreSQL answers each in one round trip.
func (s *Service) CheckAccess(ctx context.Context, a Actor, member MemberRef, resource Ref) (*Access, error) {
	if member.Raw != "" {
		return nil, ErrMemberNotFound
	}
	one := WithOneStatement(ctx)
	key, keep := s.access.key(a.OrgID, member, resource)
	if u := a.Unconfirmed; u != nil {
		return s.checkAccessUnconfirmed(ctx, a, u, member, resource, key, keep)
	}
	if keep {
		if e, ok := s.access.get(key); ok {
			epoch, err := s.accessEpoch(one, a)
			if err != nil {
				return nil, err
			}
			if epoch == e.epoch {
				return e.answer(), nil
			}
		}
	}
	ans, err := view(one, s, func(tx Tx) (*AccessAnswer, error) {
		return tx.AccessCheckRef(one, accessCheckParams(a, member, resource))
	})
	if err != nil {
		return nil, err
	}
	return s.accessAnswered(ans, key, keep)
}

// checkAccessUnconfirmed answers a check whose credential came from the
// credential cache, valid at u.Epoch. The one statement a check runs
// anyway (the index's epoch, or the check itself) reads the epoch of its
// snapshot; if it is still u.Epoch, the credential is still in force there.
// If not, the credential is read again with the check, in one snapshot.
func (s *Service) checkAccessUnconfirmed(ctx context.Context, a Actor, u *UnconfirmedCredential, member MemberRef, resource Ref, key accessKey, keep bool) (*Access, error) {
	one := WithOneStatement(ctx)
	moved := false
	if keep {
		if e, ok := s.access.get(key); ok && e.epoch == u.Epoch {
			epoch, err := view(one, s, func(tx Tx) (int64, error) { return tx.AccessEpoch(one, a.OrgID) })
			if err != nil {
				return nil, err
			}
			if epoch == u.Epoch {
				return e.answer(), nil
			}
			moved = true
		}
	}
	var ans *AccessAnswer
	var err error
	if !moved {
		ans, err = view(one, s, func(tx Tx) (*AccessAnswer, error) {
			return tx.AccessCheckRef(one, accessCheckParams(a, member, resource))
		})
		if err != nil {
			return nil, err
		}
		moved = ans.Epoch != u.Epoch
	}
	if moved {
		var p *Principal
		ans, err = view(ctx, s, func(tx Tx) (*AccessAnswer, error) {
			if p, err = s.principal(ctx, tx, u.prefix, u.hash); err != nil {
				return nil, err
			}
			return tx.AccessCheckRef(ctx, accessCheckParams(a, member, resource))
		})
		if ErrorCode(err) == CodeUnauthorized {
			s.creds.drop(u.hash)
			s.AuditRefusedAuth(ctx, a.Interface, a.RequestID, u.prefix, RefusalReason(err))
			return nil, err
		} else if err != nil {
			return nil, err
		}
		if p.AccessEpoch != nil {
			s.creds.put(u.hash, p)
		}
	}
	return s.accessAnswered(ans, key, keep)
}

func accessCheckParams(a Actor, member MemberRef, resource Ref) *AccessCheckRefParams {
	return &AccessCheckRefParams{Member: *member.getParams(a.OrgID), Resource: *resource.params(a.OrgID)}
}

// accessAnswered turns a check's answer into CheckAccess's, and keeps it
// in the access index at the epoch it was read at.
func (s *Service) accessAnswered(ans *AccessAnswer, key accessKey, keep bool) (*Access, error) {
	switch {
	case !ans.MemberFound:
		return nil, ErrMemberNotFound
	case !ans.ResourceFound:
		return nil, Errorf(CodeNotFound, "resource not found")
	}
	if keep {
		s.access.put(key, ans.Epoch, ans.Access)
	}
	return ans.Access, nil
}

// accessEpoch is the actor's organization's access epoch: the one read
// with its credential for this request, or else the current one.
func (s *Service) accessEpoch(ctx context.Context, a Actor) (int64, error) {
	if a.AccessEpoch != nil {
		return *a.AccessEpoch, nil
	}
	return view(ctx, s, func(tx Tx) (int64, error) { return tx.AccessEpoch(ctx, a.OrgID) })
}
