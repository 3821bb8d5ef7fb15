package dialecttest

import (
	"reflect"
	"testing"

	"github.com/memberd/memberd/membership"
)

// Outcomes are every outcome a batch item can have, for fuzzing the
// encoding of a dialect's per-item answers.
var Outcomes = []string{membership.OutcomeRemoved, membership.OutcomeInvalid, membership.OutcomeAlreadyRemoved,
	membership.OutcomeNotFound, membership.OutcomeNotMember, membership.OutcomeForbidden, membership.OutcomeConflict}

// CheckBatchDecode checks what a batch decoder made of one fuzz input. An
// error must be an invalid-request error (the handler answers it 400
// through the one Code→status table), and ok is then false; otherwise
// there are 1..limit items, each naming exactly one member (by ref) or
// carrying an id that is invalid, and decoding again gives the same.
func CheckBatchDecode[T any](t *testing.T, decode func() ([]T, error), ref func(T) membership.MemberRef, limit int) (items []T, ok bool) {
	t.Helper()
	items, err := decode()
	if err != nil {
		if membership.ErrorCode(err) != membership.CodeInvalid {
			t.Fatalf("decode error %v is not an invalid-request error", err)
		}
		return nil, false
	}
	if len(items) == 0 || len(items) > limit {
		t.Fatalf("%d items, want 1..%d", len(items), limit)
	}
	for _, it := range items {
		if r := ref(it); (r.ID > 0) == (r.Raw != "") || r.ID < 0 {
			t.Fatalf("item %+v names neither exactly one member nor an invalid id", it)
		}
	}
	if again, _ := decode(); !reflect.DeepEqual(items, again) {
		t.Fatalf("decoding twice differs: %+v, %+v", items, again)
	}
	return items, true
}
