package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Offboarding in the background (Prefer: respond-async). A member in
// thousands of spaces and groups with thousands of grants is taken out in
// chunks, each its own transaction, so that no one transaction holds the
// member's lock (and the writer) for long and access goes chunk by chunk.
// Each chunk stores, in its own transaction, what the operation has done
// so far, so a run killed mid-way goes on after a restart from the last
// committed chunk. The last step is the synchronous offboarding itself,
// run on what is left (normally nothing but the membership): it removes
// the membership, cancels bookings, records the one event and the one
// removal that undo reads, with the report of everything the chunks took,
// so the end state and the report are the synchronous offboarding's.
//
// The chunks remove with the offboarding's cause (CauseMemberRemoved), so
// restore and undo bring them back exactly as after a synchronous one. A
// refusal met mid-way (the member became the last owner, the actor lost
// their rights) gives back what the chunks took, in the transaction that
// fails the operation: an offboarding is never left half-done.

// DefaultOffboardChunk is how many space memberships, group memberships
// and direct grants one chunk of a background offboarding removes.
const DefaultOffboardChunk = 250

// Parts of a background offboarding, in the order they are removed.
const (
	PartSpaces       = "spaces"
	PartGroups       = "groups"
	PartDirectGrants = "direct_grants"
	PartMembership   = "membership"
)

// OperationProgress is how far a background offboarding has got. Every
// count is of things taken away and committed.
type OperationProgress struct {
	Total  int            `json:"total" doc:"Space memberships, group memberships and direct grants to remove, plus the membership itself; grows if more were added meanwhile."`
	Done   int            `json:"done" doc:"Of total, removed and committed: that access is gone."`
	Chunks int            `json:"chunks" doc:"Chunks committed, each its own transaction."`
	Parts  []ProgressPart `json:"parts" doc:"Each kind of thing removed, in the order the operation takes them."`
	// SpacesDone and GroupsDone name exactly which spaces and groups the
	// member has already been taken out of.
	SpacesDone []int64 `json:"spaces_done" doc:"IDs of the spaces the member is already out of."`
	GroupsDone []int64 `json:"groups_done" doc:"IDs of the groups the member is already out of."`
	RemovalID  string  `json:"removal_id,omitempty" doc:"When finished: the removal (GET /api/v1/removals/{id}), which undo takes."`
}

// ProgressPart is the progress of one kind of thing removed.
type ProgressPart struct {
	Kind     string `json:"kind" enum:"spaces,groups,direct_grants,membership"`
	Total    int    `json:"total"`
	Done     int    `json:"done"`
	Complete bool   `json:"complete"`
}

// chunkState is what a background offboarding stores after each chunk:
// its progress and the report it is building, lists cut to the report's
// limit as the synchronous report has them.
type chunkState struct {
	Progress  OperationProgress `json:"progress"`
	Counts    ReportCounts      `json:"counts"`
	Spaces    []*SpaceMember    `json:"spaces"`
	Groups    []*GroupMember    `json:"groups"`
	Direct    []*Grant          `json:"direct"`
	ViaGroups []*Grant          `json:"via_groups"`
	Limit     int               `json:"limit"`
}

func (st *chunkState) part(kind string) *ProgressPart {
	for i := range st.Progress.Parts {
		if st.Progress.Parts[i].Kind == kind {
			return &st.Progress.Parts[i]
		}
	}
	panic("membership: no progress part " + kind)
}

// took counts n things of kind removed.
func (st *chunkState) took(kind string, n int, complete bool) {
	p := st.part(kind)
	p.Done += n
	p.Complete = complete
	st.Progress.Done += n
	if p.Done > p.Total { // added since the operation counted them
		st.Progress.Total += p.Done - p.Total
		p.Total = p.Done
	}
}

// OffboardAsync accepts an offboarding to run in the background, in
// chunks, and returns its operation at once. The same rules as RemoveMember
// are checked before acceptance and again at each chunk; the organization's
// limits are checked at acceptance, and a member above them is held as a
// plan like a synchronous offboarding (CodeApprovalRequired). A dry run is
// no background work: it is refused with CodeInvalid.
func (s *Service) OffboardAsync(ctx context.Context, a Actor, req RemoveMemberRequest) (*Operation, error) {
	ctx = WithEventTarget(ctx, MemberTarget(req.Member))
	if req.DryRun {
		return nil, s.refuse(ctx, a, ActionOperationAccepted, Errorf(CodeInvalid, "a dry run answers at once; do not ask for respond-async"))
	}
	if _, err := reportLimit(req.ReportLimit); err != nil {
		return nil, s.refuse(ctx, a, ActionOperationAccepted, err)
	}
	chunk := s.cfg.OffboardChunk
	if chunk <= 0 {
		chunk = DefaultOffboardChunk
	}
	opReq := OperationRequest{RemoveMember: &req, Chunk: chunk}
	op, err := s.StartOperation(ctx, a, StartOperationRequest{Request: opReq, policed: true})
	var over *overLimit
	if errors.As(err, &over) {
		plan := OperationRequest{Kind: KindRemoveMember, RemoveMember: &req}
		return nil, s.held(ctx, a, KindRemoveMember, PlanRequest{Removal: &plan}, err)
	}
	return op, err
}

// acceptChecks is what a background offboarding checks before it is
// accepted, in the acceptance's transaction: the removal's own rules, by a
// dry run of the first step, and the organization's limits.
func (s *Service) acceptChecks(ctx context.Context, tx Tx, a Actor, op *Operation) error {
	req := *op.Request.RemoveMember
	if _, _, err := s.offboardable(ctx, tx, a, req); err != nil {
		return err
	}
	return s.checkPolicy(ctx, tx, a.OrgID, 1)
}

// offboardable loads the acting member and locks the target, and refuses
// as RemoveMember would before it removes anything.
func (s *Service) offboardable(ctx context.Context, tx Tx, a Actor, req RemoveMemberRequest) (actor, target *Member, err error) {
	if actor, target, err = s.parties(ctx, tx, a, req.Member); err != nil {
		return nil, nil, err
	}
	if !target.Active() {
		return nil, nil, ErrAlreadyRemoved
	}
	if err := mayRemove(actor, target, target.AddedBy, req.Rule); err != nil {
		return nil, nil, err
	}
	if target.Role == RoleOwner {
		if err := keepAnOwner(ctx, tx, a.OrgID, target.ID); err != nil {
			return nil, nil, err
		}
	}
	return actor, target, nil
}

// moreChunks says a run of a background offboarding stopped within its
// time budget with chunks left; the queue runs it again at once.
func moreChunks(now time.Time) error { return &ErrNotDue{Due: now} }

// runChunked runs a background offboarding's chunks until it is finished,
// ctx ends, or its time budget is spent (then it returns ErrNotDue due now,
// for the queue to run it again). finish is called in the transaction of
// the final state, as in RunOperation.
func (s *Service) runChunked(ctx context.Context, id string, finish func(tx Tx) error, step func(context.Context, Tx, *Operation) (bool, error)) (*Operation, error) {
	start := time.Now()
	budget := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl) / 2
	}
	for {
		var op *Operation
		var final bool
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			if op, err = tx.OperationGet(ctx, &OperationGetParams{UUID: id, Lock: true}); err != nil {
				return err
			}
			if op.Status.Done() {
				final = true
				return finish(tx)
			}
			final, err = step(ctx, tx, op)
			if err != nil {
				return err
			}
			if !final {
				// The chunk's changes hold from this commit: recording
				// them advances the organization's access epoch, so no
				// access index answers from before them.
				_, err = s.recordOperation(ctx, tx, op.actor(), ActionOperationProgressed, op)
				return err
			}
			return finish(tx)
		})
		if err != nil || final {
			return op, err
		}
		if err := ctx.Err(); err != nil {
			return op, err
		}
		if time.Since(start) > budget {
			return op, moreChunks(s.now())
		}
	}
}

// chunk runs one chunk of op in tx and reports whether op is now final.
func (s *Service) chunk(ctx context.Context, tx Tx, op *Operation) (bool, error) {
	a := op.actor()
	req := *op.Request.RemoveMember
	st, err := s.loadChunkState(ctx, tx, op)
	if err != nil {
		return false, err
	}
	var final bool
	runErr := tx.Savepoint(ctx, func() error {
		_, target, err := s.offboardable(ctx, tx, a, req)
		if err != nil {
			return err
		}
		if st == nil {
			if st, err = s.newChunkState(ctx, tx, target, req); err != nil {
				return err
			}
		}
		if final, err = s.chunkStep(ctx, tx, op, st, target); err != nil {
			return err
		}
		if final {
			return s.finishChunked(ctx, tx, op, st, req)
		}
		return nil
	})
	save := func() error {
		if !final { // the final step counted itself
			st.Progress.Chunks++
		}
		return s.saveChunkState(ctx, tx, op, st)
	}
	return s.settle(ctx, tx, op, final, runErr, save, func() error {
		if st != nil && st.Progress.Done > 0 {
			return s.giveBack(ctx, tx, op)
		}
		return nil
	})
}

// settle ends one step of a chunked operation in tx: a step that went
// through saves its state with save, and a final one finishes op; a
// refusal runs refused and fails op, saying why; any other error is
// returned for the queue to run the step again.
func (s *Service) settle(ctx context.Context, tx Tx, op *Operation, final bool, runErr error, save, refused func() error) (bool, error) {
	switch {
	case runErr == nil:
		if err := save(); err != nil || !final {
			return false, err
		}
		op.Status = OperationSucceeded
	case ErrorCode(runErr) != CodeInternal:
		if err := refused(); err != nil {
			return false, err
		}
		if err := s.operationRefused(ctx, tx, op, runErr); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("run step of operation %s: %w", op.UUID, runErr)
	}
	now := s.now()
	op.UpdatedAt, op.FinishedAt = now, &now
	return true, tx.OperationUpdate(ctx, op)
}

// operationRefused fails op with runErr's refusal and audits it.
func (s *Service) operationRefused(ctx context.Context, tx Tx, op *Operation, runErr error) error {
	op.Status = OperationFailed
	op.Error = &OperationError{Code: ErrorCode(runErr), Message: ErrorMessage(runErr)}
	refused := s.newEvent(op.actor(), op.Kind, OutcomeRefused)
	refused.Message = op.Error.Message
	refused.TargetType, refused.TargetID, refused.TargetMemberID = "member", op.TargetMemberID, op.TargetMemberID
	if err := tx.EventAppend(ctx, refused); err != nil {
		return fmt.Errorf("audit failed operation: %w", err)
	}
	return nil
}

// giveBack restores what the chunks of a refused background offboarding
// took, when its member is still active: those rows, and only those, carry
// the offboarding's cause while the member is active.
func (s *Service) giveBack(ctx context.Context, tx Tx, op *Operation) error {
	m, err := tx.MemberGet(ctx, &MemberGetParams{OrgID: op.OrgID, ID: op.TargetMemberID, Lock: true})
	if err != nil || !m.Active() {
		return err
	}
	on := &ReactivateParams{OrgID: op.OrgID, MemberID: m.ID, Cause: CauseMemberRemoved}
	if _, err := tx.SpaceMembersReactivate(ctx, on); err != nil {
		return err
	}
	if _, err := tx.GroupMembersReactivate(ctx, on); err != nil {
		return err
	}
	_, err = tx.GrantsReactivate(ctx, on)
	return err
}

// newChunkState counts what the offboarding of target will take.
func (s *Service) newChunkState(ctx context.Context, tx Tx, target *Member, req RemoveMemberRequest) (*chunkState, error) {
	limit, err := reportLimit(req.ReportLimit)
	if err != nil {
		return nil, err
	}
	spaces, err := tx.SpaceMemberList(ctx, &SpaceMemberListParams{OrgID: target.OrgID, MemberID: target.ID, Status: StatusActive})
	if err != nil {
		return nil, err
	}
	groups, err := tx.GroupMemberList(ctx, &GroupMemberListParams{OrgID: target.OrgID, MemberID: target.ID, Status: StatusActive})
	if err != nil {
		return nil, err
	}
	grants, err := tx.GrantCount(ctx, &GrantListParams{OrgID: target.OrgID, MemberID: target.ID, Status: StatusActive})
	if err != nil {
		return nil, err
	}
	st := &chunkState{Limit: limit, Spaces: []*SpaceMember{}, Groups: []*GroupMember{}, Direct: []*Grant{}, ViaGroups: []*Grant{}}
	st.Progress = OperationProgress{
		Total: len(spaces) + len(groups) + grants + 1,
		Parts: []ProgressPart{
			{Kind: PartSpaces, Total: len(spaces)}, {Kind: PartGroups, Total: len(groups)},
			{Kind: PartDirectGrants, Total: grants}, {Kind: PartMembership, Total: 1},
		},
		SpacesDone: []int64{}, GroupsDone: []int64{},
	}
	return st, nil
}

// chunkStep takes up to op's chunk size of target's space memberships,
// then group memberships, then direct grants, and reports whether all
// three are done, so that the membership itself goes next.
func (s *Service) chunkStep(ctx context.Context, tx Tx, op *Operation, st *chunkState, target *Member) (bool, error) {
	left := op.Request.Chunk
	off := &DeactivateParams{OrgID: op.OrgID, MemberID: target.ID, Cause: CauseMemberRemoved, At: s.now()}
	if p := st.part(PartSpaces); !p.Complete && left > 0 {
		rows, err := tx.SpaceMembersDeactivateFirst(ctx, off, left)
		if err != nil {
			return false, err
		}
		for _, sm := range rows {
			st.Progress.SpacesDone = append(st.Progress.SpacesDone, sm.SpaceID)
			st.Counts.Roles += len(sm.Roles)
		}
		st.Counts.Spaces += len(rows)
		st.Spaces = lowest(append(st.Spaces, rows...), st.Limit, func(sm *SpaceMember) int64 { return sm.ID })
		st.took(PartSpaces, len(rows), len(rows) < left)
		left -= len(rows)
	}
	if p := st.part(PartGroups); !p.Complete && left > 0 {
		rows, err := tx.GroupMembersDeactivateFirst(ctx, off, left)
		if err != nil {
			return false, err
		}
		if len(rows) > 0 {
			ids := make([]int64, len(rows))
			for i, gm := range rows {
				ids[i] = gm.GroupID
			}
			st.Progress.GroupsDone = append(st.Progress.GroupsDone, ids...)
			gp := &GrantListParams{OrgID: op.OrgID, GroupIDs: ids, Status: StatusActive, Limit: st.Limit}
			via, n, err := tx.GrantListCounted(ctx, gp, nil)
			if err != nil {
				return false, err
			}
			st.Counts.GroupGrants += n
			st.ViaGroups = lowest(append(st.ViaGroups, via...), st.Limit, func(g *Grant) int64 { return g.ID })
		}
		st.Counts.Groups += len(rows)
		st.Groups = lowest(append(st.Groups, rows...), st.Limit, func(gm *GroupMember) int64 { return gm.ID })
		st.took(PartGroups, len(rows), len(rows) < left)
		left -= len(rows)
	}
	if p := st.part(PartDirectGrants); !p.Complete && left > 0 {
		rows, err := tx.GrantsDeactivateFirst(ctx, off, left)
		if err != nil {
			return false, err
		}
		st.Counts.DirectGrants += len(rows)
		st.Direct = lowest(append(st.Direct, rows...), st.Limit, func(g *Grant) int64 { return g.ID })
		st.took(PartDirectGrants, len(rows), len(rows) < left)
	}
	for _, kind := range []string{PartSpaces, PartGroups, PartDirectGrants} {
		if !st.part(kind).Complete {
			return false, nil
		}
	}
	return true, nil
}

// finishChunked runs the synchronous offboarding on what the chunks left,
// with their report carried into its own, and stores the result.
func (s *Service) finishChunked(ctx context.Context, tx Tx, op *Operation, st *chunkState, req RemoveMemberRequest) error {
	a := op.actor()
	g := &Guard{approved: true} // the limits were checked at acceptance
	ctx = context.WithValue(WithGuard(ctx, g), carryKey{}, st)
	rep, err := logged(ctx, s, a, KindRemoveMember, func(tx Tx) (*Report, error) { return s.removeMember(ctx, tx, a, req) })(tx)
	if err != nil {
		return err
	}
	st.took(PartMembership, 1, true)
	st.Progress.Chunks++
	st.Progress.RemovalID = g.RemovalID
	op.Result = rep
	return s.saveChunkState(ctx, tx, op, st)
}

type carryKey struct{}

// carry adds what the chunks of a background offboarding took to the
// report of its last step, as if one transaction had taken everything:
// the lists now, before the report is recorded and cut to its limit, and
// the counts of what the chunks took beyond the items they kept, through
// the returned func, once it is.
func carry(ctx context.Context, r *Report) (counted func(*Report)) {
	st, ok := ctx.Value(carryKey{}).(*chunkState)
	if !ok {
		return func(*Report) {}
	}
	byID := func(sm *SpaceMember) int64 { return sm.ID }
	all := lowest(append(slices.Clone(st.Spaces), r.Spaces...), len(st.Spaces)+len(r.Spaces), byID)
	var extra ReportCounts
	// What the last step took beyond the memberships it listed counts too.
	rolesListed, lastRoles := 0, 0
	for _, sm := range r.Spaces {
		lastRoles += len(sm.Roles)
	}
	extra.Spaces = st.Counts.Spaces - len(st.Spaces) + max(0, r.Counts.Spaces-len(r.Spaces))
	extra.Roles = max(0, r.Counts.Roles-lastRoles)
	r.Counts.Spaces, r.Counts.Roles = 0, 0 // bound counts the merged lists
	for _, sm := range st.Spaces {
		rolesListed += len(sm.Roles)
	}
	extra.Roles += st.Counts.Roles - rolesListed
	r.Spaces, r.Roles = all, rolesOf(all)
	r.Groups = lowest(append(slices.Clone(st.Groups), r.Groups...), len(st.Groups)+len(r.Groups), func(gm *GroupMember) int64 { return gm.ID })
	extra.Groups = st.Counts.Groups - len(st.Groups)
	var direct, via []*Grant
	for _, gc := range r.Grants {
		if gc.Origin == "direct" {
			direct = append(direct, gc.Grant)
		} else {
			via = append(via, gc.Grant)
		}
	}
	byGrant := func(g *Grant) int64 { return g.ID }
	r.Grants = r.Grants[:0]
	for _, g := range lowest(append(slices.Clone(st.Direct), direct...), st.Limit, byGrant) {
		r.Grants = append(r.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
	}
	for _, g := range lowest(append(slices.Clone(st.ViaGroups), via...), st.Limit, byGrant) {
		r.Grants = append(r.Grants, &GrantChange{Grant: g, Origin: g.Origin()})
	}
	r.Counts.DirectGrants += st.Counts.DirectGrants
	r.Counts.GroupGrants += st.Counts.GroupGrants
	return func(r *Report) {
		r.Counts.Spaces += extra.Spaces
		r.Counts.Roles += extra.Roles
		r.Counts.Groups += extra.Groups
		r.Truncated = r.Truncated || extra.Spaces > 0 || extra.Groups > 0 || extra.Roles > 0
	}
}

// lowest sorts items by id and keeps the first n.
func lowest[T any](items []T, n int, id func(T) int64) []T {
	slices.SortFunc(items, func(x, y T) int {
		switch a, b := id(x), id(y); {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return items[:min(len(items), n)]
}

func (s *Service) loadChunkState(ctx context.Context, tx Tx, op *Operation) (*chunkState, error) {
	data, err := tx.OperationProgressGet(ctx, op.ID)
	if err != nil || data == nil {
		return nil, err
	}
	st := &chunkState{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("decode progress of operation %s: %w", op.UUID, err)
	}
	return st, nil
}

func (s *Service) saveChunkState(ctx context.Context, tx Tx, op *Operation, st *chunkState) error {
	return s.saveState(ctx, tx, op, st)
}

// withProgress sets op.Progress from its stored state, if it has one.
func (s *Service) withProgress(ctx context.Context, tx Tx, op *Operation) error {
	if op.Request.Chunk == 0 && op.Request.Undo == nil {
		return nil
	}
	st, err := s.loadChunkState(ctx, tx, op)
	if err != nil || st == nil {
		return err
	}
	op.Progress = &st.Progress
	return nil
}
