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
// from committed state only. A store's copy in memory (AccessMemory)
// answers first when it can prove itself current, for a member and a
// resource named by id: with no statement, unless the actor's credential
// came from the credential cache at an older epoch, which the statement
// below then confirms. Otherwise the access index answers when it holds an
// answer read at the organization's current access epoch: with no
// statement at all when that is the epoch the actor's credential was read
// with. Otherwise one statement (Tx.AccessCheckRef) reads the epoch and,
// unless it proves the held answer current, resolves the member and the
// resource and reads the access paths; the index keeps its answer. An
// actor whose credential came from the credential cache (Actor.Unconfirmed)
// is confirmed by the same statement: the epoch it reads is the
// credential's, or else it reads the credential's state with the answer.
// So a check is never more than one statement, and PostgreSQL answers it
// in one round trip.
func (s *Service) CheckAccess(ctx context.Context, a Actor, member MemberRef, resource Ref) (*Access, error) {
	u := a.Unconfirmed
	if member.Raw != "" && u == nil {
		// Unconfirmed, the statement below names nobody and so answers
		// not found too, but only once the credential is confirmed.
		return nil, ErrMemberNotFound
	}
	if s.memory != nil && member.ID != 0 && resource.ID != 0 {
		if ans, ok := s.memory.AccessInMemory(a.OrgID, member.ID, resource.ID); ok && (u == nil || ans.Epoch == u.Epoch) {
			return s.accessAnswered(ans, accessKey{}, false)
		}
	}
	key, keep := s.access.key(a.OrgID, member, resource)
	p := accessCheckParams(a, member, resource)
	var held accessEntry
	if keep {
		e, ok := s.access.get(key)
		if ok && u == nil && a.AccessEpoch != nil && *a.AccessEpoch == e.epoch {
			return e.answer(), nil
		}
		if ok {
			held, p.Since = e, &e.epoch
		}
	}
	if u != nil {
		p.Credential = &CredentialAt{ID: a.CredentialID, Epoch: u.Epoch}
	}
	one := WithOneStatement(ctx)
	ans, err := view(one, s, func(tx Tx) (*AccessAnswer, error) { return tx.AccessCheckRef(one, p) })
	if err != nil {
		return nil, err
	}
	if u != nil && ans.Epoch != u.Epoch {
		if err := s.confirmCredential(ctx, a, u, ans); err != nil {
			return nil, err
		}
	}
	if p.Since != nil && ans.Epoch == held.epoch {
		return held.answer(), nil
	}
	return s.accessAnswered(ans, key, keep)
}

// confirmCredential decides an unconfirmed credential by its state in the
// snapshot of ans, read because the epoch moved since the credential was
// cached. A credential no longer in force is refused (401) and audited
// like any refused secret; one in force is cached again at the new epoch.
func (s *Service) confirmCredential(ctx context.Context, a Actor, u *UnconfirmedCredential, ans *AccessAnswer) error {
	st := ans.Credential
	if st == nil {
		return Errorf(CodeInternal, "the access check read no credential state")
	}
	var err error = errBadToken("invalid token")
	if st.Found {
		err = s.inForce(st.RevokedAt, st.ExpiresAt, st.MemberActive)
	}
	if err != nil {
		s.creds.drop(u.hash)
		s.AuditRefusedAuth(ctx, a.Interface, a.RequestID, u.prefix, RefusalReason(err))
		return err
	}
	s.creds.advance(u.hash, a.CredentialID, ans.Epoch, st.MemberUpdatedAt)
	return nil
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
