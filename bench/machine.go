package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	CPU       string
	Cores     int
	MemoryMB  int64
	Disk      string
	Kernel    string
	Go        string
	LoadStart string
	LoadEnd   string
	Reclaim   Reclaim
}

// DescribeMachine reads the machine's description from /proc and df.
func DescribeMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg(), Reclaim: describeReclaim(damonDir)}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	m.MemoryMB = memoryMB()
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	if out, err := exec.Command("df", "-h", "--output=source,fstype,size,avail", dir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			f := strings.Fields(lines[1])
			if len(f) == 4 {
				m.Disk = fmt.Sprintf("%s (%s, %s, %s free)", f[0], f[1], f[2], f[3])
			}
		}
	}
	if m.Disk != "" {
		if dev := strings.Fields(m.Disk)[0]; strings.HasPrefix(dev, "/dev/") {
			name := strings.TrimPrefix(dev, "/dev/")
			if rot, err := os.ReadFile("/sys/block/" + name + "/queue/rotational"); err == nil {
				if bytes.Equal(bytes.TrimSpace(rot), []byte("0")) {
					m.Disk += ", non-rotational"
				} else {
					m.Disk += ", rotational as sysfs reports it (virtual disks often do)"
				}
			}
		}
	}
	return m
}

// load1 is the 1-minute load average.
func load1() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// WaitQuiet waits, up to max, until the 1-minute load average is below
// limit, so that a run on a shared machine starts when others are idle.
// It reports the load average it stopped waiting at.
func WaitQuiet(max time.Duration, limit float64) float64 {
	deadline := time.Now().Add(max)
	for {
		l := load1()
		if l < limit || time.Now().After(deadline) {
			return l
		}
		time.Sleep(5 * time.Second)
	}
}

// LoadAvg is the 1-, 5- and 15-minute load averages, as uptime shows
// them, for a run's record on a shared machine.
func LoadAvg() string { return loadAvg() }

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuMeter measures how busy the machine's CPUs and one process were
// between its creation and Stop, in cores.
type cpuMeter struct {
	pid         int
	start       time.Time
	procTicks   int64
	busy, total int64
}

func newCPUMeter(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, start: time.Now()}
	m.procTicks = procTicks(pid)
	m.busy, m.total = machineTicks()
	return m
}

// Stop returns the process's and the whole machine's CPU use in cores.
func (m *cpuMeter) Stop() (proc, machine float64) {
	secs := time.Since(m.start).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	const hz = 100 // USER_HZ on Linux
	proc = float64(procTicks(m.pid)-m.procTicks) / hz / secs
	busy, total := machineTicks()
	if total > m.total {
		machine = float64(busy-m.busy) / float64(total-m.total) * float64(runtime.NumCPU())
	}
	return proc, machine
}

// procTicks is a process's user+system CPU time in clock ticks.
func procTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces, in parens.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// machineTicks is the CPU time all cores spent busy, and in all, from
// /proc/stat's first line.
func machineTicks() (busy, total int64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// memoryMB is the machine's memory (MemTotal), 0 if unknown.
func memoryMB() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb >> 10
			}
		}
	}
	return 0
}
