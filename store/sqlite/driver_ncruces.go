//go:build sqlite_ncruces

package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"

	"github.com/ncruces/go-sqlite3"
	ncruces "github.com/ncruces/go-sqlite3/driver"
)

// driverName is the database/sql name of the SQLite driver the store
// opens: ncruces' driver (SQLite translated from wasm to Go, no cgo) with
// every connection made plan-stable.
const driverName = "memberd-sqlite"

// Driver names the Go SQLite driver this build uses, for reports.
const Driver = "github.com/ncruces/go-sqlite3"

// ncruces takes a connection hook only in driver.Open, which returns a
// *sql.DB rather than a driver to register, so the hook is a connector
// wrapped around its own.
func init() { sql.Register(driverName, planStableDriver{}) }

// planStableDriver is ncruces' driver whose connections run with the
// query planner stability guarantee.
type planStableDriver struct{}

func (d planStableDriver) Open(name string) (driver.Conn, error) {
	c, err := d.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

func (planStableDriver) OpenConnector(name string) (driver.Connector, error) {
	c, err := (&ncruces.SQLite{}).OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return planStableConnector{c}, nil
}

type planStableConnector struct{ driver.Connector }

func (planStableConnector) Driver() driver.Driver { return planStableDriver{} }

// Connect returns ncruces' own connection, not a wrapper, so that
// database/sql still finds every optional interface it implements.
func (c planStableConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	nc, ok := dc.(ncruces.Conn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("driver connection is a %T", dc)
	}
	if _, err := planStable(nc.Raw(), 1); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

func writerDSN(path string) string {
	return dsn(path, fmt.Sprintf("cache_size(-%d)", writerCacheKiB)) + "&_txlock=immediate"
}

func readerDSN(path string) string {
	return dsn(path, "query_only(1)", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
}

// dsn spells the modernc build's pragmas in the same _pragma parameters,
// busy_timeout first: ncruces applies them in order, and journal_mode may
// already have to wait for a lock.
func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "temp_store(MEMORY)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// IsUniqueViolation reports a unique or primary key constraint violation
// from this driver.
func IsUniqueViolation(err error) bool {
	return errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) || errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY)
}

// connPlanStable reads the plan stability setting of a driver connection
// from (*sql.Conn).Raw.
func connPlanStable(dc any) (int32, error) {
	c, ok := dc.(ncruces.Conn)
	if !ok {
		return 0, fmt.Errorf("driver connection is a %T", dc)
	}
	return planStable(c.Raw(), -1)
}

// planStable sets SQLITE_DBCONFIG_ENABLE_QPSG on one connection (on = 1;
// -1 only reads it) and returns the setting now in force, for the reason
// given at driver_modernc.go's planStable. ncruces wraps sqlite3_db_config
// as (*sqlite3.Conn).Config, so no reflection is needed here.
func planStable(c *sqlite3.Conn, on int32) (int32, error) {
	var set []bool
	if on >= 0 {
		set = append(set, on == 1)
	}
	v, err := c.Config(sqlite3.DBCONFIG_ENABLE_QPSG, set...)
	if err != nil {
		return 0, fmt.Errorf("sqlite3_db_config(ENABLE_QPSG): %w", err)
	}
	if v {
		return 1, nil
	}
	return 0, nil
}

// registerUpdateHook has the driver connection dc collect the tracked
// rows its statements change, through SQLite's update hook.
func registerUpdateHook(dc any, maxChanges int) (changeSource, error) {
	c, ok := dc.(interface{ Raw() *sqlite3.Conn })
	if !ok {
		return nil, fmt.Errorf("driver connection is a %T", dc)
	}
	b := &goChanges{max: maxChanges}
	c.Raw().UpdateHook(func(_ sqlite3.AuthorizerActionCode, _, table string, rowid int64) { b.add(table, rowid) })
	return b, nil
}

// trackedInC is tracked: this build has no C side.
func trackedInC(table string) trackedTable { return tracked(table) }
