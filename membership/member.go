package membership

import (
	"context"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MemberRef names a member the way a client did: by ID, UUID or e-mail.
// Raw holds what the client sent when it could not be read at all, so the
// item gets its own "invalid" outcome instead of failing the whole request.
type MemberRef struct {
	ID    int64  `json:"id,omitempty"`
	UUID  string `json:"uuid,omitempty"`
	Email string `json:"email,omitempty"`
	Raw   string `json:"raw,omitempty"`
}

// getParams is the store's address of the member r names in orgID.
func (r MemberRef) getParams(orgID int64) *MemberGetParams {
	return &MemberGetParams{OrgID: orgID, ID: r.ID, UUID: r.UUID, Email: NormalizeEmail(r.Email)}
}

// findMember reads the member ref names without locking it. A ref the
// client sent unreadable, like one naming nobody in the organization,
// answers ErrMemberNotFound.
func findMember(ctx context.Context, tx Tx, orgID int64, ref MemberRef) (*Member, error) {
	if ref.Raw != "" {
		return nil, ErrMemberNotFound
	}
	m, err := tx.MemberGet(ctx, ref.getParams(orgID))
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrMemberNotFound
	}
	return m, err
}

// actingMember loads the actor's membership. A credential whose member
// was removed stops working at once (promise 2).
func (s *Service) actingMember(ctx context.Context, tx Tx, a Actor) (*Member, error) {
	m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, ID: a.MemberID})
	if ErrorCode(err) == CodeNotFound || (err == nil && !m.Active()) {
		return nil, Errorf(CodeUnauthorized, "the credential's member is no longer active")
	}
	return m, err
}

// lockMember finds the member ref names and locks it: every change that
// concerns a member locks its row first, which serializes concurrent
// removals and restores of one member on every engine.
func (s *Service) lockMember(ctx context.Context, tx Tx, orgID int64, ref MemberRef) (*Member, error) {
	if ref.Raw != "" || (ref.ID == 0 && ref.UUID == "" && ref.Email == "") {
		return nil, Errorf(CodeInvalid, "member id %q is invalid", ref.Raw)
	}
	p := ref.getParams(orgID)
	p.Lock = true
	m, err := tx.MemberGet(ctx, p)
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrMemberNotFound
	}
	return m, err
}

// NormalizeEmail is the one form e-mail addresses are stored and compared in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidEmail is the one check every interface applies to an address it
// will store: net/mail.ParseAddress must read it as exactly itself (one
// plain address, no display name, no comment, no angle brackets), and on
// top of RFC 5322 it must hold nothing that can make one address look like
// another in a console, a log or a CSV: no control or format character
// (Unicode Cc and Cf, so no bidirectional overrides U+202A–U+202E or
// isolates U+2066–U+2069 and no zero-width characters), no white space or
// line separator, no private-use character, no quoted local part; and its
// domain must be a dot-qualified host name (labels of letters, digits and
// inner hyphens, a non-numeric last label), not a bare host or a literal.
// docs/decisions.md records why.
func ValidEmail(email string) error {
	if email == "" {
		return Errorf(CodeInvalid, "e-mail is required")
	}
	if !plainEmail(email) {
		return Errorf(CodeInvalid, "enter a valid email address")
	}
	return nil
}

// The limits of RFC 5321 (4.5.3.1) on a mailbox's parts and path.
const (
	maxEmailLen = 254
	maxLocalLen = 64
	maxLabelLen = 63
)

func plainEmail(email string) bool {
	if len(email) > maxEmailLen || !utf8.ValidString(email) {
		return false
	}
	for _, r := range email {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp, unicode.Zs) {
			return false
		}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	if local == "" || len(local) > maxLocalLen || strings.HasPrefix(local, `"`) {
		return false
	}
	return dotQualified(domain)
}

// dotQualified reports whether domain is a host name of two or more
// labels whose last one is not all digits (so not an IPv4 address).
func dotQualified(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r) {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.TrimLeft(tld, "0123456789") != ""
}

// AddMemberRequest adds a user (by e-mail) to the organization.
type AddMemberRequest struct {
	Email string
	Name  string
	Role  Role
}

// AddMember adds a user to the actor's organization, recording the actor as
// the member who added them. Admins cannot add owners.
func (s *Service) AddMember(ctx context.Context, a Actor, req AddMemberRequest) (*Member, error) {
	email := NormalizeEmail(req.Email)
	if err := ValidEmail(email); err != nil {
		return nil, s.refuse(ctx, a, ActionMemberAdded, err)
	}
	if req.Role == "" {
		req.Role = RoleMember
	}
	if !req.Role.Valid() {
		return nil, s.refuse(ctx, a, ActionMemberAdded, Errorf(CodeInvalid, "role must be owner, admin or member"))
	}
	if err := checkOptionalName("name", req.Name); err != nil {
		return nil, s.refuse(ctx, a, ActionMemberAdded, err)
	}
	return mutate(ctx, s, a, ActionMemberAdded, func(tx Tx) (*Member, error) {
		actor, err := s.manager(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if req.Role == RoleOwner && actor.Role != RoleOwner {
			return nil, Errorf(CodeForbidden, "only an owner can add an owner")
		}
		if existing, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: a.OrgID, Email: email}); err == nil {
			if existing.Active() {
				return nil, Errorf(CodeConflict, "%s is already a member", email)
			}
			return nil, Errorf(CodeConflict, "%s is a removed member: restore the membership instead", email)
		} else if ErrorCode(err) != CodeNotFound {
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, email, req.Name)
		if err != nil {
			return nil, err
		}
		now := s.now()
		m := &Member{UUID: NewUUID(), OrgID: a.OrgID, Email: email, Name: req.Name,
			Role: req.Role, Status: StatusActive, AddedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
		if err := tx.MemberCreate(ctx, user.ID, m); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, ActionMemberAdded, m, nil, m); err != nil {
			return nil, err
		}
		return m, nil
	})
}

// UpdateMemberRequest changes a member's name or role; empty fields stay.
type UpdateMemberRequest struct {
	Member MemberRef
	Name   *string
	Role   Role
	// ActiveOnly refuses a removed member with ErrMemberNotFound, for
	// dialects in which a removed user is no longer in the organization.
	ActiveOnly bool
}

// UpdateMember changes a member's name or organization role. With an
// If-Match in ctx's Guard (WithGuard) it changes the member only while
// its ETag is one the header names, and else refuses with
// CodePreconditionFailed.
func (s *Service) UpdateMember(ctx context.Context, a Actor, req UpdateMemberRequest) (*Member, error) {
	ctx = WithEventTarget(ctx, MemberTarget(req.Member))
	if req.Role != "" && !req.Role.Valid() {
		return nil, s.refuse(ctx, a, ActionMemberUpdated, Errorf(CodeInvalid, "role must be owner, admin or member"))
	}
	if req.Name != nil {
		if err := checkOptionalName("name", *req.Name); err != nil {
			return nil, s.refuse(ctx, a, ActionMemberUpdated, err)
		}
	}
	return mutate(ctx, s, a, ActionMemberUpdated, func(tx Tx) (*Member, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target, err := s.lockMember(ctx, tx, a.OrgID, req.Member)
		if err != nil {
			return nil, err
		}
		if req.ActiveOnly && !target.Active() {
			return nil, ErrMemberNotFound
		}
		if err := precondition(ctx, memberName(target), target); err != nil {
			return nil, err
		}
		if actor.ID != target.ID || req.Role != "" {
			if err := mayManage(actor); err != nil {
				return nil, err
			}
			if (req.Role == RoleOwner || target.Role == RoleOwner) && actor.Role != RoleOwner {
				return nil, Errorf(CodeForbidden, "only an owner can change an owner")
			}
		}
		if target.Role == RoleOwner && req.Role != "" && req.Role != RoleOwner {
			if err := keepAnOwner(ctx, tx, a.OrgID, target.ID); err != nil {
				return nil, err
			}
		}
		before := *target
		if req.Name != nil {
			target.Name = *req.Name
		}
		if req.Role != "" {
			target.Role = req.Role
		}
		target.UpdatedAt = s.now()
		if err := tx.MemberUpdate(ctx, target); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, ActionMemberUpdated, target, &before, target); err != nil {
			return nil, err
		}
		return target, nil
	})
}

// Member returns one member of the actor's organization.
func (s *Service) Member(ctx context.Context, a Actor, ref MemberRef) (*Member, error) {
	return view(ctx, s, func(tx Tx) (*Member, error) { return findMember(ctx, tx, a.OrgID, ref) })
}

// Members lists the actor's organization's members.
func (s *Service) Members(ctx context.Context, a Actor, p MemberListParams) ([]*Member, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Member, error) { return tx.MemberList(ctx, &p) })
}

// ListLimit clamps a client's page size.
func ListLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

// MemberPage is one numbered page of members and how many match in all.
type MemberPage struct {
	Members []*Member
	Total   int
}

// MemberPageOf lists the members matching p (paged by p.Offset and p.Limit)
// and counts them all, in one snapshot so the two agree.
func (s *Service) MemberPageOf(ctx context.Context, a Actor, p MemberListParams) (*MemberPage, error) {
	p.OrgID, p.Limit, p.Offset = a.OrgID, ListLimit(p.Limit), max(p.Offset, 0)
	return view(ctx, s, func(tx Tx) (*MemberPage, error) {
		members, err := tx.MemberList(ctx, &p)
		if err != nil {
			return nil, err
		}
		total, err := tx.MemberCount(ctx, &p)
		if err != nil {
			return nil, err
		}
		return &MemberPage{Members: members, Total: total}, nil
	})
}

// MemberHistory is a member with every membership period and its space
// and group memberships, active or removed.
type MemberHistory struct {
	Member   *Member         `json:"member"`
	Periods  []*MemberPeriod `json:"periods"`
	Spaces   []*SpaceMember  `json:"spaces"`
	Groups   []*GroupMember  `json:"groups"`
	Bookings []*Booking      `json:"bookings"`
}

// History returns everything memberd keeps about a member's membership.
func (s *Service) History(ctx context.Context, a Actor, ref MemberRef) (*MemberHistory, error) {
	m, err := s.Member(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	return view(ctx, s, func(tx Tx) (*MemberHistory, error) {
		h := &MemberHistory{Member: m}
		var err error
		if h.Periods, err = tx.MemberPeriodList(ctx, m.ID); err != nil {
			return nil, err
		}
		if h.Spaces, err = tx.SpaceMemberList(ctx, &SpaceMemberListParams{OrgID: a.OrgID, MemberID: m.ID}); err != nil {
			return nil, err
		}
		if h.Groups, err = tx.GroupMemberList(ctx, &GroupMemberListParams{OrgID: a.OrgID, MemberID: m.ID}); err != nil {
			return nil, err
		}
		h.Bookings, err = tx.BookingList(ctx, &BookingListParams{OrgID: a.OrgID, MemberID: m.ID})
		return h, err
	})
}

// MemberAccess lists every resource the member can use right now, read
// from committed state like CheckAccess.
func (s *Service) MemberAccess(ctx context.Context, a Actor, ref MemberRef) ([]*Access, error) {
	return view(ctx, s, func(tx Tx) ([]*Access, error) {
		m, err := findMember(ctx, tx, a.OrgID, ref)
		if err != nil {
			return nil, err
		}
		access, err := tx.AccessList(ctx, a.OrgID, m.ID)
		if access == nil && err == nil {
			access = []*Access{}
		}
		return access, err
	})
}
