package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

const usage = `Usage: reliability [-short] [-kills N] [-fuzztime D] [-seed N] [-skip parts] [-keep] [-v]

Runs the bot as a child process and breaks things under it: crash
injection, Redis outages, two replicas, kills during a daily sweep and
a superseded clean-up, a leak scan, fuzzing. Prints a
table and, last, one JSON line of figures; exits 1 when a figure that
must be zero is not.
`

// options are the run's flags.
type options struct {
	short    bool
	kills    int
	fuzzTime time.Duration
	seed     int64
	keep     bool
	verbose  bool
	skip     map[string]bool
}

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reliability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var o options
	fs.BoolVar(&o.short, "short", false, "CI's run: 10 kills, 3s of fuzzing per target, one demo scenario")
	fs.IntVar(&o.kills, "kills", 100, "SIGKILLs of the bot to inject across the crash rotations")
	fs.DurationVar(&o.fuzzTime, "fuzztime", 10*time.Second, "how long to fuzz each target")
	fs.Int64Var(&o.seed, "seed", 0, "seed of the kill points (0: from the clock; the run prints it)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (bot logs, Redis dumps, test output)")
	fs.BoolVar(&o.verbose, "v", false, "say what happens as it happens")
	skip := fs.String("skip", "", "parts to leave out, comma-separated: crash, outage, replicas, sweep, cleanup, leaks, fuzz (their figures stay 0)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.short && !set["kills"] {
		o.kills = 10
	}
	if o.short && !set["fuzztime"] {
		o.fuzzTime = 3 * time.Second
	}
	o.skip = map[string]bool{}
	for _, p := range strings.Split(*skip, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.skip[p] = true
		}
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	if o.kills < 0 || o.fuzzTime <= 0 {
		return errors.New("-kills must be 0 or more and -fuzztime more than 0")
	}

	started := time.Now()
	h, err := newHarness(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer h.close()
	h.say("seed %d; work directory %s", o.seed, h.dir)

	phases := []struct {
		key, name string
		run       func(context.Context) error
	}{
		{"crash", "crash injection", h.crashPhase},
		{"outage", "redis outage", h.outagePhase},
		{"replicas", "two replicas", h.replicaPhase},
		{"sweep", "kills during a sweep", h.sweepPhase},
		{"cleanup", "kills during a clean-up", h.cleanupPhase},
		{"leaks", "leak scan", h.leakPhase},
		{"fuzz", "fuzzing and in-process faults", h.fuzzPhase},
	}
	var failed []string
	for _, p := range phases {
		if ctx.Err() != nil {
			break
		}
		if o.skip[p.key] {
			h.say("%s: skipped", p.name)
			continue
		}
		h.say("%s…", p.name)
		t0 := time.Now()
		if err := p.run(ctx); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.name, err))
			h.say("%s failed: %v", p.name, err)
		}
		h.bots.stopRunning()
		h.count(func(f *figures) { f.phaseTime(p.name, time.Since(t0)) })
	}
	var report string
	h.count(func(f *figures) {
		f.Seconds = int(time.Since(started).Seconds())
		report = f.report(o)
		// The report is output too: it is scanned like the rest before
		// it is printed.
		if n := h.scan.scan("this report", []byte(report)); n > 0 {
			f.TokensLeaked += n
			report = f.report(o)
		}
	})
	if _, err := io.WriteString(stdout, report); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("the harness could not finish: %s", strings.Join(failed, "; "))
	}
	var bad []string
	h.count(func(f *figures) { bad = f.nonZero() })
	if len(bad) > 0 {
		return fmt.Errorf("figures that must be 0 are not: %s", strings.Join(bad, ", "))
	}
	return nil
}
