package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAccessLinesSurviveSIGKILL kills the server with SIGKILL while 16
// clients send requests, each with an id of its own, and checks that the
// access line of every request a client got an answer to is in what the
// server wrote to its stderr pipe, once, and that every line is whole:
// none torn by the kill, none interleaved with another.
func TestAccessLinesSurviveSIGKILL(t *testing.T) {
	textLine := regexp.MustCompile(`^time=\S+ level=(INFO|WARN|ERROR) msg=request method=GET route=("[^"]*"|\S+) status=\d{3} ` +
		`duration=\S+ request_id=(\S+) interface=\S+ credential=""$`)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			cmd := exec.Command(memberdBinary(t), "serve", "--addr", "127.0.0.1:0", "--rate-limit", "0",
				"--log-format", format, "--db", "sqlite:"+filepath.Join(t.TempDir(), "kill.db"))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			addrs := make(chan string, 1)
			logged := make(chan []string, 1)
			go func() {
				var lines []string
				r := bufio.NewReader(stderr)
				for {
					line, err := r.ReadString('\n')
					if line != "" {
						lines = append(lines, line)
					}
					if rest, ok := strings.CutPrefix(line, "memberd listening on http://"); ok {
						addrs <- strings.Fields(rest)[0]
					}
					if err != nil {
						logged <- lines
						return
					}
				}
			}()
			var base string
			select {
			case addr := <-addrs:
				base = "http://" + addr
			case <-time.After(60 * time.Second):
				t.Fatal("memberd did not start")
			}

			var mu sync.Mutex
			var answered []string
			var stop atomic.Bool
			var wg sync.WaitGroup
			for c := range 16 {
				wg.Go(func() {
					client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
					for i := 0; !stop.Load(); i++ {
						id := fmt.Sprintf("kill-%d-%d", c, i)
						req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/access?member=1&resource=1", nil)
						req.Header.Set("X-Request-Id", id)
						resp, err := client.Do(req)
						if err != nil {
							return // the server is gone
						}
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err != nil {
							return
						}
						mu.Lock()
						answered = append(answered, id)
						mu.Unlock()
					}
				})
			}
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(answered) >= 1000 })
			_ = cmd.Process.Signal(syscall.SIGKILL)
			stop.Store(true)
			wg.Wait()
			var lines []string
			select {
			case lines = <-logged:
			case <-time.After(30 * time.Second):
				t.Fatal("stderr did not close after SIGKILL")
			}

			mu.Lock()
			defer mu.Unlock()
			seen := map[string]int{}
			after := false
			for _, line := range lines {
				if !after {
					after = strings.HasPrefix(line, "memberd listening on ")
					continue
				}
				whole, ok := strings.CutSuffix(line, "\n")
				if !ok {
					t.Fatalf("last line torn by the kill: %q", line)
				}
				var id string
				if format == "json" {
					var rec map[string]any
					if err := json.Unmarshal([]byte(whole), &rec); err != nil {
						t.Fatalf("line %q is not JSON: %v", whole, err)
					}
					if rec["msg"] != "request" {
						continue
					}
					id, _ = rec["request_id"].(string)
				} else {
					m := textLine.FindStringSubmatch(whole)
					if m == nil {
						if strings.Contains(whole, "msg=request ") {
							t.Fatalf("torn or interleaved access line %q", whole)
						}
						continue
					}
					id = m[3]
				}
				seen[id]++
			}
			for _, id := range answered {
				if seen[id] != 1 {
					t.Fatalf("request %s was answered and has %d access lines (of %d lines for %d answered requests)",
						id, seen[id], len(seen), len(answered))
				}
			}
			t.Logf("%d requests answered before the kill, %d access lines", len(answered), len(seen))
		})
	}
}
