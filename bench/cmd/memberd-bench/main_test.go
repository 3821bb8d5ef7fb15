package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestRunRefusesTooSmallMain: a -main too small for the scenario counts
// is refused with the reason before anything is built or loaded; it used
// to panic in the picker after loading.
func TestRunRefusesTooSmallMain(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"-engine", "postgres", "-sizes", "10000,100000", "-main", "10000", "-dir", dir})
	if err == nil || !strings.Contains(err.Error(), "postgres: by 10000 members the scenarios remove up to") {
		t.Fatalf("run = %v, want the refusal of -main 10000", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("run left %d entries in -dir: it started before refusing", len(entries))
	}
}
