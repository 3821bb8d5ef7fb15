package membership

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// An event's member state is part of the webhooks' wire format and of
// the hashed audit chain: the hand-written encoding must be json.Marshal's
// to the byte, for any member.
func TestEventJSONMember(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 16))
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", 0), time.FixedZone("X", 5*3600+30*60),
		time.FixedZone("Y", -(9*3600 + 59*60 + 59)), time.FixedZone("Z", 23*3600+59*60), time.FixedZone("W", 24*3600)}
	when := func() time.Time {
		switch r.IntN(8) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(10000+r.IntN(10), 1, 1, 0, 0, 0, 0, time.UTC) // json.Marshal refuses it
		case 2:
			return time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC)
		}
		return time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	}
	pick := func() string {
		if r.IntN(2) == 0 {
			return strangeStrings[r.IntN(len(strangeStrings))]
		}
		return randomString(r)
	}
	for i := range 20000 {
		m := &Member{ID: r.Int64(), UUID: pick(), OrgID: r.Int64N(1000), Email: pick(), Name: pick(), Role: Role(pick()),
			Status: Status(pick()), CreatedAt: when(), UpdatedAt: when()}
		if r.IntN(2) == 0 {
			m.AddedBy = r.Int64N(3)
		}
		if r.IntN(2) == 0 {
			at := when()
			m.RemovedAt, m.RemovedBy = &at, r.Int64N(3)-1
		}
		if i == 0 {
			m = &Member{}
		}
		got, gerr := eventJSON(m)
		want, werr := json.Marshal(m)
		if !bytes.Equal(got, want) || (gerr == nil) != (werr == nil) {
			t.Fatalf("member %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
	}
	for _, v := range []any{(*Member)(nil), Member{Email: "a<b>"}, &SpaceMember{ID: 3}} {
		got, _ := eventJSON(v)
		want, _ := json.Marshal(v)
		if !bytes.Equal(got, want) {
			t.Errorf("eventJSON(%#v) = %s, want %s", v, got, want)
		}
	}
}

func BenchmarkEventJSONMember(b *testing.B) {
	at := time.Now().UTC()
	m := &Member{ID: 5, UUID: NewUUID(), OrgID: 3, Email: "m5@bench.test", Role: RoleMember, Status: StatusRemoved,
		CreatedAt: at, UpdatedAt: at, RemovedAt: &at, RemovedBy: 4}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventJSON(m); err != nil {
			b.Fatal(err)
		}
	}
}
