package prom

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// NewProcessCollector is the process' families under the names
// client_golang gave them (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), read from Linux's /proc. Where
// /proc cannot be read, as on another OS, they are left out.
func NewProcessCollector() Collector { return newProcessCollector("/proc") }

func newProcessCollector(proc string) *processCollector {
	c := &processCollector{proc: proc, start: processStart(proc)}
	c.maxFDs, c.hasMaxFDs = maxFDs(proc)
	return c
}

type processCollector struct {
	proc string
	// start is when the process started, in seconds since 1970; 0 if
	// unknown. It is read once: it does not change.
	start float64
	// maxFDs is read once too: the bot never changes its limits, and
	// reading /proc/self/limits on every scrape cost more than all the
	// other families together.
	maxFDs    float64
	hasMaxFDs bool
}

// userHZ is the unit of /proc's times: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

// stat is what the collector reads of /proc/self/stat, by field number
// (proc(5)).
type stat struct {
	utime, stime, starttime, vsize, rss float64
}

func readStat(proc string) (stat, error) {
	raw, err := os.ReadFile(proc + "/self/stat")
	if err != nil {
		return stat{}, fmt.Errorf("read process stat: %w", err)
	}
	// The command's name, field 2, is in parentheses and may hold spaces
	// and parentheses itself: the fields that follow start after the
	// last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("read process stat: no ')' in %q", raw)
	}
	f := strings.Fields(string(raw[i+1:]))
	field := func(n int) float64 {
		if n-3 >= len(f) {
			err = fmt.Errorf("read process stat: %d fields, want field %d", len(f)+2, n)
			return 0
		}
		v, perr := strconv.ParseFloat(f[n-3], 64)
		if perr != nil {
			err = fmt.Errorf("read process stat field %d: %w", n, perr)
		}
		return v
	}
	s := stat{utime: field(14), stime: field(15), starttime: field(22), vsize: field(23), rss: field(24)}
	return s, err
}

// processStart is when the process started: its start in clock ticks
// after boot, and the boot time from /proc/stat.
func processStart(proc string) float64 {
	s, err := readStat(proc)
	if err != nil {
		return 0
	}
	raw, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return 0
			}
			return boot + s.starttime/userHZ
		}
	}
	return 0
}

// maxFDs is the soft limit on open files, from /proc/self/limits.
func maxFDs(proc string) (float64, bool) {
	raw, err := os.ReadFile(proc + "/self/limits")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			if f[0] == "unlimited" {
				return 0, false
			}
			v, err := strconv.ParseFloat(f[0], 64)
			return v, err == nil
		}
	}
	return 0, false
}

func openFDs(proc string) (float64, bool) {
	d, err := os.Open(proc + "/self/fd")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return float64(len(names)), err == nil
}

func (c *processCollector) names() []string {
	return []string{
		"process_cpu_seconds_total", "process_max_fds", "process_open_fds", "process_resident_memory_bytes",
		"process_start_time_seconds", "process_virtual_memory_bytes",
	}
}

func (c *processCollector) write(w *writer) {
	gauge := func(name, kind, help string, v float64) {
		w.header(name, help, kind)
		w.sample(name, "", "", "", v)
	}
	s, err := readStat(c.proc)
	if err == nil {
		gauge("process_cpu_seconds_total", "counter", "CPU time the process used, user and system, in seconds.", (s.utime+s.stime)/userHZ)
	}
	if c.hasMaxFDs {
		gauge("process_max_fds", "gauge", "The most files the process may have open (its soft limit).", c.maxFDs)
	}
	if n, ok := openFDs(c.proc); ok {
		gauge("process_open_fds", "gauge", "Files the process has open.", n)
	}
	if err == nil {
		gauge("process_resident_memory_bytes", "gauge", "The process' resident memory in bytes.", s.rss*float64(os.Getpagesize()))
	}
	if c.start != 0 {
		gauge("process_start_time_seconds", "gauge", "When the process started, in seconds since 1970.", c.start)
	}
	if err == nil {
		gauge("process_virtual_memory_bytes", "gauge", "The process' virtual memory in bytes.", s.vsize)
	}
}

var _ Collector = (*processCollector)(nil)
