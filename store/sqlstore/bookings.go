package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/memberd/memberd/membership"
)

const bookingCols = `id, uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at, cancelled_at, cancel_reason`

func scanBooking(r Row) (*membership.Booking, error) {
	var b membership.Booking
	var starts, ends, created int64
	var cancelled sql.NullInt64
	var reason sql.NullString
	if err := r.Scan(&b.ID, &b.UUID, &b.OrgID, &b.ResourceID, &b.MemberID, &starts, &ends, &b.Status, &created, &cancelled, &reason); err != nil {
		return nil, err
	}
	b.StartsAt, b.EndsAt, b.CreatedAt, b.CancelledAt, b.CancelReason = fromTS(starts), fromTS(ends), fromTS(created), fromNullTS(cancelled), reason.String
	return &b, nil
}

// BookingGet implements membership.Tx.
func (t *Tx) BookingGet(ctx context.Context, p *membership.RefParams) (*membership.Booking, error) {
	return getByRef(ctx, t, p, "bookings", bookingCols, "booking", scanBooking)
}

// BookingCreate implements membership.Tx.
func (t *Tx) BookingCreate(ctx context.Context, b *membership.Booking) error {
	t.bookings = spacesRead{} // the locking read's count no longer holds
	var overlap bool
	if err := t.c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bookings WHERE resource_id = $1 AND status = 'active'
		AND starts_at < $3 AND ends_at > $2)`, b.ResourceID, ts(b.StartsAt), ts(b.EndsAt)).Scan(&overlap); err != nil {
		return err
	}
	if overlap {
		return membership.Errorf(membership.CodeConflict, "the resource is already booked for that time")
	}
	return t.c.QueryRow(ctx, `INSERT INTO bookings (uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) RETURNING id`,
		b.UUID, b.OrgID, b.ResourceID, b.MemberID, ts(b.StartsAt), ts(b.EndsAt), ts(b.CreatedAt)).Scan(&b.ID)
}

// BookingList implements membership.Tx.
func (t *Tx) BookingList(ctx context.Context, p *membership.BookingListParams) ([]*membership.Booking, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + bookingCols + ` FROM bookings WHERE org_id = $1`
	if p.MemberID != 0 {
		q += " AND member_id = " + arg(&args, p.MemberID)
	}
	if p.ResourceID != 0 {
		q += " AND resource_id = " + arg(&args, p.ResourceID)
	}
	if p.Status != "" {
		q += " AND status = " + arg(&args, p.Status)
	}
	return collect(ctx, t, scanBooking, q+" ORDER BY id", args...)
}

// BookingHolders implements membership.Tx.
func (t *Tx) BookingHolders(ctx context.Context, orgID int64, memberIDs []int64, after time.Time) ([]int64, error) {
	if len(memberIDs) == 0 {
		return nil, nil
	}
	args := []any{orgID, ts(after)}
	rows, err := t.c.Query(ctx, `SELECT DISTINCT member_id FROM bookings WHERE org_id = $1 AND `+
		t.inIDs(&args, "member_id", memberIDs)+` AND status = 'active' AND starts_at > $2 ORDER BY member_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("booking holders: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("booking holders: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("booking holders: %w", err)
	}
	return ids, nil
}

// BookingsCancel implements membership.Tx.
func (t *Tx) BookingsCancel(ctx context.Context, p *membership.BookingsCancelParams) ([]*membership.Booking, error) {
	if t.bookings.none(p.MemberID) {
		return []*membership.Booking{}, nil
	}
	var rows []*membership.Booking
	if err := t.run(ctx, bookingsCancelStmt(p, &rows)); err != nil {
		return nil, err
	}
	return rows, nil
}

// bookingsCancelStmt is BookingsCancel's statement, which leaves the
// cancelled bookings in out.
func bookingsCancelStmt(p *membership.BookingsCancelParams, out *[]*membership.Booking) Queued {
	where := `org_id = $2 AND member_id = $1 AND status = 'active' AND starts_at > $3`
	if p.OnlyWithoutAccess {
		where += ` AND resource_id NOT IN (SELECT resource_id FROM (` + accessPaths + `) paths)`
	}
	return Queued{Query: `UPDATE bookings SET status = 'cancelled', cancelled_at = $4, cancel_reason = $5
		WHERE ` + where + ` RETURNING ` + bookingCols, Args: []any{p.MemberID, p.OrgID, ts(p.After), ts(p.At), p.Reason},
		Read: func(r Rows) error {
			rows, err := scanAll(r, scanBooking)
			if err != nil {
				return err
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
			for _, b := range rows {
				b.CancelledAt = &p.At
			}
			*out = rows
			return nil
		}}
}
