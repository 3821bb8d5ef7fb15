//go:build unix

package sqlite

import (
	"syscall"
	"unsafe"
)

// makeOffHeap returns n zeroed Ts in memory of their own, outside the Go
// heap, or nil if the system refuses it. The copy of access in memory
// keeps its rows there: tens of megabytes of long-lived rows on the heap
// raised the collector's target with them (memberd runs at GOGC 200), and
// the server's RSS at 1M members by over twice their size. T must hold no
// pointers.
func makeOffHeap[T any](n int) []T {
	size := n * int(unsafe.Sizeof(*new(T)))
	if size == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// freeOffHeap returns s, from makeOffHeap, to the system.
func freeOffHeap[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	size := cap(s) * int(unsafe.Sizeof(*new(T)))
	_ = syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), size))
}
