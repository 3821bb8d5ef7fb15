package sqlite

// WithCheckpointSizes sets the checkpointer's PASSIVE and RESTART
// thresholds, so that a short test crosses them.
var WithCheckpointSizes = withCheckpointSizes
