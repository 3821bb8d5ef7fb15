package membership

import "time"

// The range of instants memberd accepts from any client. RFC 3339 lets a
// four-digit year carry an offset over into year 10000 or year 0
// ("9999-12-31T23:00:00-23:00"), which JSON cannot write back and no
// removal needs; bounding every time at the core means each interface
// refuses it with its own 400 instead of failing after the change.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// CheckTime refuses with CodeInvalid a time outside [MinTime, MaxTime];
// field names it the way the client sent it. Every core request that
// carries a time calls it before anything else reads the time.
func CheckTime(field string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return Errorf(CodeInvalid, "%s must be between %s and %s (UTC)", field,
			MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}
