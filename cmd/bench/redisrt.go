package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state"
)

// redisResult is the Redis cost of one rotation driven through the engine.
type redisResult struct {
	// RoundTrips are the commands and pipelines the engine sent from
	// Start to the run's end, clicks included; Phases splits them.
	RoundTrips int
	Phases     []phaseTrips
	// Steps are the runbook steps the run finished (done or skipped).
	Steps int
	// Bare is the baseline: the round trips of one step done with bare
	// commands (state's BenchmarkRunStep: GET, SET NX PX, SET, XADD).
	Bare      int
	ByCommand map[string]int
}

type phaseTrips struct {
	Name  string
	Trips int
}

// PerStep is the round trips per runbook step.
func (r redisResult) PerStep() float64 {
	if r.Steps == 0 {
		return 0
	}
	return float64(r.RoundTrips) / float64(r.Steps)
}

// benchRedis drives one rotation step by step through a real engine on a
// real redis-server, in this process, counting round trips with a
// go-redis hook as state's benchmarks do. The engine talks to the fake
// Slack through the bot's own client and notifier, so that receipts are
// stored as in production; the benchmark watches through another client.
func (e *bench) benchRedis(ctx context.Context) (redisResult, error) {
	res := redisResult{ByCommand: map[string]int{}}
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: 2, flows.Integration: 0})
	client := slackint.New(slackint.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL()})
	const prefix = "bench-redis"
	counter := &roundTrips{byCommand: map[string]int{}}
	counted := e.redis.Client()
	counted.AddHook(counter)
	store, err := state.New(counted, state.Options{Prefix: prefix})
	if err != nil {
		return res, err
	}
	raw := e.redis.Client()
	watch, err := state.New(raw, state.Options{Prefix: prefix})
	if err != nil {
		return res, err
	}

	clock := flows.SystemClock{}
	render := blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"}
	notifier := commands.NewNotifier(commands.NotifierConfig{Slack: client, Render: render, Offers: store, Runs: store, Clock: clock})
	defer notifier.Close()
	policy := flows.GOVUKPolicy()
	prod := policy.Environments[flows.Production]
	prod.Starters = flows.Principals{Users: []string{alice, bob}}
	policy.Environments[flows.Production] = prod
	engine, err := flows.New(flows.Config{
		Policy: policy, Store: store, Notifier: notifier, Clock: clock, Owner: "bench",
		Envs:      w.Envs(),
		Directory: &commands.CachedDirectory{Directory: client, Clock: clock},
		LeaseTTL:  time.Minute, SweepEvery: time.Hour,
	})
	if err != nil {
		return res, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- engine.Run(runCtx) }()
	// The start-up sweep of an empty store is one SMEMBERS.
	if err := poll(ctx, time.Millisecond, "the engine's start-up sweep", func() (bool, error) {
		return counter.count("smembers") > 0, nil
	}); err != nil {
		return res, err
	}

	// rotate drives one run from Start to its end, through both gates,
	// and returns its id; phase, when set, is told as each part ends.
	rotate := func(t expiring, phase func(name string)) (string, error) {
		run, err := engine.Start(ctx, flows.StartRequest{Key: t.Key(flows.Production), Actor: alice,
			Thread: flows.Thread{Channel: opsChannel}, Origin: flows.Origin{Kind: "command"}})
		if err != nil {
			return "", err
		}
		// settled: the run satisfies cond and its driver has let go of it.
		settled := func(what string, cond func(*flows.Run) bool) error {
			return poll(ctx, 2*time.Millisecond, what, func() (bool, error) {
				r, err := watch.Run(ctx, run.ID)
				if err != nil || !cond(r) {
					return false, err
				}
				n, err := raw.Exists(ctx, prefix+":lease:"+run.ID).Result()
				return n == 0, err
			})
		}
		if err := settled("the sync gate", func(r *flows.Run) bool { return parked(r, flows.GateSync) }); err != nil {
			return "", err
		}
		phase("start to the sync gate")
		for _, g := range []struct {
			kind flows.GateKind
			user string
			next string
			done func(*flows.Run) bool
		}{
			{flows.GateSync, alice, "sync click to the revoke gate", func(r *flows.Run) bool { return parked(r, flows.GateRevoke) }},
			{flows.GateRevoke, bob, "revoke click to the end", func(r *flows.Run) bool { return r.Ended() && posted(r) }},
		} {
			r, err := watch.Run(ctx, run.ID)
			if err != nil {
				return "", err
			}
			if _, err := engine.Act(ctx, flows.ActRequest{RunID: run.ID, GateID: r.Gate.ID, Action: flows.ActionApprove, Actor: g.user}); err != nil {
				return "", fmt.Errorf("pass the %s gate: %w", g.kind, err)
			}
			if err := settled(g.next, g.done); err != nil {
				return "", err
			}
			phase(g.next)
		}
		return run.ID, nil
	}
	// A first rotation outside the count loads the scripts into Redis and
	// opens the connections, as state's benchmarks do.
	if _, err := rotate(w.Tokens[flows.Production][0], func(string) {}); err != nil {
		return res, fmt.Errorf("warm-up rotation: %w", err)
	}
	counter.reset()
	phase := func(name string) {
		res.Phases = append(res.Phases, phaseTrips{Name: name, Trips: counter.total() - res.RoundTrips})
		res.RoundTrips = counter.total()
	}
	id, err := rotate(w.Tokens[flows.Production][1], phase)
	if err != nil {
		return res, err
	}
	stop()
	if err := <-ran; err != nil {
		return res, err
	}
	if counter.total() > res.RoundTrips {
		phase("the engine stopping")
	}
	res.ByCommand = counter.snapshot()
	final, err := watch.Run(ctx, id)
	if err != nil {
		return res, err
	}
	if final.Phase != flows.PhaseDone {
		return res, fmt.Errorf("the run ended %s: %s", final.Phase, final.Reason)
	}
	for _, s := range final.Steps {
		if s.Status == flows.StepOK || s.Status == flows.StepSkipped {
			res.Steps++
		}
	}

	// The baseline, through the same hook.
	before := counter.total()
	if err := errors.Join(
		ignoreNil(counted.Get(ctx, prefix+":bare:run").Err()),
		counted.SetNX(ctx, prefix+":bare:lease", "bench", time.Minute).Err(),
		counted.Set(ctx, prefix+":bare:run", "{}", 0).Err(),
		counted.XAdd(ctx, &redis.XAddArgs{Stream: prefix + ":bare:audit", Values: []any{"run", id, "action", "sync"}}).Err(),
	); err != nil {
		return res, fmt.Errorf("bare step: %w", err)
	}
	res.Bare = counter.total() - before
	return res, nil
}

func ignoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// roundTrips is a go-redis hook counting what goes to the server, as
// state's benchmarks count it: one per command, one per pipeline. The
// handshake of a new connection is left out: it is paid once per
// connection, not per step.
type roundTrips struct {
	mu        sync.Mutex
	n         int
	byCommand map[string]int
}

func (h *roundTrips) add(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.byCommand[name]++
}

// handshake are the commands go-redis sends on a new connection.
var handshake = map[string]bool{"hello": true, "auth": true, "select": true, "client": true}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if !handshake[cmd.Name()] {
			h.add(cmd.Name())
		}
		return err
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !handshake[c.Name()] }) {
			return err
		}
		name := "pipeline"
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			name = "multi/exec"
		}
		h.add(name)
		return err
	}
}

func (h *roundTrips) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *roundTrips) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byCommand[name]
}

func (h *roundTrips) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n = 0
	h.byCommand = map[string]int{}
}

func (h *roundTrips) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.byCommand))
	for k, v := range h.byCommand {
		out[k] = v
	}
	return out
}
