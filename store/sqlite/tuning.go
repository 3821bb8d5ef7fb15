package sqlite

// Connection settings chosen by measurement (memberd-bench, see
// docs/performance.md).

// writerCacheKiB is the single writer connection's page cache. SQLite's
// default (2 MiB) holds little of a large database's index pages, so a
// removal re-read them from the operating system's cache on every
// statement. With 64 MiB, in-process removals on a 300k-member database
// ran at 1023/s instead of 520/s at concurrency 64 (660/s instead of 339/s
// at 16). It is an upper bound, allocated as pages are read.
const writerCacheKiB = 65536
