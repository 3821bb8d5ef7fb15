//go:build ncruces || (!modernc && !mattn && !nodriver)

package main

import (
	"database/sql"

	"github.com/ncruces/go-sqlite3/driver"
	// Note: github.com/ncruces/go-sqlite3/embed is deprecated and a no-op in
	// v0.37.0 (SQLite is now wasm2go-translated Go code in
	// github.com/ncruces/go-sqlite3-wasm/v6); importing it only prints a
	// warning at init, so it is deliberately not imported.
)

func init() {
	register(driverImpl{
		name: "ncruces",
		open: func(path string, txlock string) (*sql.DB, error) {
			// busy_timeout must be the first pragma (see driver docs).
			dsn := "file:" + path +
				"?_pragma=busy_timeout(5000)" +
				"&_pragma=journal_mode(WAL)" +
				"&_pragma=synchronous(FULL)" +
				"&_pragma=foreign_keys(1)" +
				"&_txlock=" + txlock
			return driver.Open(dsn)
		},
	})
}
