package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Baseline is S2 on PostgreSQL set against an earlier tree of memberd,
// side by side on this machine (bench/versions.sh): the performance
// issue's target for PostgreSQL's single removals is a multiple of the
// rate of the tree it quotes, which no figure of this tree's run alone
// can judge.
type Baseline struct {
	Rev              string
	Rounds, Members  int
	Current, Earlier float64  // medians of S2's rate at concurrency 64, removals/s
	Table            []string // versions.sh's lines, one a run
}

// Ratio is this tree's rate over the earlier one's.
func (b *Baseline) Ratio() float64 {
	if b == nil || b.Earlier <= 0 {
		return 0
	}
	return b.Current / b.Earlier
}

var baselineMedians = regexp.MustCompile(`S2 at concurrency 64, medians: current ([0-9.]+)/s, \S+ ([0-9.]+)/s`)

// MeasureBaseline runs bench/versions.sh in the memberd tree at root,
// setting this tree against rev in rounds rotating rounds at members
// members. Its progress goes to log.
func MeasureBaseline(ctx context.Context, root, rev string, rounds, members int, log io.Writer) (*Baseline, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "bench", "versions.sh"),
		"-rounds", strconv.Itoa(rounds), "-members", strconv.Itoa(members), rev)
	cmd.Dir = root
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench/versions.sh %s: %w", rev, err)
	}
	return parseBaseline(out.String(), rev, rounds, members)
}

func parseBaseline(out, rev string, rounds, members int) (*Baseline, error) {
	m := baselineMedians.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("bench/versions.sh %s printed no medians", rev)
	}
	b := &Baseline{Rev: rev, Rounds: rounds, Members: members}
	b.Current, _ = strconv.ParseFloat(m[1], 64)
	b.Earlier, _ = strconv.ParseFloat(m[2], 64)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 6 && (f[0] == "run" || isDigits(f[0])) {
			b.Table = append(b.Table, line)
		}
	}
	return b, nil
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
