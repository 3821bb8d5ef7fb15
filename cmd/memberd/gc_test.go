package main

import (
	"flag"
	"io"
	"testing"
)

// TestGCPercent holds the precedence of the collector's target: the flag
// (or MEMBERD_GC_PERCENT) over GOGC, and GOGC over memberd's default.
func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string
		want      int
		wantApply bool
	}{
		{"default", nil, nil, DefaultGCPercent, true},
		{"GOGC kept", nil, map[string]string{"GOGC": "50"}, DefaultGCPercent, false},
		{"flag over GOGC", []string{"--gc-percent", "300"}, map[string]string{"GOGC": "50"}, 300, true},
		{"variable over GOGC", nil, map[string]string{"GOGC": "50", "MEMBERD_GC_PERCENT": "150"}, 150, true},
		{"off", []string{"--gc-percent", "-1"}, nil, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return tc.env[k] }}
			cfg := DefaultConfig()
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			m.serveFlags(fs, &cfg)
			if err := m.parseFlags(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			got, apply := gcPercent(fs, cfg.GCPercent, m.Getenv)
			if got != tc.want || apply != tc.wantApply {
				t.Errorf("gcPercent = %d, %v; want %d, %v", got, apply, tc.want, tc.wantApply)
			}
		})
	}
}
