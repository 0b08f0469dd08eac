// Command bench measures what an operator of the bot cares about, each
// figure against a baseline measured in the same run: ack latency against
// a bare slack-go client, Slack calls per rotation against the messages a
// rotation leaves, an alert storm against the least time Slack's rate
// limits allow, memory against the bare client, a restart with 10,000
// runs against a bare read of them, and Redis round trips per step
// against bare commands.
//
// It runs the real bot binary as a child process against the fake Slack
// on loopback (integrations/slack/slacktest), a real redis-server
// (SIGNON_BOT_REDIS_SERVER, as `make test` starts it) and the Signon and
// cluster doubles served by integrations/sandbox. It prints a table and,
// as its last line, one JSON object with every figure. docs/benchmarks.md
// says what each figure means and records results.
//
//	eval "$(scripts/test-deps.sh)"; go run ./cmd/bench
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sizes are the benchmarks' sizes; the defaults are the issue's.
type sizes struct {
	Envelopes    int
	AckRuns      int
	AckRate      float64
	StormTokens  int
	StormRuns    int
	Parked       int
	Resume       int
	ResumeActive int
	SyncRuns     int
	SyncTime     time.Duration
	StormTimeout time.Duration
}

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sz sizes
	fs.IntVar(&sz.Envelopes, "envelopes", 10_000, "envelopes sent for the ack latency")
	fs.Float64Var(&sz.AckRate, "ack-rate", 0, "envelopes a second the ack benchmark sends, the bot's backlog aside (0: as fast as the bot takes them, the figure the targets are for)")
	fs.IntVar(&sz.AckRuns, "ack-runs", 5, "times the ack benchmark runs, each with a fresh bot and bare client; its figures are the run whose p99 ratio is the median")
	fs.IntVar(&sz.StormTokens, "storm-tokens", 200, "tokens the storm's grouped alert names (and Rotate all's)")
	fs.IntVar(&sz.StormRuns, "storm-runs", 200, "concurrent /rotate-token runs in the storm")
	fs.IntVar(&sz.SyncRuns, "sync-runs", 200, "concurrent /rotate-token runs in one environment for the sync Job count")
	fs.DurationVar(&sz.SyncTime, "sync-time", 2*time.Second, "how long each sync Job runs in the sync Job count")
	fs.DurationVar(&sz.StormTimeout, "storm-timeout", 30*time.Minute, "stop the storm after this long (it then misses its target)")
	fs.IntVar(&sz.Parked, "parked", 1_000, "runs parked at a gate for the memory figure")
	fs.IntVar(&sz.Resume, "resume", 10_000, "active runs in Redis at start-up")
	fs.IntVar(&sz.ResumeActive, "resume-running", 100, "of those, runs interrupted mid-step (the rest wait at a gate)")
	only := fs.String("only", "", "run only these benchmarks, comma-separated: ack,rotation,storm,rotateall,syncjobs,memory,resume,restart,redis,sweep")
	keep := fs.Bool("keep", false, "keep the work directory (the bot's logs) and print where it is")
	profile := fs.String("cpuprofile", "", "write each bot process's CPU profile into this directory as NAME.pprof (NAME as in its log's name)")
	memProfile := fs.String("memprofile", "", "write each bot process's heap profile, taken after a collection when it is stopped, into this directory as NAME.heap.pprof (its figures then include the profiler's own memory)")
	botBin := fs.String("bot", "", "benchmark this bot binary instead of building ./cmd/sandboxbot (to compare two versions; it reads SANDBOX_URL, and with -cpuprofile or -memprofile it must be built with -tags profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	selected, err := parseOnly(*only)
	if err != nil {
		return err
	}
	for _, dir := range []string{*profile, *memProfile} {
		if dir == "" {
			continue
		}
		// A bot that cannot write its profile exits before it listens.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("profile directory: %w", err)
		}
	}
	e, err := newBench(ctx, sz, stderr, *keep, *botBin, *profile != "" || *memProfile != "")
	if err != nil {
		return err
	}
	e.profiles, e.memProfiles = *profile, *memProfile
	defer e.close()
	// The figures measured print even when a benchmark fails: a missed
	// target is data.
	rep, err := e.runAll(ctx, selected)
	return errors.Join(err, rep.write(stdout))
}
