package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m, func() {
		if binPath != "" {
			os.RemoveAll(filepath.Dir(binPath))
		}
	})
}

var (
	buildOnce sync.Once
	binPath   string // in a directory of its own, removed after the tests
	buildErr  error
)

// memberdBinary builds the real binary once per test run: crash tests kill
// a process, so they need one of their own.
func memberdBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "memberd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "memberd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// server is a memberd process under test.
type server struct {
	cmd   *exec.Cmd
	base  string
	token string
}

// startServer runs `memberd serve` on a free loopback port and waits until
// it listens. With demo, it loads the demo organization and reads the
// owner's token from stdout. extra flags follow the others.
func startServer(tb testing.TB, dsn string, demo bool, extra ...string) *server {
	tb.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn, "--rate-limit", "0"}, extra...)
	if demo {
		args = append(args, "--demo")
	}
	cmd := exec.Command(memberdBinary(tb), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &server{cmd: cmd}
	tb.Cleanup(func() { s.kill() })
	tokens := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MEMBERD_TOKEN="); ok {
				tokens <- v
			}
		}
	}()
	addrs := make(chan string, 1)
	var logTail []string
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logTail = append(logTail, line)
			logMu.Unlock()
			if rest, ok := strings.CutPrefix(line, "memberd listening on http://"); ok {
				addrs <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case addr := <-addrs:
		s.base = "http://" + addr
	case <-time.After(60 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		tb.Fatalf("memberd did not start:\n%s", strings.Join(logTail, "\n"))
	}
	if demo {
		select {
		case s.token = <-tokens:
		case <-time.After(10 * time.Second):
			tb.Fatal("memberd --demo printed no token")
		}
	}
	return s
}

func (s *server) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

func (s *server) request(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// TestCrashKeepsAcknowledgedRemovals kills the server with SIGKILL while
// clients send removals, restarts it on the same database, and checks
// promise 1: every removal that was answered 2xx is there, and no removal
// is half applied (a removed member keeps no active space or group
// membership; an active one lost none). It holds with group commit off as
// well as on: off is a mode `memberd serve` offers, not only a benchmark's.
func TestCrashKeepsAcknowledgedRemovals(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, groupCommit := range []string{"true", "false"} {
			t.Run(engine+"/group-commit="+groupCommit, func(t *testing.T) {
				crashDuringRemovals(t, engine, "--group-commit="+groupCommit)
			})
		}
	}
}

func crashDuringRemovals(t *testing.T, engine, groupCommitFlag string) {
	var dsn string
	if engine == "sqlite" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "crash.db")
	} else {
		dsn = pgtest.NewDatabase(t)
	}
	srv := startServer(t, dsn, true, groupCommitFlag)

	// Members 10..999 of the demo, each removed at most once by
	// one of 8 clients; the server is killed after 150 acks.
	ids := make(chan int, 990)
	for id := 10; id < 1000; id++ {
		ids <- id
	}
	close(ids)
	var mu sync.Mutex
	acked := map[int]bool{}
	killed := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				select {
				case <-killed:
					return
				default:
				}
				status, _, err := srv.request(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/members/%d", id))
				if err != nil {
					continue // the server died mid-request: not acknowledged
				}
				if status/100 == 2 {
					mu.Lock()
					acked[id] = true
					n := len(acked)
					mu.Unlock()
					if n == 150 {
						once.Do(func() { srv.kill(); close(killed) })
					}
				}
			}
		}()
	}
	wg.Wait()
	once.Do(func() { srv.kill(); close(killed) })
	if len(acked) < 150 {
		t.Fatalf("only %d removals were acknowledged before the kill; want at least 150", len(acked))
	}

	token := srv.token
	srv = startServer(t, dsn, false, groupCommitFlag)
	srv.token = token
	removed := 0
	for id := 10; id < 1000; id++ {
		status, body, err := srv.request(ctx, http.MethodGet, fmt.Sprintf("/api/v1/members/%d/history", id))
		if err != nil || status != http.StatusOK {
			t.Fatalf("history of member %d after restart: %d %v %s", id, status, err, body)
		}
		var h struct {
			Member struct{ Status string }   `json:"member"`
			Spaces []struct{ Status string } `json:"spaces"`
			Groups []struct{ Status string } `json:"groups"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("member %d history: %v", id, err)
		}
		if acked[id] && h.Member.Status != "removed" {
			t.Errorf("member %d: removal was acknowledged but the member is %q after the crash", id, h.Member.Status)
		}
		if h.Member.Status == "removed" {
			removed++
		}
		for _, sm := range append(h.Spaces, h.Groups...) {
			if sm.Status != h.Member.Status {
				t.Errorf("member %d is %s but one of its space/group memberships is %s: a half-applied removal", id, h.Member.Status, sm.Status)
			}
		}
	}
	t.Logf("%d removals acknowledged before SIGKILL, %d members removed after restart", len(acked), removed)
}
