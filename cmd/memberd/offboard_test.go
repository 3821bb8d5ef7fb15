package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/client/clienttest"
	"github.com/memberd/memberd/membership"
)

// startOrg serves an organization of members clienttest.Email(1..members).
func startOrg(tb testing.TB, members, batchLimit int, limits auth.Limits, afterBatch ...func(int64)) *clienttest.Server {
	tb.Helper()
	o := clienttest.Options{Members: members, BatchLimit: batchLimit, Limits: limits}
	if len(afterBatch) > 0 {
		o.AfterBatch = afterBatch[0]
	}
	return clienttest.Start(tb, o)
}

func genEmail(i int) string { return clienttest.Email(i) }

// leaversCSV writes a CSV naming members from..to of startOrg.
func leaversCSV(tb testing.TB, from, to int, extra ...string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("email,reason\n")
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s,left\n", genEmail(i))
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "%s,left\n", e)
	}
	path := filepath.Join(tb.TempDir(), "leavers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// runOffboard runs `memberd offboard` in-process against s.
func runOffboard(ctx context.Context, s *clienttest.Server, args ...string) (stdout, stderr string, err error) {
	var out, errOut syncBuffer
	m := testMain(&out, &errOut, map[string]string{"MEMBERD_TOKEN": s.Token, "MEMBERD_SERVER": s.URL})
	err = m.Run(ctx, append([]string{"offboard"}, args...))
	return out.String(), errOut.String(), err
}

// readResults reads an --out file: row number to outcome, failing on a
// row written twice.
func readResults(tb testing.TB, path string) map[string]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	got := map[string]string{}
	for _, rec := range recs[1:] {
		if _, dup := got[rec[0]]; dup {
			tb.Fatalf("row %s written twice", rec[0])
		}
		got[rec[0]] = rec[2]
	}
	return got
}

// wantAllRemoved checks that the --out file reports rows 1..rows removed,
// each once, and that the server made exactly rows removals.
func wantAllRemoved(tb testing.TB, s *clienttest.Server, outPath string, rows int) {
	tb.Helper()
	got := readResults(tb, outPath)
	for i := 1; i <= rows; i++ {
		if o := got[fmt.Sprint(i)]; o != membership.OutcomeRemoved {
			tb.Fatalf("row %d: %q, want removed", i, o)
		}
	}
	if n := removedEvents(tb, s); n != rows {
		tb.Fatalf("%d removals made, want %d", n, rows)
	}
}

// removedEvents counts the organization's member.removed audit events:
// one per removal made, however often it was asked for.
func removedEvents(tb testing.TB, s *clienttest.Server) int {
	tb.Helper()
	n := 0
	p := client.ListEventsParams{Action: "member.removed", Limit: 1000}
	for {
		page, err := s.Client.Events(context.Background(), p)
		if err != nil {
			tb.Fatal(err)
		}
		n += len(page.Items)
		if page.NextBefore == 0 {
			return n
		}
		p.Before = page.NextBefore
	}
}

// TestOffboardAtVolume offboards 10,000 rows against a server that
// removes at most 5 members a request and rate-limits the credential: the
// CLI learns the limit from the first refusal, waits out every 429, and
// removes every row once.
func TestOffboardAtVolume(t *testing.T) {
	const rows = 10_000
	// 2,000 requests at a rate a client on an idle machine outruns (it
	// sends ~190 a second here), with a bucket as deep as a second's rate,
	// so that each 1s Retry-After refills it and the run stays short. On a
	// loaded machine the client may not reach the rate; 429s are certain
	// in TestOffboardRateLimited.
	s := startOrg(t, rows, 5, auth.Limits{Rate: 150, Burst: 150})
	csvPath := leaversCSV(t, 1, rows)
	outPath := filepath.Join(t.TempDir(), "results.csv")
	start := time.Now()
	_, stderr, err := runOffboard(context.Background(), s, "--csv", csvPath, "--out", outPath)
	if err != nil {
		t.Fatalf("offboard: %v\n%s", err, stderr)
	}
	t.Logf("%d rows in %v: %d batch requests, %d answered 429", rows, time.Since(start).Round(time.Millisecond), s.Batches.Load(), s.TooMany.Load())
	if !strings.Contains(stderr, "at most 5 members per request") {
		t.Errorf("the CLI did not say it learned the batch limit:\n%s", stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("%d members: %d removed\n", rows, rows)) {
		t.Errorf("summary:\n%s", stderr)
	}
	wantAllRemoved(t, s, outPath, rows)
}

// TestOffboardRateLimited runs against a rate low enough that 429s are
// certain: the run waits them out and finishes.
func TestOffboardRateLimited(t *testing.T) {
	s := startOrg(t, 20, 5, auth.Limits{Rate: 2, Burst: 2})
	csvPath := leaversCSV(t, 1, 20)
	_, stderr, err := runOffboard(context.Background(), s, "--csv", csvPath)
	if err != nil {
		t.Fatalf("offboard: %v\n%s", err, stderr)
	}
	if s.TooMany.Load() == 0 || !strings.Contains(stderr, "20 members: 20 removed") {
		t.Fatalf("%d answers 429; summary:\n%s", s.TooMany.Load(), stderr)
	}
}

// TestOffboardResume stops a run mid-batch (the context is cancelled
// while a batch is in flight, as Ctrl-C does) and resumes it with another
// --batch: every row ends removed, each exactly once, and the rows of the
// batch in flight are answered from the server's idempotency record.
func TestOffboardResume(t *testing.T) {
	const rows = 2_000
	ctx, cancel := context.WithCancel(context.Background())
	s := startOrg(t, rows, 100, auth.Limits{}, func(n int64) {
		if n == 7 {
			cancel() // the 7th batch is made, but the CLI stops before its answer
		}
	})
	csvPath := leaversCSV(t, 1, rows)
	outPath := filepath.Join(t.TempDir(), "results.csv")
	_, stderr, err := runOffboard(ctx, s, "--csv", csvPath, "--batch", "40", "--out", outPath)
	if exitCode(err) != exitCouldNotRun || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("interrupted run: exit %d, %v\n%s", exitCode(err), err, stderr)
	}
	if done := len(readResults(t, outPath)); done < 6*40 || done >= rows {
		t.Fatalf("the interrupted run recorded %d rows, want at least the 6 answered batches", done)
	}
	_, stderr, err = runOffboard(context.Background(), s, "--csv", csvPath, "--batch", "7", "--out", outPath)
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, stderr)
	}
	wantAllRemoved(t, s, outPath, rows)
}

// TestOffboardExitCodes: 1 when a row failed (after doing the others), 2
// when the run could not run, 0 for --help.
func TestOffboardExitCodes(t *testing.T) {
	s := startOrg(t, 3, 100, auth.Limits{})
	t.Run("RowFailed", func(t *testing.T) {
		csvPath := leaversCSV(t, 1, 2, "nobody@gen.test")
		_, stderr, err := runOffboard(context.Background(), s, "--csv", csvPath)
		if exitCode(err) != exitRowsFailed || !strings.Contains(stderr, "3 members: 2 removed, 1 not found") {
			t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, exitRowsFailed, stderr)
		}
	})
	t.Run("CouldNotRun", func(t *testing.T) {
		csvPath := leaversCSV(t, 3, 3)
		var stdout, stderr syncBuffer
		m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_TOKEN": "mbd_wrong"})
		err := m.Run(context.Background(), []string{"offboard", "--csv", csvPath, "--server", s.URL})
		if exitCode(err) != exitCouldNotRun || client.StatusOf(err) != http.StatusUnauthorized {
			t.Fatalf("exit %d (%v), want %d with the 401", exitCode(err), err, exitCouldNotRun)
		}
		if err := m.Run(context.Background(), []string{"offboard", "--server", s.URL}); exitCode(err) != exitCouldNotRun {
			t.Fatalf("without --csv: exit %d (%v)", exitCode(err), err)
		}
	})
	t.Run("Help", func(t *testing.T) {
		for _, args := range [][]string{{"offboard", "--help"}, {"offboard", "-h"}, {"members", "--help"},
			{"members", "list", "-h"}, {"members", "show", "--help"}, {"members", "remove", "-h"}, {"members", "restore", "-help"}, {"openapi", "-h"}} {
			var stdout, stderr syncBuffer
			if err := testMain(&stdout, &stderr, nil).Run(context.Background(), args); err != nil {
				t.Errorf("%v: %v", args, err)
			}
		}
	})
}

// TestOffboardAt schedules each row's removal; the dry run says the same.
func TestOffboardAt(t *testing.T) {
	s := startOrg(t, 3, 100, auth.Limits{})
	csvPath := leaversCSV(t, 1, 3)
	at := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	preview, _, err := runOffboard(context.Background(), s, "--csv", csvPath, "--at", at, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runOffboard(context.Background(), s, "--csv", csvPath, "--at", at)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got := strings.Count(out, ",scheduled,operation "); got != 3 {
		t.Fatalf("%d rows scheduled, want 3:\n%s", got, out)
	}
	if got := strings.Count(preview, ",scheduled,"); got != 3 {
		t.Fatalf("dry run: %d rows scheduled, want 3:\n%s", got, preview)
	}
	ops, err := s.Client.Schedules(context.Background(), client.ListOperationsParams{})
	if err != nil || len(ops.Items) != 3 {
		t.Fatalf("schedules: %v %v", ops, err)
	}
	if m, err := s.Client.Member(context.Background(), genEmail(1)); err != nil || m.Status != membership.StatusActive {
		t.Fatalf("a scheduled removal happened now: %+v %v", m, err)
	}
}

func TestMembersCommands(t *testing.T) {
	s := startOrg(t, 3, 100, auth.Limits{})
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr syncBuffer
		m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_SERVER": s.URL})
		if err := m.Run(context.Background(), append(append([]string{"members"}, args...), "--token", s.Token)); err != nil {
			t.Fatalf("members %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	if out := run("list"); strings.Count(out, "@gen.test") != 4 || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list:\n%s", out)
	}
	if out := run("show", genEmail(2)); !strings.Contains(out, `"email": "user00002@gen.test"`) {
		t.Fatalf("show:\n%s", out)
	}
	if out := run("remove", genEmail(2), "--dry-run"); !strings.Contains(out, `"dry_run": true`) {
		t.Fatalf("remove --dry-run:\n%s", out)
	}
	run("remove", genEmail(2))
	if out := run("list", "--status", "removed"); strings.Count(out, "@gen.test") != 1 {
		t.Fatalf("list --status removed:\n%s", out)
	}
	if out := run("restore", genEmail(2)); !strings.Contains(out, `"status": "active"`) {
		t.Fatalf("restore:\n%s", out)
	}
	var stdout, stderr syncBuffer
	err := testMain(&stdout, &stderr, map[string]string{"MEMBERD_SERVER": s.URL, "MEMBERD_TOKEN": s.Token}).
		Run(context.Background(), []string{"members", "show", "nobody@gen.test"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Fatalf("show of an unknown member: %v, want a 404", err)
	}
}
