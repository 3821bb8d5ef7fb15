//go:build mattn || (!modernc && !ncruces && !nodriver)

package main

import (
	"context"
	"database/sql"
	"database/sql/driver"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// dsnConnector lets us use sql.OpenDB (no dependence on the global driver
// name, which mattn and ncruces both claim as "sqlite3").
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

func init() {
	register(driverImpl{
		name: "mattn",
		open: func(path string, txlock string) (*sql.DB, error) {
			dsn := "file:" + path +
				"?_busy_timeout=5000" +
				"&_journal_mode=WAL" +
				"&_synchronous=FULL" +
				"&_foreign_keys=1" +
				"&_txlock=" + txlock
			return sql.OpenDB(dsnConnector{dsn: dsn, d: &sqlite3.SQLiteDriver{}}), nil
		},
	})
}
