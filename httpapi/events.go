package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// The audit trail.

type eventPage struct {
	Items      []*membership.Event `json:"items"`
	NextBefore int64               `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

type listEventsInput struct {
	Member int64  `query:"member" minimum:"0" doc:"Only events about or by this member id."`
	Action string `query:"action" maxLength:"100" doc:"Only events with this action, e.g. member.removed."`
	Before int64  `query:"before" minimum:"0" doc:"Only events older than this id: the previous page's next_before."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
}

func (h *handler) listEvents(ctx context.Context, a membership.Actor, in *listEventsInput) (*out[eventPage], error) {
	limit := membership.ListLimit(in.Limit)
	es, err := h.svc.Events(ctx, a, membership.EventListParams{MemberID: in.Member, Action: in.Action, BeforeID: in.Before, Limit: limit})
	if err != nil {
		return nil, err
	}
	var page eventPage
	page.Items, page.NextBefore = pageOf(es, limit, func(e *membership.Event) int64 { return e.ID })
	return ok(page)
}
