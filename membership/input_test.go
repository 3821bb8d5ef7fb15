package membership

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzCheckTime holds CheckTime to what it protects: any RFC 3339 time it
// accepts can be written as JSON and stored as Unix microseconds and read
// back as the same instant; any it refuses is CodeInvalid.
func FuzzCheckTime(f *testing.F) {
	for _, s := range []string{"2030-01-01T00:00:00Z", "9999-12-31T23:00:00-23:00", "0001-01-01T00:00:00+01:00",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "0001-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return
		}
		if err := CheckTime("at", at); err != nil {
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("CheckTime(%s): %v, want CodeInvalid", s, err)
			}
			return
		}
		stored := at.UTC().Truncate(time.Microsecond)
		if _, err := json.Marshal(stored); err != nil {
			t.Fatalf("accepted %s, which JSON cannot write: %v", s, err)
		}
		if back := time.UnixMicro(stored.UnixMicro()).UTC(); !back.Equal(stored) {
			t.Fatalf("accepted %s, stored as %s", s, back)
		}
	})
}

func TestCheckTime(t *testing.T) {
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{MinTime, true}, {MaxTime, true}, {time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{MinTime.Add(-time.Nanosecond), false}, {MaxTime.Add(time.Microsecond), false},
		{time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -23*3600)), false},
	} {
		if err := CheckTime("at", c.at); (err == nil) != c.ok {
			t.Errorf("CheckTime(%s) = %v, want ok=%v", c.at, err, c.ok)
		}
	}
}
