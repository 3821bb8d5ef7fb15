package sqlite

// WithCheckpointSizes sets the checkpointer's PASSIVE and RESTART
// thresholds, so that a short test crosses them.
var WithCheckpointSizes = withCheckpointSizes

// WithMaxChanges bounds the rows one write transaction lists for the copy
// of access in memory, so that a short test overflows it.
var WithMaxChanges = withMaxChanges

// AccessMemoryDirty is how many rows the copy has yet to read back, -1
// when it is not enabled.
func (s *Store) AccessMemoryDirty() int {
	m := s.memory.Load()
	if m == nil {
		return -1
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.dirty)
}
