//go:build !sqlite_ncruces && !sqlite_modernc && (sqlite_mattn || cgo)

package sqlite

/*
// sqlite3_db_config is variadic, which cgo cannot call, and mattn's
// bundled SQLite (linked into the same binary) has no Go wrapper for it.
typedef struct sqlite3 sqlite3;
extern int sqlite3_db_config(sqlite3*, int op, ...);

static int memberd_qpsg(void *db, int on, int *res) {
	return sqlite3_db_config((sqlite3*)db, 1007, on, res); // SQLITE_DBCONFIG_ENABLE_QPSG
}

// sqlite3_config is variadic too.
extern int sqlite3_config(int, ...);

static int memberd_memstatus_off(void) {
	return sqlite3_config(9, 0); // SQLITE_CONFIG_MEMSTATUS
}

#include <stdlib.h>
#include <string.h>

extern void *sqlite3_update_hook(sqlite3 *, void (*)(void *, int, char const *, char const *, long long), void *);

// memberd_changes is the rows of tracked tables one connection changed
// since Go last took them (changeSource): the update hook runs for every
// row a statement changes, in C, so that a removal pays no call into Go
// for each of its rows.
typedef struct {
	int n, cap, max, overflow;
	unsigned char *tables;
	long long *rows;
} memberd_changes;

// memberd_tracked numbers the tables an access check reads as Go's
// trackedTable does (TestTrackedTablesAgree), 0 for any other.
static int memberd_tracked(const char *t) {
	if (strcmp(t, "members") == 0) return 1;
	if (strcmp(t, "resources") == 0) return 2;
	if (strcmp(t, "event_chain_heads") == 0) return 3;
	if (strcmp(t, "space_members") == 0) return 4;
	if (strcmp(t, "group_members") == 0) return 5;
	if (strcmp(t, "grants") == 0) return 6;
	return 0;
}

static void memberd_changed(void *p, int op, const char *db, const char *table, long long rowid) {
	memberd_changes *c = (memberd_changes *)p;
	int t = memberd_tracked(table);
	if (t == 0 || c->overflow) return;
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 256;
		unsigned char *tables;
		long long *rows;
		if (cap > c->max) { c->overflow = 1; return; }
		tables = realloc(c->tables, cap);
		if (!tables) { c->overflow = 1; return; }
		c->tables = tables;
		rows = realloc(c->rows, cap * sizeof *rows);
		if (!rows) { c->overflow = 1; return; }
		c->rows = rows;
		c->cap = cap;
	}
	c->tables[c->n] = (unsigned char)t;
	c->rows[c->n] = rowid;
	c->n++;
}

// memberd_live counts the buffers not yet freed, for the test that holds
// a replaced connection's buffer to be freed with it.
static long memberd_live;

static memberd_changes *memberd_hook(void *db, int max) {
	memberd_changes *c = calloc(1, sizeof *c);
	if (!c) return NULL;
	c->max = max;
	sqlite3_update_hook((sqlite3 *)db, memberd_changed, c);
	__atomic_add_fetch(&memberd_live, 1, __ATOMIC_RELAXED);
	return c;
}

static void memberd_changes_free(memberd_changes *c) {
	free(c->tables);
	free(c->rows);
	free(c);
	__atomic_sub_fetch(&memberd_live, 1, __ATOMIC_RELAXED);
}

static long memberd_live_changes(void) {
	return __atomic_load_n(&memberd_live, __ATOMIC_RELAXED);
}
*/
import "C"

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"strconv"
	"unsafe"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// driverName is the database/sql name of the SQLite driver the store
// opens: mattn's cgo driver with every connection made plan-stable.
const driverName = "memberd-sqlite"

// Driver names the Go SQLite driver this build uses, for reports.
const Driver = "github.com/mattn/go-sqlite3"

func init() {
	// Without memory statistics, which memberd never reads, SQLite's
	// allocator takes no process-wide mutex on every malloc and free (a
	// few per statement, from every connection at once). It must precede
	// SQLite's initialization, which the first connection performs; if
	// anything initialized SQLite earlier, the call fails and changes
	// nothing.
	C.memberd_memstatus_off()
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// mattn's DSN has no temp_store parameter.
		if _, err := c.Exec("PRAGMA temp_store = MEMORY", nil); err != nil {
			return fmt.Errorf("temp_store: %w", err)
		}
		_, err := planStable(c, 1)
		return err
	}})
}

func writerDSN(path string) string {
	return dsn(path, "_cache_size", strconv.Itoa(-writerCacheKiB), "_txlock", "immediate")
}

func readerDSN(path string) string {
	return dsn(path, "_query_only", "1", "_cache_size", strconv.Itoa(-readerCacheKiB))
}

// dsn builds mattn's URI: the same pragmas as the modernc build, in
// mattn's own parameters (it ignores _pragma).
func dsn(path string, kv ...string) string {
	q := url.Values{}
	// database/sql never uses a connection from two goroutines at once, so
	// SQLite's per-connection mutex, which mattn takes on every call by
	// default, guards nothing.
	q.Set("_mutex", "no")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	q.Set("_busy_timeout", "10000")
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return "file:" + path + "?" + q.Encode()
}

// IsUniqueViolation reports a unique or primary key constraint violation
// from this driver.
func IsUniqueViolation(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// planStable sets SQLITE_DBCONFIG_ENABLE_QPSG on one connection (on = 1;
// -1 only reads it) and returns the setting now in force. mattn bundles
// SQLite 3.54, so it needs the guarantee for the reason given at
// driver_modernc.go's planStable. mattn exposes no sqlite3_db_config
// either, so this reads the connection's handle through reflection;
// TestPlanStable fails if a driver upgrade moves it.
func planStable(c *sqlite3.SQLiteConn, on int32) (int32, error) {
	db, err := connHandle(c)
	if err != nil {
		return 0, err
	}
	var res C.int = -1
	if rc := C.memberd_qpsg(db, C.int(on), &res); rc != 0 {
		return 0, fmt.Errorf("sqlite3_db_config(ENABLE_QPSG): result code %d", rc)
	}
	return int32(res), nil
}

// connHandle is c's sqlite3 handle.
func connHandle(c *sqlite3.SQLiteConn) (unsafe.Pointer, error) {
	f := reflect.ValueOf(c).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil, errors.New("mattn sqlite connection has no db field: update connHandle for this driver version")
	}
	db := *(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	if db == nil {
		return nil, errors.New("sqlite connection is closed")
	}
	return db, nil
}

// connPlanStable reads the plan stability setting of a driver connection
// from (*sql.Conn).Raw.
func connPlanStable(dc any) (int32, error) {
	c, ok := dc.(*sqlite3.SQLiteConn)
	if !ok {
		return 0, fmt.Errorf("driver connection is a %T", dc)
	}
	return planStable(c, -1)
}

// registerUpdateHook has the driver connection dc collect the tracked
// rows its statements change, for the returned source to hand over.
func registerUpdateHook(dc any, maxChanges int) (changeSource, error) {
	c, ok := dc.(*sqlite3.SQLiteConn)
	if !ok {
		return nil, fmt.Errorf("driver connection is a %T", dc)
	}
	db, err := connHandle(c)
	if err != nil {
		return nil, err
	}
	h := C.memberd_hook(db, C.int(maxChanges))
	if h == nil {
		return nil, errors.New("update hook: out of memory")
	}
	// The buffer lives as long as the connection: database/sql replaces a
	// broken writer connection, and the store then drops the old one
	// (Store.hook). Closed, it runs no statement and so no hook; a
	// connection mattn closes in its own finalizer is freed after that.
	runtime.AddCleanup(c, func(h *C.memberd_changes) { C.memberd_changes_free(h) }, h)
	return cChanges{h}, nil
}

// liveChangeSources counts the change buffers not yet freed, or -1 where
// the driver's hook keeps its changes on the Go heap.
func liveChangeSources() int { return int(C.memberd_live_changes()) }

// cChanges is a connection's memberd_changes, read and reset by Go
// between transactions, while the connection runs no statement.
type cChanges struct{ c *C.memberd_changes }

func (h cChanges) take(dst []rowKey) ([]rowKey, bool) {
	c := h.c
	if n := int(c.n); n > 0 {
		tables := unsafe.Slice((*byte)(unsafe.Pointer(c.tables)), n)
		rows := unsafe.Slice((*int64)(unsafe.Pointer(c.rows)), n)
		for i := range n {
			dst = append(dst, rowKey{trackedTable(tables[i]), rows[i]})
		}
	}
	overflow := c.overflow != 0
	c.n, c.overflow = 0, 0
	return dst, overflow
}

// trackedInC is memberd_tracked, for the test that holds it to tracked.
func trackedInC(table string) trackedTable {
	cs := C.CString(table)
	defer C.free(unsafe.Pointer(cs))
	return trackedTable(C.memberd_tracked(cs))
}
