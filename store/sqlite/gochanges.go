//go:build sqlite_ncruces || (!sqlite_mattn && (sqlite_modernc || !cgo))

package sqlite

// goChanges is a changeSource for drivers whose hook calls Go (the
// pure-Go ones, where that costs no more than any call): filled by the
// hook while the writer's statements run, taken between transactions.
type goChanges struct {
	rows     []rowKey
	overflow bool
	max      int
}

func (b *goChanges) add(table string, rowid int64) {
	t := tracked(table)
	if t == 0 || b.overflow {
		return
	}
	if len(b.rows) >= b.max {
		b.overflow = true
		return
	}
	b.rows = append(b.rows, rowKey{t, rowid})
}

func (b *goChanges) take(dst []rowKey) ([]rowKey, bool) {
	dst = append(dst, b.rows...)
	overflow := b.overflow
	b.rows, b.overflow = b.rows[:0], false
	return dst, overflow
}

// liveChangeSources is -1: these drivers' hooks keep their changes on the
// Go heap, freed with the connection that holds them.
func liveChangeSources() int { return -1 }
