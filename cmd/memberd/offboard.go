package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/memberd/memberd/membership"
)

// maxCSVRows bounds one offboarding file so a mistaken file cannot run away.
const maxCSVRows = 1_000_000

// offboard removes the members listed in a CSV file through a running
// server's native batch endpoint, batch by batch, with a progress bar.
// Every batch carries an Idempotency-Key derived from the file and the
// batch's position, so running the same file again after an interruption
// repeats no effect and gets the same answers.
func (m *Main) offboard(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("offboard", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	csvPath := fs.String("csv", "", "CSV file with a header row naming an email, id or uuid column (required)")
	server := fs.String("server", "http://127.0.0.1:8080", "memberd base URL")
	token := fs.String("token", m.Getenv("MEMBERD_TOKEN"), "credential secret (env MEMBERD_TOKEN)")
	batch := fs.Int("batch", membership.DefaultBatchLimit, "members per request (at most the server's batch limit)")
	dryRun := fs.Bool("dry-run", false, "report what each removal would take away, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *csvPath == "" || *token == "" {
		return errors.New("offboard needs --csv FILE and a token (--token or MEMBERD_TOKEN)")
	}
	if *batch < 1 {
		return errors.New("--batch must be at least 1")
	}
	data, err := os.ReadFile(*csvPath)
	if err != nil {
		return err
	}
	refs, err := readMemberCSV(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *csvPath, err)
	}
	c := &apiClient{base: strings.TrimRight(*server, "/"), token: *token, http: &http.Client{Timeout: 2 * time.Minute}}
	bar := progressbar.NewOptions(len(refs), progressbar.OptionSetWriter(m.Stderr), progressbar.OptionSetDescription("offboarding"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	sum := sha256.Sum256(data)
	fileKey := hex.EncodeToString(sum[:8])
	counts := map[string]int{}
	out := csv.NewWriter(m.Stdout)
	_ = out.Write([]string{"row", "member", "outcome", "message"})
	for start := 0; start < len(refs); start += *batch {
		items := refs[start:min(start+*batch, len(refs))]
		var results []*membership.ItemResult
		if *dryRun {
			results, err = c.previewEach(ctx, items)
		} else {
			results, err = c.removeBatch(ctx, items, fmt.Sprintf("offboard-%s-%d", fileKey, start))
		}
		if err != nil {
			out.Flush()
			return fmt.Errorf("rows %d-%d: %w", start+1, start+len(items), err)
		}
		for i, r := range results {
			counts[r.Outcome]++
			_ = out.Write([]string{strconv.Itoa(start + i + 1), describeRef(items[i]), r.Outcome, r.Message})
		}
		_ = bar.Add(len(items))
	}
	_ = bar.Finish()
	out.Flush()
	fmt.Fprintf(m.Stderr, "%d members: %s\n", len(refs), formatCounts(counts))
	return out.Error()
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

func formatCounts(counts map[string]int) string {
	var parts []string
	for _, o := range []string{membership.OutcomeRemoved, membership.OutcomeAlreadyRemoved, membership.OutcomeNotFound,
		membership.OutcomeForbidden, membership.OutcomeInvalid, membership.OutcomeConflict, "would_remove", "refused"} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], strings.ReplaceAll(o, "_", " ")))
		}
	}
	return strings.Join(parts, ", ")
}

// apiClient speaks the native API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

type problem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (c *apiClient) do(ctx context.Context, method, path, idemKey string, body, into any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var p problem
		if json.Unmarshal(data, &p) == nil && p.Detail != "" {
			return fmt.Errorf("server answered %d: %s", resp.StatusCode, p.Detail)
		}
		return fmt.Errorf("server answered %d", resp.StatusCode)
	}
	return json.Unmarshal(data, into)
}

func (c *apiClient) removeBatch(ctx context.Context, refs []membership.MemberRef, key string) ([]*membership.ItemResult, error) {
	var res membership.BatchResult
	body := map[string]any{"scope": "organization", "members": refs}
	if err := c.do(ctx, http.MethodPost, "/api/v1/removals", key, body, &res); err != nil {
		return nil, err
	}
	if len(res.Items) != len(refs) {
		return nil, fmt.Errorf("server answered %d results for %d members", len(res.Items), len(refs))
	}
	return res.Items, nil
}

// previewEach asks for each member's offboarding dry run: the server
// changes nothing and says what would go.
func (c *apiClient) previewEach(ctx context.Context, refs []membership.MemberRef) ([]*membership.ItemResult, error) {
	results := make([]*membership.ItemResult, len(refs))
	for i, ref := range refs {
		item := &membership.ItemResult{Index: i, Ref: ref, Outcome: "would_remove"}
		var rep membership.Report
		path := "/api/v1/members/" + describeRefPath(ref) + "/offboard"
		if err := c.do(ctx, http.MethodPost, path, "", map[string]bool{"dry_run": true}, &rep); err != nil {
			item.Outcome, item.Message = "refused", err.Error()
		} else {
			item.MemberID = rep.Member.ID
			item.Message = fmt.Sprintf("%d spaces, %d groups, %d grants, %d future bookings", len(rep.Spaces), len(rep.Groups), len(rep.Grants), len(rep.Bookings))
		}
		results[i] = item
	}
	return results, nil
}

func describeRefPath(r membership.MemberRef) string {
	if r.UUID != "" {
		return r.UUID
	}
	if r.ID != 0 {
		return strconv.FormatInt(r.ID, 10)
	}
	return url.PathEscape(describeRef(r))
}
