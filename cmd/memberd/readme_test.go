package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/compat/workiva"
)

// readmeBlock is one ```sh block of the README: its text, the calls it
// makes in order with what the comments under each say, and whether a
// "<!-- replay: skip (reason) -->" line marks it as not to be run.
type readmeBlock struct {
	line   int
	text   string
	skip   string
	expect []readmeExpect
}

// readmeExpect is what the README shows for one call: a status (0 when
// it shows none: then any status below 400 will do) and, when it shows
// the whole body as JSON, that body.
type readmeExpect struct {
	line   int
	status int
	body   string
}

var (
	statusComment = regexp.MustCompile(`^#+ (?:HTTP/1\.1 )?([1-5]\d\d)\b ?(.*)$`)
	skipMarker    = regexp.MustCompile(`^<!-- replay: skip \((.+)\) -->$`)
)

// readmeBlocks parses the README's shell blocks. A logical line (joined
// over trailing backslashes) that runs curl or http is one call; the
// comment lines right after it are what it answers. A non-shell block
// right after a call that showed nothing, starting "HTTP/1.1 NNN", is its
// answer too, as the WiggleDesk section prints one.
func readmeBlocks(readme string) []readmeBlock {
	lines := strings.Split(readme, "\n")
	var blocks []readmeBlock
	skip := ""
	for i := 0; i < len(lines); i++ {
		if m := skipMarker.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil {
			skip = m[1]
			continue
		}
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		lang := strings.TrimPrefix(lines[i], "```")
		start := i + 1
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
		}
		body := lines[start:i]
		if lang != "sh" {
			if n := len(blocks); n > 0 && len(body) > 0 && blocks[n-1].skip == "" {
				if exp := blocks[n-1].expect; len(exp) > 0 && exp[len(exp)-1].status == 0 {
					if m := statusComment.FindStringSubmatch("# " + body[0]); m != nil {
						exp[len(exp)-1].status, _ = strconv.Atoi(m[1])
					}
				}
			}
			continue
		}
		b := readmeBlock{line: start + 1, text: strings.Join(body, "\n"), skip: skip}
		skip = ""
		var cur *readmeExpect
		for j := 0; j < len(body); j++ {
			l := strings.TrimSpace(body[j])
			if strings.HasPrefix(l, "#") {
				if cur == nil {
					continue
				}
				if m := statusComment.FindStringSubmatch(l); m != nil && cur.status == 0 {
					cur.status, _ = strconv.Atoi(m[1])
					cur.body = m[2]
				} else if cur.status != 0 && cur.body != "" {
					cur.body += strings.TrimSpace(strings.TrimLeft(l, "#"))
				}
				continue
			}
			if l == "" {
				continue
			}
			logical := l
			first := j
			for strings.HasSuffix(body[j], "\\") && j+1 < len(body) {
				j++
				logical += " " + strings.TrimSpace(body[j])
			}
			if strings.Contains(logical, "curl ") || strings.HasPrefix(logical, "http ") {
				b.expect = append(b.expect, readmeExpect{line: start + first + 1})
				cur = &b.expect[len(b.expect)-1]
			} else {
				cur = nil
			}
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README replay needs %s: %v", tool, err)
			}
			t.Skipf("the README replay needs %s", tool)
		}
	}
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(string(data))
	// The server runs with the flags the README starts it with.
	args := []string{"--db", "sqlite:" + filepath.Join(t.TempDir(), "demo.db")}
	for _, b := range blocks {
		if rest, ok := strings.CutPrefix(b.text, "go run ./cmd/memberd serve --demo"); ok {
			line, _, _ := strings.Cut(rest, "\n")
			args = append(append(args, "--demo"), strings.Fields(line)...)
			break
		}
	}
	if !time.Now().Before(workiva.Sunset) {
		// As the README's Workiva section says, from then on.
		args = append(args, "--workiva-after-sunset")
	}
	base, stdout, stderr := startServe(t, nil, args...)
	addr := strings.TrimPrefix(base, "http://")
	// The ids the README's prose names are the ones the demo prints.
	if want := "HighQ site 2; Tedee user group a4d5e6f7-8b9c-4d2e-9f1a-3b4c5d6e7f8a; Workiva workspace 3, memberships 111 (member 20) and 112 (member 21)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("serve --demo printed\n%s\nwant the ids %q", stderr.String(), want)
	}
	dir, work := t.TempDir(), t.TempDir()
	// Blocks run in a copy of the files they name, so that what they
	// write (offboard's state and results) stays out of the repository,
	// and "go run ./cmd/memberd" is this package built once.
	if err := os.MkdirAll(filepath.Join(work, "examples"), 0o750); err != nil {
		t.Fatal(err)
	}
	leavers, err := os.ReadFile("../../examples/leavers.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "examples", "leavers.csv"), leavers, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "memberd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "REPLAY_DIR="+dir)
	for _, name := range []string{"MEMBERD_TOKEN", "MEMBERD_ADMIN_TOKEN", "MEMBERD_MEMBER_TOKEN", "MEMBERD_ORG_UUID"} {
		env = append(env, name+"="+printed(t, stdout, name))
	}
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README line %d: skipped: %s", b.line, b.skip)
			continue
		}
		ran++
		if err := os.WriteFile(filepath.Join(dir, "n"), []byte("0"), 0o600); err != nil { // call numbers restart per block
			t.Fatal(err)
		}
		script := replayShims + strings.NewReplacer("127.0.0.1:8080", addr, "go run ./cmd/memberd", bin).Replace(b.text)
		cmd := exec.Command("bash", "-c", script)
		cmd.Env, cmd.Dir = env, work
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("README line %d: %v\n%s", b.line, err, out)
			continue
		}
		statuses, _ := os.ReadFile(filepath.Join(dir, "status"))
		_ = os.Remove(filepath.Join(dir, "status"))
		got := regexp.MustCompile(`(?m)^status=(\d+)$`).FindAllStringSubmatch(string(statuses), -1)
		if len(got) != len(b.expect) {
			t.Errorf("README line %d: %d calls answered, the README shows %d\n%s", b.line, len(got), len(b.expect), out)
			continue
		}
		for i, want := range b.expect {
			status, _ := strconv.Atoi(got[i][1])
			body, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("body.%d", i+1)))
			switch {
			case want.status == 0 && status >= 400:
				t.Errorf("README line %d: status %d, want success\n%s", want.line, status, body)
			case want.status != 0 && status != want.status:
				t.Errorf("README line %d: status %d, want %d\n%s", want.line, status, want.status, body)
			case want.status != 0:
				wantBody := strings.ReplaceAll(want.body, "127.0.0.1:8080", addr)
				if !sameJSON(t, wantBody, string(body)) {
					t.Errorf("README line %d: body\n%s\nwant %s", want.line, body, wantBody)
				}
			}
		}
	}
	if ran < 15 {
		t.Errorf("replayed %d blocks; the README has more", ran)
	}
}

// replayShims records each call's status and body, in call order, in
// REPLAY_DIR, and stands in for HTTPie's http with the forms the README
// uses (METHOD URL, "Header: value" items, key=value fields sent as JSON,
// or as a form with --form).
const replayShims = `
set -e
curl() {
	local n=$(( $(cat "$REPLAY_DIR/n") + 1 ))
	echo "$n" > "$REPLAY_DIR/n"
	command curl -s "$@" -w '%{stderr}status=%{http_code}\n' 2>>"$REPLAY_DIR/status" | tee "$REPLAY_DIR/body.$n"
}
http() {
	local form= method= url= args=() fields=() a
	if [ "$1" = --form ]; then form=1; shift; fi
	case "$1" in GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) method=$1; shift;; esac
	url=$1; shift
	for a in "$@"; do
		case "$a" in
		[A-Za-z-]*:*) args+=(-H "$a") ;;
		*=*) fields+=("$a") ;;
		esac
	done
	if [ ${#fields[@]} -gt 0 ]; then
		: "${method:=POST}"
		if [ -n "$form" ]; then
			for a in "${fields[@]}"; do args+=(--data-urlencode "$a"); done
		else
			local json= sep=
			for a in "${fields[@]}"; do json+="$sep\"${a%%=*}\":\"${a#*=}\""; sep=,; done
			args+=(-H 'Content-Type: application/json' -d "{$json}")
		fi
	fi
	curl -s -X "${method:-GET}" "${args[@]}" "$url"
}
`

// sameJSON reports whether got is the body the README shows. A shown
// body that is not whole JSON (it elides with … or ..., or is XML) is
// not compared.
func sameJSON(t *testing.T, want, got string) bool {
	t.Helper()
	var w, g any
	if want == "" || strings.Contains(want, "…") || strings.Contains(want, "...") || json.Unmarshal([]byte(want), &w) != nil {
		return true
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return false
	}
	return reflect.DeepEqual(w, g)
}
