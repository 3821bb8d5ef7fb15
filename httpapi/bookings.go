package httpapi

import (
	"context"
	"time"

	"github.com/memberd/memberd/membership"
)

// Bookings of resources.

type listBookingsInput struct {
	Member   int64  `query:"member" minimum:"0" doc:"Only this member id's bookings."`
	Resource int64  `query:"resource" minimum:"0" doc:"Only this resource id's bookings."`
	Status   string `query:"status" enum:"active,cancelled"`
}

func (h *handler) listBookings(ctx context.Context, a membership.Actor, in *listBookingsInput) (*out[list[*membership.Booking]], error) {
	return listOf(h.svc.Bookings(ctx, a, membership.BookingListParams{MemberID: in.Member, ResourceID: in.Resource, Status: in.Status}))
}

type createBookingInput struct {
	Body struct {
		Resource ref        `json:"resource"`
		Member   *memberRef `json:"member,omitempty" doc:"Who the booking is for; the credential's member when absent."`
		StartsAt time.Time  `json:"starts_at"`
		EndsAt   time.Time  `json:"ends_at"`
	}
}

func (h *handler) createBooking(ctx context.Context, a membership.Actor, in *createBookingInput) (*created[*membership.Booking], error) {
	req := membership.CreateBookingRequest{Resource: in.Body.Resource.Ref, StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt}
	if in.Body.Member != nil {
		req.Member = &in.Body.Member.MemberRef
	}
	b, err := h.svc.CreateBooking(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.Booking]{Location: location("bookings", b.ID), Body: b}, nil
}

func (h *handler) getBooking(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Booking], error) {
	return result(h.svc.Booking(ctx, a, in.ID))
}
