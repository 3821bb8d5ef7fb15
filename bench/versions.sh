#!/usr/bin/env bash
# Sets this tree's single removals (S2) on PostgreSQL against earlier
# versions of memberd, each measured by its own harness, in rotating order
# on one machine, so that a drift in the machine's load weighs on all alike:
#
#   bench/versions.sh [-rounds N] [-members N] REV...
#
# e.g. bench/versions.sh e052af1 5224ddc (the tree of the 2026-11-24 run
# the performance issue quotes, and main just before its work began).
# Each REV is checked out into a temporary worktree. Trees before
# 2026-12-06 started their PostgreSQL with the tests' 128 MB of shared
# buffers; their internal/pgtest is given this harness's server settings
# first, so that every version meets the same server. Prints, for each
# run, S2's rate at concurrency 1, 16 and 64 and the no-op HTTP floor.
set -euo pipefail
rounds=4 members=100000
while [[ $# -gt 0 && $1 == -* ]]; do
	case $1 in
	-rounds) rounds=$2; shift 2 ;;
	-members) members=$2; shift 2 ;;
	*) echo "unknown flag $1" >&2; exit 2 ;;
	esac
done
[[ $# -gt 0 ]] || { sed -n '2,14p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() {
	for rev in "${revs[@]}"; do git -C "$here" worktree remove --force "$work/$rev" 2>/dev/null || true; done
	rm -rf "$work"
}
revs=("$@")
trap cleanup EXIT
tree() { if [[ $1 == current ]]; then echo "$here"; else echo "$work/$1"; fi; }
# This harness's server settings (bench's postgresSettings), from the
# machine's memory as it computes them.
mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
shared=$((mem / 4 > 4096 ? 4096 : (mem / 4 < 128 ? 128 : mem / 4)))
cache=$((mem * 3 / 4 > shared ? mem * 3 / 4 : shared))
settings="-c shared_buffers=${shared}MB -c effective_cache_size=${cache}MB -c maintenance_work_mem=512MB -c max_wal_size=16GB -c checkpoint_timeout=30min -c track_io_timing=on"
for rev in "${revs[@]}"; do
	git -C "$here" worktree add --quiet --detach "$work/$rev" "$rev"
	sed -i "s/-c shared_buffers=128MB -c max_wal_size=8GB -c checkpoint_timeout=30min\"/$settings\"/" \
		"$work/$rev/internal/pgtest/pgtest.go"
	if ! grep -q 'func postgresSettings' "$work/$rev/bench/engine.go" && grep -q 'shared_buffers=128MB' "$work/$rev/internal/pgtest/pgtest.go"; then
		echo "$rev: could not give its PostgreSQL this harness's settings; compare by hand" >&2
		exit 1
	fi
done
versions=(current "${revs[@]}")
printf '%-5s %-10s %8s %8s %8s %10s\n' run version c1/s c16/s c64/s floor/s
n=0
for ((r = 0; r < rounds; r++)); do
	# Rotate the order each round: every version runs first, in the
	# middle and last alike.
	for ((k = 0; k < ${#versions[@]}; k++)); do
		v=${versions[$(((k + r) % ${#versions[@]}))]}
		n=$((n + 1))
		out="$work/run-$n"
		mkdir -p "$out"
		# Older harnesses exit 1 after measuring when there is no S5 to
		# plot; what counts is that S2 was measured without errors.
		(cd "$(tree "$v")/bench" && go run ./cmd/memberd-bench -engine postgres -sizes "$members" -main "$members" \
			-scenarios S2 -compare-group-commit=false -dir "$out" -out "$out/report.md" >"$out/log" 2>&1) || true
		rate() { grep -o "S2 at concurrency $1: n=[0-9]* err=0 [0-9]*/s" "$out/log" | grep -o '[0-9]*/s$' | tr -d /s || true; }
		if [[ -z $(rate 64) ]]; then
			echo "$v: S2 was not measured:" >&2
			tail -20 "$out/log" >&2
			exit 1
		fi
		floor=$(grep -o 'HTTP floor (GET /healthz)[^;]*' "$out/log" | grep -o 'err=0 [0-9]*/s' | tail -1 | grep -o '[0-9]*/s' | tr -d /s)
		printf '%-5s %-10s %8s %8s %8s %10s\n' "$n" "$v" "$(rate 1)" "$(rate 16)" "$(rate 64)" "$floor"
		echo "$v $(rate 64)" >>"$work/c64"
		rm -rf "$out"
	done
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
now=$(awk '$1 == "current" {print $2}' "$work/c64" | median)
for v in "${revs[@]}"; do
	was=$(awk -v v="$v" '$1 == v {print $2}' "$work/c64" | median)
	echo "S2 at concurrency 64, medians: current $now/s, $v $was/s: $(awk -v a="$now" -v b="$was" 'BEGIN {printf "%.2f", a / b}')×"
done
