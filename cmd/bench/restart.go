package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// restartResult is a pod's container killed mid-step and restarted.
type restartResult struct {
	// Took is from the new process's exec to the interrupted run driven
	// on to its sync gate.
	Took time.Duration
	// Lease is how long the dead process's lease had left when the new
	// one started: what a new owner waits.
	Lease time.Duration
	// Holder is the dead process's lease owner, as it named itself.
	Holder string
}

// restartPod is the POD_NAME both processes have, as the chart sets it.
const restartPod = "signon-token-bot-7d9f8-x2x4q"

// benchRestart starts the bot as a pod's container, kills it (SIGKILL,
// as the OOM killer or a failed liveness probe's kill would), and leaves
// in Redis what a process killed in the middle of a step leaves: a run
// interrupted in its inspect step and the run's lease, held for the
// bot's lease time (30s) by the dead process under the owner it used.
// Then it starts the bot again in the same pod and times the run until it
// is parked at its sync gate.
func (e *bench) benchRestart(ctx context.Context) (restartResult, error) {
	var res restartResult
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: 1})
	const prefix = "bench-restart"
	rdb := e.redis.Client()
	store, err := state.New(rdb, state.Options{Prefix: prefix})
	if err != nil {
		return res, err
	}
	setup := botSetup{Name: "restart-1", Fake: fake, Redis: e.redis.Addr(), Prefix: prefix, Sandbox: w.URL(), Dir: e.dir, Env: []string{"POD_NAME=" + restartPod}}
	first, err := startBot(ctx, e.bins.Bot, setup)
	if err != nil {
		return res, err
	}
	if err := fake.WaitConnected(ctx, 1); err != nil {
		first.stop(5 * time.Second)
		return res, fmt.Errorf("the first process: %w", err)
	}
	// The owner it used: its pod name and incarnation, where the bot has
	// them (the name's holder in Redis); a process that names itself
	// afresh each time is a new owner whatever it was called.
	res.Holder = "previous-process"
	err = poll(ctx, 10*time.Millisecond, "the first process to take its name", func() (bool, error) {
		inc, err := rdb.Get(ctx, prefix+":owner:"+restartPod).Result()
		if err == nil {
			res.Holder = restartPod + "#" + inc
		}
		return err == nil || time.Since(first.started) > 5*time.Second, nil
	})
	if err != nil {
		return res, err
	}
	_ = first.cmd.Process.Kill()
	<-first.exited

	t := w.Tokens[flows.Production][0]
	ts, err := w.Signon[flows.Production].Tokens(ctx, t.Email, t.Application)
	if err != nil {
		return res, err
	}
	run := startedRun("r-restart-00001", t.Key(flows.Production), ts, time.Now().UTC())
	if err := store.CreateRun(ctx, run); err != nil {
		return res, err
	}
	const lease = 30 * time.Second
	if err := rdb.Set(ctx, prefix+":lease:"+run.ID, res.Holder, lease).Err(); err != nil {
		return res, fmt.Errorf("the dead process's lease: %w", err)
	}

	setup.Name = "restart-2"
	second, err := startBot(ctx, e.bins.Bot, setup)
	if err != nil {
		return res, err
	}
	defer second.stop(10 * time.Second)
	left, err := rdb.PTTL(ctx, prefix+":lease:"+run.ID).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return res, err
	}
	res.Lease = max(left, 0)
	wait, cancel := context.WithTimeout(ctx, 2*lease)
	defer cancel()
	err = poll(wait, 10*time.Millisecond, "the interrupted run to park", func() (bool, error) {
		r, err := store.Run(wait, run.ID)
		return err == nil && parked(r, flows.GateSync), err
	})
	if err != nil {
		return res, err
	}
	res.Took = time.Since(second.started)
	return res, nil
}
