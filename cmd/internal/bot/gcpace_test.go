package bot

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// pacerProbe drives a gcPacer with samples it is handed, recording what
// it sets.
type pacerProbe struct {
	p      *gcPacer
	set    []int
	now    time.Time
	allocs uint64
}

func newPacerProbe() *pacerProbe {
	x := &pacerProbe{now: time.Unix(1_800_000_000, 0)}
	x.p = newGCPacer(slog.New(slog.DiscardHandler))
	x.p.setGOGC = func(g int) { x.set = append(x.set, g) }
	return x
}

// after steps the pacer d later, with mb MiB allocated meanwhile and live
// MiB live.
func (x *pacerProbe) after(d time.Duration, mb, live float64) bool {
	x.now = x.now.Add(d)
	x.allocs += uint64(mb * (1 << 20))
	return x.p.step(gcSample{at: x.now, allocs: x.allocs, live: uint64(live * (1 << 20)), scanned: 256 << 10})
}

// raised steps a new probe, live MiB live, once after d with mb MiB
// allocated meanwhile, which must raise GOGC, and returns it and GOGC.
func raised(t *testing.T, d time.Duration, mb, live float64) (*pacerProbe, int) {
	t.Helper()
	x := newPacerProbe()
	x.after(0, 0, live)
	x.after(d, mb, live)
	if len(x.set) != 1 || x.set[0] <= 100 {
		t.Fatalf("GOGC set to %v after %.1f MiB in %v with %.1f MiB live, want one raise", x.set, mb, d, live)
	}
	return x, x.set[0]
}

// goal is the heap goal the runtime sets at GOGC g with live MiB live.
func goal(g int, live float64) float64 {
	return goalAt(g, gcSample{live: uint64(live * (1 << 20)), scanned: 256 << 10})
}

func TestGCPacerKeepsToItsBudgetAsTheLiveHeapGrows(t *testing.T) {
	x, _ := raised(t, 100*time.Millisecond, 10, 3)
	// Runs parked by a burst of commands: the live heap grows by a fifth,
	// and the raised GOGC would take the goal past the budget.
	x.after(100*time.Millisecond, 10, 3.6)
	g := x.set[len(x.set)-1]
	if got := goal(g, 3.6); len(x.set) != 2 || got > float64(x.p.budget) {
		t.Errorf("GOGC set to %v: a heap goal of %.1f MiB with 3.6 MiB live, over the budget of %d MiB", x.set, got/(1<<20), x.p.budget>>20)
	}
}

func TestGCPacerLeavesAnIdleBotAlone(t *testing.T) {
	x := newPacerProbe()
	x.after(0, 0, 2)
	for range 20 {
		if x.after(2*time.Minute, 4, 2) {
			t.Fatal("released memory it never grew")
		}
	}
	if len(x.set) != 0 {
		t.Fatalf("GOGC set to %v for 2 MiB a minute", x.set)
	}
}

func TestGCPacerGrowsTheHeapInABurstWithinItsBudget(t *testing.T) {
	// 60 MiB a second: the ack benchmark's envelopes.
	x, g := raised(t, 40*time.Millisecond, 2.4, 2)
	if got := goal(g, 2); got > float64(x.p.budget) || got < float64(x.p.budget)*0.9 {
		t.Errorf("GOGC %d makes a heap goal of %.1f MiB, want just within the budget of %d MiB", g, got/(1<<20), x.p.budget>>20)
	}
	// A slower burst wants less headroom: 12 MiB a second, 3 MiB in a
	// quarter second.
	_, g = raised(t, 250*time.Millisecond, 3, 2)
	if got := goal(g, 2) / (1 << 20); got < 4.5 || got > 5.5 {
		t.Errorf("GOGC %d makes a heap goal of %.1f MiB, want about live + 3 MiB", g, got)
	}
}

func TestGCPacerDoesNotRaiseWhenTheHeapIsAlreadyBig(t *testing.T) {
	x := newPacerProbe()
	x.after(0, 0, 9)
	x.after(100*time.Millisecond, 6, 9)
	if len(x.set) != 0 {
		t.Fatalf("GOGC set to %v with 9 MiB live: GOGC 100 already makes a goal above the 16 MiB budget", x.set)
	}
}

func TestGCPacerGivesMemoryBackOnceQuiet(t *testing.T) {
	x, g := raised(t, 250*time.Millisecond, 15, 2)
	// One quiet look is a pause in the burst, not its end.
	if x.after(250*time.Millisecond, 0.01, 2) {
		t.Fatal("released after one quiet look")
	}
	// A busy look in between starts the count again.
	x.after(250*time.Millisecond, 14, 2)
	if x.after(250*time.Millisecond, 0.01, 2) {
		t.Fatal("released after one quiet look since the last busy one")
	}
	if !x.after(250*time.Millisecond, 0.01, 2) {
		t.Fatal("did not release after two quiet looks")
	}
	if want := []int{g, 100}; len(x.set) != 2 || x.set[0] != want[0] || x.set[1] != want[1] {
		t.Errorf("GOGC set to %v, want %v: small changes within the burst left alone", x.set, want)
	}
	if x.after(250*time.Millisecond, 0.01, 2) || len(x.set) != 2 {
		t.Errorf("acted again once back at GOGC 100: set %v", x.set)
	}
}

func TestGCPacerIgnoresLooksAMomentApart(t *testing.T) {
	x := newPacerProbe()
	x.after(0, 0, 2)
	// 1 MiB in a millisecond is 1 GiB a second, or a collection just
	// after a tick.
	x.after(time.Millisecond, 1, 2)
	if len(x.set) != 0 {
		t.Fatalf("GOGC set to %v from two looks 1 ms apart", x.set)
	}
	// The allocations still count towards the next look's rate.
	x.after(249*time.Millisecond, 2, 2)
	if len(x.set) != 1 {
		t.Fatalf("GOGC set to %v, want a raise for 3 MiB in 250 ms", x.set)
	}
}

// TestGCPacerOnTheRuntime runs the pacer on this process's collector: a
// burst of garbage raises GOGC, within the budget, and the end of it puts
// GOGC back.
func TestGCPacerOnTheRuntime(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := newGCPacer(slog.New(slog.DiscardHandler))
	p.tick = 20 * time.Millisecond
	released := make(chan struct{}, 1)
	p.release = func() {
		debug.FreeOSMemory()
		select {
		case released <- struct{}{}:
		default:
		}
	}
	p.Start(ctx)

	m := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}}
	read := func() (gogc, goal uint64) {
		metrics.Read(m)
		return m[0].Value.Uint64(), m[1].Value.Uint64()
	}
	var sink []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, heapGoal := read()
		if g > 100 {
			if heapGoal > p.budget {
				t.Errorf("GOGC %d, heap goal %.1f MiB: above the budget", g, float64(heapGoal)/(1<<20))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GOGC still 100 after 20 s of garbage")
		}
		for range 64 {
			sink = make([]byte, 16<<10)
		}
		runtime.Gosched()
	}
	_ = sink
	select {
	case <-released:
	case <-time.After(20 * time.Second):
		t.Fatal("the pacer did not give the heap back 20 s after the garbage stopped")
	}
	if g, _ := read(); g != 100 {
		t.Errorf("GOGC %d once quiet, want 100", g)
	}

	// Stopping puts GOGC back, whatever the pacer had set.
	debug.SetGCPercent(100)
	p.mu.Lock()
	p.percent = 300
	p.mu.Unlock()
	debug.SetGCPercent(300)
	cancel()
	for g, _ := read(); g != 100; g, _ = read() {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("GOGC %d after the pacer stopped, want 100", g)
		}
		runtime.Gosched()
	}
}

func TestGCPacerLeavesTheOperatorsGOGC(t *testing.T) {
	if paceGC(t.Context(), slog.New(slog.DiscardHandler), "200") {
		t.Error("paced the collector although GOGC was set")
	}
}

func TestGCPacerOnePerProcess(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	first, stop := context.WithCancel(t.Context())
	if !paceGC(first, log, "") {
		t.Fatal("the first bot's pacer did not start")
	}
	if paceGC(t.Context(), log, "") {
		t.Error("a second pacer started beside the first")
	}
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for !paceGC(t.Context(), log, "") {
		if time.Now().After(deadline) {
			t.Fatal("no pacer could start 10 s after the first stopped")
		}
		runtime.Gosched()
	}
}
