package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// benchmarks are the benchmarks in the order they run.
var benchmarks = []string{"ack", "rotation", "storm", "rotateall", "syncjobs", "memory", "resume", "restart", "redis", "sweep"}

func parseOnly(only string) ([]string, error) {
	if only == "" {
		return benchmarks, nil
	}
	var out []string
	for name := range strings.SplitSeq(only, ",") {
		if !slices.Contains(benchmarks, name) {
			return nil, fmt.Errorf("-only: %q is not one of %s", name, strings.Join(benchmarks, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

// bench is what every benchmark shares: the built binaries, one
// redis-server (each benchmark keeps its keys under its own prefix), and
// a work directory for configurations and logs.
type bench struct {
	h      *harness
	sz     sizes
	bins   binaries
	redis  *redistest.Server
	dir    string
	keep   bool
	stderr io.Writer
	// profiles is where each bot writes its CPU profile, if anywhere;
	// memProfiles where it writes its heap profile.
	profiles, memProfiles string
}

func newBench(ctx context.Context, sz sizes, stderr io.Writer, keep bool, botBin string, profiled bool) (*bench, error) {
	if os.Getenv(redistest.EnvServer) == "" {
		return nil, fmt.Errorf("%s is not set: run `make bench`, or eval \"$(scripts/test-deps.sh)\" first", redistest.EnvServer)
	}
	e := &bench{h: newHarness(stderr), sz: sz, keep: keep, stderr: stderr}
	dir, err := os.MkdirTemp("", "signon-token-bot-bench-")
	if err != nil {
		return nil, err
	}
	e.dir = dir
	err = scope(func() error {
		e.progress("building the bot and the bare client")
		if e.bins, err = build(ctx, dir, botBin, profiled); err != nil {
			return err
		}
		e.redis = redistest.New(e.h)
		return nil
	})
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *bench) close() {
	e.h.close()
	if e.keep {
		fmt.Fprintf(e.stderr, "bench: logs and configurations kept in %s\n", e.dir)
		return
	}
	_ = os.RemoveAll(e.dir)
}

func (e *bench) progress(format string, args ...any) {
	fmt.Fprintf(e.stderr, "bench: %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// bot starts the bot binary on a fresh fake and the world, with its own
// state prefix, and returns once it is connected, with a store on its state for
// the benchmark to watch.
func (e *bench) bot(ctx context.Context, name string, fake *slacktest.Server, w *world) (*botProc, *state.Store, error) {
	prefix := "bench-" + name
	store, err := state.New(e.redis.Client(), state.Options{Prefix: prefix, OpTimeout: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	b, err := startBot(ctx, e.bins.Bot, botSetup{Name: name, Fake: fake, Redis: e.redis.Addr(), Prefix: prefix, Sandbox: w.URL(), Dir: e.dir, Env: e.profileEnv(name)})
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := fake.WaitConnected(cctx, 1); err != nil {
		b.stop(5 * time.Second)
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, store, nil
}

// runAll runs the selected benchmarks and gathers their figures; a
// benchmark that fails leaves its figures out and its error in the report.
func (e *bench) runAll(ctx context.Context, selected []string) (*report, error) {
	rep := newReport(e.sz)
	var errs []error
	for _, name := range benchmarks {
		if !slices.Contains(selected, name) {
			continue
		}
		e.progress("%s: start", name)
		started := time.Now()
		err := scope(func() error { return e.runOne(ctx, name, rep) })
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			rep.failed(name, err)
		}
		e.progress("%s: done in %s", name, time.Since(started).Round(time.Millisecond))
		if ctx.Err() != nil {
			break
		}
	}
	rep.Violations = e.h.Violations()
	if len(rep.Violations) > 0 {
		errs = append(errs, fmt.Errorf("the fake Slack saw %d calls a real Slack would reject, the first: %s", len(rep.Violations), rep.Violations[0]))
	}
	rep.finish()
	return rep, errors.Join(errs...)
}

func (e *bench) runOne(ctx context.Context, name string, rep *report) error {
	switch name {
	case "ack":
		var runs []ackResult
		for i := range max(e.sz.AckRuns, 1) {
			// Each run its own names: its Redis prefix, logs and profiles.
			name := "ack"
			if i > 0 {
				name = fmt.Sprintf("ack-%d", i+1)
			}
			r, err := e.benchAck(ctx, name)
			if err != nil {
				return err
			}
			runs = append(runs, r)
		}
		rep.ack(runs)
		return nil
	case "rotation":
		r, err := e.benchRotation(ctx)
		if err == nil {
			rep.rotation(r)
		}
		return err
	case "storm":
		r, err := e.benchStorm(ctx)
		rep.storm(r)
		return err
	case "rotateall":
		r, err := e.benchRotateAll(ctx)
		rep.rotateAll(r)
		return err
	case "syncjobs":
		r, err := e.benchSyncJobs(ctx)
		rep.syncJobs(r)
		return err
	case "memory":
		r, err := e.benchMemory(ctx)
		rep.memory(r)
		return err
	case "resume":
		r, err := e.benchResume(ctx)
		rep.resume(r)
		return err
	case "restart":
		r, err := e.benchRestart(ctx)
		rep.restart(r)
		return err
	case "redis":
		r, err := e.benchRedis(ctx)
		if err == nil {
			rep.redis(r)
		}
		return err
	case "sweep":
		r, err := e.benchSweep(ctx)
		rep.sweep(r)
		return err
	}
	return fmt.Errorf("unknown benchmark %q", name)
}

// profileEnv asks the bot called name for its CPU profile (sandboxbot's
// SANDBOXBOT_CPUPROFILE) when -cpuprofile is given, and for its heap
// profile when it is stopped (SANDBOXBOT_MEMPROFILE) when -memprofile is.
func (e *bench) profileEnv(name string) []string {
	var env []string
	if e.profiles != "" {
		env = append(env, "SANDBOXBOT_CPUPROFILE="+filepath.Join(e.profiles, name+".pprof"))
	}
	if e.memProfiles != "" {
		// One sample per KiB allocated instead of per 512 KiB, so that a
		// profile of a few MB live tells its parts apart. The samples'
		// records cost memory of their own: a profiled run's figures are
		// not the bot's.
		debug := "memprofilerate=1024"
		if old := os.Getenv("GODEBUG"); old != "" {
			debug = old + "," + debug
		}
		env = append(env, "SANDBOXBOT_MEMPROFILE="+filepath.Join(e.memProfiles, name+".heap.pprof"), "GODEBUG="+debug)
	}
	return env
}
