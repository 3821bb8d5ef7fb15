package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Every removal call that removes for real (a removal of any kind, a
// batch, an executed plan, a scheduled or asynchronous operation) is kept
// as a Removal in its own transaction: what it answered and, item by
// item, what it took away and the state it left. Undo restores exactly
// those items, in one transaction, and leaves alone any whose state has
// changed since (re-added, changed, removed again), reporting it.

// RemovedItem is one thing a removal call took away, with the state it
// left: undo requires that state unchanged.
type RemovedItem struct {
	Kind          string     `json:"kind"`
	MemberID      int64      `json:"member_id"`
	SpaceMemberID int64      `json:"space_member_id,omitempty"`
	GroupID       int64      `json:"group_id,omitempty"`
	Roles         []string   `json:"roles,omitempty" doc:"The roles taken: of the space membership removed, or revoked."`
	RemovedAt     *time.Time `json:"removed_at,omitempty" doc:"When the member or membership was removed."`
	KeptRoles     []string   `json:"kept_roles,omitempty" doc:"For roles.revoke: the roles the membership kept."`
}

// Removal is a removal call as it was made, for reading later and undo.
type Removal struct {
	ID            int64           `json:"-"`
	UUID          string          `json:"id"`
	OrgID         int64           `json:"-"`
	Kind          string          `json:"kind" doc:"member.remove, space_member.remove, group_member.remove, roles.revoke or batch.remove."`
	Interface     string          `json:"interface"`
	ActorMemberID int64           `json:"actor_member_id"`
	CredentialID  int64           `json:"-"`
	RequestID     string          `json:"request_id,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	Items         []RemovedItem   `json:"items"`
	Result        json.RawMessage `json:"result" doc:"The call's answer: a report, or a batch's items."`
	UndoneAt      *time.Time      `json:"undone_at,omitempty"`
	UndoneBy      int64           `json:"undone_by,omitempty"`
	Undo          *UndoResult     `json:"undo,omitempty"`
}

// Undo outcomes of one item.
const (
	UndoRestored = "restored"
	UndoChanged  = "changed_since" // re-added or changed since the removal: left as it is
)

// UndoResult is what an undo did, one outcome per item in removal order.
type UndoResult struct {
	Items    []*UndoItem `json:"items"`
	Restored int         `json:"restored"`
	Left     int         `json:"left" doc:"Items left as they are (changed since, or refused)."`
	EventID  int64       `json:"event_id"`
}

// UndoItem is one item's undo outcome.
type UndoItem struct {
	Index    int    `json:"index"`
	Kind     string `json:"kind"`
	MemberID int64  `json:"member_id"`
	Outcome  string `json:"outcome" doc:"restored, changed_since (left as it is), or a refusal outcome such as forbidden."`
	Message  string `json:"message,omitempty"`
}

// RemovalGetParams addresses a removal of an organization by UUID.
type RemovalGetParams struct {
	OrgID int64
	UUID  string
	Lock  bool
}

// errChangedSince leaves an item whose state differs from what the
// removal left.
var errChangedSince = &Error{Code: CodeConflict, Message: "re-added or changed since the removal; left as it is"}

// guarded returns ctx with a Guard, the adapter's or a fresh one, so that
// the removal calls made with it can log what they remove.
func guarded(ctx context.Context) context.Context {
	if guardOf(ctx) != nil {
		return ctx
	}
	return WithGuard(ctx, &Guard{})
}

// logged wraps a real removal call of kind so that what it removes is
// kept as a Removal in the same transaction, its id left in the Guard.
func logged[T any](ctx context.Context, s *Service, a Actor, kind string, fn func(tx Tx) (T, error)) func(tx Tx) (T, error) {
	return logRemovals(ctx, s, a, kind, false, fn)
}

// loggedIfAny is logged for a change that takes something away only
// sometimes (a provider's change of a group): when it took nothing, no
// removal is kept.
func loggedIfAny[T any](ctx context.Context, s *Service, a Actor, kind string, fn func(tx Tx) (T, error)) func(tx Tx) (T, error) {
	return logRemovals(ctx, s, a, kind, true, fn)
}

func logRemovals[T any](ctx context.Context, s *Service, a Actor, kind string, onlyIfAny bool, fn func(tx Tx) (T, error)) func(tx Tx) (T, error) {
	g := guardOf(ctx)
	if g == nil {
		return fn
	}
	return func(tx Tx) (T, error) {
		var zero T
		g.logging, g.items, g.RemovalID, g.result = true, nil, "", nil
		r, err := fn(tx)
		g.logging = false
		if err != nil {
			return zero, err
		}
		if onlyIfAny && len(g.items) == 0 {
			return r, nil
		}
		if !g.approved {
			if err := s.checkPolicy(ctx, tx, a.OrgID, membersIn(g.items)); err != nil {
				return zero, err
			}
		}
		result, err := encodeResult(r)
		if err != nil {
			return zero, fmt.Errorf("encode removal result: %w", err)
		}
		now := s.now()
		rm := &Removal{UUID: NewTimeUUID(now), OrgID: a.OrgID, Kind: kind, Interface: a.Interface, ActorMemberID: a.MemberID,
			CredentialID: a.CredentialID, RequestID: a.RequestID, CreatedAt: now, Items: g.items, Result: result}
		if rm.Items == nil {
			rm.Items = []RemovedItem{}
		}
		if err := tx.RemovalCreate(ctx, rm); err != nil {
			return zero, err
		}
		g.RemovalID, g.result = rm.UUID, result
		return r, nil
	}
}

// logRemoved adds what a removal recorded under action took away to the
// call's log, with the state it left, read back in the transaction.
func logRemoved(ctx context.Context, tx Tx, action string, report *Report, before, after any) error {
	g := guardOf(ctx)
	if g == nil || !g.logging {
		return nil
	}
	m := report.Member
	it := RemovedItem{MemberID: m.ID}
	switch action {
	case ActionMemberRemoved:
		it.Kind, it.RemovedAt = KindRemoveMember, m.RemovedAt
	case ActionSpaceMemberRemoved:
		sm := before.(*SpaceMember)
		at := g.removedAt
		g.removedAt = time.Time{}
		removedAt := &at
		if at.IsZero() {
			now, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: m.OrgID, ID: sm.ID})
			if err != nil {
				return err
			}
			removedAt = now.RemovedAt
		}
		it.Kind, it.SpaceMemberID, it.Roles, it.RemovedAt = KindRemoveSpaceMember, sm.ID, sm.Roles, removedAt
	case ActionGroupMemberRemoved:
		gm := before.(*GroupMember)
		now, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: m.OrgID, GroupID: gm.GroupID, MemberID: m.ID})
		if err != nil {
			return err
		}
		it.Kind, it.GroupID, it.RemovedAt = KindRemoveGroupMember, gm.GroupID, now.RemovedAt
	case ActionRolesRevoked:
		sm := after.(*SpaceMember)
		it.Kind, it.SpaceMemberID, it.Roles, it.KeptRoles = KindRevokeRoles, sm.ID, report.Roles[0].Roles, sm.Roles
	default:
		return nil
	}
	g.items = append(g.items, it)
	return nil
}

// Removal returns a removal call of a's organization as it was made.
func (s *Service) Removal(ctx context.Context, a Actor, id string) (*Removal, error) {
	return view(ctx, s, func(tx Tx) (*Removal, error) {
		rm, err := tx.RemovalGet(ctx, &RemovalGetParams{OrgID: a.OrgID, UUID: id})
		if err != nil {
			return nil, err
		}
		rm.Result, err = storedReceipts(ctx, tx, rm.Result)
		return rm, err
	})
}

// UndoRemoval restores what one removal call took away, in one
// transaction: each item whose state is still the one the removal left is
// restored; one re-added or changed since is reported and left as it is,
// never overwritten. A removal is undone at most once (CodeConflict).
func (s *Service) UndoRemoval(ctx context.Context, a Actor, id string) (*Removal, error) {
	return mutate(ctx, s, a, "removal.undo", func(tx Tx) (*Removal, error) {
		rm, err := tx.RemovalGet(ctx, &RemovalGetParams{OrgID: a.OrgID, UUID: id, Lock: true})
		if err != nil {
			return nil, err
		}
		if rm.UndoneAt != nil {
			return nil, Errorf(CodeConflict, "the removal was already undone")
		}
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		res := &UndoResult{Items: make([]*UndoItem, 0, len(rm.Items))}
		if err := s.undoItems(ctx, tx, a, actor, rm, res, len(rm.Items)); err != nil {
			return nil, err
		}
		return rm, s.undone(ctx, tx, a, actor, rm, res)
	})
}

// undoItems undoes up to n of rm's items after the len(res.Items) done,
// each in its own savepoint, adding their outcomes to res.
func (s *Service) undoItems(ctx context.Context, tx Tx, a Actor, actor *Member, rm *Removal, res *UndoResult, n int) error {
	start := len(res.Items)
	for i := start; i < len(rm.Items) && i < start+n; i++ {
		it := rm.Items[i]
		ui := &UndoItem{Index: i, Kind: it.Kind, MemberID: it.MemberID, Outcome: UndoRestored}
		err := tx.Savepoint(ctx, func() error { return s.undoItem(ctx, tx, a, actor, it) })
		switch {
		case err == nil:
			res.Restored++
		case isRefusal(err):
			ui.Outcome, ui.Message = UndoChanged, ErrorMessage(err)
			if ErrorCode(err) == CodeForbidden {
				ui.Outcome = OutcomeForbidden
			}
			res.Left++
		default:
			return err
		}
		res.Items = append(res.Items, ui)
	}
	return nil
}

// undone marks rm undone with res and records it.
func (s *Service) undone(ctx context.Context, tx Tx, a Actor, actor *Member, rm *Removal, res *UndoResult) error {
	now := s.now()
	rm.UndoneAt, rm.UndoneBy, rm.Undo = &now, actor.ID, res
	e, err := s.record(ctx, tx, a, "removal.undone", nil, nil, map[string]any{"removal": rm.UUID, "undo": res})
	if err != nil {
		return err
	}
	res.EventID = e.ID
	return tx.RemovalUpdate(ctx, rm)
}

// undoItem restores one item if its state is the one the removal left.
func (s *Service) undoItem(ctx context.Context, tx Tx, a Actor, actor *Member, it RemovedItem) error {
	target, err := s.lockMember(ctx, tx, a.OrgID, MemberRef{ID: it.MemberID})
	if err != nil {
		return err
	}
	if it.Kind == KindRemoveMember {
		if target.Active() || !sameTime(target.RemovedAt, it.RemovedAt) {
			return errChangedSince
		}
		_, err := s.restore(ctx, tx, a, actor, target)
		return err
	}
	if !target.Active() {
		return errChangedSince
	}
	if err := mayRemove(actor, target, target.AddedBy, RuleAdminAnyMember); err != nil {
		return Errorf(CodeForbidden, "you do not have rights to restore the specified user")
	}
	now := s.now()
	switch it.Kind {
	case KindRemoveSpaceMember:
		sm, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: it.SpaceMemberID})
		if err != nil {
			return err
		}
		if sm.Status != StatusRemoved || !sameTime(sm.RemovedAt, it.RemovedAt) {
			return errChangedSince
		}
		back := &SpaceMember{UUID: NewUUID(), OrgID: a.OrgID, SpaceID: sm.SpaceID, MemberID: target.ID, Email: target.Email,
			Roles: it.Roles, Status: StatusActive, AddedBy: actor.ID, CreatedAt: now}
		if err := tx.SpaceMemberAdd(ctx, back); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, a, "space_member.restored", target, sm, back)
		return err
	case KindRemoveGroupMember:
		gm, err := tx.GroupMemberGet(ctx, &GroupMemberGetParams{OrgID: a.OrgID, GroupID: it.GroupID, MemberID: target.ID})
		if err != nil {
			return err
		}
		if gm.Status != StatusRemoved || !sameTime(gm.RemovedAt, it.RemovedAt) {
			return errChangedSince
		}
		back := &GroupMember{OrgID: a.OrgID, GroupID: it.GroupID, MemberID: target.ID, Status: StatusActive, AddedBy: actor.ID, CreatedAt: now}
		if err := tx.GroupMemberAdd(ctx, back); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, a, "group_member.restored", target, gm, back)
		return err
	case KindRevokeRoles:
		sm, err := tx.SpaceMemberGet(ctx, &SpaceMemberGetParams{OrgID: a.OrgID, ID: it.SpaceMemberID})
		if err != nil {
			return err
		}
		if sm.Status != StatusActive || sortedJoin(sm.Roles) != sortedJoin(it.KeptRoles) {
			return errChangedSince
		}
		if err := tx.SpaceRolesGrant(ctx, &SpaceRolesParams{SpaceMemberID: sm.ID, Roles: it.Roles, At: now, By: actor.ID}); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, a, "roles.restored", target, sm, it.Roles)
		return err
	}
	return fmt.Errorf("undo item of kind %q", it.Kind)
}

// Members counts the distinct members the removal took something from.
func (r *Removal) Members() int { return membersIn(r.Items) }

// membersIn counts the distinct members items took something from.
func membersIn(items []RemovedItem) int {
	seen := map[int64]bool{}
	for _, it := range items {
		seen[it.MemberID] = true
	}
	return len(seen)
}

func sameTime(a, b *time.Time) bool {
	return a != nil && b != nil && a.Equal(*b)
}

// DefaultUndoAsyncAbove is the number of items above which an undo runs
// as an operation even when the client did not ask for one.
const DefaultUndoAsyncAbove = 1000

// undoChunk is how many items one transaction of an asynchronous undo
// restores, unless Config.OffboardChunk says otherwise.
const undoChunk = 200

// UndoRequest is an undo run as an operation.
type UndoRequest struct {
	Removal string `json:"removal"`
}

// KindUndoRemoval is the kind of an operation that undoes a removal.
const KindUndoRemoval = "removal.undo"

// undoState is what an asynchronous undo stores after each chunk.
type undoState struct {
	Progress OperationProgress `json:"progress"`
	Result   UndoResult        `json:"result"`
}

// UndoRemovalAsync starts undoing a removal as an operation with progress,
// in chunks of items, each chunk its own transaction; the outcomes are
// those of UndoRemoval, kept on the removal once all are done. A removal
// already undone, or being undone, is refused with CodeConflict.
func (s *Service) UndoRemovalAsync(ctx context.Context, a Actor, id string) (*Operation, error) {
	if err := s.needQueue(); err != nil {
		return nil, err
	}
	return mutate(ctx, s, a, ActionOperationAccepted, func(tx Tx) (*Operation, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		rm, err := tx.RemovalGet(ctx, &RemovalGetParams{OrgID: a.OrgID, UUID: id, Lock: true})
		if err != nil {
			return nil, err
		}
		if rm.UndoneAt != nil {
			return nil, Errorf(CodeConflict, "the removal was already undone")
		}
		now := s.now()
		op := &Operation{UUID: NewUUID(), OrgID: a.OrgID, Kind: KindUndoRemoval, Status: OperationQueued,
			Interface: a.Interface, RequestID: a.RequestID, ActorMemberID: actor.ID, CredentialID: a.CredentialID,
			Request:   OperationRequest{Kind: KindUndoRemoval, Undo: &UndoRequest{Removal: rm.UUID}},
			CreatedAt: now, UpdatedAt: now, LockKey: "removal:" + rm.UUID}
		if err := tx.OperationCreate(ctx, op); err != nil {
			return nil, err
		}
		if err := s.queue.EnqueueOperation(ctx, tx, op); err != nil {
			return nil, fmt.Errorf("enqueue operation %s: %w", op.UUID, err)
		}
		if _, err := s.recordOperation(ctx, tx, a, ActionOperationAccepted, op); err != nil {
			return nil, err
		}
		return op, nil
	})
}

// undoStep runs one chunk of an asynchronous undo and reports whether the
// operation is now final.
func (s *Service) undoStep(ctx context.Context, tx Tx, op *Operation) (bool, error) {
	a := op.actor()
	var st undoState
	data, err := tx.OperationProgressGet(ctx, op.ID)
	if err != nil {
		return false, err
	}
	if data != nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return false, fmt.Errorf("decode progress of operation %s: %w", op.UUID, err)
		}
	}
	var final bool
	runErr := tx.Savepoint(ctx, func() error {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return err
		}
		rm, err := tx.RemovalGet(ctx, &RemovalGetParams{OrgID: op.OrgID, UUID: op.Request.Undo.Removal, Lock: true})
		if err != nil {
			return err
		}
		if rm.UndoneAt != nil {
			return Errorf(CodeConflict, "the removal was already undone")
		}
		if st.Result.Items == nil {
			st.Result.Items = []*UndoItem{}
			st.Progress = OperationProgress{Total: len(rm.Items), Parts: []ProgressPart{{Kind: "items", Total: len(rm.Items)}},
				SpacesDone: []int64{}, GroupsDone: []int64{}, RemovalID: rm.UUID}
		}
		n := s.cfg.OffboardChunk
		if n <= 0 {
			n = undoChunk
		}
		if err := s.undoItems(ctx, tx, a, actor, rm, &st.Result, n); err != nil {
			return err
		}
		st.Progress.Done, st.Progress.Chunks = len(st.Result.Items), st.Progress.Chunks+1
		st.Progress.Parts[0].Done = st.Progress.Done
		if final = st.Progress.Done == len(rm.Items); final {
			st.Progress.Parts[0].Complete = true
			return s.undone(ctx, tx, a, actor, rm, &st.Result)
		}
		return nil
	})
	save := func() error { return s.saveState(ctx, tx, op, st) }
	return s.settle(ctx, tx, op, final, runErr, save, func() error { return nil })
}

func (s *Service) saveState(ctx context.Context, tx Tx, op *Operation, st any) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode progress of operation %s: %w", op.UUID, err)
	}
	return tx.OperationProgressPut(ctx, op.ID, data, s.now())
}
