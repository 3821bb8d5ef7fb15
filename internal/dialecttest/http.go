package dialecttest

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/membership"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Result is a response read in full, with the request id it was sent
// under.
type Result struct {
	Status    int
	Header    http.Header
	Body      string
	RequestID string
}

// Requester sends requests to one server, each with a fresh X-Request-Id
// so that its audit events can be found.
type Requester struct {
	Srv *httptest.Server
	// Authorize puts a token on a request the way the dialect's clients do.
	Authorize func(req *http.Request, token string)
	seq       atomic.Int64
}

// Do sends a request for path with token (none if empty) and a
// Content-Type (none if empty).
func (r *Requester) Do(tb testing.TB, method, path, token, contentType, body string) *Result {
	tb.Helper()
	req, err := http.NewRequest(method, r.Srv.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		r.Authorize(req, token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return r.Send(tb, req)
}

// Send sends req and reads the answer in full.
func (r *Requester) Send(tb testing.TB, req *http.Request) *Result {
	tb.Helper()
	id := fmt.Sprintf("test-%d", r.seq.Add(1))
	req.Header.Set("X-Request-Id", id)
	resp, err := r.Srv.Client().Do(req)
	resp, data := readAnswer(tb, resp, err)
	return &Result{Status: resp.StatusCode, Header: resp.Header, Body: string(data), RequestID: id}
}

// Raw writes request bytes to srv exactly as a client would put them on
// the wire.
func Raw(tb testing.TB, srv *httptest.Server, request string) (*http.Response, string) {
	tb.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	resp, data := readAnswer(tb, resp, err)
	return resp, string(data)
}

// Dump is a response as the golden files hold it: status line, headers
// sorted (Date and X-Request-Id vary per run and are left out), body.
func Dump(resp *http.Response, body string) string {
	var keys []string
	for k := range resp.Header {
		if k != "Date" && k != "X-Request-Id" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.WriteString(body)
	return b.String()
}

// Call makes one request with token as a Bearer credential (none if
// empty); headers alternate name, value.
func Call(tb testing.TB, method, url, token, body string, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return Do(tb, req)
}

// Do sends req and reads the answer in full.
func Do(tb testing.TB, req *http.Request) (*http.Response, []byte) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	return readAnswer(tb, resp, err)
}

// readAnswer reads an answer in full; err is the sending's.
func readAnswer(tb testing.TB, resp *http.Response, err error) (*http.Response, []byte) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, data
}

// WantStatus stops the test unless resp has status want.
func WantStatus(tb testing.TB, resp *http.Response, body []byte, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("status %d, want %d; body %s", resp.StatusCode, want, body)
	}
}

// WantHeader checks resp's header name.
func WantHeader(tb testing.TB, resp *http.Response, name, want string) {
	tb.Helper()
	if got := resp.Header.Get(name); got != want {
		tb.Errorf("%s: %q, want %q", name, got, want)
	}
}

// goldenMu keeps parallel tests from reading a golden file while another
// rewrites it under -update.
var goldenMu sync.Mutex

// Golden compares got with the file at path byte for byte; under -update
// it rewrites the file first.
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	goldenMu.Lock()
	defer goldenMu.Unlock()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("response differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// Seed reads testdata/seed/name, the seed document's sample, without its
// final newline.
func Seed(tb testing.TB, name string) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

// ActiveSpaceMembers lists the active member ids of a space, sorted.
func (e *Env) ActiveSpaceMembers(tb testing.TB, spaceID int64) []int64 {
	tb.Helper()
	sms, err := e.Svc.SpaceMembers(context.Background(), e.Owner, membership.Ref{ID: spaceID}, membership.StatusActive)
	return memberIDs(tb, sms, err, func(sm *membership.SpaceMember) int64 { return sm.MemberID })
}

// ActiveGroupMembers lists the active member ids of a group, sorted.
func (e *Env) ActiveGroupMembers(tb testing.TB, groupID int64) []int64 {
	tb.Helper()
	gms, err := e.Svc.GroupMembers(context.Background(), e.Owner, membership.Ref{ID: groupID}, membership.StatusActive)
	return memberIDs(tb, gms, err, func(gm *membership.GroupMember) int64 { return gm.MemberID })
}

// memberIDs is the sorted member ids of a list the core answered.
func memberIDs[T any](tb testing.TB, list []T, err error, id func(T) int64) []int64 {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]int64, len(list))
	for i, x := range list {
		ids[i] = id(x)
	}
	slices.Sort(ids)
	return ids
}

// Snapshot renders what a removal could change in the demo: every active
// space and group membership and the count of active members.
func (e *Env) Snapshot(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	for _, name := range []string{demo.SpaceLondon, demo.SpaceDeal, demo.SpaceFinance} {
		fmt.Fprintf(&b, "space %s: %v\n", name, e.ActiveSpaceMembers(tb, e.Demo.Spaces[name]))
	}
	for _, name := range []string{demo.GroupDoors, demo.GroupEng} {
		fmt.Fprintf(&b, "group %s: %v\n", name, e.ActiveGroupMembers(tb, e.Demo.Groups[name]))
	}
	ms, err := e.Svc.Members(context.Background(), e.Owner, membership.MemberListParams{Status: membership.StatusActive, Limit: membership.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&b, "active members: %d\n", len(ms))
	return b.String()
}

// AssertSnapshot checks that the demo's Snapshot is still before.
func (e *Env) AssertSnapshot(tb testing.TB, before string) {
	tb.Helper()
	if after := e.Snapshot(tb); after != before {
		tb.Errorf("state changed:\n%s\nwas\n%s", after, before)
	}
}

// FuzzInput is one input of a (Content-Type, body) fuzz target.
type FuzzInput struct {
	ContentType string
	Body        []byte
}

// ReadCorpus reads the fuzz target's corpus under testdata/fuzz, which go
// test writes as "go test fuzz v1" then one Go literal per argument.
func ReadCorpus(tb testing.TB, target string) []FuzzInput {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no corpus under testdata/fuzz/%s", target)
	}
	var inputs []FuzzInput
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			tb.Fatalf("%s: not a corpus file of a (string, []byte) target", path)
		}
		var args [2]string
		for i, prefix := range []string{"string(", "[]byte("} {
			lit, ok := strings.CutPrefix(lines[i+1], prefix)
			lit, ok2 := strings.CutSuffix(lit, ")")
			if args[i], err = strconv.Unquote(lit); !ok || !ok2 || err != nil {
				tb.Fatalf("%s: line %d is not a %s...) literal", path, i+2, prefix)
			}
		}
		inputs = append(inputs, FuzzInput{args[0], []byte(args[1])})
	}
	return inputs
}

// Check is a (Content-Type, body) fuzz target's check of one input;
// withEndpoint also sends the input through the handler, whatever the
// decoder made of it.
type Check func(t *testing.T, contentType string, body []byte, withEndpoint bool)

// Fuzz runs a (Content-Type, body) target on SQLite only, for speed, with
// the check setup makes. Under -fuzz every package is instrumented, SQLite
// included, and one trip through the store takes about half a second: the
// endpoint is then driven only with inputs that decode (the only ones that
// reach the core), so the decoder itself is fuzzed at full speed. Without
// -fuzz (go test, the seeds and testdata/fuzz) every input takes both
// paths.
func Fuzz(f *testing.F, seeds []FuzzInput, setup func(tb testing.TB, engine string) Check) {
	f.Helper()
	for _, in := range seeds {
		f.Add(in.ContentType, in.Body)
	}
	check := setup(f, "sqlite")
	withEndpoint := flag.Lookup("test.fuzz").Value.String() == ""
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		check(t, contentType, body, withEndpoint)
	})
}

// RunCorpus runs seeds and target's corpus under testdata/fuzz through the
// check setup makes, with the endpoint, on each engine, one subtest per
// input.
func RunCorpus(t *testing.T, target string, seeds []FuzzInput, setup func(tb testing.TB, engine string) Check) {
	t.Helper()
	inputs := append(slices.Clone(seeds), ReadCorpus(t, target)...)
	EachEngine(t, func(t *testing.T, engine string) {
		check := setup(t, engine)
		for i, in := range inputs {
			t.Run(strconv.Itoa(i), func(t *testing.T) { check(t, in.ContentType, in.Body, true) })
		}
	})
}
