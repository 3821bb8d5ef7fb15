package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/membership"
)

// Loop runs operations 0..n-1 on concurrency workers, each operation
// once, and stops early when maxDur has passed or ctx is done: the loop is
// bounded by count and by time. op returns how many units of work it did
// (removals in a batch) or an error. Only successful operations' latencies
// enter the percentiles; failures are counted.
func Loop(ctx context.Context, concurrency, n int, maxDur time.Duration, op func(ctx context.Context, i int) (int, error)) (Summary, error) {
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	items := make([]int, n)
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr error
	var errOnce sync.Once
	deadline := time.Now().Add(maxDur)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				k, err := op(ctx, i)
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				lat[i], ok[i], items[i] = time.Since(t), true, k
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var done []time.Duration
	total := 0
	for i := range n {
		if ok[i] {
			done = append(done, lat[i])
			total += items[i]
		}
	}
	s := Summarize(done, int(errs.Load()), elapsed)
	s.Items = total
	s.latencies = done
	return s, firstErr
}

// Client speaks to a memberd server the way the dialects' clients do.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for base with keep-alive connections for up
// to conns concurrent requests.
func NewClient(base, token string, conns int) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 120 * time.Second}}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, header http.Header, body []byte, want int, out any) error {
	_, err := c.doSized(ctx, method, path, header, body, want, out)
	return err
}

// doSized makes one request, checks its status, decodes its JSON body
// into out and returns the body's size.
func (c *Client) doSized(ctx context.Context, method, path string, header http.Header, body []byte, want int, out any) (int64, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return 0, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return int64(len(data)), nil
}

func (c *Client) bearer() http.Header { return http.Header{"Authorization": {"Bearer " + c.token}} }

// HighQRemove removes members from a HighQ site in one request and checks
// that every one of them was removed.
func (c *Client) HighQRemove(ctx context.Context, site int64, ids []int64) (int, error) {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	body, _ := json.Marshal(map[string][]string{"transactionid": list})
	var out struct {
		Transaction []struct {
			StatusCode string `json:"statuscode"`
			Reason     string `json:"reason"`
		} `json:"transaction"`
	}
	if err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/3/sites/%d/users", site), c.bearer(), body, http.StatusOK, &out); err != nil {
		return 0, err
	}
	removed := 0
	for _, t := range out.Transaction {
		if t.StatusCode == "200" {
			removed++
		}
	}
	if removed != len(ids) {
		return removed, fmt.Errorf("highq: %d of %d removed", removed, len(ids))
	}
	return removed, nil
}

// JicooDelete removes a member from the organization through Jicoo's
// DELETE /v1/organization_users/{userId}.
func (c *Client) JicooDelete(ctx context.Context, memberID int64) error {
	return c.do(ctx, http.MethodDelete, "/v1/organization_users/"+strconv.FormatInt(memberID, 10),
		http.Header{"X-Jicoo-Api-Key": {c.token}}, nil, http.StatusNoContent, nil)
}

// scimDeactivate is Okta's deprovisioning PATCH: replace with no path
// and the attributes as the value.
var scimDeactivate = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)

// SCIMDeactivate deprovisions the user with the member UUID id as Okta
// does, through PATCH /scim/v2/Users/{id}, and checks that the user it
// answers is inactive.
func (c *Client) SCIMDeactivate(ctx context.Context, id string) error {
	h := c.bearer()
	h.Set("Content-Type", "application/scim+json")
	var out struct {
		Active *bool `json:"active"`
	}
	if err := c.do(ctx, http.MethodPatch, "/scim/v2/Users/"+id, h, scimDeactivate, http.StatusOK, &out); err != nil {
		return err
	}
	if out.Active == nil || *out.Active {
		return fmt.Errorf("scim: user %s still active after the PATCH", id)
	}
	return nil
}

// NativeRemove removes a member from the organization through the native
// API's single removal, DELETE /api/v1/members/{id}.
func (c *Client) NativeRemove(ctx context.Context, memberID int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/members/"+strconv.FormatInt(memberID, 10), c.bearer(), nil, http.StatusOK, nil)
}

// Access asks the native API whether member may use resource now.
func (c *Client) Access(ctx context.Context, member, resource int64) (bool, error) {
	var out struct {
		Allowed bool `json:"allowed"`
	}
	path := fmt.Sprintf("/api/v1/access?member=%d&resource=%d", member, resource)
	err := c.do(ctx, http.MethodGet, path, c.bearer(), nil, http.StatusOK, &out)
	return out.Allowed, err
}

// MemoryChecks reads the server's count of access checks answered from
// its copy in memory and of those it left to the database
// (memberd_access_memory_checks_total); ok is false when the server keeps
// no copy (PostgreSQL) or has no such metric.
func (c *Client) MemoryChecks(ctx context.Context) (memory, database float64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, 0, false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, false
	}
	var seen int
	for line := range strings.SplitSeq(string(data), "\n") {
		for label, v := range map[string]*float64{"memory": &memory, "database": &database} {
			prefix := `memberd_access_memory_checks_total{answered_by="` + label + `"} `
			if rest, found := strings.CutPrefix(line, prefix); found {
				if f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
					*v = f
					seen++
				}
			}
		}
	}
	return memory, database, seen == 2
}

// Healthz asks for /healthz: no credential, no database, a few bytes of
// JSON, which makes it the floor of any request over loopback HTTP.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, http.StatusOK, nil)
}

// reportLimit is how many items of each kind an Offboard report lists.
const reportLimit = membership.DefaultReportLimit

// Offboard removes a member everywhere through the native API, or
// previews it; it returns how many grants the report counts (direct and
// through groups: exact, whatever the lists hold) and the response's size.
func (c *Client) Offboard(ctx context.Context, member int64, dryRun bool) (int, int64, error) {
	body := []byte(`{"dry_run":` + strconv.FormatBool(dryRun) + `}`)
	var out struct {
		DryRun bool `json:"dry_run"`
		Counts struct {
			DirectGrants int `json:"direct_grants"`
			GroupGrants  int `json:"group_grants"`
		} `json:"counts"`
		Grants []json.RawMessage `json:"grants"`
	}
	n, err := c.doSized(ctx, http.MethodPost, fmt.Sprintf("/api/v1/members/%d/offboard", member), c.bearer(), body, http.StatusOK, &out)
	if err != nil {
		return 0, 0, err
	}
	if out.DryRun != dryRun {
		return 0, 0, fmt.Errorf("offboard: dry_run = %v, want %v", out.DryRun, dryRun)
	}
	total := out.Counts.DirectGrants + out.Counts.GroupGrants
	if len(out.Grants) > total {
		return 0, 0, fmt.Errorf("offboard: %d grants listed, %d counted", len(out.Grants), total)
	}
	return total, n, nil
}

// Routes reports which of the routes the scenarios need the server
// mounts: an unmounted path answers 404 with Go's plain-text body.
func (c *Client) Routes(ctx context.Context) map[string]bool {
	probe := map[string]struct{ method, path string }{
		"highq":    {http.MethodDelete, "/api/3/sites/1/users"},
		"jicoo":    {http.MethodDelete, "/v1/organization_users/0"},
		"access":   {http.MethodGet, "/api/v1/access"},
		"offboard": {http.MethodPost, "/api/v1/members/0/offboard"},
		"remove":   {http.MethodDelete, "/api/v1/members/0"},
		"scim":     {http.MethodPatch, "/scim/v2/Users/0"},
	}
	out := map[string]bool{}
	for name, p := range probe {
		req, err := http.NewRequestWithContext(ctx, p.method, c.base+p.path, nil)
		if err != nil {
			continue
		}
		// No credential: a mounted route answers 401 in its own format.
		resp, err := c.http.Do(req)
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		out[name] = !(resp.StatusCode == http.StatusNotFound && strings.HasPrefix(string(data), "404 page not found"))
	}
	return out
}
