//go:build modernc || (!mattn && !ncruces && !nodriver)

package main

import (
	"database/sql"

	"modernc.org/sqlite"
)

func init() {
	register(driverImpl{
		name: "modernc",
		open: func(path string, txlock string) (*sql.DB, error) {
			dsn := "file:" + path +
				"?_pragma=busy_timeout(5000)" +
				"&_pragma=journal_mode(WAL)" +
				"&_pragma=synchronous(FULL)" +
				"&_pragma=foreign_keys(1)" +
				"&_txlock=" + txlock
			c, err := sqlite.NewConnector(dsn)
			if err != nil {
				return nil, err
			}
			return sql.OpenDB(c), nil
		},
	})
}
