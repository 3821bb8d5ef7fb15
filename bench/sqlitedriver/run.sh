#!/usr/bin/env bash
# Build the all-drivers benchmark binary and run it. Extra args go to the binary,
# e.g. ./run.sh -runs 2 -json /tmp/sqlitedriver.jsonl
# The -X flag is REQUIRED when mattn and ncruces are linked together: both
# register the database/sql name "sqlite3" in init and would panic otherwise.
set -euo pipefail
cd "$(dirname "$0")"
bin=$(mktemp -d)/sqlitedriver
trap 'rm -rf "$(dirname "$bin")"' EXIT
CGO_ENABLED=1 go build -ldflags "-X github.com/ncruces/go-sqlite3/driver.driverName=sqlite3-ncruces" -o "$bin" .
"$bin" "$@"
