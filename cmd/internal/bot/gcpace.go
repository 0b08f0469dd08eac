package bot

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// gcPacer lets the heap grow while the bot is busy, so that a burst of
// Slack envelopes is not slowed by a collection every few milliseconds,
// and gives the memory back when the burst is over.
//
// Go's collector starts a cycle once the heap has grown by GOGC percent
// of what the last one left live (and its stacks and globals), and never
// below 4 MiB × GOGC/100. The bot keeps about 2 MiB live, so at the default
// GOGC of 100 a flood of envelopes (about 20 KB of garbage each, most of it
// slack-go's decoding) brings a collection every 40 ms. Each one stops the
// world twice, and on a busy 2-core node a stop waits for the OS to
// schedule every thread: 1-6 ms each, measured, which is the ack tail. A
// bigger GOGC for good would cost idle memory instead: the 4 MiB floor
// grows with it.
//
// So the pacer looks at the allocation rate at every collection, and
// while it is high sets GOGC for collections about every aim, the heap
// goal never above budget. While GOGC is raised it also looks every tick;
// once the rate has been low for quietTicks looks in a row, it puts GOGC
// back and returns the grown heap to the OS. An idle bot collects every
// two minutes or so, and the pacer then costs nothing. An operator who
// sets GOGC keeps it: the pacer does not run.
type gcPacer struct {
	// aim is the time between collections wanted while busy.
	aim time.Duration
	// budget is the largest heap goal the pacer sets.
	budget uint64
	// base is GOGC when not busy: Go's default, 100.
	base int
	// tick is how often the pacer looks while GOGC is raised, and
	// quietTicks how many looks in a row must want base before it goes
	// back to it: a pause within a burst is not its end.
	tick       time.Duration
	quietTicks int

	read    func(*gcSample)
	setGOGC func(int)
	release func()
	log     *slog.Logger

	mu      sync.Mutex
	stopped bool
	last    gcSample
	percent int
	quiet   int
	// watching is whether a tick is due.
	watching bool
}

// gcSample is what the pacer reads of the runtime.
type gcSample struct {
	at time.Time
	// allocs is every byte allocated on the heap so far.
	allocs uint64
	// live is the heap the last collection left; scanned, the stacks and
	// globals it scanned, which GOGC also applies to.
	live, scanned uint64
}

// minHeap is the runtime's smallest heap goal at GOGC 100.
const minHeap = 4 << 20

func newGCPacer(log *slog.Logger) *gcPacer {
	return &gcPacer{
		aim: 250 * time.Millisecond, budget: 16 << 20, base: 100, tick: 250 * time.Millisecond, quietTicks: 2,
		read: readGCSample(), setGOGC: func(p int) { debug.SetGCPercent(p) }, release: debug.FreeOSMemory,
		log: log, percent: 100,
	}
}

// paceGC starts a gcPacer until ctx ends, unless the operator set GOGC
// (gogc) or one already runs, and reports whether it did. GOGC is the
// process's: two bots in one process (the tests') share one pacer.
func paceGC(ctx context.Context, log *slog.Logger, gogc string) bool {
	if gogc != "" {
		log.InfoContext(ctx, "GOGC is set: the collector is left to it, and the heap does not grow in bursts", "gogc", gogc)
		return false
	}
	if !gcPacing.CompareAndSwap(false, true) {
		return false
	}
	newGCPacer(log).Start(ctx)
	context.AfterFunc(ctx, func() { gcPacing.Store(false) })
	return true
}

// gcPacing is whether a pacer runs in this process.
var gcPacing atomic.Bool

// Start has the pacer look at every collection until ctx ends, and then
// puts GOGC back.
func (p *gcPacer) Start(ctx context.Context) {
	p.arm()
	context.AfterFunc(ctx, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.stopped = true
		if p.percent != p.base {
			p.percent = p.base
			p.setGOGC(p.base)
		}
	})
}

// arm has the next collection call collected: the cleanup of an object
// nothing refers to runs after the first cycle that finds it unreachable.
func (p *gcPacer) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(p *gcPacer) { p.collected() }, p)
}

type gcSentinel struct{ _ *int }

func (p *gcPacer) collected() {
	if p.look() {
		p.arm()
	}
}

// look reads the runtime and sets GOGC for the allocation rate since the
// last look. It reports false once the pacer has stopped.
func (p *gcPacer) look() bool {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return false
	}
	var s gcSample
	p.read(&s)
	release := p.step(s)
	if p.percent != p.base && !p.watching {
		p.watching = true
		time.AfterFunc(p.tick, func() {
			p.mu.Lock()
			p.watching = false
			p.mu.Unlock()
			p.look()
		})
	}
	p.mu.Unlock()
	// The collection this forces calls collected, which takes the lock.
	if release {
		p.release()
	}
	return true
}

// step sets GOGC for the allocation rate from the last sample to s, and
// reports whether GOGC has just come back to base.
func (p *gcPacer) step(s gcSample) (release bool) {
	if p.last.at.IsZero() {
		p.last = s
		return false
	}
	dt := s.at.Sub(p.last.at).Seconds()
	// Two looks a moment apart (a collection just after a tick) say
	// nothing about a rate.
	if dt < 0.01 {
		return false
	}
	rate := float64(s.allocs-p.last.allocs) / dt
	p.last = s
	want := p.want(rate, s)
	switch {
	case want > p.base:
		p.quiet = 0
		// Small changes are not worth the churn, unless the live heap has
		// grown and taken the goal over the budget.
		if want > p.percent || want < p.percent*3/4 || goalAt(p.percent, s) > float64(p.budget) {
			if p.percent == p.base {
				p.log.Debug("busy: letting the heap grow between collections", "gogc", want, "alloc_mb_per_s", math.Round(rate/(1<<20)))
			}
			p.percent = want
			p.setGOGC(want)
		}
	case p.percent != p.base:
		p.quiet++
		if p.quiet < p.quietTicks {
			return false
		}
		p.percent, p.quiet = p.base, 0
		p.setGOGC(p.base)
		p.log.Debug("quiet again: GOGC back, and the grown heap returned", "gogc", p.base)
		return true
	}
	return false
}

// want is the GOGC that spaces collections by aim at rate bytes a second,
// with the heap goal at most budget; base if that is not above it.
func (p *gcPacer) want(rate float64, s gcSample) int {
	if s.live == 0 {
		return p.base
	}
	goal := min(float64(s.live)+rate*p.aim.Seconds(), float64(p.budget))
	// Both terms of goalAt must stay within goal.
	byLive := (goal - float64(s.live)) / float64(s.live+s.scanned) * 100
	byFloor := goal / minHeap * 100
	g := int(min(byLive, byFloor))
	return max(g, p.base)
}

// goalAt is the runtime's heap goal at GOGC g: the larger of
// live + (live+scanned)·g/100 and the floor, minHeap·g/100.
func goalAt(g int, s gcSample) float64 {
	return max(float64(s.live)+float64(s.live+s.scanned)*float64(g)/100, minHeap*float64(g)/100)
}

// readGCSample returns a reader of the runtime's metrics for the pacer.
func readGCSample() func(*gcSample) {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/globals:bytes"}, {Name: "/gc/scan/stack:bytes"}}
	return func(s *gcSample) {
		metrics.Read(m)
		*s = gcSample{at: time.Now(), allocs: m[0].Value.Uint64(), live: m[1].Value.Uint64(), scanned: m[2].Value.Uint64() + m[3].Value.Uint64()}
	}
}
