package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReclaimReadsDAMON: a running kdamond's pageout scheme is described
// from its sysfs files (idle age in aggregation intervals, quota), and
// what it paged out is read after asking the kdamond to refresh it; a
// stopped kdamond, or one whose scheme does something else, is left out.
func TestReclaimReadsDAMON(t *testing.T) {
	root := t.TempDir()
	put := func(path, v string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := pagedOut(root); got != -1 {
		t.Errorf("with no kdamond, pagedOut = %d, want -1", got)
	}
	put("0/state", "on")
	put("0/contexts/0/monitoring_attrs/intervals/aggr_us", "5000000")
	put("0/contexts/0/schemes/0/action", "pageout")
	put("0/contexts/0/schemes/0/access_pattern/age/min", "12")
	put("0/contexts/0/schemes/0/quotas/bytes", "134217728")
	put("0/contexts/0/schemes/0/quotas/reset_interval_ms", "1000")
	put("0/contexts/0/schemes/0/stats/sz_applied", "3145728")
	put("0/contexts/0/schemes/1/action", "stat")
	put("0/contexts/0/schemes/1/stats/sz_applied", "999")
	put("1/state", "off")
	put("1/contexts/0/schemes/0/action", "pageout")
	put("1/contexts/0/schemes/0/stats/sz_applied", "777")

	r := describeReclaim(root)
	if len(r.Schemes) != 1 || r.Schemes[0] != "pageout of memory idle for 60 s, at most 128 MB every 1000 ms" {
		t.Errorf("schemes: %q", r.Schemes)
	}
	if got := pagedOut(root); got != 3145728 {
		t.Errorf("pagedOut = %d, want 3145728", got)
	}
	if got, unknown := pagedMB(3145728), pagedMB(-1); got != "3 MB" || unknown != "—" {
		t.Errorf("pagedMB: %q and %q, want 3 MB and a dash", got, unknown)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "0/state")); string(data) != "update_schemes_stats" {
		t.Errorf("the kdamond was not asked to refresh its figures: state %q", data)
	}
}
