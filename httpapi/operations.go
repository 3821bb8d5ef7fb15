package httpapi

import (
	"context"
	"time"

	"github.com/memberd/memberd/membership"
)

// Operations (/operations): every removal that runs after it is
// acknowledged; and scheduled removals (/schedules), the operations with
// an effective time. A schedule is an operation, so both paths share the
// handlers that get, cancel and preview one.

type operationPage struct {
	Items      []*membership.Operation `json:"items"`
	NextBefore int64                   `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

// operationsQuery filters and pages a list of operations.
type operationsQuery struct {
	Status membership.OperationStatus `query:"status" enum:"scheduled,queued,running,succeeded,failed,cancelled" doc:"Only operations in this state."`
	PageQuery
}

func (h *handler) listOperations(ctx context.Context, a membership.Actor, in *operationsQuery) (*out[operationPage], error) {
	return h.operations(ctx, a, in, false)
}

func (h *handler) listSchedules(ctx context.Context, a membership.Actor, in *operationsQuery) (*out[operationPage], error) {
	return h.operations(ctx, a, in, true)
}

func (h *handler) operations(ctx context.Context, a membership.Actor, in *operationsQuery, scheduled bool) (*out[operationPage], error) {
	limit := membership.ListLimit(in.Limit)
	ops, err := h.svc.Operations(ctx, a, membership.OperationListParams{Status: in.Status, Scheduled: scheduled, BeforeID: in.Before, Limit: limit})
	if err != nil {
		return nil, err
	}
	var page operationPage
	page.Items, page.NextBefore = pageOf(ops, limit, func(op *membership.Operation) int64 { return op.ID })
	return ok(page)
}

func (h *handler) getOperation(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Operation], error) {
	return result(h.svc.Operation(ctx, a, in.ID))
}

func (h *handler) cancelOperation(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Operation], error) {
	return result(h.svc.CancelOperation(ctx, a, in.ID))
}

func (h *handler) previewOperation(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Report], error) {
	return result(h.svc.PreviewOperation(ctx, a, in.ID))
}

type scheduleInput struct {
	RawBody []byte
	Body    struct {
		Kind string `json:"kind" maxLength:"40" doc:"member.remove (offboarding; needs member), space_member.remove (member and space), group_member.remove (member and group) or roles.revoke (space_membership and roles)."`
		// Optional in the schema so that its absence is refused by the
		// core's rules (400) like every other missing part of a schedule.
		EffectiveAt     *time.Time `json:"effective_at,omitempty" doc:"When the removal happens (RFC 3339, not in the past). Required."`
		Member          *memberRef `json:"member,omitempty"`
		Space           *ref       `json:"space,omitempty" doc:"The space, for space_member.remove."`
		Group           *ref       `json:"group,omitempty" doc:"The group, for group_member.remove."`
		SpaceMembership int64      `json:"space_membership,omitempty" minimum:"0" doc:"The space membership's id, for roles.revoke."`
		Roles           []string   `json:"roles,omitempty" doc:"The roles to revoke, all or nothing, for roles.revoke."`
	}
}

func (h *handler) createSchedule(ctx context.Context, a membership.Actor, in *scheduleInput) (*created[*membership.Operation], error) {
	spec := removalSpec(in.Body.Kind, in.Body.Member, in.Body.Space, in.Body.Group, in.Body.SpaceMembership, in.Body.Roles)
	op, err := h.svc.Schedule(ctx, a, membership.ScheduleRequest{RemovalSpec: spec, EffectiveAt: in.Body.EffectiveAt, Original: in.RawBody})
	if err != nil {
		return nil, err
	}
	return &created[*membership.Operation]{Location: location("schedules", op.UUID), Body: op}, nil
}
