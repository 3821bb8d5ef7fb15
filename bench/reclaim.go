package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// damonDir is where the kernel's DAMON sysfs interface lives.
const damonDir = "/sys/kernel/mm/damon/admin/kdamonds"

// Reclaim describes the kernel's proactive reclaim of the machine's
// memory by DAMON "pageout" schemes, which some virtual machines run so
// that the host can take back memory the guest has not touched for a
// while: clean page cache is dropped, and a database file untouched since
// it was written is then read from the disk again. The AMD EPYC machine
// of 2026-12-07 paged out up to 128 MB/s of memory idle for a minute.
type Reclaim struct {
	Schemes []string // each active pageout scheme, described
}

// describeReclaim finds the pageout schemes of the running kdamonds under
// root (damonDir).
func describeReclaim(root string) Reclaim {
	var r Reclaim
	for _, scheme := range pageoutSchemes(root) {
		age := readSysfs(filepath.Join(scheme, "access_pattern", "age", "min"))
		aggr := readSysfs(filepath.Join(scheme, "..", "..", "monitoring_attrs", "intervals", "aggr_us"))
		quota := readSysfs(filepath.Join(scheme, "quotas", "bytes"))
		reset := readSysfs(filepath.Join(scheme, "quotas", "reset_interval_ms"))
		d := "pageout of memory"
		if a, err := strconv.ParseInt(age, 10, 64); err == nil {
			if us, err := strconv.ParseInt(aggr, 10, 64); err == nil {
				d += fmt.Sprintf(" idle for %d s", a*us/1_000_000)
			}
		}
		if q, err := strconv.ParseInt(quota, 10, 64); err == nil && q > 0 {
			d += fmt.Sprintf(", at most %d MB every %s ms", q>>20, reset)
		}
		r.Schemes = append(r.Schemes, d)
	}
	return r
}

// pageoutSchemes are the scheme directories of running kdamonds whose
// action is pageout.
func pageoutSchemes(root string) []string {
	var out []string
	kds, _ := filepath.Glob(filepath.Join(root, "[0-9]*"))
	for _, kd := range kds {
		if readSysfs(filepath.Join(kd, "state")) != "on" {
			continue
		}
		schemes, _ := filepath.Glob(filepath.Join(kd, "contexts", "[0-9]*", "schemes", "[0-9]*"))
		for _, s := range schemes {
			if readSysfs(filepath.Join(s, "action")) == "pageout" {
				out = append(out, s)
			}
		}
	}
	return out
}

// pagedOut is the bytes the pageout schemes under root (damonDir) have
// paged out since they started, or -1 when that cannot be read (no
// scheme, or not root: the kernel refreshes the figures only when asked
// through the kdamond's state file).
func pagedOut(root string) int64 {
	schemes := pageoutSchemes(root)
	if len(schemes) == 0 {
		return -1
	}
	var total int64
	asked := map[string]bool{}
	for _, s := range schemes {
		kd := filepath.Clean(filepath.Join(s, "..", "..", "..", ".."))
		if !asked[kd] {
			if err := os.WriteFile(filepath.Join(kd, "state"), []byte("update_schemes_stats"), 0); err != nil {
				return -1
			}
			asked[kd] = true
		}
		n, err := strconv.ParseInt(readSysfs(filepath.Join(s, "stats", "sz_applied")), 10, 64)
		if err != nil {
			return -1
		}
		total += n
	}
	return total
}

// pagedMB writes a pagedOut figure, or a dash when it is unknown (-1).
func pagedMB(b int64) string {
	if b < 0 {
		return "—"
	}
	return mb(b)
}

func readSysfs(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
