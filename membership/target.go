package membership

import (
	"context"
	"strconv"
)

// EventTarget is what a request is about, as the client named it. An
// adapter puts it on the request's context (WithEventTarget) as soon as it
// has parsed the reference, and core calls put their own, so that a
// refusal at any stage records its target.
type EventTarget struct {
	// Type is "member", "space", "group", "space_member", "credential",
	// "operation" or "webhook_endpoint".
	Type string
	// Ref is the thing itself, by id or uuid (unused when Type is
	// "member": Member names it).
	Ref Ref
	// Member is the member the request is about, if any.
	Member MemberRef
}

type targetKey struct{}

// WithEventTarget returns ctx naming t as the target of the request it
// carries; a refusal recorded with ctx names it.
func WithEventTarget(ctx context.Context, t EventTarget) context.Context {
	return context.WithValue(ctx, targetKey{}, t)
}

// MemberTarget is the EventTarget of a request about one member.
func MemberTarget(ref MemberRef) EventTarget { return EventTarget{Type: "member", Member: ref} }

// String is the reference as the client sent it.
func (r MemberRef) String() string {
	switch {
	case r.Raw != "":
		return r.Raw
	case r.ID != 0:
		return strconv.FormatInt(r.ID, 10)
	case r.UUID != "":
		return r.UUID
	}
	return r.Email
}

// removalTarget is the EventTarget of a removal that runs later, named as
// the same removal made at once names it.
func removalTarget(k removalKind) EventTarget {
	switch r := k.(type) {
	case *RemoveMemberRequest:
		return MemberTarget(r.Member)
	case *RemoveSpaceMemberRequest:
		return EventTarget{Type: "space", Ref: r.Space, Member: r.Member}
	case *RemoveGroupMemberRequest:
		return EventTarget{Type: "group", Ref: r.Group, Member: r.Member}
	case *RevokeRolesRequest:
		return EventTarget{Type: "space_member", Ref: Ref{ID: r.SpaceMemberID}}
	}
	return EventTarget{}
}

// specTarget is the EventTarget of a schedule request, from whatever
// parts it names, so that even a request refused for its shape (no
// effective time, a part missing) records what it was about.
func specTarget(spec RemovalSpec) EventTarget {
	var t EventTarget
	if spec.Member != nil {
		t = MemberTarget(*spec.Member)
	}
	switch {
	case spec.Space != nil:
		t.Type, t.Ref = "space", *spec.Space
	case spec.Group != nil:
		t.Type, t.Ref = "group", *spec.Group
	case spec.SpaceMemberID != 0:
		t.Type, t.Ref = "space_member", Ref{ID: spec.SpaceMemberID}
	}
	return t
}

func (r Ref) String() string {
	if r.ID != 0 {
		return strconv.FormatInt(r.ID, 10)
	}
	return r.UUID
}

// resolveTarget fills e's target from t. Only what exists in orgID gets
// an id; anything else (absent, or another organization's) is kept as
// the reference the client sent, so that nothing of another tenant leaks
// into this one's trail.
func (s *Service) resolveTarget(ctx context.Context, tx Tx, orgID int64, t EventTarget, e *Event) error {
	e.TargetType = t.Type
	var refs []string
	if t.Member != (MemberRef{}) {
		m, err := s.findTarget(ctx, tx, orgID, t.Member)
		if err != nil {
			return err
		}
		if m != nil {
			e.TargetMemberID = m.ID
			if t.Type == "member" {
				e.TargetID = m.ID
			}
		} else {
			refs = append(refs, "member:"+t.Member.String())
		}
	}
	if t.Type != "member" && t.Ref != (Ref{}) {
		id, err := s.findRef(ctx, tx, orgID, t.Type, t.Ref)
		if err != nil {
			return err
		}
		if id != 0 {
			e.TargetID = id
		} else {
			refs = append(refs, t.Type+":"+t.Ref.String())
		}
	}
	for i, r := range refs {
		if i > 0 {
			e.TargetRef += " "
		}
		e.TargetRef += r
	}
	return nil
}

// findTarget reads the member ref names in orgID; nil when it names none.
func (s *Service) findTarget(ctx context.Context, tx Tx, orgID int64, ref MemberRef) (*Member, error) {
	if orgID == 0 || ref.Raw != "" {
		return nil, nil
	}
	m, err := findMember(ctx, tx, orgID, ref)
	if ErrorCode(err) == CodeNotFound || ErrorCode(err) == CodeInvalid {
		return nil, nil
	}
	return m, err
}

// findRef returns the id of the thing of type kind that ref names in
// orgID, or 0.
func (s *Service) findRef(ctx context.Context, tx Tx, orgID int64, kind string, ref Ref) (int64, error) {
	if orgID == 0 {
		return 0, nil
	}
	var id int64
	var err error
	p := ref.params(orgID)
	switch kind {
	case "space":
		var v *Space
		if v, err = tx.SpaceGet(ctx, p); err == nil {
			id = v.ID
		}
	case "group":
		var v *Group
		if v, err = tx.GroupGet(ctx, p); err == nil {
			id = v.ID
		}
	case "credential":
		var v *Credential
		if v, err = tx.CredentialGet(ctx, p); err == nil && v.OrgID == orgID {
			id = v.ID
		}
	case "space_member":
		var v *SpaceMember
		if v, err = tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: orgID, ID: ref.ID}); err == nil {
			id = v.ID
		}
	default:
		return 0, nil
	}
	if ErrorCode(err) == CodeNotFound {
		return 0, nil
	}
	return id, err
}
