package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reads is what a loop's requests read below the engine's cache, per
// request: what S5 needs beside its latencies, since a removal that finds
// its index pages in no cache waits for the disk at any size, and the
// growth S5 judges is then the cache's state, not the B-trees' depth.
type Reads struct {
	// DiskBytes is what the kernel read from the disk for the processes
	// that run the engine (/proc/PID/io read_bytes: the server on SQLite,
	// the cluster's processes on PostgreSQL), so page-cache hits are not
	// in it; -1 when /proc could not be read.
	DiskBytes float64
	// Blocks and ReadMS (PostgreSQL) are the blocks read into shared
	// buffers and the time spent reading them (pg_stat_database, with
	// track_io_timing), the OS page cache's hits included.
	Blocks, ReadMS float64
	Postgres       bool
}

func (rd *Reads) String() string {
	if rd == nil {
		return "—"
	}
	disk := "—"
	if rd.DiskBytes >= 0 {
		disk = fmt.Sprintf("%.1f KB", rd.DiskBytes/1024)
	}
	if !rd.Postgres {
		return disk
	}
	return fmt.Sprintf("%s (%.1f blocks into shared buffers, %s)", disk, rd.Blocks, ms(time.Duration(rd.ReadMS*float64(time.Millisecond))))
}

// watchReads starts counting what the engine reads; the returned function
// stops and divides by the requests made. On PostgreSQL it waits a second
// first: backends report their counters at most once a second.
func (r *runner) watchReads(ctx context.Context) func(requests int) *Reads {
	if r.e.Name != "postgres" {
		before := diskReads([]int{r.pid}, nil)
		return func(n int) *Reads {
			return perRequest(&Reads{DiskBytes: diskBytes(before, diskReads([]int{r.pid}, nil))}, n)
		}
	}
	c, err := pgx.Connect(ctx, r.e.DSN)
	if err != nil {
		r.logf("reads: %v", err)
		return func(int) *Reads { return nil }
	}
	pids := func() []int {
		rows, err := c.Query(ctx, `SELECT pid FROM pg_stat_activity`)
		if err != nil {
			return nil
		}
		ps, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
		out := make([]int, len(ps))
		for i, p := range ps {
			out[i] = int(p)
		}
		return out
	}
	countersBefore, err := readPGCounters(ctx, c)
	if err != nil {
		r.logf("reads: %v", err)
	}
	before := diskReads(pids(), nil)
	return func(n int) *Reads {
		defer c.Close(ctx)
		time.Sleep(pgStatsFlush)
		after, err := readPGCounters(ctx, c)
		if err != nil {
			r.logf("reads: %v", err)
			return nil
		}
		// A backend the server's pool opened during the loop counts from
		// zero; one that exited is lost, which the pool's idle timeout of
		// minutes makes rare in a loop of seconds.
		rd := &Reads{
			DiskBytes: diskBytes(before, diskReads(pids(), before)),
			Blocks:    float64(after.blksRead - countersBefore.blksRead),
			ReadMS:    after.readTime - countersBefore.readTime,
			Postgres:  true,
		}
		return perRequest(rd, n)
	}
}

func perRequest(rd *Reads, n int) *Reads {
	if n <= 0 {
		return nil
	}
	if rd.DiskBytes >= 0 {
		rd.DiskBytes /= float64(n)
	}
	rd.Blocks /= float64(n)
	rd.ReadMS /= float64(n)
	return rd
}

// diskReads reads read_bytes of each process, and takes every process of
// also that is not in pids at also's count (one that has exited since
// counts as having read nothing more); nil when one of pids cannot be
// read.
func diskReads(pids []int, also map[int]int64) map[int]int64 {
	out := map[int]int64{}
	for _, pid := range pids {
		n, err := readBytes(pid)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil
		}
		out[pid] = n
	}
	for pid, n := range also {
		if _, ok := out[pid]; !ok {
			out[pid] = n
		}
	}
	return out
}

// diskBytes is what the processes read between two diskReads, or -1.
func diskBytes(before, after map[int]int64) float64 {
	if before == nil || after == nil || len(after) == 0 {
		return -1
	}
	var sum int64
	for pid, n := range after {
		sum += n - before[pid]
	}
	return float64(sum)
}

// readBytes is /proc/PID/io's read_bytes: what the kernel fetched from
// storage for the process, page-cache hits not counted.
func readBytes(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("read_bytes: ")); ok {
			return strconv.ParseInt(string(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/io: no read_bytes", pid)
}
