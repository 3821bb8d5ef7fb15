package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/membership"
)

// maxCSVRows bounds one offboarding file so a mistaken file cannot run away.
const maxCSVRows = 1_000_000

// Exit codes of offboard, beside 0 (every row removed, already removed or
// scheduled).
const (
	exitRowsFailed  = 1 // the run finished and some rows failed
	exitCouldNotRun = 2 // the run could not start or stopped early; run again to resume
)

// OutcomeScheduled is the outcome of a row whose removal --at scheduled.
const OutcomeScheduled = "scheduled"

// exitError is an error that asks for a particular exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process status for err: the code an exitError asks for,
// 1 otherwise.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

func couldNotRun(err error) error { return &exitError{code: exitCouldNotRun, err: err} }

// rowResult is one CSV row's outcome, in the words of the batch removal.
type rowResult struct {
	Row      int    `json:"row"`
	Outcome  string `json:"outcome"`
	MemberID int64  `json:"member_id,omitempty"`
	Message  string `json:"message,omitempty"`
}

// failed says the row's member still has access it should not have.
func (r *rowResult) failed() bool {
	switch r.Outcome {
	case membership.OutcomeRemoved, membership.OutcomeAlreadyRemoved, OutcomeScheduled:
		return false
	}
	return true
}

// offboarding is one run of `memberd offboard`.
type offboarding struct {
	m       *Main
	c       *client.Client
	refs    []membership.MemberRef
	fileKey string
	at      *time.Time
	batch   int // members per request: --batch, lowered to the server's limit once learned
	results []*rowResult
	state   *stateFile // nil on a dry run: it records nothing
	bar     *progressbar.ProgressBar
}

// offboard removes the members listed in a CSV file through a running
// server's native API. It resumes from a state file: a row whose outcome
// is recorded is not sent again, and a batch that was sent but not
// answered is sent again as it was, with its Idempotency-Key, so the
// server answers it from its record instead of removing twice. The key
// is made from the batch's rows, not its position, so a resumed run may
// use another --batch.
func (m *Main) offboard(ctx context.Context, args []string) error {
	fs := m.newFlagSet("offboard", `offboard --csv FILE [flags]

Removes the members a CSV file lists (a header row names an email, id or uuid
column) through the server's batch removal, or schedules their removal with --at.
Refusals for load (429, 503) are retried after Retry-After; the server's batch
limit is learned from its answer. Interrupted, the same command resumes from
--state, whatever --batch is. Exit status: 0 all rows removed, already removed
or scheduled; 1 some rows failed; 2 could not run (nothing or part done: run again).`)
	csvPath := fs.String("csv", "", "CSV file with a header row naming an email, id or uuid column (required)")
	cf := m.clientFlags(fs)
	batch := fs.Int("batch", membership.DefaultBatchLimit, "members per request; lowered to the server's batch limit when it names one")
	dryRun := fs.Bool("dry-run", false, "change nothing: report the outcome each row would get, in the same words")
	at := fs.String("at", "", "schedule each removal for this time (RFC 3339) instead of removing now")
	statePath := fs.String("state", "", "state file the run records progress in and resumes from (default: the CSV's path + .state)")
	outPath := fs.String("out", "", "write the per-row results (CSV) to this file instead of standard output")
	maxWait := fs.Duration("max-wait", client.DefaultMaxWait, "longest wait for one retry after 429 or 503; a longer Retry-After stops the run")
	if err := m.parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return couldNotRun(err)
	}
	if *csvPath == "" {
		return couldNotRun(errors.New("offboard needs --csv FILE"))
	}
	if *batch < 1 {
		return couldNotRun(errors.New("--batch must be at least 1"))
	}
	c, err := cf.client()
	if err != nil {
		return couldNotRun(err)
	}
	c.Retry.MaxWait = *maxWait
	data, err := os.ReadFile(*csvPath)
	if err != nil {
		return couldNotRun(err)
	}
	refs, err := readMemberCSV(data)
	if err != nil {
		return couldNotRun(fmt.Errorf("%s: %w", *csvPath, err))
	}
	o := &offboarding{m: m, c: c, refs: refs, batch: *batch, results: make([]*rowResult, len(refs))}
	sum := sha256.Sum256(data)
	o.fileKey = hex.EncodeToString(sum[:12])
	mode := "remove"
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return couldNotRun(fmt.Errorf("--at: want an RFC 3339 time such as 2030-01-31T17:00:00Z: %w", err))
		}
		o.at, mode = &t, "schedule "+t.UTC().Format(time.RFC3339)
	}
	if *statePath == "" {
		*statePath = *csvPath + ".state"
	}
	st, err := openState(*statePath, o.fileKey, mode, len(refs), *dryRun)
	if err != nil {
		return couldNotRun(err)
	}
	if !*dryRun {
		o.state = st
		defer st.Close()
	}
	for _, r := range st.done {
		o.results[r.Row-1] = r
	}
	o.bar = progressbar.NewOptions(len(refs), progressbar.OptionSetWriter(m.Stderr), progressbar.OptionSetDescription("offboarding"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	_ = o.bar.Add(len(st.done))

	switch {
	case *dryRun:
		err = o.preview(ctx)
	case o.at != nil:
		err = o.schedule(ctx)
	default:
		err = o.remove(ctx, st.pending)
	}
	if err != nil {
		_ = o.bar.Exit() // leaves the bar where it stopped, not filled
		fmt.Fprintln(m.Stderr)
	} else {
		_ = o.bar.Finish()
	}
	if werr := o.writeResults(*outPath); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return couldNotRun(fmt.Errorf("%w (progress is kept in %s: run the same command again to resume)", err, *statePath))
	}
	return o.summarize(*dryRun)
}

// remove sends the rows without an outcome in batches: first the batches
// a previous run sent and got no answer to, exactly as they were sent.
func (o *offboarding) remove(ctx context.Context, pending [][]int) error {
	queued := map[int]bool{}
	for _, rows := range pending {
		for _, r := range rows {
			queued[r] = true
		}
	}
	var rest []int
	for i := range o.refs {
		if o.results[i] == nil && !queued[i+1] {
			rest = append(rest, i+1)
		}
	}
	for _, rows := range pending {
		// Whole, whatever --batch is now: the same rows make the same key.
		if err := o.removeRows(ctx, rows, len(rows)); err != nil {
			return err
		}
	}
	return o.removeRows(ctx, rest, o.batch)
}

// removeRows removes rows in batches of size, splitting a batch the
// server refuses as over its limit.
func (o *offboarding) removeRows(ctx context.Context, rows []int, size int) error {
	for len(rows) > 0 {
		n := min(size, len(rows))
		err := o.removeBatch(ctx, rows[:n])
		var e *client.Error
		if errors.As(err, &e) && e.Status == http.StatusBadRequest && e.Limit > 0 && e.Limit < n {
			// The server refused the whole request, so nothing was removed:
			// send the same rows in batches it takes.
			o.batch, size = min(o.batch, e.Limit), min(size, e.Limit)
			fmt.Fprintf(o.m.Stderr, "the server removes at most %d members per request; sending batches of %d\n", e.Limit, size)
			continue
		}
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (o *offboarding) removeBatch(ctx context.Context, rows []int) error {
	items := make([]membership.MemberRef, len(rows))
	for i, r := range rows {
		items[i] = o.refs[r-1]
	}
	if err := o.state.sent(rows); err != nil {
		return err
	}
	res, err := o.c.RemoveBatch(client.WithIdempotencyKey(ctx, o.batchKey(rows)),
		client.BatchRemoval{Scope: membership.ScopeOrganization, Members: items})
	if err != nil {
		return fmt.Errorf("rows %s: %w", describeRows(rows), err)
	}
	if len(res.Items) != len(rows) {
		return fmt.Errorf("rows %s: the server answered %d results for %d members", describeRows(rows), len(res.Items), len(rows))
	}
	for i, it := range res.Items {
		if err := o.record(&rowResult{Row: rows[i], Outcome: it.Outcome, MemberID: it.MemberID, Message: it.Message}); err != nil {
			return err
		}
	}
	return nil
}

// batchKey is the Idempotency-Key of a batch: the file and the rows it
// carries, so the same rows sent again from any run get the first answer.
func (o *offboarding) batchKey(rows []int) string {
	h := sha256.New()
	for _, r := range rows {
		fmt.Fprintf(h, "%d,", r)
	}
	return "offboard-" + o.fileKey + "-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// schedule schedules each row's removal at o.at, one request a row, each
// with the row's own Idempotency-Key.
func (o *offboarding) schedule(ctx context.Context) error {
	for i, ref := range o.refs {
		if o.results[i] != nil {
			continue
		}
		row := i + 1
		key := fmt.Sprintf("offboard-%s-at-%d", o.fileKey, row)
		rm, err := o.c.OffboardMember(client.WithIdempotencyKey(ctx, key), refPath(ref), client.OffboardRequest{EffectiveAt: o.at})
		r := &rowResult{Row: row, Outcome: OutcomeScheduled}
		switch {
		case err == nil && rm.Operation != nil:
			r.Message = "operation " + rm.Operation.UUID
		case err == nil:
			return fmt.Errorf("row %d: the server removed the member now instead of scheduling it", row)
		default:
			if r.Outcome, r.Message, err = refusal(err); err != nil {
				return fmt.Errorf("row %d: %w", row, err)
			}
		}
		if err := o.record(r); err != nil {
			return err
		}
	}
	return nil
}

// preview asks the server for each row's dry run (batch removals take no
// dry_run) and reports the outcome the real run would give, in its words:
// a member an earlier row already takes is "already_removed" there too.
func (o *offboarding) preview(ctx context.Context) error {
	taken := map[int64]bool{}
	for i, ref := range o.refs {
		if o.results[i] != nil {
			continue
		}
		r := &rowResult{Row: i + 1, Outcome: membership.OutcomeRemoved}
		rm, err := o.c.OffboardMember(ctx, refPath(ref), client.OffboardRequest{DryRun: true, ReportLimit: 1})
		switch {
		case err != nil:
			if r.Outcome, r.Message, err = refusal(err); err != nil {
				return fmt.Errorf("row %d: %w", r.Row, err)
			}
		case taken[rm.Report.Member.ID]:
			r.Outcome, r.Message = membership.OutcomeAlreadyRemoved, membership.ErrorMessage(membership.ErrAlreadyRemoved)
			r.MemberID = rm.Report.Member.ID
		default:
			r.MemberID = rm.Report.Member.ID
			taken[r.MemberID] = true
			if o.at != nil {
				r.Outcome = OutcomeScheduled
			}
		}
		if err := o.record(r); err != nil {
			return err
		}
	}
	return nil
}

// refusal reads a single removal's refusal as the outcome a batch removal
// gives the same item (membership's outcomeOf); an error that is no
// refusal of the item stops the run.
func refusal(err error) (outcome, message string, _ error) {
	var e *client.Error
	if !errors.As(err, &e) {
		return "", "", err
	}
	switch e.Status {
	case http.StatusNotFound:
		return membership.OutcomeNotFound, e.Detail, nil
	case http.StatusForbidden:
		return membership.OutcomeForbidden, e.Detail, nil
	case http.StatusBadRequest:
		return membership.OutcomeInvalid, e.Detail, nil
	case http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		if e.Detail == membership.ErrorMessage(membership.ErrAlreadyRemoved) {
			return membership.OutcomeAlreadyRemoved, e.Detail, nil
		}
		return membership.OutcomeConflict, e.Detail, nil
	}
	return "", "", err
}

func (o *offboarding) record(r *rowResult) error {
	o.results[r.Row-1] = r
	_ = o.bar.Add(1)
	return o.state.record(r)
}

// writeResults writes every row with an outcome, in file order, to path
// or standard output.
func (o *offboarding) writeResults(path string) error {
	w := o.m.Stdout
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	out := csv.NewWriter(w)
	_ = out.Write([]string{"row", "member", "outcome", "message"})
	for i, r := range o.results {
		if r != nil {
			_ = out.Write([]string{strconv.Itoa(r.Row), describeRef(o.refs[i]), r.Outcome, r.Message})
		}
	}
	out.Flush()
	return out.Error()
}

// summarize prints the counts and fails with exitRowsFailed when a row failed.
func (o *offboarding) summarize(dryRun bool) error {
	counts := map[string]int{}
	failed := 0
	for _, r := range o.results {
		counts[r.Outcome]++
		if r.failed() {
			failed++
		}
	}
	prefix := ""
	if dryRun {
		prefix = "dry run, nothing changed: "
	}
	fmt.Fprintf(o.m.Stderr, "%s%d members: %s\n", prefix, len(o.results), formatCounts(counts))
	if failed > 0 {
		return &exitError{code: exitRowsFailed, err: fmt.Errorf("%d of %d rows failed", failed, len(o.results))}
	}
	return nil
}

// readMemberCSV reads the member column of a CSV with a header row.
func readMemberCSV(data []byte) ([]membership.MemberRef, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col, kind := -1, ""
	for i, h := range header {
		switch k := strings.ToLower(strings.TrimSpace(h)); k {
		case "email", "e-mail", "id", "uuid":
			if col == -1 {
				col, kind = i, k
			}
		}
	}
	if col == -1 {
		return nil, errors.New("the header names no email, id or uuid column")
	}
	var refs []membership.MemberRef
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(refs) == maxCSVRows {
			return nil, fmt.Errorf("more than %d rows", maxCSVRows)
		}
		if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
			return nil, fmt.Errorf("line %d has no %s", line, kind)
		}
		v := strings.TrimSpace(rec[col])
		switch kind {
		case "id":
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				refs = append(refs, membership.MemberRef{Raw: v})
				continue
			}
			refs = append(refs, membership.MemberRef{ID: id})
		case "uuid":
			refs = append(refs, membership.MemberRef{UUID: v})
		default:
			refs = append(refs, membership.MemberRef{Email: v})
		}
	}
	if len(refs) == 0 {
		return nil, errors.New("no members listed")
	}
	return refs, nil
}

// describeRef is the member as the CSV named it.
func describeRef(r membership.MemberRef) string {
	switch {
	case r.Raw != "":
		return r.Raw
	case r.Email != "":
		return r.Email
	case r.UUID != "":
		return r.UUID
	}
	return strconv.FormatInt(r.ID, 10)
}

// refPath names the member in a path the way the server reads one.
func refPath(r membership.MemberRef) string { return describeRef(r) }

func describeRows(rows []int) string {
	if len(rows) == 1 {
		return strconv.Itoa(rows[0])
	}
	return fmt.Sprintf("%d-%d", rows[0], rows[len(rows)-1])
}

func formatCounts(counts map[string]int) string {
	var parts []string
	for _, o := range []string{membership.OutcomeRemoved, membership.OutcomeAlreadyRemoved, OutcomeScheduled, membership.OutcomeNotFound,
		membership.OutcomeForbidden, membership.OutcomeInvalid, membership.OutcomeConflict} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], strings.ReplaceAll(o, "_", " ")))
		}
	}
	return strings.Join(parts, ", ")
}
