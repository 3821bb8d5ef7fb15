//go:build sqlite_mattn && sqlite_modernc

package sqlite

// Both tags would leave no driver in the build and the errors would name
// missing identifiers; this one says why instead.
var _ int = "the sqlite_mattn and sqlite_modernc build tags exclude each other: choose one"
