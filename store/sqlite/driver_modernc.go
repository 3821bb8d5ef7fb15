//go:build !sqlite_ncruces && !sqlite_mattn && (sqlite_modernc || !cgo)

package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"unsafe"

	"modernc.org/libc"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// driverName is the database/sql name of the SQLite driver the store
// opens: modernc's driver with every connection made plan-stable.
const driverName = "memberd-sqlite"

// Driver names the Go SQLite driver this build uses, for reports.
const Driver = "modernc.org/sqlite"

func init() {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
		_, err := planStable(c, 1)
		return err
	})
	sql.Register(driverName, d)
}

func writerDSN(path string) string {
	return dsn(path, fmt.Sprintf("cache_size(-%d)", writerCacheKiB)) + "&_txlock=immediate"
}

func readerDSN(path string) string {
	return dsn(path, "query_only(1)", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
}

func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(10000)", "temp_store(MEMORY)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// IsUniqueViolation reports a unique or primary key constraint violation
// from this driver.
func IsUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// connPlanStable reads the plan stability setting of a driver connection
// from (*sql.Conn).Raw.
func connPlanStable(dc any) (int32, error) {
	c, ok := dc.(sqlite.ExecQuerierContext)
	if !ok {
		return 0, fmt.Errorf("driver connection is a %T", dc)
	}
	return planStable(c, -1)
}

// planStable sets SQLITE_DBCONFIG_ENABLE_QPSG on one connection (on = 1;
// -1 only reads it) and returns the setting now in force.
//
// Why: since SQLite 3.50 the planner may look at a bound value when it
// re-prepares a statement (an `x = ?` term it does not index, a LIMIT ?)
// and then marks the statement to be compiled again whenever that
// parameter is rebound. One schema-triggered recompile is enough to put a
// cached statement into that state for good, after which every execution
// of, for example, the member lookup was compiled anew: 15% of a removal's
// CPU in bench/ profiles. memberd's queries are written for one plan, so
// the query planner stability guarantee costs nothing and makes the
// statement cache hold.
//
// modernc exposes no sqlite3_db_config, so this reaches the connection's
// handle through reflection; TestPlanStable fails if a driver upgrade
// moves it.
func planStable(c sqlite.ExecQuerierContext, on int32) (int32, error) {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0, fmt.Errorf("sqlite connection is a %T, not a pointer to a struct", c)
	}
	s := v.Elem()
	dbField, tlsField := s.FieldByName("db"), s.FieldByName("tls")
	if !dbField.IsValid() || dbField.Kind() != reflect.Uintptr ||
		!tlsField.IsValid() || tlsField.Type() != reflect.TypeFor[*libc.TLS]() {
		return 0, errors.New("modernc sqlite connection has no db/tls fields: update planStable for this driver version")
	}
	db := uintptr(dbField.Uint())
	tls := reflect.NewAt(tlsField.Type(), unsafe.Pointer(tlsField.UnsafeAddr())).Elem().Interface().(*libc.TLS)

	// sqlite3_db_config(db, op, int onoff, int *pRes): libc.VaList packs
	// each argument in an 8-byte slot. res is on the heap, which the
	// garbage collector does not move, for the C code to write to.
	const slot = 8
	bp := libc.Xmalloc(tls, 2*slot)
	if bp == 0 {
		return 0, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(tls, bp)
	res := new(int32)
	*res = -1
	rc := sqlite3.Xsqlite3_db_config(tls, db, sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG, libc.VaList(bp, on, uintptr(unsafe.Pointer(res))))
	runtime.KeepAlive(res)
	if rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("sqlite3_db_config(ENABLE_QPSG): result code %d", rc)
	}
	return *res, nil
}

// registerUpdateHook has the driver connection dc collect the tracked
// rows its statements change, through modernc's pre-update hook (its
// SQLite is built with it): the row ids a statement inserts, updates or
// deletes.
func registerUpdateHook(dc any, maxChanges int) (changeSource, error) {
	h, ok := dc.(sqlite.HookRegisterer)
	if !ok {
		return nil, fmt.Errorf("driver connection is a %T", dc)
	}
	b := &goChanges{max: maxChanges}
	h.RegisterPreUpdateHook(func(d sqlite.SQLitePreUpdateData) {
		switch d.Op {
		case sqlite3.SQLITE_INSERT:
			b.add(d.TableName, d.NewRowID)
		case sqlite3.SQLITE_DELETE: // NewRowID repeats OldRowID here
			b.add(d.TableName, d.OldRowID)
		default:
			b.add(d.TableName, d.NewRowID)
			if d.OldRowID != d.NewRowID {
				b.add(d.TableName, d.OldRowID)
			}
		}
	})
	return b, nil
}

// trackedInC is tracked: this build has no C side.
func trackedInC(table string) trackedTable { return tracked(table) }
