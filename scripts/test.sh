#!/usr/bin/env bash
# The whole test suite: what `make test` and CI (.ci/run) run.
# It installs what the tests need (PostgreSQL 15 server binaries, Chromium)
# through .ci/install-deps, checks formatting and vet/staticcheck, lints the
# OpenAPI document with Redocly (npx, from npm), runs every Go test
# (PostgreSQL tests start their own throwaway cluster) and the SQLite ones
# again on the pure-Go driver, checks the bench
# module, then runs each fuzz target for a bounded number of executions.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can report its own -fuzztime deadline as a failure when a starved worker is
# mid-call at expiry (golang/go#75804, fixed in go1.27); a count never arms
# that deadline. A target whose executions are slow names its own count with a
# `//memberd:fuzzexecs N` line above it; FUZZEXECS overrides every count.
FUZZEXECS_DEFAULT=10000
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

step() { printf '\n==> %s\n' "$*"; }

step "system dependencies"
bash .ci/install-deps

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n $unformatted ]]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
# A machine without a C compiler builds the pure-Go SQLite driver instead
# of the cgo one (store/sqlite/driver_*.go): that build is vetted too.
CGO_ENABLED=0 go vet ./store/sqlite/...

step "staticcheck"
go run "$STATICCHECK" ./...

step "openapi lint"
# The document /openapi.json serves, linted with Redocly's recommended rules.
# Pinned: later releases need Node.js 22, and a new rule must not fail CI
# unannounced. npx installs it from npm on first use: 6 s then, 3-4 s after
# (measured 2026-12-06, 2 cores).
REDOCLY=@redocly/cli@2.77.0
command -v npx >/dev/null || { echo "openapi lint needs Node.js 20+ and npm (npx) on PATH"; exit 1; }
openapi=$(mktemp -d)
go run ./cmd/memberd openapi >"$openapi/openapi.json"
npx --yes "$REDOCLY" lint "$openapi/openapi.json"
rm -rf "$openapi"

step "go test"
# Under CI the PostgreSQL suites must run: the harness fails instead of skipping.
go test -count=1 -timeout 20m ./...

step "go test, pure-Go SQLite driver"
# Where Go finds no C compiler, memberd builds with the pure-Go SQLite
# driver; the store's conformance suite, the job queue on SQLite and the
# native API run on that build too, so both defaults are tested.
CGO_ENABLED=0 go test -count=1 -timeout 20m ./store/sqlite/... ./jobs/... ./httpapi/...

step "bench module"
# bench/ is a module of its own (its plotting dependencies stay out of
# memberd's go.mod), so ./... above does not reach it: vet it, check it
# and run its tests: unit tests that take seconds, and the short crash
# campaign (bench/cmd/memberd-crash, 3 SIGKILL rounds per engine, about
# 40 s on 2 loaded cores; under CI its PostgreSQL run must run). Its
# benchmarks are not run.
(cd bench && go vet ./... && go run "$STATICCHECK" ./... && go test -count=1 -timeout 10m ./...)

step "fuzz"
# Fuzz workers are killed, not stopped, so their t.TempDir()s outlive them:
# they go to a directory of this run's own, removed when the script exits.
fuzztmp=$(mktemp -d)
chmod 755 "$fuzztmp" # a test's PostgreSQL cluster, run as postgres, lives under TMPDIR too
trap 'rm -rf "$fuzztmp"' EXIT
# Each fuzz target runs alone: go test -fuzz takes one target per package run.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		execs=$(grep -B1 "^func ${target}(" "$file" | sed -n 's|^//memberd:fuzzexecs \([0-9][0-9]*\)$|\1|p')
		execs=${FUZZEXECS:-${execs:-$FUZZEXECS_DEFAULT}}
		if [[ ! $execs =~ ^[1-9][0-9]*$ ]]; then
			echo "fuzz budget for $target is not a count of executions: $execs"; exit 1
		fi
		echo "--- $pkg $target (${execs} executions)"
		TMPDIR=$fuzztmp go test -run='^$' -fuzz="^${target}\$" -fuzztime="${execs}x" -fuzzminimizetime=5s "$pkg"
	done
done
echo
echo "all checks passed"
