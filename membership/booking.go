package membership

import (
	"context"
	"time"
)

// MaxBookingLength bounds one booking.
const MaxBookingLength = 31 * 24 * time.Hour

// CreateBookingRequest books a resource; Member defaults to the actor.
type CreateBookingRequest struct {
	Resource Ref
	Member   *MemberRef
	StartsAt time.Time
	EndsAt   time.Time
}

// CreateBooking books a resource. The member must be active and have
// access at booking time; owners and admins may book for others.
func (s *Service) CreateBooking(ctx context.Context, a Actor, req CreateBookingRequest) (*Booking, error) {
	for _, t := range []struct {
		field string
		at    time.Time
	}{{"starts_at", req.StartsAt}, {"ends_at", req.EndsAt}} {
		if err := CheckTime(t.field, t.at); err != nil {
			return nil, s.refuse(ctx, a, "booking.create", err)
		}
	}
	if !req.EndsAt.After(req.StartsAt) {
		return nil, s.refuse(ctx, a, ActionBookingCreated, Errorf(CodeInvalid, "ends_at must be after starts_at"))
	}
	if req.EndsAt.Sub(req.StartsAt) > MaxBookingLength {
		return nil, s.refuse(ctx, a, ActionBookingCreated, Errorf(CodeInvalid, "a booking lasts at most %d days", int(MaxBookingLength.Hours()/24)))
	}
	return mutate(ctx, s, a, ActionBookingCreated, func(tx Tx) (*Booking, error) {
		actor, err := s.actingMember(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		target := actor
		if req.Member != nil {
			if target, err = s.lockMember(ctx, tx, a.OrgID, *req.Member); err != nil {
				return nil, err
			}
			if target.ID != actor.ID {
				if err := mayManage(actor); err != nil {
					return nil, err
				}
			}
		}
		if !target.Active() {
			return nil, Errorf(CodeForbidden, "the member is removed and cannot make bookings")
		}
		res, err := tx.ResourceGet(ctx, req.Resource.params(a.OrgID))
		if err != nil {
			return nil, err
		}
		access, err := tx.AccessCheck(ctx, &AccessParams{OrgID: a.OrgID, MemberID: target.ID, ResourceID: res.ID})
		if err != nil {
			return nil, err
		}
		if !access.Allowed {
			return nil, Errorf(CodeForbidden, "the member has no access to this resource")
		}
		b := &Booking{UUID: NewUUID(), OrgID: a.OrgID, ResourceID: res.ID, MemberID: target.ID,
			StartsAt: req.StartsAt.UTC().Truncate(time.Microsecond), EndsAt: req.EndsAt.UTC().Truncate(time.Microsecond),
			Status: BookingActive, CreatedAt: s.now()}
		if err := tx.BookingCreate(ctx, b); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, ActionBookingCreated, target, nil, b)
		return b, err
	})
}

// Bookings lists bookings within the actor's organization.
func (s *Service) Bookings(ctx context.Context, a Actor, p BookingListParams) ([]*Booking, error) {
	p.OrgID = a.OrgID
	return view(ctx, s, func(tx Tx) ([]*Booking, error) { return tx.BookingList(ctx, &p) })
}

// Booking returns one booking of the actor's organization by ID.
func (s *Service) Booking(ctx context.Context, a Actor, id int64) (*Booking, error) {
	return view(ctx, s, func(tx Tx) (*Booking, error) { return tx.BookingGet(ctx, &RefParams{OrgID: a.OrgID, ID: id}) })
}
