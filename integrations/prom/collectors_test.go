package prom

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// written is what a collector writes: each sample's name and value, and
// the families' names from their TYPE lines.
func written(c Collector) (samples map[string]string, families []string) {
	w := &writer{}
	c.write(w)
	samples = map[string]string{}
	for line := range strings.Lines(string(w.b)) {
		f := strings.Fields(line)
		switch {
		case f[0] == "#" && f[1] == "TYPE":
			families = append(families, f[2])
		case f[0] != "#":
			samples[f[0]] = f[1]
		}
	}
	slices.Sort(families)
	return samples, families
}

// Each collector writes every family it registers, and no other: a name
// the Go runtime no longer knows would drop its family silently.
func TestCollectorsWriteWhatTheyName(t *testing.T) {
	for _, c := range []Collector{NewGoCollector(), NewProcessCollector()} {
		_, families := written(c)
		if names := slices.Sorted(slices.Values(c.names())); !slices.Equal(families, names) {
			t.Errorf("%T wrote %v, names %v", c, families, names)
		}
	}
}

// The process' figures come from /proc/self/stat after the command's
// name, which may itself hold spaces and parentheses.
func TestProcessReadsProc(t *testing.T) {
	proc := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(proc, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Fields 14, 15 (utime, stime: 250 and 50 ticks), 22 (starttime: 1000
	// ticks after boot), 23 (vsize) and 24 (rss: 2,000 pages).
	write("self/stat", "4242 (bot) (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 123456789 2000 18446744073709551615\n")
	write("stat", "cpu  1 2 3\nbtime 1764633600\nprocesses 9\n")
	write("self/limits", "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n")
	for _, fd := range []string{"0", "1", "2"} {
		write("self/fd/"+fd, "")
	}
	c := newProcessCollector(proc)
	got, _ := written(c)
	want := map[string]string{
		"process_cpu_seconds_total":     "3",
		"process_max_fds":               "1024",
		"process_open_fds":              "3",
		"process_resident_memory_bytes": strconv.FormatFloat(float64(2000*os.Getpagesize()), 'g', -1, 64),
		"process_start_time_seconds":    "1.76463361e+09",
		"process_virtual_memory_bytes":  "1.23456789e+08",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}

	// A stat cut short leaves out what it would have given.
	write("self/stat", "4242 (bot) S 1 4242\n")
	got, _ = written(c)
	if _, ok := got["process_cpu_seconds_total"]; ok || got["process_open_fds"] != "3" {
		t.Errorf("from a short stat: %v", got)
	}
}

// Reading the runtime's figures leaves nothing for the collector: the
// GCStats and samples are the collector's own, filled again each scrape.
// make bench scrapes 50 times a second, and what a scrape allocates is
// paid for by the collections of the ack path it measures.
func TestGoCollectorAllocatesNothing(t *testing.T) {
	c := NewGoCollector()
	w := &writer{b: make([]byte, 0, 64<<10)}
	c.write(w)
	if n := testing.AllocsPerRun(50, func() {
		w.b = w.b[:0]
		c.write(w)
	}); n != 0 {
		t.Errorf("a scrape of the Go runtime's families allocates %v times", n)
	}
}
