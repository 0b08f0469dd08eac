package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// rotationLimit is how long a rotation may take, kills and restarts
// included, before it counts as stuck.
const rotationLimit = 90 * time.Second

// crashKind is one way a crash rotation starts.
type crashKind struct {
	name     string
	via      string
	external bool
}

// aimedPoints are the changes a crash must not lose: each made in Signon
// or the cluster, with the bot killed before it hears the outcome, and an
// alert's offer recorded and not yet posted (the first post of an alert
// rotation); with the kinds of rotation that pass them.
var aimedPoints = []struct{ point, kinds string }{
	{"after Issue", "alert command"},
	{"after StartSync", "alert command"},
	{"after WaitSync", "alert command"},
	{"after Revoke", "alert command external"},
	{"slack chat.postMessage (unsent)", "alert"},
}

var crashKinds = []crashKind{
	{"alert", viaAlert, false},
	{"command", viaCommand, false},
	{"external", viaCommand, true},
}

// crashPhase rotates token after token on one bot, SIGKILLing it at kill
// points and starting it again each time, until it has been killed
// opts.kills times. The first rotation of each kind runs without kills,
// to count its kill points; each later one is killed up to three times,
// each time at a point drawn from that count, except that the first
// killing rotations aim their first kill at each change made in Signon or
// the cluster in turn.
func (h *harness) crashPhase(ctx context.Context) error {
	const name = "crash"
	b, err := h.bots.start(name)
	if err != nil {
		return err
	}
	if err := b.waitReady(ctx); err != nil {
		return err
	}
	kill := h.bots.killer(name)

	var mu sync.Mutex
	budget, points := 0, 0
	// aimed are kill points every run must survive: the first killing
	// rotations each aim their first kill at one, the rest fall at random.
	aimed, aim := slices.Clone(aimedPoints), ""
	arm := func() {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case budget <= 0 || points <= 0:
		case aim != "":
			budget--
			h.killer.arm(1, aim, kill)
			aim = ""
		default:
			budget--
			h.killer.arm(1+h.intn(points), "", kill)
		}
	}
	h.bots.onRestart(func(string) { arm() })
	defer h.bots.onRestart(nil)
	defer h.killer.disarm()

	calibrated := map[string]int{}
	stuck, stuckBefore := 0, h.stuckRuns()
	for i := 0; h.kills() < h.opt.kills || len(calibrated) < len(crashKinds); i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if i > 4*h.opt.kills+20 {
			return fmt.Errorf("%d rotations made only %d of %d kills", i, h.kills(), h.opt.kills)
		}
		k := crashKinds[i%len(crashKinds)]
		n, known := calibrated[k.name]
		var stopCount func() map[string]int
		mu.Lock()
		if known {
			budget, points = min(1+h.intn(3), h.opt.kills-h.kills()), n
			if j := slices.IndexFunc(aimed, func(a struct{ point, kinds string }) bool {
				return slices.Contains(strings.Fields(a.kinds), k.name)
			}); j >= 0 {
				aim = aimed[j].point
				aimed = slices.Delete(aimed, j, j+1)
			}
		} else {
			budget, points = 0, 0
			stopCount = h.killer.count()
		}
		mu.Unlock()
		arm()

		before := h.kills()
		spec := h.newSpec(k.external)
		run, err := h.newRotation(spec, k.via).drive(ctx, rotationLimit)
		h.killer.disarm()
		mu.Lock()
		budget, aim = 0, ""
		mu.Unlock()
		if stopCount != nil {
			total := 0
			for _, c := range stopCount() {
				total += c
			}
			calibrated[k.name] = total
			h.count(func(f *figures) {
				if f.KillPoints == nil {
					f.KillPoints = map[string]int{}
				}
				f.KillPoints[k.name] = total
			})
		}
		kills := h.kills() - before
		v := h.judge(ctx, "crash", spec, run, err)
		h.count(func(f *figures) {
			f.CrashRotations++
			f.FaultsInjected += kills
			if v.ok() {
				f.FaultsSurvived += kills
			}
		})
		h.debug("crash rotation %d (%s): %d kill(s), %s", i+1, k.name, kills, verdictLine(v))
		if errors.Is(err, errStuck) {
			if stuck++; stuck >= 3 {
				return fmt.Errorf("three rotations stuck; the last: %v", err)
			}
		}
		// A rotation's kills end with its run: wait for the last restart.
		h.bots.settle()
		if err := h.bots.current(name).waitReady(ctx); err != nil {
			return err
		}
	}

	// Then one batch, killed batchKills times at random points through it.
	mu.Lock()
	budget = batchKills(h.opt.kills)
	points = batchKillSpread(calibrated["command"], budget)
	mu.Unlock()
	arm()
	d := h.newBatchDrive()
	before := h.kills()
	err = d.drive(ctx, batchLimit)
	h.killer.disarm()
	mu.Lock()
	budget = 0
	mu.Unlock()
	kills := h.kills() - before
	ok := h.judgeBatch(ctx, d, err)
	h.count(func(f *figures) {
		f.BatchKills += kills
		f.FaultsInjected += kills
		if ok {
			f.FaultsSurvived += kills
		}
	})
	h.debug("crash batch of %d: %d kill(s), ok %t", batchSize, kills, ok)
	h.bots.settle()
	if err := h.bots.current(name).waitReady(ctx); err != nil {
		return err
	}

	h.saveMetrics(ctx, h.bots.current(name), "end")
	h.leftovers(ctx, "crash", stuckBefore)
	return h.bots.stop(name)
}

// leftovers counts the runs still active after a part's rotations all
// ended or were counted stuck: a run nobody asked for, or one that a
// rotation lost track of, is stuck too.
func (h *harness) leftovers(ctx context.Context, part string, stuckBefore int) {
	runs, err := h.store.ActiveRuns(ctx)
	if err != nil {
		h.count(func(f *figures) { f.finding("%s: list the runs left active: %v", part, err) })
		return
	}
	h.count(func(f *figures) {
		if extra := len(runs) - (f.StuckRuns - stuckBefore); extra > 0 {
			f.StuckRuns += extra
			for _, r := range runs {
				f.finding("%s: run %s of %s left %s at %s", part, r.ID, r.Key, r.Phase, r.Step)
			}
		}
	})
}

// judge checks a finished rotation and adds it to the figures.
func (h *harness) judge(ctx context.Context, part string, spec *tokenSpec, run *flows.Run, err error) verdict {
	if err != nil && !errors.Is(err, errStuck) {
		v := verdict{}
		v.bad("%v", err)
		h.count(func(f *figures) { f.FailedRuns++; f.finding("%s: %s: %v", part, spec.email, err) })
		return v
	}
	v := h.check(ctx, spec, run)
	stuck := errors.Is(err, errStuck)
	if stuck {
		v.bad("stuck: %v", err)
	}
	h.count(func(f *figures) {
		if v.done {
			f.RunsCompleted++
		}
		if stuck {
			f.StuckRuns++
		}
		if v.newTokens > 1 {
			f.DoubleIssues += v.newTokens - 1
		}
		f.EarlyRevokes += len(v.early)
		f.LostMessages += len(v.lost)
		f.UnrecordedPosts += len(v.orphans)
		f.DuplicateEffects += v.extraJobs + v.extraRevokes
		if !v.ok() {
			f.FailedRuns++
			f.finding("%s: %s: %s", part, spec.email, strings.Join(v.problems, "; "))
		}
		for _, o := range v.orphans {
			f.finding("%s: %s: run %s's thread has a message no record accounts for, %s", part, spec.email, runID(run), o)
		}
	})
	return v
}

func runID(run *flows.Run) string {
	if run == nil {
		return "(none)"
	}
	return run.ID
}

func verdictLine(v verdict) string {
	if v.ok() {
		return "ok"
	}
	return strings.Join(v.problems, "; ")
}

func (h *harness) stuckRuns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fig.StuckRuns
}

func (h *harness) kills() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fig.CrashKills
}
