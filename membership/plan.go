package membership

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/internal/etag"
)

// A plan is a removal previewed (a dry run, which is the removal itself
// rolled back) together with a tag of the state it read: executing with
// that tag as a precondition runs the removal only if it would do exactly
// what the preview said. The tag is not a version counter of some rows but
// a digest of the removal's own effect, computed the same way in the dry
// run and in the real removal, inside the removal's transaction: whatever
// would change the effect (a grant added, a membership changed, a booking
// made, a role granted) changes the tag, and nothing else does. The check
// runs after the removal in the same transaction, so no change can slip in
// between check and removal; on a mismatch the transaction rolls back.

// planSections name the parts of a plan tag, in order, as a 412 names
// what changed. Each is its own digest so the refusal can say which.
var planSections = [...]string{
	"the removal itself", "the member", "space memberships", "space roles", "group memberships",
	"grants", "future bookings", "remaining access",
}

const (
	secRemoval = iota
	secMember
	secSpaces
	secRoles
	secGroups
	secGrants
	secBookings
	secAccess
	numSections
)

// sectionHex is how many hex digits of each section's digest a tag keeps:
// 48 bits each, 384 in all.
const sectionHex = 12

// Guard carries a removal call's If-Match in, and its plan tag and
// removal id out. An adapter puts one in the call's context with WithGuard
// and, after the call, answers with what it holds.
type Guard struct {
	// IfMatch is the If-Match header: the tag (or comma-separated tags)
	// the removal must still have, or the ETag the resource a single
	// removal or a member's update is about must still have (etag.go);
	// empty means none. "*" matches any.
	IfMatch string
	// ETag is the tag of the removal as the call made or previewed it;
	// empty when the call did not reach a removal.
	ETag string
	// RemovalID names the removal the call made, for GET and undo under
	// /api/v1/removals/{id}; empty for a dry run or a refusal.
	RemovalID string

	on bool // the current call is tagged: lists are read whole and digested
	// dry says the tagged call is a dry run; single that it is one removal,
	// not a batch, so that the resource it is about can match If-Match.
	dry, single bool
	// resource names the resource a single removal is about and
	// resourceTag is its ETag as the removal read it (noteResource).
	resource, resourceTag string
	h                     [numSections]hash.Hash
	// keyed says the current removal read the keys of every grant whose
	// access it takes into grantKeys, direct ones first: the tag covers
	// them all, while the report lists only its limit of each origin.
	keyed     bool
	grantKeys []GrantKey
	// logging says the current call records what it removes in items.
	logging bool
	items   []RemovedItem
	// removedAt is when the current removal of a space membership took
	// effect, set by the removal itself so that logRemoved need not read
	// the membership back; zero otherwise.
	removedAt time.Time
	// approved lets the call past the organization's limits: a second
	// owner approved it, or an owner forced it.
	approved bool
	// result is the call's answer as the removal log stored it (logged),
	// for ReportJSON.
	result []byte
	// sealed is the audit event of the call's last removal: the seal
	// before the commit gives it its hash in this process, so that
	// completeReceipts need not read it back.
	sealed *Event
}

type guardKey struct{}

// WithGuard makes the removal calls made with ctx tag what they
// remove (always for a dry run) and, when p.IfMatch is set, refuse with
// CodePreconditionFailed, changing nothing, unless the tag matches.
func WithGuard(ctx context.Context, p *Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, p)
}

func guardOf(ctx context.Context) *Guard {
	p, _ := ctx.Value(guardKey{}).(*Guard)
	return p
}

// tagging reports whether ctx's removal is being tagged right now.
func tagging(ctx context.Context) bool {
	p := guardOf(ctx)
	return p != nil && p.on
}

// ErrPreconditionFailed is the refusal of a removal whose plan tag no
// longer matches; its message names what changed.
var ErrPreconditionFailed = &Error{Code: CodePreconditionFailed, Message: "the removal no longer matches its plan"}

// start begins tagging the removal named by what (its kind and target).
func (p *Guard) start(what string, dry bool) {
	p.on, p.ETag, p.dry = true, "", dry
	p.single = !strings.HasPrefix(what, KindRemoveBatch)
	p.resource, p.resourceTag = "", ""
	p.keyed, p.grantKeys = false, nil
	for i := range p.h {
		p.h[i] = sha256.New()
	}
	fmt.Fprintf(p.h[secRemoval], "%s\n", what)
}

// finish computes the tag and, for a real removal with If-Match, refuses
// a mismatch, naming the sections that differ.
func (p *Guard) finish(dry bool) error {
	p.on = false
	parts := make([]string, numSections)
	for i, h := range p.h {
		parts[i] = hex.EncodeToString(h.Sum(nil))[:sectionHex]
	}
	p.ETag = `"` + strings.Join(parts, ".") + `"`
	if dry || p.IfMatch == "" {
		return nil
	}
	l, err := ParseIfMatch(p.IfMatch)
	if err != nil {
		return err
	}
	if l.Empty() || l.Any || (p.resourceTag != "" && l.MatchStrong(p.resourceTag)) {
		return nil
	}
	changed, ok := changedSince(l, parts)
	if ok {
		return nil
	}
	if p.resource != "" && !slices.ContainsFunc(l.Tags, isPlanTag) {
		return preconditionFailed(p.resource)
	}
	return &Error{Code: CodePreconditionFailed, Err: ErrPreconditionFailed, Message: fmt.Sprintf(
		"the removal no longer matches its plan: %s changed since; preview it again for a new ETag", strings.Join(changed, ", "))}
}

// changedSince compares If-Match's tags with the plan tag's parts: ok
// when one of them matches, else the sections that differ from the
// closest one. A plan tag matches weak or strong, as it always has.
func changedSince(l etag.List, parts []string) (changed []string, ok bool) {
	best := []string{planSections[secRemoval] + " (the ETag is not one issued for this removal)"}
	for _, t := range l.Tags {
		if !isPlanTag(t) {
			continue
		}
		got := strings.Split(strings.Trim(t.Opaque, `"`), ".")
		var diff []string
		for i := range parts {
			if got[i] != parts[i] {
				diff = append(diff, planSections[i])
			}
		}
		if len(diff) == 0 {
			return nil, true
		}
		if diff[0] != planSections[secRemoval] && (len(diff) < len(best) || strings.HasPrefix(best[0], planSections[secRemoval])) {
			best = diff
		}
	}
	return best, false
}

// isPlanTag reports whether t has a plan tag's shape: one part per section.
func isPlanTag(t etag.Tag) bool {
	return strings.Count(t.Opaque, ".") == numSections-1
}

// item adds a batch item's outcome to the tag.
func (p *Guard) item(i int, outcome string, memberID int64) {
	fmt.Fprintf(p.h[secRemoval], "item %d %s %d\n", i, outcome, memberID)
}

// add digests what report's removal takes away, from its whole lists.
func (p *Guard) add(r *Report) {
	m := r.Member
	fmt.Fprintf(p.h[secMember], "%d %s %s %s %d\n", m.ID, m.Email, m.Role, m.Status, m.AddedBy)
	for _, sm := range r.Spaces {
		fmt.Fprintf(p.h[secSpaces], "%d %d %d %s\n", sm.ID, sm.SpaceID, sm.AddedBy, sortedJoin(sm.Roles))
	}
	for _, rc := range r.Roles {
		fmt.Fprintf(p.h[secRoles], "%d %d %s\n", rc.SpaceMemberID, rc.SpaceID, sortedJoin(rc.Roles))
	}
	for _, gm := range r.Groups {
		fmt.Fprintf(p.h[secGroups], "%d %d %d\n", gm.ID, gm.GroupID, gm.AddedBy)
	}
	fmt.Fprintf(p.h[secGrants], "count %d %d\n", r.Counts.DirectGrants, r.Counts.GroupGrants)
	if p.keyed {
		digestGrantKeys(p.h[secGrants], p.grantKeys)
		p.keyed, p.grantKeys = false, nil
	} else {
		for _, gc := range r.Grants {
			g := gc.Grant
			fmt.Fprintf(p.h[secGrants], "%s %d %d %d %d\n", gc.Origin, g.ID, g.ResourceID, g.MemberID, g.GroupID)
		}
	}
	for _, b := range r.Bookings {
		fmt.Fprintf(p.h[secBookings], "%d %d %d %d\n", b.ID, b.ResourceID, b.StartsAt.UnixMicro(), b.EndsAt.UnixMicro())
	}
	for _, acc := range r.RemainingAccess {
		fmt.Fprintf(p.h[secAccess], "%d %t %t %v\n", acc.ResourceID, acc.Allowed, acc.Direct, acc.GroupIDs)
	}
}

// digestGrantKeys writes each key's line as add writes a listed grant's,
// "origin id resource member group", without fmt: a removal's tag may
// cover 10,000 grants.
func digestGrantKeys(h hash.Hash, keys []GrantKey) {
	buf := make([]byte, 0, 64*1024)
	for _, k := range keys {
		if k.GroupID != 0 {
			buf = append(buf, "group "...)
		} else {
			buf = append(buf, "direct "...)
		}
		buf = strconv.AppendInt(buf, k.ID, 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, k.ResourceID, 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, k.MemberID, 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, k.GroupID, 10)
		buf = append(buf, '\n')
		if len(buf) > cap(buf)-128 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
}

// digestSpaceMember adds the whole space membership a role revocation
// reads, roles kept included: the revocation's report lists only the roles
// it takes, yet a plan covers the membership it changes.
func digestSpaceMember(ctx context.Context, sm *SpaceMember) {
	if tagging(ctx) {
		fmt.Fprintf(guardOf(ctx).h[secSpaces], "%d %d %d %s\n", sm.ID, sm.SpaceID, sm.AddedBy, sortedJoin(sm.Roles))
	}
}

func sortedJoin(s []string) string {
	c := slices.Clone(s)
	slices.Sort(c)
	return strings.Join(c, ",")
}

// tagged wraps a removal so that, when ctx carries a Guard and the
// call is a dry run or has If-Match, it is tagged and checked.
func tagged[T any](ctx context.Context, what string, dry bool, fn func(tx Tx) (T, error)) func(tx Tx) (T, error) {
	p := guardOf(ctx)
	if p == nil || (!dry && p.IfMatch == "") {
		return fn
	}
	return func(tx Tx) (T, error) {
		var zero T
		p.start(what, dry)
		r, err := fn(tx)
		if err != nil {
			p.on = false
			return zero, err
		}
		if err := p.finish(dry); err != nil {
			return zero, err
		}
		return r, nil
	}
}

// digest adds report to the call's tag, when it is tagged. It runs
// before Report.bound cuts the lists read whole.
func digest(ctx context.Context, report *Report) {
	if !tagging(ctx) {
		return
	}
	guardOf(ctx).add(report)
}

// PlanStatus is the state of a saved plan.
type PlanStatus string

// Plan states.
const (
	PlanPending          PlanStatus = "pending"           // may be executed until it expires
	PlanAwaitingApproval PlanStatus = "awaiting_approval" // above a limit: runs when another owner approves it
	PlanExecuted         PlanStatus = "executed"          // ran, exactly as previewed
)

// Plan lifetimes.
const (
	DefaultPlanTTL = time.Hour
	MaxPlanTTL     = 7 * 24 * time.Hour
)

// PlanRequest is the stored form of a planned removal: one removal of any
// kind, or a batch.
type PlanRequest struct {
	Removal *OperationRequest `json:"removal,omitempty"`
	Batch   *BatchRequest     `json:"batch,omitempty"`
}

// Plan is a saved preview: the removal, the exact report of what it would
// do, and the tag that execution must still match.
type Plan struct {
	ID            int64        `json:"-"`
	UUID          string       `json:"id"`
	OrgID         int64        `json:"-"`
	Status        PlanStatus   `json:"status"`
	ETag          string       `json:"etag" doc:"The state the plan read; executing it runs only while the removal still has this tag."`
	Request       PlanRequest  `json:"request"`
	Report        *Report      `json:"report,omitempty" doc:"What the removal would do, for a single removal."`
	Batch         *BatchResult `json:"batch,omitempty" doc:"What the batch would do, item by item."`
	CreatedBy     int64        `json:"created_by"`
	CredentialID  int64        `json:"-"`
	CreatedAt     time.Time    `json:"created_at"`
	ExpiresAt     time.Time    `json:"expires_at"`
	ExecutedAt    *time.Time   `json:"executed_at,omitempty"`
	ExecutedBy    int64        `json:"executed_by,omitempty"`
	ExecutedEvent int64        `json:"executed_event_id,omitempty"`
	RemovalID     string       `json:"removal_id,omitempty" doc:"The removal the execution made: read it or undo it under /api/v1/removals/{id}."`
	ApprovedBy    int64        `json:"approved_by,omitempty" doc:"The owner who approved it, other than its maker."`
	Forced        bool         `json:"forced,omitempty" doc:"An owner ran it above the limits without a second owner."`
}

// PlanGetParams addresses a plan of an organization by UUID.
type PlanGetParams struct {
	OrgID int64
	UUID  string
	Lock  bool
}

// CreatePlanRequest previews a removal (or a batch) and saves the plan.
type CreatePlanRequest struct {
	Removal *RemovalSpec
	Batch   *BatchRequest
	// TTL is how long the plan may be executed; 0 means DefaultPlanTTL.
	TTL time.Duration
}

// CreatePlan runs the removal as a dry run and saves it as a plan that
// ExecutePlan can run while nothing it covers has changed. A removal the
// dry run refuses is refused here, and no plan is saved.
func (s *Service) CreatePlan(ctx context.Context, a Actor, req CreatePlanRequest) (*Plan, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultPlanTTL
	}
	if ttl < 0 || ttl > MaxPlanTTL {
		return nil, s.refuse(ctx, a, "plan.create", Errorf(CodeInvalid, "expires_in must be between 1 second and %d seconds", int(MaxPlanTTL.Seconds())))
	}
	var pr PlanRequest
	switch {
	case req.Removal != nil && req.Batch == nil:
		or, err := NewOperationRequest(*req.Removal)
		if err != nil {
			return nil, s.refuse(ctx, a, "plan.create", err)
		}
		k, err := or.removal()
		if err == nil {
			err = k.validate(false)
		}
		if err != nil {
			return nil, s.refuse(ctx, a, "plan.create", err)
		}
		pr.Removal = &or
	case req.Batch != nil && req.Removal == nil:
		b := *req.Batch
		b.DryRun = false
		if err := s.checkBatch(b); err != nil {
			return nil, s.refuse(ctx, a, "plan.create", err)
		}
		pr.Batch = &b
	default:
		return nil, s.refuse(ctx, a, "plan.create", Errorf(CodeInvalid, "name exactly one of a removal (kind) or a batch (scope and members)"))
	}
	return s.savePlan(ctx, a, pr, ttl, PlanPending, nil)
}

// savePlan previews pr in a savepoint that is rolled back and saves it
// as a plan in status.
// saved, when set, runs in the plan's transaction once it is stored.
func (s *Service) savePlan(ctx context.Context, a Actor, pr PlanRequest, ttl time.Duration, status PlanStatus, saved func(tx Tx, plan *Plan) error) (*Plan, error) {
	return mutate(ctx, s, a, "plan.create", func(tx Tx) (*Plan, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		now := s.now()
		plan := &Plan{UUID: NewUUID(), OrgID: a.OrgID, Status: status, Request: pr, CreatedBy: actor.ID,
			CredentialID: a.CredentialID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		p := &Guard{}
		pctx := WithGuard(ctx, p)
		err = tx.Savepoint(ctx, func() error {
			if err := s.runPlanned(pctx, tx, a, pr, true, plan); err != nil {
				return err
			}
			return errDryRun
		})
		if !errors.Is(err, errDryRun) {
			return nil, err
		}
		plan.ETag = p.ETag
		if err := tx.PlanCreate(ctx, plan); err != nil {
			return nil, err
		}
		if _, err := s.recordPlan(ctx, tx, a, "plan.created", plan); err != nil {
			return nil, err
		}
		if saved != nil {
			if err := saved(tx, plan); err != nil {
				return nil, err
			}
		}
		return plan, nil
	})
}

// runPlanned runs pr in tx, tagged, as a dry run or for real, and puts
// what it did into plan's report or batch.
func (s *Service) runPlanned(ctx context.Context, tx Tx, a Actor, pr PlanRequest, dry bool, plan *Plan) error {
	if pr.Batch != nil {
		fn := tagged(ctx, batchWhat(*pr.Batch), dry, func(tx Tx) (*BatchResult, error) {
			return s.removeBatch(ctx, tx, a, *pr.Batch)
		})
		if !dry {
			fn = logged(ctx, s, a, KindRemoveBatch, fn)
		}
		b, err := fn(tx)
		if err != nil {
			return err
		}
		b.DryRun = dry
		plan.Batch = b
		return nil
	}
	k, err := pr.Removal.removal()
	if err != nil {
		return err
	}
	fn := tagged(ctx, k.kind(), dry, func(tx Tx) (*Report, error) { return k.exec(ctx, s, tx, a) })
	if !dry {
		fn = logged(ctx, s, a, k.kind(), fn)
	}
	r, err := fn(tx)
	if err != nil {
		return err
	}
	if dry {
		r.DryRun, r.EventID = true, 0
	}
	plan.Report = r
	return nil
}

// Plan returns a saved plan of a's organization.
func (s *Service) Plan(ctx context.Context, a Actor, id string) (*Plan, error) {
	return view(ctx, s, func(tx Tx) (*Plan, error) {
		return tx.PlanGet(ctx, &PlanGetParams{OrgID: a.OrgID, UUID: id})
	})
}

// ExecutePlan runs a saved plan exactly as it was previewed: in one
// transaction it makes the removal, checks that its tag is the plan's,
// and marks the plan executed. A plan whose removal would now do anything
// else is refused with CodePreconditionFailed naming what changed, and
// nothing changes; an executed or expired plan is refused with
// CodeConflict; one above the organization's limits is left awaiting
// approval and refused with CodeApprovalRequired.
func (s *Service) ExecutePlan(ctx context.Context, a Actor, id string) (*Plan, error) {
	return s.executePlan(ctx, a, id, execute)
}

// planMode is how a plan is run: by itself, approved, or forced.
type planMode int

const (
	execute planMode = iota
	approve
	force
)

var planActions = [...]string{execute: "plan.execute", approve: "plan.approve", force: "plan.force"}
var planEvents = [...]string{execute: "plan.executed", approve: "plan.approved", force: "plan.forced"}

func (s *Service) executePlan(ctx context.Context, a Actor, id string, mode planMode) (*Plan, error) {
	plan, err := mutate(ctx, s, a, planActions[mode], func(tx Tx) (*Plan, error) {
		plan, err := tx.PlanGet(ctx, &PlanGetParams{OrgID: a.OrgID, UUID: id, Lock: true})
		if err != nil {
			return nil, err
		}
		now := s.now()
		switch {
		case plan.Status == PlanExecuted:
			return nil, Errorf(CodeConflict, "the plan was already executed")
		case !now.Before(plan.ExpiresAt):
			return nil, Errorf(CodeConflict, "the plan expired at %s; make a new one", plan.ExpiresAt.Format(time.RFC3339))
		}
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if mode != execute {
			if _, err := s.owner(ctx, tx, a); err != nil {
				return nil, err
			}
		}
		if mode == approve && actor.ID == plan.CreatedBy {
			return nil, Errorf(CodeForbidden, "a plan must be approved by another owner than the one who made it")
		}
		g := &Guard{IfMatch: plan.ETag, approved: mode != execute}
		if err := s.runPlanned(WithGuard(ctx, g), tx, a, plan.Request, false, plan); err != nil {
			return nil, err
		}
		plan.Status, plan.ExecutedAt, plan.ExecutedBy, plan.RemovalID = PlanExecuted, &now, actor.ID, g.RemovalID
		if mode == approve {
			plan.ApprovedBy = actor.ID
		}
		plan.Forced = mode == force
		if og := guardOf(ctx); og != nil {
			og.RemovalID = g.RemovalID
		}
		e, err := s.recordPlan(ctx, tx, a, planEvents[mode], plan)
		if err != nil {
			return nil, err
		}
		plan.ExecutedEvent = e.ID
		if err := tx.PlanUpdate(ctx, plan); err != nil {
			return nil, err
		}
		return plan, nil
	})
	var over *overLimit
	if errors.As(err, &over) {
		return nil, s.awaitApproval(ctx, a, id, over)
	}
	return plan, err
}

// awaitApproval marks a plan that went above a limit as awaiting approval
// and returns the refusal naming it, audited.
func (s *Service) awaitApproval(ctx context.Context, a Actor, id string, over *overLimit) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		plan, err := tx.PlanGet(ctx, &PlanGetParams{OrgID: a.OrgID, UUID: id, Lock: true})
		if err != nil {
			return err
		}
		plan.Status = PlanAwaitingApproval
		return tx.PlanUpdate(ctx, plan)
	})
	if err != nil {
		return err
	}
	refusal := approvalRequired(id, fmt.Sprintf(
		"%s: nothing was removed; plan %s runs when another owner approves it (POST /api/v1/plans/%s/approve) or an owner forces it",
		over.msg, id, id))
	s.auditRefusal(ctx, a, "plan.execute", refusal)
	return refusal
}

// recordPlan appends a plan's event, with the plan's id and tag.
func (s *Service) recordPlan(ctx context.Context, tx Tx, a Actor, action string, plan *Plan) (*Event, error) {
	e, err := s.record(ctx, tx, a, action, nil, nil, map[string]any{"plan": plan.UUID, "etag": plan.ETag, "request": plan.Request})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// batchWhat names a batch in its tag: its scope and what it removes from.
func batchWhat(b BatchRequest) string {
	return fmt.Sprintf(KindRemoveBatch+" %s space %d %s group %d %s", b.Scope, b.Space.ID, b.Space.UUID, b.Group.ID, b.Group.UUID)
}
