package membership

import (
	"encoding/json"
	"strconv"
	"time"
)

// eventJSON encodes an event's before or after state as json.Marshal
// does. A member, the state of most changes and of every removal, is
// written without reflection (TestEventJSONMember holds it to
// json.Marshal's bytes): its event is built inside the change's
// transaction, on SQLite inside the single writer.
func eventJSON(v any) ([]byte, error) {
	if m, ok := v.(*Member); ok && m != nil {
		if b, ok := appendMemberJSON(make([]byte, 0, 320), m); ok {
			return b, nil
		}
	}
	return json.Marshal(v)
}

// appendMemberJSON appends m as json.Marshal encodes a Member, or
// reports false for a time json.Marshal refuses (or might): a year
// outside 0-9999 or an offset of a day or more.
func appendMemberJSON(b []byte, m *Member) ([]byte, bool) {
	if !jsonTime(m.CreatedAt) || !jsonTime(m.UpdatedAt) || m.RemovedAt != nil && !jsonTime(*m.RemovedAt) {
		return nil, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, m.UUID, true)
	b = append(b, `,"organization_id":`...)
	b = strconv.AppendInt(b, m.OrgID, 10)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, m.Email, true)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, m.Name, true)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, string(m.Role), true)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(m.Status), true)
	if m.AddedBy != 0 {
		b = append(b, `,"added_by":`...)
		b = strconv.AppendInt(b, m.AddedBy, 10)
	}
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, m.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, m.UpdatedAt)
	if m.RemovedAt != nil {
		b = append(b, `,"removed_at":`...)
		b = appendJSONTime(b, *m.RemovedAt)
	}
	if m.RemovedBy != 0 {
		b = append(b, `,"removed_by":`...)
		b = strconv.AppendInt(b, m.RemovedBy, 10)
	}
	return append(b, '}'), true
}

// jsonTime reports whether t is a time that time.Time.MarshalJSON
// writes as its RFC 3339 text, which appendJSONTime writes.
func jsonTime(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off > -24*60*60 && off < 24*60*60
}

// appendJSONTime appends t as time.Time.MarshalJSON does (for a jsonTime).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
