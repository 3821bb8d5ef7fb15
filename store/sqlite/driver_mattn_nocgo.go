//go:build sqlite_mattn && !sqlite_ncruces && !sqlite_modernc && !cgo

package sqlite

// Without cgo the mattn driver's files drop out of the build and the
// errors would name missing identifiers; this one says why instead.
var _ int = "the sqlite_mattn build tag needs cgo: CGO_ENABLED=1 and a C compiler"
