package prom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// NewGoCollector is the Go runtime's families under the names
// client_golang gave them (go_goroutines, go_memstats_heap_inuse_bytes,
// ...), read from runtime/metrics, which stops nothing.
func NewGoCollector() Collector {
	c := &goCollector{read: map[string]int{}}
	c.gc.PauseQuantiles = make([]time.Duration, 5)
	for _, g := range runtimeGauges {
		for _, n := range g.from {
			if _, ok := c.read[n]; !ok {
				c.read[n] = len(c.samples)
				c.samples = append(c.samples, metrics.Sample{Name: n})
			}
		}
	}
	return c
}

// goCollector reads into the same GCStats and samples on every scrape:
// debug.ReadGCStats and metrics.Read fill what they are given, and new
// ones each time would be garbage for the collector it reports on.
type goCollector struct {
	mu      sync.Mutex
	gc      debug.GCStats
	samples []metrics.Sample
	read    map[string]int // a sample's index in samples, by name
}

// runtimeGauge is a go_* family that is the sum of runtime/metrics
// samples.
type runtimeGauge struct {
	name, kind, help string
	from             []string
}

var runtimeGauges = []runtimeGauge{
	{"go_gc_gogc_percent", "gauge", "The GC's heap growth target in percent (GOGC, or debug.SetGCPercent).", []string{"/gc/gogc:percent"}},
	{"go_gc_gomemlimit_bytes", "gauge", "The runtime's soft memory limit (GOMEMLIMIT, or debug.SetMemoryLimit), math.MaxInt64 if none.", []string{"/gc/gomemlimit:bytes"}},
	{"go_goroutines", "gauge", "Goroutines that exist.", []string{"/sched/goroutines:goroutines"}},
	{"go_memstats_alloc_bytes", "gauge", "Bytes of heap objects allocated and not yet freed.", []string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_alloc_bytes_total", "counter", "Bytes of heap objects ever allocated.", []string{"/gc/heap/allocs:bytes"}},
	{"go_memstats_buck_hash_sys_bytes", "gauge", "Bytes of the profiling buckets' hash table.", []string{"/memory/classes/profiling/buckets:bytes"}},
	{"go_memstats_frees_total", "counter", "Heap objects ever freed.", []string{"/gc/heap/frees:objects", "/gc/heap/tiny/allocs:objects"}},
	{"go_memstats_gc_sys_bytes", "gauge", "Bytes of the garbage collector's metadata.", []string{"/memory/classes/metadata/other:bytes"}},
	{"go_memstats_heap_alloc_bytes", "gauge", "Bytes of heap objects allocated and not yet freed, as go_memstats_alloc_bytes.", []string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_heap_idle_bytes", "gauge", "Bytes of heap spans holding no object, returned to the OS or not.", []string{"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"go_memstats_heap_inuse_bytes", "gauge", "Bytes of heap spans holding objects.", []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}},
	{"go_memstats_heap_objects", "gauge", "Heap objects allocated and not yet freed.", []string{"/gc/heap/objects:objects"}},
	{"go_memstats_heap_released_bytes", "gauge", "Bytes of heap returned to the OS.", []string{"/memory/classes/heap/released:bytes"}},
	{"go_memstats_heap_sys_bytes", "gauge", "Bytes of heap obtained from the OS.", []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"go_memstats_mallocs_total", "counter", "Heap objects ever allocated.", []string{"/gc/heap/allocs:objects", "/gc/heap/tiny/allocs:objects"}},
	{"go_memstats_mcache_inuse_bytes", "gauge", "Bytes of mcache structures in use.", []string{"/memory/classes/metadata/mcache/inuse:bytes"}},
	{"go_memstats_mcache_sys_bytes", "gauge", "Bytes of mcache structures obtained from the OS.", []string{"/memory/classes/metadata/mcache/inuse:bytes", "/memory/classes/metadata/mcache/free:bytes"}},
	{"go_memstats_mspan_inuse_bytes", "gauge", "Bytes of mspan structures in use.", []string{"/memory/classes/metadata/mspan/inuse:bytes"}},
	{"go_memstats_mspan_sys_bytes", "gauge", "Bytes of mspan structures obtained from the OS.", []string{"/memory/classes/metadata/mspan/inuse:bytes", "/memory/classes/metadata/mspan/free:bytes"}},
	{"go_memstats_next_gc_bytes", "gauge", "The heap size at which the next collection starts.", []string{"/gc/heap/goal:bytes"}},
	{"go_memstats_other_sys_bytes", "gauge", "Bytes of other runtime allocations.", []string{"/memory/classes/other:bytes"}},
	{"go_memstats_stack_inuse_bytes", "gauge", "Bytes of goroutine stacks in heap spans.", []string{"/memory/classes/heap/stacks:bytes"}},
	{"go_memstats_stack_sys_bytes", "gauge", "Bytes of stacks obtained from the OS, goroutines' and threads'.", []string{"/memory/classes/heap/stacks:bytes", "/memory/classes/os-stacks:bytes"}},
	{"go_memstats_sys_bytes", "gauge", "Bytes obtained from the OS in all.", []string{"/memory/classes/total:bytes"}},
	{"go_sched_gomaxprocs_threads", "gauge", "GOMAXPROCS: threads that run Go code at once.", []string{"/sched/gomaxprocs:threads"}},
}

func (*goCollector) names() []string {
	ns := []string{"go_gc_duration_seconds", "go_info", "go_memstats_last_gc_time_seconds", "go_threads"}
	for _, g := range runtimeGauges {
		ns = append(ns, g.name)
	}
	return ns
}

func (c *goCollector) write(w *writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gc := &c.gc
	debug.ReadGCStats(gc)
	w.header("go_gc_duration_seconds", "Stop-the-world pauses of the garbage collector: the shortest, the quartiles and the longest of the last 256.", "summary")
	for i, q := range []string{`quantile="0"`, `quantile="0.25"`, `quantile="0.5"`, `quantile="0.75"`, `quantile="1"`} {
		w.sample("go_gc_duration_seconds", "", "", q, gc.PauseQuantiles[i].Seconds())
	}
	w.sample("go_gc_duration_seconds", "_sum", "", "", gc.PauseTotal.Seconds())
	w.sample("go_gc_duration_seconds", "_count", "", "", float64(gc.NumGC))

	w.header("go_info", "The Go version the bot was built with.", "gauge")
	w.sample("go_info", "", "", `version="`+runtime.Version()+`"`, 1)

	last := 0.0
	if !gc.LastGC.IsZero() {
		last = float64(gc.LastGC.UnixNano()) / 1e9
	}
	w.header("go_memstats_last_gc_time_seconds", "When the last collection ended, in seconds since 1970.", "gauge")
	w.sample("go_memstats_last_gc_time_seconds", "", "", "", last)

	threads, _ := runtime.ThreadCreateProfile(nil)
	w.header("go_threads", "OS threads created.", "gauge")
	w.sample("go_threads", "", "", "", float64(threads))

	metrics.Read(c.samples)
next:
	for _, g := range runtimeGauges {
		sum := 0.0
		for _, n := range g.from {
			switch v := c.samples[c.read[n]].Value; v.Kind() {
			case metrics.KindUint64:
				sum += float64(v.Uint64())
			case metrics.KindFloat64:
				sum += v.Float64()
			default:
				// A runtime without this metric: the family is left out
				// rather than written wrong.
				continue next
			}
		}
		w.header(g.name, g.help, g.kind)
		w.sample(g.name, "", "", "", sum)
	}
}

var _ Collector = (*goCollector)(nil)
