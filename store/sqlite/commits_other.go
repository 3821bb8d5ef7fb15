//go:build !unix

package sqlite

// commitCounter is not available here: without a counter shared between
// processes, no copy of the database in memory can prove itself current,
// so access checks always read the database.
type commitCounter struct{}

func openCommitCounter(string) (*commitCounter, error) { return nil, nil }

func (*commitCounter) load() uint64 { return 0 }
func (*commitCounter) add() uint64  { return 0 }
func (*commitCounter) same() bool   { return false }
