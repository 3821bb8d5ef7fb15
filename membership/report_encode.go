package membership

import (
	"encoding/json"
	"strconv"
	"time"
)

// encodeResult is json.Marshal(r), by hand for a Report.
func encodeResult(r any) ([]byte, error) {
	if rep, ok := r.(*Report); ok && rep != nil {
		if b, ok := appendReportJSON(make([]byte, 0, 2048), rep); ok {
			return b, nil
		}
	}
	return json.Marshal(r)
}

// appendReportJSON appends r as json.Marshal encodes it, without
// reflection: a removal encodes its report for the removal log inside its
// transaction (logged), which on SQLite is the one writer's time, and
// json.Marshal took ~5 µs of it for an S2 member's report (2 spaces, a
// group). It says false, for json.Marshal to do it, for a report this
// does not cover: a nil item in a list, a time outside what
// appendJSONTime writes.
func appendReportJSON(b []byte, r *Report) ([]byte, bool) {
	ok := true
	b = append(b, `{"dry_run":`...)
	b = strconv.AppendBool(b, r.DryRun)
	b = append(b, `,"member":`...)
	if r.Member == nil {
		b = append(b, "null"...)
	} else if b, ok = appendMemberJSON(b, r.Member); !ok {
		return nil, false
	}
	c := &r.Counts
	b = append(b, `,"counts":{"spaces":`...)
	b = strconv.AppendInt(b, int64(c.Spaces), 10)
	b = append(b, `,"roles":`...)
	b = strconv.AppendInt(b, int64(c.Roles), 10)
	b = append(b, `,"groups":`...)
	b = strconv.AppendInt(b, int64(c.Groups), 10)
	b = append(b, `,"direct_grants":`...)
	b = strconv.AppendInt(b, int64(c.DirectGrants), 10)
	b = append(b, `,"group_grants":`...)
	b = strconv.AppendInt(b, int64(c.GroupGrants), 10)
	b = append(b, `,"bookings":`...)
	b = strconv.AppendInt(b, int64(c.Bookings), 10)
	b = append(b, `,"remaining_access":`...)
	b = strconv.AppendInt(b, int64(c.RemainingAccess), 10)
	b = append(b, `},"truncated":`...)
	b = strconv.AppendBool(b, r.Truncated)
	if b, ok = appendList(b, `,"spaces":`, r.Spaces, appendSpaceMemberJSON); !ok {
		return nil, false
	}
	if b, ok = appendList(b, `,"roles":`, r.Roles, appendRoleChangeJSON); !ok {
		return nil, false
	}
	if b, ok = appendList(b, `,"groups":`, r.Groups, appendGroupMemberJSON); !ok {
		return nil, false
	}
	if b, ok = appendList(b, `,"grants":`, r.Grants, appendGrantChangeJSON); !ok {
		return nil, false
	}
	if b, ok = appendList(b, `,"bookings":`, r.Bookings, appendBookingJSON); !ok {
		return nil, false
	}
	if b, ok = appendList(b, `,"remaining_access":`, r.RemainingAccess, appendAccessJSON); !ok {
		return nil, false
	}
	if r.EventID != 0 {
		b = append(b, `,"event_id":`...)
		b = strconv.AppendInt(b, r.EventID, 10)
	}
	if r.Receipt != nil {
		b = append(b, `,"receipt":{"event_id":`...)
		b = strconv.AppendInt(b, r.Receipt.EventID, 10)
		if r.Receipt.Hash != "" {
			b = append(b, `,"hash":`...)
			b = appendJSONString(b, r.Receipt.Hash, true)
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// appendList appends name and items as a JSON array (null for nil),
// each by item; it says false at a nil item or one item refuses.
func appendList[T any](b []byte, name string, items []*T, item func([]byte, *T) ([]byte, bool)) ([]byte, bool) {
	b = append(b, name...)
	if items == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, v := range items {
		if v == nil {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = item(b, v); !ok {
			return nil, false
		}
	}
	return append(b, ']'), true
}

// appendStrings appends ss as a JSON array of strings (null for nil).
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s, true)
	}
	return append(b, ']')
}

// appendEnd appends the optional end time and cause of a membership or
// grant (name its time's key), saying false for a time it cannot write.
func appendEnd(b []byte, name string, at *time.Time, cause string) ([]byte, bool) {
	if at != nil {
		if !jsonTime(*at) {
			return nil, false
		}
		b = append(b, name...)
		b = appendJSONTime(b, *at)
	}
	if cause != "" {
		b = append(b, `,"cause":`...)
		b = appendJSONString(b, cause, true)
	}
	return append(b, '}'), true
}

func appendSpaceMemberJSON(b []byte, sm *SpaceMember) ([]byte, bool) {
	if !jsonTime(sm.CreatedAt) {
		return nil, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, sm.ID, 10)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, sm.UUID, true)
	b = append(b, `,"organization_id":`...)
	b = strconv.AppendInt(b, sm.OrgID, 10)
	b = append(b, `,"space_id":`...)
	b = strconv.AppendInt(b, sm.SpaceID, 10)
	b = append(b, `,"member_id":`...)
	b = strconv.AppendInt(b, sm.MemberID, 10)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, sm.Email, true)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, sm.Roles)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(sm.Status), true)
	if sm.AddedBy != 0 {
		b = append(b, `,"added_by":`...)
		b = strconv.AppendInt(b, sm.AddedBy, 10)
	}
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, sm.CreatedAt)
	return appendEnd(b, `,"removed_at":`, sm.RemovedAt, sm.Cause)
}

func appendRoleChangeJSON(b []byte, rc *RoleChange) ([]byte, bool) {
	b = append(b, `{"space_id":`...)
	b = strconv.AppendInt(b, rc.SpaceID, 10)
	b = append(b, `,"space_member_id":`...)
	b = strconv.AppendInt(b, rc.SpaceMemberID, 10)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, rc.Roles)
	return append(b, '}'), true
}

func appendGroupMemberJSON(b []byte, gm *GroupMember) ([]byte, bool) {
	if !jsonTime(gm.CreatedAt) {
		return nil, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, gm.ID, 10)
	b = append(b, `,"organization_id":`...)
	b = strconv.AppendInt(b, gm.OrgID, 10)
	b = append(b, `,"group_id":`...)
	b = strconv.AppendInt(b, gm.GroupID, 10)
	b = append(b, `,"member_id":`...)
	b = strconv.AppendInt(b, gm.MemberID, 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(gm.Status), true)
	if gm.AddedBy != 0 {
		b = append(b, `,"added_by":`...)
		b = strconv.AppendInt(b, gm.AddedBy, 10)
	}
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, gm.CreatedAt)
	return appendEnd(b, `,"removed_at":`, gm.RemovedAt, gm.Cause)
}

func appendGrantChangeJSON(b []byte, gc *GrantChange) ([]byte, bool) {
	b = append(b, `{"grant":`...)
	g := gc.Grant
	if g == nil {
		b = append(b, "null"...)
	} else {
		if !jsonTime(g.CreatedAt) {
			return nil, false
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, g.ID, 10)
		b = append(b, `,"uuid":`...)
		b = appendJSONString(b, g.UUID, true)
		b = append(b, `,"organization_id":`...)
		b = strconv.AppendInt(b, g.OrgID, 10)
		b = append(b, `,"resource_id":`...)
		b = strconv.AppendInt(b, g.ResourceID, 10)
		if g.MemberID != 0 {
			b = append(b, `,"member_id":`...)
			b = strconv.AppendInt(b, g.MemberID, 10)
		}
		if g.GroupID != 0 {
			b = append(b, `,"group_id":`...)
			b = strconv.AppendInt(b, g.GroupID, 10)
		}
		b = append(b, `,"status":`...)
		b = appendJSONString(b, string(g.Status), true)
		b = append(b, `,"created_at":`...)
		b = appendJSONTime(b, g.CreatedAt)
		var ok bool
		if b, ok = appendEnd(b, `,"revoked_at":`, g.RevokedAt, g.Cause); !ok {
			return nil, false
		}
	}
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, gc.Origin, true)
	return append(b, '}'), true
}

func appendBookingJSON(b []byte, bk *Booking) ([]byte, bool) {
	if !jsonTime(bk.StartsAt) || !jsonTime(bk.EndsAt) || !jsonTime(bk.CreatedAt) {
		return nil, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, bk.ID, 10)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, bk.UUID, true)
	b = append(b, `,"organization_id":`...)
	b = strconv.AppendInt(b, bk.OrgID, 10)
	b = append(b, `,"resource_id":`...)
	b = strconv.AppendInt(b, bk.ResourceID, 10)
	b = append(b, `,"member_id":`...)
	b = strconv.AppendInt(b, bk.MemberID, 10)
	b = append(b, `,"starts_at":`...)
	b = appendJSONTime(b, bk.StartsAt)
	b = append(b, `,"ends_at":`...)
	b = appendJSONTime(b, bk.EndsAt)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, bk.Status, true)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, bk.CreatedAt)
	if bk.CancelledAt != nil {
		if !jsonTime(*bk.CancelledAt) {
			return nil, false
		}
		b = append(b, `,"cancelled_at":`...)
		b = appendJSONTime(b, *bk.CancelledAt)
	}
	if bk.CancelReason != "" {
		b = append(b, `,"cancel_reason":`...)
		b = appendJSONString(b, bk.CancelReason, true)
	}
	return append(b, '}'), true
}

func appendAccessJSON(b []byte, a *Access) ([]byte, bool) {
	b = append(b, `{"resource_id":`...)
	b = strconv.AppendInt(b, a.ResourceID, 10)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, a.Allowed)
	b = append(b, `,"direct":`...)
	b = strconv.AppendBool(b, a.Direct)
	if len(a.GroupIDs) > 0 {
		b = append(b, `,"group_ids":[`...)
		for i, id := range a.GroupIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}
