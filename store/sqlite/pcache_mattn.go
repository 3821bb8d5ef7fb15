//go:build !sqlite_ncruces && !sqlite_modernc && (sqlite_mattn || cgo)

package sqlite

/*
#include <stdlib.h>

// SQLite's page cache interface (sqlite3_pcache_methods2), declared here
// as sqlite3.h does: mattn's bundled SQLite is linked into this binary
// but its header is not on this package's include path.
typedef struct sqlite3_pcache sqlite3_pcache;
typedef struct sqlite3_pcache_page { void *pBuf; void *pExtra; } sqlite3_pcache_page;
typedef struct sqlite3_pcache_methods2 {
	int iVersion;
	void *pArg;
	int (*xInit)(void *);
	void (*xShutdown)(void *);
	sqlite3_pcache *(*xCreate)(int szPage, int szExtra, int bPurgeable);
	void (*xCachesize)(sqlite3_pcache *, int nCachesize);
	int (*xPagecount)(sqlite3_pcache *);
	sqlite3_pcache_page *(*xFetch)(sqlite3_pcache *, unsigned key, int createFlag);
	void (*xUnpin)(sqlite3_pcache *, sqlite3_pcache_page *, int discard);
	void (*xRekey)(sqlite3_pcache *, sqlite3_pcache_page *, unsigned oldKey, unsigned newKey);
	void (*xTruncate)(sqlite3_pcache *, unsigned iLimit);
	void (*xDestroy)(sqlite3_pcache *);
	void (*xShrink)(sqlite3_pcache *);
} sqlite3_pcache_methods2;

extern int sqlite3_config(int, ...);

// memberd_pcache wraps one of SQLite's own page caches. SQLite's cache
// remembers the largest page number it ever held and, at the end of every
// write transaction, drops the pages above the database's size: if that
// largest number is far above the size, it walks every page it holds to
// find them. A B-tree split that reorders its new pages parks one of them
// for a moment at the page number of the lock byte (1 GiB into the file),
// so in a database under 1 GiB every commit of a transaction that split
// so (most commits that insert into an index at random) walked the
// writer's whole cache (16,384 pages) to drop nothing: 4% of the server's
// CPU in S2, all of it on the single writer. top and high keep an exact
// bound instead: every page is at or below top, except the high ones
// moved above it and not yet moved back (counted, never undercounted: a
// page dropped while high stays counted, which only disables the
// shortcut).
typedef struct {
	sqlite3_pcache *inner;
	unsigned top;
	int high;
} memberd_pcache;

static sqlite3_pcache_methods2 memberd_inner;

// The counts are process-wide, for the test that holds the shortcut to
// work: truncations at a transaction's end (limit above page 1) passed to
// SQLite's cache and answered here, and pages moved above top.
static long memberd_truncate_passed, memberd_truncate_skipped, memberd_parked;

static int memberd_pc_init(void *arg) { return memberd_inner.xInit(memberd_inner.pArg); }
static void memberd_pc_shutdown(void *arg) {
	if (memberd_inner.xShutdown) memberd_inner.xShutdown(memberd_inner.pArg);
}

static sqlite3_pcache *memberd_pc_create(int szPage, int szExtra, int bPurgeable) {
	memberd_pcache *p = calloc(1, sizeof *p);
	if (!p) return NULL;
	p->inner = memberd_inner.xCreate(szPage, szExtra, bPurgeable);
	if (!p->inner) {
		free(p);
		return NULL;
	}
	return (sqlite3_pcache *)p;
}

static void memberd_pc_cachesize(sqlite3_pcache *c, int n) {
	memberd_inner.xCachesize(((memberd_pcache *)c)->inner, n);
}

static int memberd_pc_pagecount(sqlite3_pcache *c) {
	return memberd_inner.xPagecount(((memberd_pcache *)c)->inner);
}

static sqlite3_pcache_page *memberd_pc_fetch(sqlite3_pcache *c, unsigned key, int create) {
	memberd_pcache *p = (memberd_pcache *)c;
	sqlite3_pcache_page *pg = memberd_inner.xFetch(p->inner, key, create);
	if (pg && key > p->top) p->top = key;
	return pg;
}

static void memberd_pc_unpin(sqlite3_pcache *c, sqlite3_pcache_page *pg, int discard) {
	memberd_inner.xUnpin(((memberd_pcache *)c)->inner, pg, discard);
}

static void memberd_pc_rekey(sqlite3_pcache *c, sqlite3_pcache_page *pg, unsigned oldKey, unsigned newKey) {
	memberd_pcache *p = (memberd_pcache *)c;
	memberd_inner.xRekey(p->inner, pg, oldKey, newKey);
	if (oldKey > p->top) p->high--;
	if (newKey > p->top) {
		p->high++;
		__atomic_add_fetch(&memberd_parked, 1, __ATOMIC_RELAXED);
	}
}

static void memberd_pc_truncate(sqlite3_pcache *c, unsigned limit) {
	memberd_pcache *p = (memberd_pcache *)c;
	if (p->high == 0 && limit > p->top) {
		// Every page is below limit: there is nothing to drop.
		__atomic_add_fetch(&memberd_truncate_skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	if (limit > 1) __atomic_add_fetch(&memberd_truncate_passed, 1, __ATOMIC_RELAXED);
	memberd_inner.xTruncate(p->inner, limit);
	// SQLite passes a limit of at least 1 (sqlite3PcacheTruncate).
	if (limit - 1 <= p->top) {
		// Every page at or above limit is gone, the high ones with them.
		p->top = limit - 1;
		p->high = 0;
	}
}

static void memberd_pc_destroy(sqlite3_pcache *c) {
	memberd_pcache *p = (memberd_pcache *)c;
	memberd_inner.xDestroy(p->inner);
	free(p);
}

static void memberd_pc_shrink(sqlite3_pcache *c) {
	if (memberd_inner.xShrink) memberd_inner.xShrink(((memberd_pcache *)c)->inner);
}

// memberd_pcache_install puts the wrapper around SQLite's own cache. Like
// every sqlite3_config call it must precede SQLite's initialization; it
// returns SQLite's result code (non-zero: not installed).
static int memberd_pcache_install(void) {
	static sqlite3_pcache_methods2 wrapper = {
		1, NULL, memberd_pc_init, memberd_pc_shutdown, memberd_pc_create, memberd_pc_cachesize,
		memberd_pc_pagecount, memberd_pc_fetch, memberd_pc_unpin, memberd_pc_rekey, memberd_pc_truncate,
		memberd_pc_destroy, memberd_pc_shrink,
	};
	int rc = sqlite3_config(19, &memberd_inner); // SQLITE_CONFIG_GETPCACHE2
	if (rc != 0) return rc;
	if (memberd_inner.iVersion < 1 || !memberd_inner.xCreate) return 1;
	return sqlite3_config(18, &wrapper); // SQLITE_CONFIG_PCACHE2
}

static void memberd_pcache_counts(long *passed, long *skipped, long *parked) {
	*passed = __atomic_load_n(&memberd_truncate_passed, __ATOMIC_RELAXED);
	*skipped = __atomic_load_n(&memberd_truncate_skipped, __ATOMIC_RELAXED);
	*parked = __atomic_load_n(&memberd_parked, __ATOMIC_RELAXED);
}
*/
import "C"

// pcacheInstalled: SQLite's page cache is wrapped (memberd_pcache); false
// when something initialized SQLite before this package's init.
var pcacheInstalled = C.memberd_pcache_install() == 0

// pageCacheCounts reports, process-wide, how many truncations at a
// transaction's end reached SQLite's page cache (passed) and how many the
// wrapper answered (skipped), and how many pages a B-tree split parked
// above the pages a cache held (parked).
func pageCacheCounts() (passed, skipped, parked int64) {
	var p, s, k C.long
	C.memberd_pcache_counts(&p, &s, &k)
	return int64(p), int64(s), int64(k)
}
