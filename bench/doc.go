// Package bench is memberd's benchmark harness: it generates organizations
// deterministic from a seed and loads them straight through the store,
// drives a real `memberd serve` over loopback HTTP through the scenarios
// of docs/performance.md (bulk and single removals, access checks,
// offboarding everywhere, growth), measures the floors those figures are
// judged against in the same run (the disk's flush rate, the store
// without HTTP, the store's SQL without the core), explains the queries
// of the removal paths, and writes the report and its plot.
//
// The command is bench/cmd/memberd-bench; `go test` runs unit tests
// (the statistics, the plot, finding the memberd tree) and the short
// version of the crash campaign, bench/cmd/memberd-crash (RunCrash,
// docs/reliability.md). bench is a Go
// module of its own (its go.mod replaces github.com/memberd/memberd with
// the tree above it), so that its plotting dependencies stay out of
// memberd's go.mod; run it from bench/:
// `cd bench && go run ./cmd/memberd-bench -quick -engine sqlite`.
// bench/versions.sh sets this tree's single removals on PostgreSQL
// against earlier versions, each measured by its own harness.
package bench
