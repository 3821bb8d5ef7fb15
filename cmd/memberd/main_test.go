package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write
// while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testMain(stdout, stderr *syncBuffer, env map[string]string) *Main {
	return &Main{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return env[k] }}
}

// serveDemo runs `serve --demo` in-process and returns its base URL and
// owner token; the server stops when the test ends.
func serveDemo(t *testing.T) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stdout, stderr syncBuffer
	m := testMain(&stdout, &stderr, nil)
	m.Ready = ready
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--rate-limit", "0",
			"--db", "sqlite:" + filepath.Join(t.TempDir(), "demo.db")})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-ready:
		for _, line := range strings.Split(stdout.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "MEMBERD_TOKEN="); ok {
				return "http://" + addr, v
			}
		}
		t.Fatalf("no MEMBERD_TOKEN line in %q", stdout.String())
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", ""
}

func TestOffboard(t *testing.T) {
	base, token := serveDemo(t)
	csvPath := filepath.Join(t.TempDir(), "leavers.csv")
	csv := "Email,Name\nuser0100@acme.test,a\nUSER0101@ACME.TEST,b\nuser0100@acme.test,again\nnobody@acme.test,c\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	// Row 4 names no member, so every run exits 1 ("some rows failed")
	// after doing the others.
	run := func(extra ...string) (string, string) {
		t.Helper()
		var stdout, stderr syncBuffer
		m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_TOKEN": token})
		args := append([]string{"offboard", "--csv", csvPath, "--server", base, "--batch", "3"}, extra...)
		if err := m.Run(context.Background(), args); exitCode(err) != exitRowsFailed {
			t.Fatalf("offboard %v: exit %d (%v), want %d\n%s", extra, exitCode(err), err, exitRowsFailed, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	want := "row,member,outcome,message\n1,user0100@acme.test,removed,\n2,USER0101@ACME.TEST,removed,\n" +
		"3,user0100@acme.test,already_removed,already removed\n4,nobody@acme.test,not_found,no such member in the organization\n"

	t.Run("DryRunSaysWhatTheRunWill", func(t *testing.T) {
		out, summary := run("--dry-run")
		if out != want {
			t.Fatalf("dry run output:\n%s\nwant the real run's:\n%s", out, want)
		}
		if !strings.Contains(summary, "dry run, nothing changed: 4 members: 2 removed, 1 already removed, 1 not found") {
			t.Fatalf("summary %q", summary)
		}
	})
	t.Run("OK", func(t *testing.T) {
		out, summary := run()
		if out != want {
			t.Fatalf("offboard output:\n%s\nwant:\n%s", out, want)
		}
		if !strings.Contains(summary, "4 members: 2 removed, 1 already removed, 1 not found") {
			t.Fatalf("summary %q", summary)
		}
	})
	t.Run("RerunRepeatsNoEffect", func(t *testing.T) {
		first, _ := run()
		second, _ := run("--state", csvPath+".other")
		if first != want || second != want {
			t.Fatalf("a re-run answered differently:\n%s\n---\n%s", first, second)
		}
	})
	t.Run("ErrNoColumn", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.csv")
		if err := os.WriteFile(bad, []byte("name\nx\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr syncBuffer
		m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_TOKEN": token})
		if err := m.Run(context.Background(), []string{"offboard", "--csv", bad, "--server", base}); err == nil ||
			!strings.Contains(err.Error(), "no email, id or uuid column") {
			t.Fatalf("got %v, want a missing-column error", err)
		}
	})
}

func TestBootstrap(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "b.db")
	var stdout, stderr syncBuffer
	m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_DB": db})
	if err := m.Run(context.Background(), []string{"bootstrap", "--org", "Acme", "--owner", "IT@Acme.Example"}); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, stderr.String())
	}
	var b struct {
		Organization struct{ ID int64 }
		Owner        struct{ Email, Role string }
		Secret       string
	}
	if err := json.Unmarshal([]byte(stdout.String()), &b); err != nil {
		t.Fatalf("bootstrap output is not JSON: %v\n%s", err, stdout.String())
	}
	if b.Organization.ID == 0 || b.Owner.Email != "it@acme.example" || b.Owner.Role != "owner" || !strings.HasPrefix(b.Secret, "mbd_") {
		t.Fatalf("bootstrap printed %+v", b)
	}
	t.Run("ErrMissingFlags", func(t *testing.T) {
		if err := m.Run(context.Background(), []string{"bootstrap", "--org", "Acme"}); err == nil {
			t.Fatal("bootstrap without --owner succeeded")
		}
	})
}
