#!/usr/bin/env bash
# Cold build time per driver: each build uses an empty GOCACHE (module
# cache is shared, so no downloads are timed). "nodriver" = stdlib + River
# baseline; subtract it to get the driver's own cost.
set -euo pipefail
cd "$(dirname "$0")"
LDF="-X github.com/ncruces/go-sqlite3/driver.driverName=sqlite3-ncruces"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf "%-9s %10s %10s %12s\n" tags cold_s warm_s binary_MB
for t in nodriver modernc mattn ncruces all; do
  tags="-tags=$t"; [ "$t" = all ] && tags=""
  cache=$(mktemp -d)
  s=$(date +%s.%N)
  GOCACHE=$cache go build $tags -ldflags "$LDF" -o "$out/b-$t" .
  e=$(date +%s.%N)
  # warm: touch main.go's mtime-independent content by rebuilding with a new -X value
  s2=$(date +%s.%N)
  GOCACHE=$cache go build $tags -ldflags "$LDF -X main.buildNonce=$RANDOM" -o "$out/b-$t" .
  e2=$(date +%s.%N)
  rm -rf "$cache"
  printf "%-9s %10.1f %10.1f %12.1f\n" "$t" "$(echo "$e - $s" | bc)" "$(echo "$e2 - $s2" | bc)" "$(echo "$(stat -c %s "$out/b-$t")/1048576" | bc -l)"
done
