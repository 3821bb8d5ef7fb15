package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// OperationStatus is where an operation is in its life.
type OperationStatus string

// Operation states. Scheduled and queued operations are waiting; running
// has started; the last three are final.
const (
	OperationScheduled OperationStatus = "scheduled" // waits for its effective time
	OperationQueued    OperationStatus = "queued"    // accepted, not yet started
	OperationRunning   OperationStatus = "running"
	OperationSucceeded OperationStatus = "succeeded"
	OperationFailed    OperationStatus = "failed"
	OperationCancelled OperationStatus = "cancelled"
)

// Done reports whether st is final.
func (st OperationStatus) Done() bool {
	return st == OperationSucceeded || st == OperationFailed || st == OperationCancelled
}

// Waiting reports whether an operation in st has not started and can
// still be cancelled.
func (st OperationStatus) Waiting() bool { return st == OperationScheduled || st == OperationQueued }

// Operation kinds: the removals that can run later.
const (
	KindRemoveMember      = "member.remove" // offboarding: the whole membership
	KindRemoveSpaceMember = "space_member.remove"
	KindRemoveGroupMember = "group_member.remove"
	KindRevokeRoles       = "roles.revoke"
	// KindRemoveBatch is the kind a batch removal is logged under for undo;
	// it never runs as an operation.
	KindRemoveBatch = "batch.remove"
)

// Operation is a removal that runs after it is acknowledged: at once but
// asynchronously (Workiva's revocation), or at a set time (a scheduled
// removal). It is stored, so it survives restarts, and it runs exactly once.
type Operation struct {
	ID             int64            `json:"-"`
	UUID           string           `json:"id"`
	OrgID          int64            `json:"organization_id"`
	Kind           string           `json:"kind"`
	Status         OperationStatus  `json:"status"`
	Interface      string           `json:"interface"`
	RequestID      string           `json:"request_id,omitempty"`
	ActorMemberID  int64            `json:"actor_member_id"`
	CredentialID   int64            `json:"credential_id,omitempty"`
	TargetMemberID int64            `json:"target_member_id,omitempty"`
	SpaceID        int64            `json:"space_id,omitempty"`
	Request        OperationRequest `json:"request"`
	// Original is the request as the client sent it, in its own dialect.
	Original json.RawMessage `json:"original_request,omitempty"`
	// EffectiveAt is set for scheduled removals: when the removal happens.
	EffectiveAt *time.Time      `json:"effective_at,omitempty"`
	Result      *Report         `json:"result,omitempty"`
	Error       *OperationError `json:"error,omitempty"`
	Attempts    int             `json:"attempts"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	// Progress is how far an offboarding run in chunks has got.
	Progress *OperationProgress `json:"progress,omitempty"`
	// LockKey names what the operation changes; at most one waiting or
	// running operation holds a key (a second is a conflict).
	LockKey string `json:"-"`
}

// RunAt is when the operation is due.
func (op *Operation) RunAt() time.Time {
	if op.EffectiveAt != nil {
		return *op.EffectiveAt
	}
	return op.CreatedAt
}

// actor is who the operation acts for: the one who asked for it.
func (op *Operation) actor() Actor {
	return Actor{OrgID: op.OrgID, MemberID: op.ActorMemberID, CredentialID: op.CredentialID,
		Interface: op.Interface, RequestID: op.RequestID}
}

// OperationError says why an operation failed, in the core's terms.
type OperationError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// OperationRequest is the removal an operation runs: Kind names which of
// the requests is set. DryRun is ignored: an operation always runs for real.
type OperationRequest struct {
	Kind              string                    `json:"kind"`
	RemoveMember      *RemoveMemberRequest      `json:"remove_member,omitempty"`
	RemoveSpaceMember *RemoveSpaceMemberRequest `json:"remove_space_member,omitempty"`
	RemoveGroupMember *RemoveGroupMemberRequest `json:"remove_group_member,omitempty"`
	RevokeRoles       *RevokeRolesRequest       `json:"revoke_roles,omitempty"`
	// Chunk, when set, runs an offboarding in chunks of this many space
	// memberships, group memberships and direct grants (OffboardAsync).
	Chunk int `json:"chunk,omitempty"`
	// Undo, when set, undoes a removal (UndoRemovalAsync).
	Undo *UndoRequest `json:"undo,omitempty"`
}

// Queue runs operations and webhook deliveries later, durably. It is the
// seam between the core and the job queue (package jobs): the core calls
// it inside its own transaction, so a job exists exactly when the change
// that caused it commits, and the core never sees the queue's tables.
type Queue interface {
	// EnqueueOperation makes RunOperation(op.UUID) be called once at
	// op.RunAt(), on one node, in tx.
	EnqueueOperation(ctx context.Context, tx Tx, op *Operation) error
	// EnqueueDelivery makes DeliverWebhook(deliveryID) be called at at.
	EnqueueDelivery(ctx context.Context, tx Tx, deliveryID int64, at time.Time) error
}

// OperationGetParams addresses one operation.
type OperationGetParams struct {
	OrgID int64 // 0: any organization (the job runner's view)
	UUID  string
	Lock  bool // serialize changes to this operation (FOR UPDATE)
}

// OperationListParams filters OperationList; zero fields match all.
type OperationListParams struct {
	OrgID     int64
	Status    OperationStatus
	Scheduled bool // only operations with an effective time
	BeforeID  int64
	Limit     int
}

func (s *Service) needQueue() error {
	if s.queue == nil {
		return Errorf(CodeUnavailable, "the job queue is not running")
	}
	return nil
}

// StartOperationRequest asks for a removal to run asynchronously, at once
// or at EffectiveAt.
type StartOperationRequest struct {
	Request OperationRequest
	// EffectiveAt schedules the removal; nil runs it as soon as possible.
	EffectiveAt *time.Time
	// Original is the request as the client sent it, kept for polling.
	Original json.RawMessage
	// SpaceID, when set, must be the space of Request.RevokeRoles's
	// membership (Workiva addresses a membership through its workspace).
	SpaceID int64
	// policed checks the organization's limits and the removal's own
	// rules before acceptance (a background offboarding).
	policed bool
}

// StartOperation accepts a removal to run later and returns its operation
// at once. Everything that can be checked before acceptance is: the actor
// must be an owner or admin of the organization (CodeForbidden), every
// member, space, group and membership named must exist in it
// (CodeNotFound), and no other operation may be waiting on or running
// against the same target (CodeConflict). What can only be known when the
// removal runs (a role not held, a member removed meanwhile) fails the
// operation with details instead. A removal is run for real: a dry run is
// dropped, and refused with CodeInvalid when it has an effective time.
func (s *Service) StartOperation(ctx context.Context, a Actor, req StartOperationRequest) (*Operation, error) {
	if err := s.needQueue(); err != nil {
		return nil, err
	}
	action := ActionOperationAccepted
	if req.EffectiveAt != nil {
		action = ActionScheduledRemovalCreated
	}
	k, err := req.Request.removal()
	if err == nil {
		ctx = WithEventTarget(ctx, removalTarget(k))
		err = k.validate(req.EffectiveAt != nil)
	}
	if err == nil && req.EffectiveAt != nil {
		err = CheckTime("effective_at", *req.EffectiveAt)
	}
	if err != nil {
		return nil, s.refuse(ctx, a, action, err)
	}
	req.Request.Kind = k.kind()
	if !utf8.Valid(req.Original) || !json.Valid(req.Original) {
		req.Original = nil // kept only as the client's own words; never worth a refusal
	}
	now := s.now()
	var effective *time.Time
	if req.EffectiveAt != nil {
		t := req.EffectiveAt.UTC().Truncate(time.Microsecond)
		if t.Before(now.Add(-time.Minute)) {
			err := Errorf(CodeInvalid, "effective_at is in the past")
			s.auditRefusal(ctx, a, action, err)
			return nil, err
		}
		effective = &t
	}
	return mutate(ctx, s, a, action, func(tx Tx) (*Operation, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if err := mayManage(actor); err != nil {
			return nil, Errorf(CodeForbidden, "only owners and admins can start removals that run later")
		}
		op := &Operation{
			UUID: NewUUID(), OrgID: a.OrgID, Kind: req.Request.Kind, Status: OperationQueued,
			Interface: a.Interface, RequestID: a.RequestID, ActorMemberID: actor.ID, CredentialID: a.CredentialID,
			Request: req.Request, Original: req.Original, EffectiveAt: effective,
			CreatedAt: now, UpdatedAt: now,
		}
		if effective != nil {
			op.Status = OperationScheduled
		}
		if err := k.resolve(ctx, s, tx, a.OrgID, req.SpaceID, op); err != nil {
			return nil, err
		}
		if req.policed {
			if err := s.acceptChecks(ctx, tx, a, op); err != nil {
				return nil, err
			}
		}
		if err := tx.OperationCreate(ctx, op); err != nil {
			return nil, err
		}
		if err := s.queue.EnqueueOperation(ctx, tx, op); err != nil {
			return nil, fmt.Errorf("enqueue operation %s: %w", op.UUID, err)
		}
		if _, err := s.recordOperation(ctx, tx, a, action, op); err != nil {
			return nil, err
		}
		return op, nil
	})
}

// ScheduleRequest asks for a removal, named by its kind, to happen at
// EffectiveAt.
type ScheduleRequest struct {
	RemovalSpec
	EffectiveAt *time.Time // required
	// Original is the request as the client sent it, kept for polling.
	Original json.RawMessage
}

// Schedule builds the removal req names and starts it at req.EffectiveAt
// like StartOperation. A missing effective time, an unknown kind or a
// part the kind needs that is missing is refused with CodeInvalid.
func (s *Service) Schedule(ctx context.Context, a Actor, req ScheduleRequest) (*Operation, error) {
	if t := specTarget(req.RemovalSpec); t.Type != "" {
		ctx = WithEventTarget(ctx, t)
	}
	if req.EffectiveAt == nil {
		return nil, s.refuse(ctx, a, ActionScheduledRemovalCreated, Errorf(CodeInvalid, "effective_at is required (RFC 3339)"))
	}
	r, err := NewOperationRequest(req.RemovalSpec)
	if err != nil {
		return nil, s.refuse(ctx, a, ActionScheduledRemovalCreated, err)
	}
	return s.StartOperation(ctx, a, StartOperationRequest{Request: r, EffectiveAt: req.EffectiveAt, Original: req.Original})
}

// recordOperation appends the audit event of an operation's change; the
// event names the member the operation concerns.
func (s *Service) recordOperation(ctx context.Context, tx Tx, a Actor, action string, op *Operation) (*Event, error) {
	var target *Member
	if op.TargetMemberID != 0 {
		target = &Member{ID: op.TargetMemberID}
	}
	return s.record(ctx, tx, a, action, target, nil, op)
}

// Operation returns one of the organization's operations by its UUID.
func (s *Service) Operation(ctx context.Context, a Actor, id string) (*Operation, error) {
	return view(ctx, s, func(tx Tx) (*Operation, error) {
		op, err := tx.OperationGet(ctx, &OperationGetParams{OrgID: a.OrgID, UUID: id})
		if err != nil {
			return nil, err
		}
		if err := s.completeReceipts(ctx, tx, op.Result); err != nil {
			return nil, err
		}
		return op, s.withProgress(ctx, tx, op)
	})
}

// Operations lists the organization's operations, newest first.
func (s *Service) Operations(ctx context.Context, a Actor, p OperationListParams) ([]*Operation, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Operation, error) {
		ops, err := tx.OperationList(ctx, &p)
		for _, op := range ops {
			if err == nil {
				err = s.completeReceipts(ctx, tx, op.Result)
			}
		}
		return ops, err
	})
}

// CancelOperation cancels an operation that has not started. A scheduled
// removal can be cancelled until it is due; one that has started or
// finished answers CodeConflict.
func (s *Service) CancelOperation(ctx context.Context, a Actor, id string) (*Operation, error) {
	return mutate(ctx, s, a, ActionOperationCancelled, func(tx Tx) (*Operation, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		op, err := tx.OperationGet(ctx, &OperationGetParams{OrgID: a.OrgID, UUID: id, Lock: true})
		if err != nil {
			return nil, err
		}
		if err := mayManage(actor); err != nil && actor.ID != op.ActorMemberID {
			return nil, Errorf(CodeForbidden, "only owners, admins and the member who started it can cancel an operation")
		}
		if !op.Status.Waiting() {
			return nil, Errorf(CodeConflict, "the operation is %s and can no longer be cancelled", op.Status)
		}
		now := s.now()
		op.Status, op.UpdatedAt, op.FinishedAt = OperationCancelled, now, &now
		if err := tx.OperationUpdate(ctx, op); err != nil {
			return nil, err
		}
		action := ActionOperationCancelled
		if op.EffectiveAt != nil {
			action = ActionScheduledRemovalCancelled
		}
		if _, err := s.recordOperation(ctx, tx, a, action, op); err != nil {
			return nil, err
		}
		return op, nil
	})
}

// PreviewOperation is the dry run of a waiting operation: what it would
// take away if it ran now, with the rights of the member who started it.
func (s *Service) PreviewOperation(ctx context.Context, a Actor, id string) (*Report, error) {
	op, err := s.Operation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !op.Status.Waiting() {
		return nil, Errorf(CodeConflict, "the operation is %s; only a waiting operation has a preview", op.Status)
	}
	return dryRun(ctx, s, func(tx Tx) (*Report, error) { return s.execOperation(ctx, tx, op) })
}

// ErrNotDue is returned by RunOperation for an operation whose effective
// time has not come; the runner tries again at Due.
type ErrNotDue struct{ Due time.Time }

func (e *ErrNotDue) Error() string {
	return fmt.Sprintf("operation is due at %s", e.Due.Format(time.RFC3339Nano))
}

// dueSlack lets an operation run a little early: the queue's clock and the
// database's may differ by a few milliseconds.
const dueSlack = 50 * time.Millisecond

// RunOperation runs an operation's removal. It is what the job queue calls;
// finish is the queue's own bookkeeping (marking its job done), which
// RunOperation calls inside the transaction that stores the operation's
// final state. The removal, the final state and finish commit together,
// so a run that is killed half-way leaves nothing, and a run after a
// finished one finds the operation done and only calls finish.
//
// A refusal (a role not held, a member already removed) fails the
// operation with details: it is a final answer, not an error. Any other
// error is returned with nothing changed, for the queue to retry.
func (s *Service) RunOperation(ctx context.Context, id string, finish func(tx Tx) error) (*Operation, error) {
	// First mark it running in its own transaction, so that polling shows
	// it started and a cancel that comes now is refused.
	var op *Operation
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if op, err = tx.OperationGet(ctx, &OperationGetParams{UUID: id, Lock: true}); err != nil {
			return err
		}
		if op.Status.Done() {
			return finish(tx)
		}
		if due := op.RunAt(); s.now().Add(dueSlack).Before(due) {
			return &ErrNotDue{Due: due}
		}
		now := s.now()
		op.Status, op.UpdatedAt, op.Attempts = OperationRunning, now, op.Attempts+1
		if op.StartedAt == nil {
			op.StartedAt = &now
		}
		return tx.OperationUpdate(ctx, op)
	})
	if err != nil || op.Status.Done() {
		return op, err
	}
	if op.Request.Chunk > 0 {
		return s.runChunked(ctx, id, finish, s.chunk)
	}
	if op.Request.Undo != nil {
		return s.runChunked(ctx, id, finish, s.undoStep)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		if op, err = tx.OperationGet(ctx, &OperationGetParams{UUID: id, Lock: true}); err != nil {
			return err
		}
		if op.Status.Done() {
			return finish(tx)
		}
		var report *Report
		runErr := tx.Savepoint(ctx, func() error {
			var err error
			report, err = s.execOperation(ctx, tx, op)
			return err
		})
		now := s.now()
		switch {
		case runErr == nil:
			op.Status, op.Result = OperationSucceeded, report
		case ErrorCode(runErr) != CodeInternal:
			if err := s.operationRefused(ctx, tx, op, runErr); err != nil {
				return err
			}
		default:
			return fmt.Errorf("run operation %s: %w", op.UUID, runErr)
		}
		op.UpdatedAt, op.FinishedAt = now, &now
		if err := tx.OperationUpdate(ctx, op); err != nil {
			return err
		}
		if op.EffectiveAt != nil {
			if _, err := s.recordOperation(ctx, tx, op.actor(), ActionScheduledRemovalExecuted, op); err != nil {
				return err
			}
		}
		return finish(tx)
	})
	if err == nil && op.Result != nil {
		err = s.completeReceipts(ctx, nil, op.Result)
	}
	return op, err
}

// FailOperation gives up on an operation whose runs kept failing with
// internal errors: it is marked failed so that nobody polls it forever.
func (s *Service) FailOperation(ctx context.Context, id string, cause error, finish func(tx Tx) error) (*Operation, error) {
	var op *Operation
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if op, err = tx.OperationGet(ctx, &OperationGetParams{UUID: id, Lock: true}); err != nil {
			return err
		}
		if !op.Status.Done() {
			now := s.now()
			op.Status, op.UpdatedAt, op.FinishedAt = OperationFailed, now, &now
			op.Error = &OperationError{Code: CodeInternal, Message: "internal error"}
			s.cfg.Logger.Error("operation failed for good", "operation", id, "err", cause)
			if err := tx.OperationUpdate(ctx, op); err != nil {
				return err
			}
		}
		return finish(tx)
	})
	return op, err
}

// execOperation runs op's removal in tx on behalf of whoever started it.
func (s *Service) execOperation(ctx context.Context, tx Tx, op *Operation) (*Report, error) {
	k, err := op.Request.removal()
	if err != nil {
		return nil, fmt.Errorf("operation %s of kind %s: %w", op.UUID, op.Kind, err)
	}
	ctx = guarded(ctx)
	rep, err := logged(ctx, s, op.actor(), k.kind(), func(tx Tx) (*Report, error) { return k.exec(ctx, s, tx, op.actor()) })(tx)
	var over *overLimit
	if errors.As(err, &over) {
		// A scheduled run cannot wait for an approver: it fails, saying so.
		return nil, approvalRequired("", over.msg+": nothing was removed; preview it as a plan (POST /api/v1/plans) for another owner to approve")
	}
	return rep, err
}
