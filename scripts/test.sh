#!/usr/bin/env bash
# The whole test suite: what `make test` and CI (.ci/run) run.
# It installs what the tests need (PostgreSQL 15 server binaries, Chromium)
# through .ci/install-deps, checks formatting and vet/staticcheck, runs every
# Go test (PostgreSQL tests start their own throwaway cluster), then runs
# each fuzz target for a bounded time.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
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

step "staticcheck"
go run "$STATICCHECK" ./...

step "go test"
# Under CI the PostgreSQL suites must run: the harness fails instead of skipping.
go test -count=1 -timeout 20m ./...

step "fuzz (${FUZZTIME} each)"
# Each fuzz target runs alone: go test -fuzz takes one target per package run.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "--- $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=5s "$pkg"
	done
done
echo
echo "all checks passed"
