package membership

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Removal refusals that adapters tell apart; compare with errors.Is.
var (
	ErrMemberNotFound = &Error{Code: CodeNotFound, Message: "no such member in the organization"}
	ErrNotMember      = &Error{Code: CodeNotFound, Message: "the member is not in the space or group"}
	ErrAlreadyRemoved = &Error{Code: CodeConflict, Message: "already removed"}
	ErrLastOwner      = &Error{Code: CodeConflict, Message: "cannot remove the last owner of the organization"}
)

type reportDiscardedKey struct{}

// WithReportDiscarded marks ctx's removal as one whose interface answers
// without its report (Jicoo's 204, HighQ's empty 200): the reads that only
// feed the report's grants of groups left, its remaining access and its
// receipt's hash are then skipped (the receipt keeps its event id). The
// change, its audit event, its removal log (what undo restores) and the
// report's other lists stay exactly as they were.
func WithReportDiscarded(ctx context.Context) context.Context {
	return context.WithValue(ctx, reportDiscardedKey{}, true)
}

// reportDiscarded says the report-only reads may be skipped: asked for,
// and no plan tag (an ETag covers the whole report) is being computed.
func reportDiscarded(ctx context.Context) bool {
	d, _ := ctx.Value(reportDiscardedKey{}).(bool)
	return d && !tagging(ctx)
}

// errDryRun rolls back a dry run's transaction after its report is built.
var errDryRun = errors.New("dry run")

// Report says what a removal took away (or, for a dry run, would take
// away), and what access the member keeps. A restore reports what came back.
//
// Counts are always exact. Each list holds at most the request's report
// limit (DefaultReportLimit unless it names one) of its kind, lowest IDs
// first: a member in 1,000 spaces with 10,000 grants would otherwise get a
// report of megabytes that nobody reads item by item. Truncated says some
// list is shorter than its count; asking again with a larger limit (a dry
// run first, the preview being exact) lists everything.
type Report struct {
	DryRun          bool           `json:"dry_run"`
	Member          *Member        `json:"member"`
	Counts          ReportCounts   `json:"counts" doc:"Exact totals of what was (or would be) taken away, whatever the lists hold."`
	Truncated       bool           `json:"truncated" doc:"Some list holds fewer items than its count: ask again with a larger report_limit (up to 100000) to list them all."`
	Spaces          []*SpaceMember `json:"spaces" doc:"The space memberships removed, at most report_limit, lowest ids first."`
	Roles           []*RoleChange  `json:"roles" doc:"The roles those memberships held, at most report_limit space memberships."`
	Groups          []*GroupMember `json:"groups" doc:"The group memberships removed, at most report_limit."`
	Grants          []*GrantChange `json:"grants" doc:"Grants whose access the member lost: at most report_limit direct grants (revoked), then at most report_limit grants of the groups left (which stay in force for the groups' other members)."`
	Bookings        []*Booking     `json:"bookings" doc:"Future bookings cancelled, at most report_limit."`
	RemainingAccess []*Access      `json:"remaining_access" doc:"Resources the member can still use, at most report_limit."`
	EventID         int64          `json:"event_id,omitempty"`
	Receipt         *Receipt       `json:"receipt,omitempty" doc:"The change's audit event and its chain hash: memberd audit verify --receipt checks it later."`
}

// ReportCounts are the exact totals of a Report, counted in the same
// transaction as the change.
type ReportCounts struct {
	Spaces          int `json:"spaces" doc:"Space memberships removed."`
	Roles           int `json:"roles" doc:"Roles held in those space memberships (one per space and role)."`
	Groups          int `json:"groups" doc:"Group memberships removed."`
	DirectGrants    int `json:"direct_grants" doc:"Direct grants revoked (or, for a restore, restored)."`
	GroupGrants     int `json:"group_grants" doc:"Grants of the groups left: access the member lost with those groups."`
	Bookings        int `json:"bookings" doc:"Future bookings cancelled."`
	RemainingAccess int `json:"remaining_access" doc:"Resources the member can still use."`
}

// Report limits: items per list of a Report.
const (
	DefaultReportLimit = 100
	MaxReportLimit     = 100000
)

// reportLimit checks a request's report limit; 0 means the default.
func reportLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultReportLimit, nil
	case n < 0 || n > MaxReportLimit:
		return 0, Errorf(CodeInvalid, "report_limit must be between 1 and %d", MaxReportLimit)
	}
	return n, nil
}

// RoleChange lists roles of one space membership.
type RoleChange struct {
	SpaceID       int64    `json:"space_id"`
	SpaceMemberID int64    `json:"space_member_id"`
	Roles         []string `json:"roles"`
}

// GrantChange is a grant whose access the member lost or regained, with
// where that access came from.
type GrantChange struct {
	Grant  *Grant `json:"grant"`
	Origin string `json:"origin"` // "direct" or "group"
}

func newReport(m *Member) *Report {
	return &Report{
		Member: m, Spaces: []*SpaceMember{}, Roles: []*RoleChange{}, Groups: []*GroupMember{},
		Grants: []*GrantChange{}, Bookings: []*Booking{}, RemainingAccess: []*Access{},
	}
}

// bound counts the lists the store returned whole and cuts each to limit
// items. Grants come from the store already counted and cut, and so may
// space memberships and their roles: a count the store set above its
// list's length stays.
func (r *Report) bound(limit int) {
	r.Counts.Spaces, r.Counts.Groups = max(r.Counts.Spaces, len(r.Spaces)), len(r.Groups)
	r.Counts.Bookings, r.Counts.RemainingAccess = len(r.Bookings), len(r.RemainingAccess)
	listed := 0
	for _, rc := range r.Roles {
		listed += len(rc.Roles)
	}
	r.Counts.Roles = max(r.Counts.Roles, listed)
	roles := len(r.Roles)
	r.Spaces, r.Groups, r.Roles = r.Spaces[:min(len(r.Spaces), limit)], r.Groups[:min(len(r.Groups), limit)], r.Roles[:min(roles, limit)]
	r.Bookings, r.RemainingAccess = r.Bookings[:min(len(r.Bookings), limit)], r.RemainingAccess[:min(len(r.RemainingAccess), limit)]
	r.Truncated = len(r.Spaces) < r.Counts.Spaces || len(r.Groups) < r.Counts.Groups || len(r.Roles) < roles ||
		len(r.Bookings) < r.Counts.Bookings || len(r.RemainingAccess) < r.Counts.RemainingAccess ||
		len(r.Grants) < r.Counts.DirectGrants+r.Counts.GroupGrants
}

// dryRun builds fn's report in a transaction that is then rolled back, so
// a preview is exactly what the removal would do at that moment.
func dryRun(ctx context.Context, s *Service, fn func(tx Tx) (*Report, error)) (*Report, error) {
	return previewed(ctx, s, func(tx Tx) (*Report, error) {
		r, err := fn(tx)
		if err != nil {
			return nil, err
		}
		r.DryRun, r.EventID, r.Receipt = true, 0, nil
		return r, nil
	})
}

// previewed runs fn in a transaction that is then rolled back and returns
// what fn returned.
func previewed[T any](ctx context.Context, s *Service, fn func(tx Tx) (T, error)) (T, error) {
	var result T
	err := s.store.Update(ctx, func(tx Tx) error {
		r, err := fn(tx)
		if err != nil {
			return err
		}
		result = r
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return result, nil
	}
	var zero T
	return zero, err
}

// removal runs a removal for real or as a dry run.
func removal(ctx context.Context, s *Service, a Actor, action string, dry bool, fn func(tx Tx) (*Report, error)) (*Report, error) {
	fn = tagged(ctx, action, dry, fn)
	if dry {
		return dryRun(ctx, s, fn)
	}
	return mutate(ctx, s, a, action, logged(ctx, s, a, removalKindOf(action), fn))
}

// removalKindOf names the kind of removal a change's action records: the
// removal log, which undo and GET /removals read, keeps kinds, as
// operations do, not audit action names.
func removalKindOf(action string) string {
	switch action {
	case ActionMemberRemoved:
		return KindRemoveMember
	case ActionSpaceMemberRemoved:
		return KindRemoveSpaceMember
	case ActionGroupMemberRemoved:
		return KindRemoveGroupMember
	case ActionRolesRevoked:
		return KindRevokeRoles
	}
	return action
}

// RemoveMemberRequest removes a member from the organization: the
// membership and everything that hangs on it (offboarding).
type RemoveMemberRequest struct {
	Member MemberRef   `json:"member"`
	DryRun bool        `json:"dry_run,omitempty"`
	Rule   RemovalRule `json:"rule,omitempty"`
	// ReportLimit bounds each list of the report; 0 means DefaultReportLimit.
	ReportLimit int `json:"report_limit,omitempty"`
}

// RemoveMember removes a member from the organization. In the same
// transaction their space memberships, group memberships and direct grants
// stop, and their future bookings are cancelled unless configured not to.
// History, past bookings and the audit trail stay; RestoreMember undoes it.
func (s *Service) RemoveMember(ctx context.Context, a Actor, req RemoveMemberRequest) (*Report, error) {
	ctx = WithEventTarget(ctx, MemberTarget(req.Member))
	ctx = guarded(ctx)
	if a.Unconfirmed != nil {
		// The statement that locks the member confirms the credential
		// (parties), unless the call is answered before it runs: a
		// replayed Idempotency-Key, a refused report limit.
		_, idem := ctx.Value(idempotencyKey{}).(idempotency)
		if _, err := reportLimit(req.ReportLimit); idem || err != nil {
			if a, err = s.confirmActor(ctx, a); err != nil {
				return nil, err
			}
		} else {
			ctx = context.WithValue(ctx, confirmingKey{}, true)
		}
	}
	if _, err := reportLimit(req.ReportLimit); err != nil {
		if !req.DryRun {
			s.auditRefusal(ctx, a, ActionMemberRemoved, err)
		}
		return nil, err
	}
	return policed(ctx, s, a, &req)(removal(ctx, s, a, ActionMemberRemoved, req.DryRun, func(tx Tx) (*Report, error) {
		return s.removeMember(ctx, tx, a, req)
	}))
}

func (s *Service) removeMember(ctx context.Context, tx Tx, a Actor, req RemoveMemberRequest) (*Report, error) {
	actor, target, err := s.parties(ctx, tx, a, req.Member)
	if err != nil {
		return nil, err
	}
	if err := noteResource(ctx, memberName(target), target); err != nil {
		return nil, err
	}
	if !target.Active() {
		return nil, ErrAlreadyRemoved
	}
	if err := mayRemove(actor, target, target.AddedBy, req.Rule); err != nil {
		return nil, err
	}
	if target.Role == RoleOwner {
		if err := keepAnOwner(ctx, tx, a.OrgID, target.ID); err != nil {
			return nil, err
		}
	}
	before := *target
	now := s.now()
	limit, err := reportLimit(req.ReportLimit)
	if err != nil {
		return nil, err
	}
	status := &MemberSetStatusParams{ID: target.ID, Status: StatusRemoved, At: now, By: actor.ID}
	off := &DeactivateParams{OrgID: a.OrgID, MemberID: target.ID, Cause: CauseMemberRemoved, At: now, Limit: limit}
	report, err := s.offboard(ctx, tx, target, status, off)
	if err != nil {
		return nil, err
	}
	counted := carry(ctx, report)
	report, err = s.recorded(ctx, tx, a, ActionMemberRemoved, report, limit, &before, target)
	if err == nil {
		counted(report)
	}
	return report, err
}

// offboard ends target's membership and what hangs on it with one
// MemberOffboard, which an engine may send as one round trip, and
// reports it as the calls it stands for would. A removal whose plan tag
// is computed reads every space membership and the keys of every grant
// whose access it takes, the direct ones in the same MemberOffboard: a
// dry run of the bench's S4 offboarding on PostgreSQL made each call its
// own round trip, five where it is one.
func (s *Service) offboard(ctx context.Context, tx Tx, target *Member, status *MemberSetStatusParams, off *DeactivateParams) (*Report, error) {
	tag := tagging(ctx)
	p := &MemberOffboardParams{Status: *status, Spaces: *off, Off: *off}
	if tag {
		p.Spaces.Limit = 0 // the tag covers every membership
		g := guardOf(ctx)
		g.keyed, g.grantKeys = true, nil
		p.Off.Keys = &g.grantKeys
	}
	if !s.cfg.KeepFutureBookings && !(tag && holdsNoBooking(ctx, target.ID)) {
		now := s.now()
		p.Bookings = &BookingsCancelParams{OrgID: off.OrgID, MemberID: target.ID, After: now, Reason: "access removed", At: now}
	}
	// The groups' grants go with the rest (one round trip fewer) unless
	// the tag needs their keys, which reportGroupGrants reads.
	p.GroupGrants = !tag && !reportDiscarded(ctx)
	done, err := tx.MemberOffboard(ctx, p)
	if err != nil {
		return nil, err
	}
	removed(target, status)
	report := newReport(target)
	report.Spaces, report.Counts.Spaces, report.Counts.Roles = done.Spaces, done.SpaceCount, done.Roles
	report.Roles = rolesOf(report.Spaces)
	report.Groups = done.Groups
	revoked(report, done.Grants, done.GrantCount)
	if p.GroupGrants {
		groupGrantsLost(report, done.GroupGrants, done.GroupGrantCount)
	} else if err := s.reportGroupGrants(ctx, tx, report, off, tag); err != nil {
		return nil, err
	}
	if p.Bookings != nil {
		report.Bookings = done.Bookings
	}
	// A removed member can use nothing: no remaining access to list
	// (finishRemoval).
	return report, nil
}

// removed sets what MemberSetStatus changed on target.
func removed(target *Member, p *MemberSetStatusParams) {
	at := p.At
	target.Status, target.RemovedAt, target.RemovedBy, target.UpdatedAt = StatusRemoved, &at, p.By, at
}

// keepAnOwner refuses with ErrLastOwner unless an active owner other than
// except remains, and locks that owner until the transaction ends. Counting
// owners is not enough: two owners removing each other (or themselves) at
// once would each count two and leave none. Holding the other owner's lock
// makes its concurrent removal wait for this one and then see it.
func keepAnOwner(ctx context.Context, tx Tx, orgID, except int64) error {
	owners, err := tx.MemberList(ctx, &MemberListParams{OrgID: orgID, Status: StatusActive, Role: RoleOwner, Limit: MaxListLimit})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if o.ID == except {
			continue
		}
		m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: orgID, ID: o.ID, Lock: true})
		if err != nil {
			return err
		}
		if m.Active() && m.Role == RoleOwner { // still, now that it is locked
			return nil
		}
	}
	return ErrLastOwner
}

// parties loads the acting member and locks the member a change is about.
// When authentication already read the acting member, one statement locks
// the target and reads the actor's current role, which is all a removal's
// rights depend on: a credential whose member was removed or demoted a
// moment ago still acts no more, or no more than it may (promise 2). With
// an actor whose credential came from the credential cache, the role is
// read only while the credential is not revoked, so the same statement
// confirms it. Any refusal takes the long way, so that it is the one it
// always was; there an unconfirmed credential is read first.
func (s *Service) parties(ctx context.Context, tx Tx, a Actor, ref MemberRef) (actor, target *Member, err error) {
	if m := a.Member; m != nil && m.ID == a.MemberID && m.OrgID == a.OrgID && ref.Raw == "" {
		p := ref.getParams(a.OrgID)
		p.Lock = true
		if a.Unconfirmed != nil {
			p.Credential = a.CredentialID
		}
		target, role, err := tx.MemberGetActing(ctx, p, a.MemberID)
		if err == nil && role != "" {
			actor := *m
			actor.Role, actor.Status = role, StatusActive
			return &actor, target, nil
		}
		if err != nil && ErrorCode(err) != CodeNotFound {
			return nil, nil, err
		}
	}
	if u := a.Unconfirmed; u != nil {
		// Not confirmed above: read the credential as Authenticate would.
		if _, err := s.principal(ctx, tx, u.prefix, u.hash); err != nil {
			return nil, nil, s.credentialRefused(u, err)
		}
	}
	if actor, err = s.actingMember(ctx, tx, a); err != nil {
		return nil, nil, err
	}
	if target, err = s.lockMember(ctx, tx, a.OrgID, ref); err != nil {
		return nil, nil, err
	}
	return actor, target, nil
}

// recorded appends the event of a removal or restore about report's member
// and returns the report carrying the event's id, its lists cut to limit.
func (s *Service) recorded(ctx context.Context, tx Tx, a Actor, action string, report *Report, limit int, before, after any) (*Report, error) {
	e, err := s.record(ctx, tx, a, action, report.Member, before, after)
	if err != nil {
		return nil, err
	}
	report.EventID = e.ID
	if err := logRemoved(ctx, tx, action, report, before, after); err != nil {
		return nil, err
	}
	digest(ctx, report)
	// The receipt's hash comes with the seal before the commit
	// (completeReceipts): sealing here would hold the chain head for the
	// rest of the transaction, a group commit's every other caller.
	report.Receipt = &Receipt{EventID: e.ID}
	if g := guardOf(ctx); g != nil {
		g.sealed = e
	}
	report.bound(limit)
	return report, nil
}

// reportGrants revokes the member's direct grants (when off names no group
// or space) and counts and lists, by origin, the grants whose access the
// removal of report.Groups takes away. Only the listed grants, off.Limit
// of each origin (DefaultReportLimit when 0), are read whole; a tagged
// removal reads the keys of the others (up to MaxReportLimit of each
// origin) for its tag.
func (s *Service) reportGrants(ctx context.Context, tx Tx, report *Report, off *DeactivateParams) error {
	if off.Limit == 0 {
		off.Limit = DefaultReportLimit
	}
	tag := tagging(ctx)
	var g *Guard
	if tag {
		g = guardOf(ctx)
		g.keyed, g.grantKeys = true, nil
	}
	if off.GroupID == 0 && off.SpaceID == 0 {
		revoke := *off
		if tag {
			revoke.Keys = &g.grantKeys
		}
		direct, n, err := tx.GrantsDeactivate(ctx, &revoke)
		if err != nil {
			return err
		}
		revoked(report, direct, n)
	}
	return s.reportGroupGrants(ctx, tx, report, off, tag)
}

// revoked reports n revoked direct grants, of which direct are listed.
func revoked(report *Report, direct []*Grant, n int) {
	report.Counts.DirectGrants = n
	for _, g := range direct {
		report.Grants = append(report.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
	}
}

// reportGroupGrants counts and lists the grants whose access the removal
// of report.Groups takes away (reportGrants).
func (s *Service) reportGroupGrants(ctx context.Context, tx Tx, report *Report, off *DeactivateParams, tag bool) error {
	if off.Limit == 0 {
		off.Limit = DefaultReportLimit
	}
	if len(report.Groups) == 0 || reportDiscarded(ctx) {
		return nil
	}
	groupIDs := make([]int64, len(report.Groups))
	for i, gm := range report.Groups {
		groupIDs[i] = gm.GroupID
	}
	p := &GrantListParams{OrgID: off.OrgID, GroupIDs: groupIDs, Status: StatusActive, Limit: off.Limit}
	var keys *[]GrantKey
	if tag {
		keys = new([]GrantKey)
	}
	viaGroups, n, err := tx.GrantListCounted(ctx, p, keys)
	if err != nil {
		return err
	}
	if tag {
		g := guardOf(ctx)
		g.grantKeys = append(g.grantKeys, *keys...)
	}
	groupGrantsLost(report, viaGroups, n)
	return nil
}

// groupGrantsLost reports n grants of the groups left, of which
// viaGroups are listed.
func groupGrantsLost(report *Report, viaGroups []*Grant, n int) {
	report.Counts.GroupGrants = n
	for _, g := range viaGroups {
		report.Grants = append(report.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
	}
}

// finishRemoval cancels the future bookings the member may no longer keep
// and lists the access that remains.
func (s *Service) finishRemoval(ctx context.Context, tx Tx, report *Report, onlyWithoutAccess bool) error {
	m := report.Member
	if !s.cfg.KeepFutureBookings && !holdsNoBooking(ctx, m.ID) {
		now := s.now()
		cancelled, err := tx.BookingsCancel(ctx, &BookingsCancelParams{
			OrgID: m.OrgID, MemberID: m.ID, After: now, OnlyWithoutAccess: onlyWithoutAccess,
			Reason: "access removed", At: now,
		})
		if err != nil {
			return err
		}
		report.Bookings = cancelled
	}
	// A removed member can use nothing (every access path needs an active
	// membership), so there is nothing to read.
	if reportDiscarded(ctx) || !m.Active() {
		return nil
	}
	remaining, err := tx.AccessList(ctx, m.OrgID, m.ID)
	if err != nil {
		return err
	}
	report.RemainingAccess = remaining
	return nil
}

func rolesOf(spaces []*SpaceMember) []*RoleChange {
	roles := []*RoleChange{}
	for _, sm := range spaces {
		if len(sm.Roles) > 0 {
			roles = append(roles, &RoleChange{SpaceID: sm.SpaceID, SpaceMemberID: sm.ID, Roles: sm.Roles})
		}
	}
	return roles
}

// RemoveSpaceMemberRequest removes a member from one space.
type RemoveSpaceMemberRequest struct {
	Space  Ref         `json:"space"`
	Member MemberRef   `json:"member"`
	DryRun bool        `json:"dry_run,omitempty"`
	Rule   RemovalRule `json:"rule,omitempty"`
}

// RemoveSpaceMember removes a member from a space. Owners remove anyone,
// admins as Rule says, and a space admin the space members they added.
func (s *Service) RemoveSpaceMember(ctx context.Context, a Actor, req RemoveSpaceMemberRequest) (*Report, error) {
	ctx = WithEventTarget(ctx, EventTarget{Type: "space", Ref: req.Space, Member: req.Member})
	ctx = guarded(ctx)
	return policed(ctx, s, a, &req)(removal(ctx, s, a, ActionSpaceMemberRemoved, req.DryRun, func(tx Tx) (*Report, error) {
		space, err := tx.SpaceGet(ctx, req.Space.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		return s.removeSpaceMember(ctx, tx, a, space, req)
	}))
}

func (s *Service) removeSpaceMember(ctx context.Context, tx Tx, a Actor, space *Space, req RemoveSpaceMemberRequest) (*Report, error) {
	actor, target, err := s.parties(ctx, tx, a, req.Member)
	if err != nil {
		return nil, err
	}
	sm, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, SpaceID: space.ID, MemberID: target.ID})
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrNotMember
	} else if err != nil {
		return nil, err
	}
	if err := noteResource(ctx, spaceMembershipName(sm), sm); err != nil {
		return nil, err
	}
	if sm.Status != StatusActive {
		return nil, ErrAlreadyRemoved
	}
	// The actor's own membership of the space matters only when the
	// organization role alone does not allow the removal: an owner's
	// batch of a hundred then does not read it a hundred times.
	if mayRemove(actor, target, sm.AddedBy, req.Rule) != nil {
		actorSpace, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, SpaceID: space.ID, MemberID: actor.ID})
		if err != nil && ErrorCode(err) != CodeNotFound {
			return nil, err
		}
		if err := mayRemoveFromSpace(actor, target, actorSpace, sm, req.Rule); err != nil {
			return nil, err
		}
	}
	now := s.now()
	report := newReport(target)
	off := &DeactivateParams{OrgID: a.OrgID, MemberID: target.ID, SpaceID: space.ID, Cause: CauseDirect, At: now}
	if report.Spaces, _, _, err = tx.SpaceMembersDeactivate(ctx, off); err != nil {
		return nil, err
	}
	if g := guardOf(ctx); g != nil && g.logging {
		g.removedAt = now // the removal log need not read it back
	}
	report.Roles = rolesOf(report.Spaces)
	if err := s.finishRemoval(ctx, tx, report, true); err != nil {
		return nil, err
	}
	return s.recorded(ctx, tx, a, ActionSpaceMemberRemoved, report, DefaultReportLimit, sm, nil)
}

// RemoveGroupMemberRequest removes a member from one group.
type RemoveGroupMemberRequest struct {
	Group  Ref         `json:"group"`
	Member MemberRef   `json:"member"`
	DryRun bool        `json:"dry_run,omitempty"`
	Rule   RemovalRule `json:"rule,omitempty"`
}

// RemoveGroupMember removes a member from a group. Only the access that
// came through that group goes: direct grants and other groups' grants stay.
func (s *Service) RemoveGroupMember(ctx context.Context, a Actor, req RemoveGroupMemberRequest) (*Report, error) {
	ctx = WithEventTarget(ctx, EventTarget{Type: "group", Ref: req.Group, Member: req.Member})
	ctx = guarded(ctx)
	return policed(ctx, s, a, &req)(removal(ctx, s, a, ActionGroupMemberRemoved, req.DryRun, func(tx Tx) (*Report, error) {
		group, err := tx.GroupGet(ctx, req.Group.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		return s.removeGroupMember(ctx, tx, a, group, req)
	}))
}

func (s *Service) removeGroupMember(ctx context.Context, tx Tx, a Actor, group *Group, req RemoveGroupMemberRequest) (*Report, error) {
	actor, target, err := s.parties(ctx, tx, a, req.Member)
	if err != nil {
		return nil, err
	}
	gm, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: a.OrgID, GroupID: group.ID, MemberID: target.ID})
	if ErrorCode(err) == CodeNotFound {
		return nil, ErrNotMember
	} else if err != nil {
		return nil, err
	}
	if err := noteResource(ctx, groupMembershipName(gm), gm); err != nil {
		return nil, err
	}
	if gm.Status != StatusActive {
		return nil, ErrAlreadyRemoved
	}
	if err := mayRemove(actor, target, gm.AddedBy, req.Rule); err != nil {
		return nil, err
	}
	now := s.now()
	report := newReport(target)
	off := &DeactivateParams{OrgID: a.OrgID, MemberID: target.ID, GroupID: group.ID, Cause: CauseDirect, At: now}
	if report.Groups, err = tx.GroupMembersDeactivate(ctx, off); err != nil {
		return nil, err
	}
	if err := s.reportGrants(ctx, tx, report, off); err != nil {
		return nil, err
	}
	if err := s.finishRemoval(ctx, tx, report, true); err != nil {
		return nil, err
	}
	return s.recorded(ctx, tx, a, ActionGroupMemberRemoved, report, DefaultReportLimit, gm, nil)
}

// MaxRolesPerRevocation bounds one revocation's role list.
const MaxRolesPerRevocation = 100

// RevokeRolesRequest revokes a set of roles from one space membership.
type RevokeRolesRequest struct {
	SpaceMemberID int64       `json:"space_member_id"`
	Roles         []string    `json:"roles"`
	DryRun        bool        `json:"dry_run,omitempty"`
	Rule          RemovalRule `json:"rule,omitempty"`
}

// RevokeRoles revokes every role in req.Roles from a space membership, or
// none: if any role is not held the membership is left as it was.
func (s *Service) RevokeRoles(ctx context.Context, a Actor, req RevokeRolesRequest) (*Report, error) {
	ctx = WithEventTarget(ctx, EventTarget{Type: "space_member", Ref: Ref{ID: req.SpaceMemberID}})
	ctx = guarded(ctx)
	roles, err := CleanRoles(req.Roles)
	if err != nil {
		if !req.DryRun { // a preview leaves no trace, refused or not
			s.auditRefusal(ctx, a, ActionRolesRevoked, err)
		}
		return nil, err
	}
	return policed(ctx, s, a, &req)(removal(ctx, s, a, ActionRolesRevoked, req.DryRun, func(tx Tx) (*Report, error) {
		return s.revokeRoles(ctx, tx, a, req, roles)
	}))
}

// CleanRoles validates a role list and drops repeats, keeping order.
func CleanRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, Errorf(CodeInvalid, "at least one role is required")
	}
	if len(roles) > MaxRolesPerRevocation {
		return nil, Errorf(CodeInvalid, "at most %d roles can be revoked at once", MaxRolesPerRevocation)
	}
	seen := make(map[string]bool, len(roles))
	clean := make([]string, 0, len(roles))
	for _, r := range roles {
		if r == "" || len(r) > 200 || strings.IndexFunc(r, unicode.IsControl) >= 0 {
			return nil, Errorf(CodeInvalid, "role %q is invalid", r)
		}
		if !seen[r] {
			seen[r] = true
			clean = append(clean, r)
		}
	}
	return clean, nil
}

func (s *Service) revokeRoles(ctx context.Context, tx Tx, a Actor, req RevokeRolesRequest, roles []string) (*Report, error) {
	actor, err := s.actingMember(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	sm, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: req.SpaceMemberID})
	if err != nil {
		return nil, err
	}
	target, err := s.lockMember(ctx, tx, a.OrgID, MemberRef{ID: sm.MemberID})
	if err != nil {
		return nil, err
	}
	// Re-read under the member's lock: a concurrent change may have won.
	if sm, err = tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: req.SpaceMemberID}); err != nil {
		return nil, err
	}
	if err := noteResource(ctx, spaceMembershipName(sm), sm); err != nil {
		return nil, err
	}
	if sm.Status != StatusActive {
		return nil, Errorf(CodeConflict, "the space membership is removed")
	}
	var missing []string
	for _, r := range roles {
		if !sm.HasRole(r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, Errorf(CodeConflict, "roles not held, none revoked: %s", strings.Join(missing, ", "))
	}
	actorSpace, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, SpaceID: sm.SpaceID, MemberID: actor.ID})
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, err
	}
	if err := mayRemoveFromSpace(actor, target, actorSpace, sm, req.Rule); err != nil {
		return nil, err
	}
	now := s.now()
	n, err := tx.SpaceRolesRevoke(ctx, &SpaceRolesParams{SpaceMemberID: sm.ID, Roles: roles, At: now, By: actor.ID})
	if err != nil {
		return nil, err
	}
	if n != len(roles) {
		return nil, fmt.Errorf("revoke roles of space membership %d: %d of %d revoked", sm.ID, n, len(roles))
	}
	after, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: sm.ID})
	if err != nil {
		return nil, err
	}
	report := newReport(target)
	report.Roles = []*RoleChange{{SpaceID: sm.SpaceID, SpaceMemberID: sm.ID, Roles: roles}}
	digestSpaceMember(ctx, sm)
	if err := s.finishRemoval(ctx, tx, report, true); err != nil {
		return nil, err
	}
	return s.recorded(ctx, tx, a, ActionRolesRevoked, report, DefaultReportLimit, sm, after)
}

// RestoreMemberRequest restores a removed membership.
type RestoreMemberRequest struct {
	Member MemberRef `json:"member"`
}

// RestoreMember makes a removed member active again with the space
// memberships (and their roles), group memberships and direct grants the
// removal switched off. Bookings it cancelled stay cancelled.
func (s *Service) RestoreMember(ctx context.Context, a Actor, req RestoreMemberRequest) (*Report, error) {
	ctx = WithEventTarget(ctx, MemberTarget(req.Member))
	return mutate(ctx, s, a, ActionMemberRestored, func(tx Tx) (*Report, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target, err := s.lockMember(ctx, tx, a.OrgID, req.Member)
		if err != nil {
			return nil, err
		}
		if target.Active() {
			return nil, Errorf(CodeConflict, "the member is active")
		}
		return s.restore(ctx, tx, a, actor, target)
	})
}

// restore makes target, a removed member, active again with the spaces,
// roles, groups and direct grants its removal took, and records it; actor
// is the acting member. Every interface's restore, and undo, runs through it.
func (s *Service) restore(ctx context.Context, tx Tx, a Actor, actor, target *Member) (*Report, error) {
	if err := mayRemove(actor, target, target.AddedBy, RuleAdminAnyMember); err != nil {
		return nil, Errorf(CodeForbidden, "you do not have rights to restore the specified user")
	}
	before := *target
	now := s.now()
	if err := tx.MemberSetStatus(ctx, &MemberSetStatusParams{ID: target.ID, Status: StatusActive, At: now, By: actor.ID}); err != nil {
		return nil, err
	}
	target.Status, target.RemovedAt, target.RemovedBy, target.UpdatedAt = StatusActive, nil, 0, now
	report := newReport(target)
	on := &ReactivateParams{OrgID: a.OrgID, MemberID: target.ID, Cause: CauseMemberRemoved}
	var err error
	if report.Spaces, err = tx.SpaceMembersReactivate(ctx, on); err != nil {
		return nil, err
	}
	report.Roles = rolesOf(report.Spaces)
	if report.Groups, err = tx.GroupMembersReactivate(ctx, on); err != nil {
		return nil, err
	}
	direct, err := tx.GrantsReactivate(ctx, on)
	if err != nil {
		return nil, err
	}
	report.Counts.DirectGrants = len(direct)
	for _, g := range direct[:min(len(direct), DefaultReportLimit)] {
		report.Grants = append(report.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
	}
	if report.RemainingAccess, err = tx.AccessList(ctx, a.OrgID, target.ID); err != nil {
		return nil, err
	}
	return s.recorded(ctx, tx, a, ActionMemberRestored, report, DefaultReportLimit, &before, target)
}
