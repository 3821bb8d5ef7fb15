package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Blast-radius policies. An organization's owners may limit how many
// members one removal call removes and how many are removed per rolling
// hour, across every interface and scheduled removals alike. A removal
// that would go above a limit is not made: it is saved as a plan awaiting
// approval and refused with CodeApprovalRequired naming the plan. The plan
// runs when an owner other than the one who asked approves it (two-person
// rule), or when an owner forces it, which is audited as such.

// Policy is an organization's blast-radius limits; 0 means no limit.
type Policy struct {
	OrgID      int64     `json:"-"`
	MaxPerCall int       `json:"max_per_call" minimum:"0" doc:"The most members one removal call may remove without approval; 0: no limit."`
	MaxPerHour int       `json:"max_per_hour" minimum:"0" doc:"The most members removed per rolling hour, across calls and interfaces, without approval; 0: no limit."`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	UpdatedBy  int64     `json:"updated_by,omitempty"`
}

// PolicyWindow is the rolling window of Policy.MaxPerHour.
const PolicyWindow = time.Hour

// overLimit says a removal call went above a limit; the call rolls back
// and is then held as a plan.
type overLimit struct {
	msg    string
	member int64 // the member a provider's removal was about, to hold it as a plan
	// group and members: a provider's change of a group that took these
	// members out of it, held as a batch removal from the group.
	group   int64
	members []int64
}

func (e *overLimit) Error() string { return e.msg }

// Policy returns a's organization's policy.
func (s *Service) Policy(ctx context.Context, a Actor) (*Policy, error) {
	return view(ctx, s, func(tx Tx) (*Policy, error) { return tx.PolicyGet(ctx, a.OrgID) })
}

// SetPolicy replaces the organization's policy; only owners may.
func (s *Service) SetPolicy(ctx context.Context, a Actor, p Policy) (*Policy, error) {
	if p.MaxPerCall < 0 || p.MaxPerHour < 0 {
		return nil, s.refuse(ctx, a, "policy.update", Errorf(CodeInvalid, "limits must be 0 (none) or more"))
	}
	return mutate(ctx, s, a, "policy.update", func(tx Tx) (*Policy, error) {
		actor, err := s.owner(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		before, err := tx.PolicyGet(ctx, a.OrgID)
		if err != nil {
			return nil, err
		}
		p.OrgID, p.UpdatedAt, p.UpdatedBy = a.OrgID, s.now(), actor.ID
		if err := tx.PolicyPut(ctx, &p); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "policy.updated", nil, before, &p)
		return &p, err
	})
}

// owner returns a's member if it is an active owner, else CodeForbidden.
func (s *Service) owner(ctx context.Context, tx Tx, a Actor) (*Member, error) {
	actor, err := s.actingMember(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	if actor.Role != RoleOwner {
		return nil, Errorf(CodeForbidden, "only an owner of the organization may do this")
	}
	return actor, nil
}

// checkPolicy refuses with *overLimit a call about to remove n members
// when that is above the organization's limits.
func (s *Service) checkPolicy(ctx context.Context, tx Tx, orgID int64, n int) error {
	if n == 0 {
		return nil
	}
	p, err := tx.PolicyGet(ctx, orgID)
	if err != nil {
		return err
	}
	if p.MaxPerCall > 0 && n > p.MaxPerCall {
		return &overLimit{msg: fmt.Sprintf("removing %s is above the organization's limit of %d per call", countMembers(n), p.MaxPerCall)}
	}
	if p.MaxPerHour > 0 {
		done, err := tx.RemovalCount(ctx, orgID, s.now().Add(-PolicyWindow))
		if err != nil {
			return err
		}
		if done+n > p.MaxPerHour {
			return &overLimit{msg: fmt.Sprintf("removing %s after %d in the last hour is above the organization's limit of %d per hour",
				countMembers(n), done, p.MaxPerHour)}
		}
	}
	return nil
}

// countMembers words n members.
func countMembers(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// ApprovalRequired is the refusal of a removal above the organization's
// limits. Its code is CodeApprovalRequired; PlanID names the plan it was
// saved as, when it was saved.
type ApprovalRequired struct {
	PlanID string
	err    *Error
}

func (e *ApprovalRequired) Error() string { return e.err.Error() }
func (e *ApprovalRequired) Unwrap() error { return e.err }

func approvalRequired(planID, msg string) *ApprovalRequired {
	return &ApprovalRequired{PlanID: planID, err: &Error{Code: CodeApprovalRequired, Message: msg}}
}

// held turns a call refused for going above a limit into a plan awaiting
// approval, saved in its own transaction, and the refusal naming it,
// audited as action. Any other error is returned as it is.
func (s *Service) held(ctx context.Context, a Actor, action string, pr PlanRequest, err error) error {
	var over *overLimit
	if !errors.As(err, &over) {
		return err
	}
	// The plan is saved under the call's Idempotency-Key as the call's
	// answer, so that a retry gets this refusal and this plan, not a
	// second plan (nor the plan read back as the removal's result).
	idem, hasIdem := ctx.Value(idempotencyKey{}).(idempotency)
	hasIdem = hasIdem && a.CredentialID != 0
	var refusal *ApprovalRequired
	_, perr := s.savePlan(context.WithValue(ctx, idempotencyKey{}, nil), a, pr, DefaultPlanTTL, PlanAwaitingApproval, func(tx Tx, plan *Plan) error {
		refusal = approvalRequired(plan.UUID, fmt.Sprintf(
			"%s: nothing was removed; it is saved as plan %s, which runs when another owner approves it (POST /api/v1/plans/%s/approve) or an owner forces it",
			over.msg, plan.UUID, plan.UUID))
		if !hasIdem {
			return nil
		}
		data, err := json.Marshal(heldAnswer{HeldPlan: plan.UUID, Message: refusal.err.Message})
		if err != nil {
			return fmt.Errorf("encode held answer: %w", err)
		}
		return tx.IdempotencyPut(ctx, &IdempotencyRecord{CredentialID: a.CredentialID, Key: idem.key,
			RequestHash: idem.requestHash, Result: data, CreatedAt: s.now()})
	})
	if perr != nil {
		return perr
	}
	s.auditRefusal(ctx, a, action, refusal)
	return refusal
}

// heldAnswer is what an idempotent call held as a plan keeps as its
// answer: a retry with its key is refused again with the same plan.
type heldAnswer struct {
	HeldPlan string `json:"held_plan"`
	Message  string `json:"message"`
}

// replayedHeld returns the refusal a stored answer keeps, if it is a
// held call's.
func replayedHeld(result []byte) error {
	var h heldAnswer
	if json.Unmarshal(result, &h) != nil || h.HeldPlan == "" {
		return nil
	}
	return approvalRequired(h.HeldPlan, h.Message)
}

// ApprovePlan runs a plan as approved by a's member, who must be an owner
// other than the one who made it (the two-person rule). It runs exactly as
// previewed, or is refused with CodePreconditionFailed.
func (s *Service) ApprovePlan(ctx context.Context, a Actor, id string) (*Plan, error) {
	return s.executePlan(ctx, a, id, approve)
}

// ForcePlan runs a plan above the organization's limits on an owner's
// explicit word, without a second owner; it is audited as forced.
func (s *Service) ForcePlan(ctx context.Context, a Actor, id string) (*Plan, error) {
	return s.executePlan(ctx, a, id, force)
}

// policed holds a removal of kind k refused for going above a limit as a
// plan awaiting approval; it is applied to the removal's answer.
func policed(ctx context.Context, s *Service, a Actor, k removalKind) func(*Report, error) (*Report, error) {
	return func(rep *Report, err error) (*Report, error) {
		if err == nil {
			return rep, nil
		}
		var req OperationRequest
		k.into(&req)
		req.Kind = k.kind()
		return nil, s.held(ctx, a, k.kind(), PlanRequest{Removal: &req}, err)
	}
}
