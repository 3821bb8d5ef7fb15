package membership

import (
	"fmt"
	"runtime"
	"testing"
)

// TestAccessIndexBound holds the index to its size and its memory to the
// figure the docs give (at most about 400 bytes an entry), with the largest keys
// it keeps: UUIDs for both the member and the resource, and two groups.
func TestAccessIndexBound(t *testing.T) {
	const size = 100_000
	x := newAccessIndex(size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 3 * size {
		k, ok := x.key(1, MemberRef{UUID: fmt.Sprintf("%036d", i)}, Ref{UUID: fmt.Sprintf("%036d", i+1)})
		if !ok {
			t.Fatal("a UUID check is not kept")
		}
		x.put(k, 1, &Access{ResourceID: int64(i), Allowed: true, GroupIDs: []int64{1, 2}})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := len(x.entries); n != size {
		t.Errorf("index holds %d entries, want %d", n, size)
	}
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / size; per > 500 {
		t.Errorf("index takes %d bytes an entry, want at most 500", per)
	} else {
		t.Logf("%d bytes an entry", per)
	}
}

// TestAccessIndexKeys keeps checks by immutable names only, within one
// organization, and never off.
func TestAccessIndexKeys(t *testing.T) {
	x := newAccessIndex(0)
	for _, tc := range []struct {
		m    MemberRef
		r    Ref
		keep bool
	}{
		{MemberRef{ID: 1}, Ref{ID: 2}, true},
		{MemberRef{UUID: "A"}, Ref{UUID: "B"}, true},
		{MemberRef{Email: "a@b.test"}, Ref{ID: 2}, false},
		{MemberRef{Raw: "x"}, Ref{ID: 2}, false},
		{MemberRef{}, Ref{ID: 2}, false},
		{MemberRef{ID: 1}, Ref{}, false},
	} {
		if _, got := x.key(1, tc.m, tc.r); got != tc.keep {
			t.Errorf("key(%+v, %+v) kept = %v, want %v", tc.m, tc.r, got, tc.keep)
		}
	}
	a, _ := x.key(1, MemberRef{ID: 1}, Ref{ID: 2})
	b, _ := x.key(2, MemberRef{ID: 1}, Ref{ID: 2})
	if a == b {
		t.Error("two organizations share a key")
	}
	u1, _ := x.key(1, MemberRef{UUID: "ABC"}, Ref{ID: 2})
	u2, _ := x.key(1, MemberRef{UUID: "abc"}, Ref{ID: 2})
	if u1 != u2 {
		t.Error("a UUID's case makes another key")
	}
	if _, ok := newAccessIndex(-1).key(1, MemberRef{ID: 1}, Ref{ID: 2}); ok {
		t.Error("an index that is off keeps a check")
	}
}
