package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestModuleDir checks that the harness, a module of its own, finds the
// memberd tree it measures (the one its replace directive names), where
// BuildServer builds cmd/memberd.
func TestModuleDir(t *testing.T) {
	dir, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd", "memberd", "main.go")); err != nil {
		t.Fatalf("ModuleDir() = %s, which has no cmd/memberd: %v", dir, err)
	}
}
