package scim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/memberd/memberd/internal/demo"
)

// TestReadme replays the README's SCIM walkthrough: each curl line as
// written (variables, quoting and all) against a demo server, each
// answer's status checked against the comment under it, and what the
// comments promise about access checked natively.
func TestReadme(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "<!-- scim-walkthrough -->\n```sh\n")
	if !ok {
		t.Fatal("README has no SCIM walkthrough")
	}
	block, _, _ = strings.Cut(block, "```")
	block = strings.ReplaceAll(block, "\\\n", " ")
	vars := map[string]string{"MEMBERD_TOKEN": e.token}
	assign := regexp.MustCompile(`^([A-Z0-9_]+)=(.*)$`)
	capture := regexp.MustCompile(`^\$\((curl .*) \| jq -r ('[^']*'|\S+)\)$`)
	lines := strings.Split(block, "\n")
	calls := 0
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		target, cmd := "", line
		if m := assign.FindStringSubmatch(line); m != nil {
			if c := capture.FindStringSubmatch(m[2]); c != nil {
				target, cmd = m[1]+"|"+strings.Trim(c[2], "'"), c[1]
			} else {
				vars[m[1]] = strings.Join(shellWords(t, m[2], vars), " ")
				continue
			}
		}
		status, body := e.curl(t, shellWords(t, cmd, vars))
		calls++
		want := 0
		if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "# ") {
			want, _ = strconv.Atoi(strings.Fields(strings.TrimSpace(lines[i+1]))[1][:3])
		}
		if status != want {
			t.Fatalf("%s\nanswered %d, README says %d: %s", line, status, want, body)
		}
		if target != "" {
			name, expr, _ := strings.Cut(target, "|")
			var doc map[string]any
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			switch expr {
			case ".id":
				vars[name], _ = doc["id"].(string)
			case ".Resources[0].id":
				vars[name], _ = doc["Resources"].([]any)[0].(map[string]any)["id"].(string)
			default:
				t.Fatalf("jq expression %s not understood", expr)
			}
		}
	}
	if calls != 9 {
		t.Errorf("replayed %d calls, want 9", calls)
	}
	if e.access(t, 13, "Front door lock") {
		t.Error("member 13 keeps the front door")
	}
	if got := e.groupMembers(t, demo.GroupDoors); len(got) != 5 { // 10, 11, 12, 14, 15 (Dana was removed)
		t.Errorf("door group %v", got)
	}
}

// curl runs the arguments of a README curl line against the test server.
func (e *env) curl(tb testing.TB, args []string) (int, string) {
	tb.Helper()
	method, target := "", ""
	get := false
	var headers []string
	var data []string
	var rawBody string
	for i := 1; i < len(args); i++ {
		next := func() string {
			i++
			if i >= len(args) {
				tb.Fatalf("%s needs a value", args[i-1])
			}
			return args[i]
		}
		switch a := args[i]; a {
		case "-s":
		case "-G":
			get = true
		case "-X":
			method = next()
		case "-H":
			headers = append(headers, next())
		case "--data-urlencode":
			data = append(data, next())
		case "--data-raw":
			rawBody = next()
		default:
			if strings.HasPrefix(a, "-") {
				tb.Fatalf("curl flag %s not understood", a)
			}
			target = a
		}
	}
	target = strings.Replace(target, "http://127.0.0.1:8080", e.Srv.URL, 1)
	if get && len(data) > 0 {
		vals := url.Values{}
		for _, d := range data {
			k, v, _ := strings.Cut(d, "=")
			vals.Add(k, v)
		}
		target += "?" + vals.Encode()
	}
	if method == "" {
		method = http.MethodGet
		if rawBody != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, target, strings.NewReader(rawBody))
	if err != nil {
		tb.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := e.Srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// shellWords splits a command line the way sh does for the forms the
// README uses: 'single quotes', "double quotes" and bare words, with $VAR
// expanded outside single quotes, adjacent parts joined.
func shellWords(tb testing.TB, line string, vars map[string]string) []string {
	tb.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) string {
		return regexp.MustCompile(`\$([A-Z0-9_]+)`).ReplaceAllStringFunc(s, func(v string) string {
			val, ok := vars[v[1:]]
			if !ok {
				tb.Fatalf("variable %s is not set", v)
			}
			return val
		})
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				tb.Fatalf("unbalanced quote: %s", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i, inWord = i+j+2, true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				tb.Fatalf("unbalanced quote: %s", line)
			}
			cur.WriteString(expand(line[i+1 : i+1+j]))
			i, inWord = i+j+2, true
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t'\"", rune(line[j])) {
				j++
			}
			cur.WriteString(expand(line[i:j]))
			i, inWord = j, true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDocumentationURI checks that ServiceProviderConfig's
// documentationUri names a README heading, by the anchor GitHub gives it
// (lower case, punctuation dropped, spaces as hyphens).
func TestDocumentationURI(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	uri := serviceProviderConfig("")["documentationUri"].(string)
	_, fragment, _ := strings.Cut(uri, "#")
	var anchors []string
	for _, line := range strings.Split(string(data), "\n") {
		heading, ok := strings.CutPrefix(line, "## ")
		if !ok {
			continue
		}
		anchor := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				return unicode.ToLower(r)
			}
			return -1
		}, heading)
		if anchor == fragment {
			return
		}
		anchors = append(anchors, anchor)
	}
	t.Errorf("documentationUri %s names no README heading; the SCIM ones are %q", uri, slices.DeleteFunc(anchors, func(a string) bool { return !strings.Contains(a, "scim") }))
}
