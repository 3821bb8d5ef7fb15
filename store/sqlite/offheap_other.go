//go:build !unix

package sqlite

// makeOffHeap is make here: no access memory is kept on this platform
// (commitCounter), so nothing large is.
func makeOffHeap[T any](n int) []T { return make([]T, n) }

func freeOffHeap[T any]([]T) {}
