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
*/
import "C"

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"reflect"
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
	f := reflect.ValueOf(c).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return 0, errors.New("mattn sqlite connection has no db field: update planStable for this driver version")
	}
	db := *(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	if db == nil {
		return 0, errors.New("sqlite connection is closed")
	}
	var res C.int = -1
	if rc := C.memberd_qpsg(db, C.int(on), &res); rc != 0 {
		return 0, fmt.Errorf("sqlite3_db_config(ENABLE_QPSG): result code %d", rc)
	}
	return int32(res), nil
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

// registerUpdateHook has the driver connection dc call fn with the table
// and row id of every row its statements change.
func registerUpdateHook(dc any, fn func(table string, rowid int64)) bool {
	c, ok := dc.(*sqlite3.SQLiteConn)
	if !ok {
		return false
	}
	c.RegisterUpdateHook(func(_ int, _, table string, rowid int64) { fn(table, rowid) })
	return true
}
