package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// ProcStats are one process's CPU time and memory, read from /proc. They
// are zero where /proc is missing.
type ProcStats struct {
	PID int `json:"pid"`
	// CPUSeconds is user plus system time since the process started.
	CPUSeconds float64 `json:"cpu_s"`
	// RSSBytes is the resident set now, PeakRSSBytes its high-water mark.
	RSSBytes     int64 `json:"rss_bytes"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// readProc reads the stats of a process; pid 0 means this one.
func readProc(pid int) ProcStats {
	dir := "/proc/self"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d", pid)
	} else {
		pid = os.Getpid()
	}
	s := ProcStats{PID: pid}
	if stat, err := os.ReadFile(dir + "/stat"); err == nil {
		s.CPUSeconds = cpuOfStat(stat)
	}
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		s.RSSBytes, s.PeakRSSBytes = statusKB(status, "VmRSS:")*1024, statusKB(status, "VmHWM:")*1024
	}
	return s
}

// cpuOfStat returns utime+stime of a /proc/<pid>/stat line in seconds.
// Fields are counted after the command name, which may hold spaces.
func cpuOfStat(stat []byte) float64 {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 { // state is field 3; utime and stime are 14 and 15
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+s) / clockTicks
}

// statusKB returns the value in kB of a "Key:  123 kB" line of
// /proc/<pid>/status.
func statusKB(status []byte, key string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// runtimeStats are the Go runtime's view of this process.
type runtimeStats struct {
	HeapBytes  int64   // live and not yet swept heap objects
	GCCPU      float64 // CPU seconds spent in GC so far (an estimate)
	GCCycles   int64
	Goroutines int64
}

func readRuntime() runtimeStats {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	return runtimeStats{HeapBytes: int64(value(s[0])), GCCPU: value(s[1]), GCCycles: int64(value(s[2])), Goroutines: int64(value(s[3]))}
}

// value returns a sample as a float, zero for a metric this Go lacks.
func value(s metrics.Sample) float64 {
	switch s.Value.Kind() {
	case metrics.KindUint64:
		return float64(s.Value.Uint64())
	case metrics.KindFloat64:
		return s.Value.Float64()
	}
	return 0
}
