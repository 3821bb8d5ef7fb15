package membership

import "context"

// Events lists the organization's audit events, newest first.
func (s *Service) Events(ctx context.Context, a Actor, p EventListParams) ([]*Event, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*Event, error) { return tx.EventList(ctx, &p) })
}
