package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// BuildServer compiles cmd/memberd into dir and returns the binary's path.
// moduleDir is the root of the memberd module; tags, if not empty, are
// passed to go build -tags (the cgo SQLite driver is the default where cgo
// is on; sqlite_modernc builds the pure-Go one, sqlite_ncruces the wasm2go
// one).
func BuildServer(ctx context.Context, moduleDir, dir, tags string) (string, error) {
	bin := filepath.Join(dir, "memberd")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", bin, "./cmd/memberd")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build memberd: %w: %s", err, out)
	}
	return bin, nil
}

// ModuleDir finds the root of the memberd module the harness measures:
// the tree the bench module's replace directive points at.
func ModuleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/memberd/memberd").Output()
	if err != nil {
		return "", fmt.Errorf("find the memberd module (run the bench from inside bench/): %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("run the bench from inside the bench module (bench/)")
	}
	return dir, nil
}

// Server is a running `memberd serve` process on a loopback port.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
	log  *tailBuffer
	out  *tailBuffer // the tail of stdout (a --demo server's credentials)

	watch atomic.Pointer[func(line string)] // sees every stderr line while set
}

// Watch has fn see every line the server writes to stderr (its access
// log included) from now until the returned stop is called.
func (s *Server) Watch(fn func(line string)) (stop func()) {
	s.watch.Store(&fn)
	return func() { s.watch.Store(nil) }
}

// Stdout is the tail of what the server printed on stdout.
func (s *Server) Stdout() string { return s.out.String() }

// lineWriter adds what is written to a tailBuffer.
type lineWriter struct{ b *tailBuffer }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			w.b.add(strings.TrimSuffix(line, "\n"))
		}
	}
	return len(p), nil
}

// StartServer starts `memberd serve` on 127.0.0.1 with a free port and
// waits until /healthz answers.
func StartServer(ctx context.Context, bin, db string, extra ...string) (*Server, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MEMBERD_ADDR=", "MEMBERD_DB=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout = lineWriter{out}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start memberd: %w", err)
	}
	s := &Server{cmd: cmd, done: make(chan error, 1), log: &tailBuffer{max: 8 << 10}, out: out}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.log.add(line)
			if fn := s.watch.Load(); fn != nil {
				(*fn)(line)
			}
			if rest, ok := strings.CutPrefix(line, "memberd listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				select {
				case addr <- u:
				default:
				}
			}
		}
		s.done <- cmd.Wait()
	}()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case s.URL = <-addr:
	case err := <-s.done:
		return nil, fmt.Errorf("memberd exited before listening: %v: %s", err, s.log)
	case <-timeout.C:
		s.Stop()
		return nil, fmt.Errorf("memberd did not start listening within 60s: %s", s.log)
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	for range 100 {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("memberd at %s never answered /healthz: %s", s.URL, s.log)
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// RSS reports the server's resident set size now and its peak so far
// (VmRSS and VmHWM from /proc), in bytes.
func (s *Server) RSS() (now, peak int64, err error) {
	return procRSS(s.Pid())
}

func procRSS(pid int) (now, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			now = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return now, peak, nil
}

// Stop asks the server to shut down (SIGTERM) and waits for it, killing
// it if it takes longer than 30 s.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("memberd exited with %v: %s", err, s.log)
		}
		return err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("memberd did not stop within 30s; killed")
	}
}

// Log is the tail of the server's standard error.
func (s *Server) Log() string { return s.log.String() }

// tailBuffer keeps the last max bytes of lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
	size  int
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	b.size += len(line) + 1
	for b.size > b.max && len(b.lines) > 1 {
		b.size -= len(b.lines[0]) + 1
		b.lines = b.lines[1:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
