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

// readerCacheKiB is each read connection's page cache. An access check at
// 1M members reads a random leaf page of four B-trees (members, a space
// membership, a grant, a group membership), which no cache of a sensible
// size holds; but with SQLite's default 2 MiB those leaves also pushed the
// trees' interior pages out, so a check read 6.9 pages from the operating
// system (pread). With 8 MiB it reads 4.6 (16 MiB: 3.9, for 40 MB more
// RSS over the pool's connections). Like the writer's, it is an upper
// bound, allocated as pages are read. 16 MiB was measured again over HTTP
// (memberd-bench S3 alone at 1M members, three alternating pairs on a
// loaded machine): the server's CPU a check 0.92x, 1.13x and 1.00x of 8
// MiB's, not told apart, for 24-32 MB more peak RSS, so it stays at 8.
const readerCacheKiB = 8192
