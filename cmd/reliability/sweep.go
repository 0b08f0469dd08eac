package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// sweepPod is the sweep phase's POD_NAME: one pod, restarted in place.
const sweepPod = "reliability-sweep-0"

// sweepLimit is how long a day's sweep may take, its kill and restart
// included.
const sweepLimit = 60 * time.Second

// sweepPoints are where a sweep is killed, one day each, in turn: just
// after it takes its lease, after Signon's estate report, before the
// digest reaches Slack, after Slack has it and before the bot hears
// back (so before the day is recorded), and after the day is recorded
// and before the lease is let go.
var sweepPoints = []string{
	"sweep lease taken",
	"after Estate",
	"slack chat.postMessage (unsent)",
	"slack chat.postMessage",
	"sweep recorded",
}

// sweepPhase sweeps "days" on one bot with a daily sweep, killing it once
// at each point in turn and starting it again, as its pod would be. A day
// is made by deleting the sweep's record and lease while no bot runs.
// Each day must end with its record and one digest in the channel, and
// no write to Signon; a second digest is counted apart, as the at-least-
// once the docs promise.
func (h *harness) sweepPhase(ctx context.Context) error {
	h.sweeping.Store(true)
	defer h.sweeping.Store(false)
	stopWatch := h.watchSweepWrites(ctx)
	defer stopWatch()
	rounds := 2
	if h.opt.short {
		rounds = 1
	}
	for i := range rounds * len(sweepPoints) {
		if err := h.sweepDay(ctx, sweepPoints[i%len(sweepPoints)]); err != nil {
			return err
		}
	}
	return nil
}

// sweepDay is one day: the bot killed at point.
func (h *harness) sweepDay(ctx context.Context, point string) error {
	digests, writes := h.digests(), h.signonWrites()
	killed, err := h.startDay(ctx, "sweep", point, func(f *figures) { f.SweepKills++ })
	defer h.killer.disarm()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sweepLimit)
	defer cancel()
	err = waitFor(ctx, "the day's sweep, killed "+point, func() bool {
		select {
		case <-killed:
		default:
			return false
		}
		raw, err := h.store.LastSweep(ctx, env)
		return err == nil && raw != nil
	})
	h.killer.disarm()
	h.bots.settle()
	posted, wrote := h.digests()-digests, h.signonWrites()-writes
	h.count(func(f *figures) {
		f.Sweeps++
		f.Digests += posted
		f.FaultsInjected++
		if err == nil && posted > 0 && wrote == 0 {
			f.FaultsSurvived++
		}
		switch {
		case err != nil || posted == 0:
			f.MissingDigests++
			f.finding("sweep killed %s: no digest, or the day never recorded (%v)", point, err)
		case posted > 1:
			f.DuplicateDigests += posted - 1
		}
		if wrote != 0 {
			f.SweepSignonWrites += wrote
			f.finding("sweep killed %s: %d Signon writes", point, wrote)
		}
	})
	h.debug("day swept, killed %s: %d digests", point, posted)
	return nil
}

// startDay starts a "day" of the named bot with a daily sweep: the last
// day's sweep forgotten while no bot runs, the killer armed at point
// (counted by kill, and closing killed), the bot started.
func (h *harness) startDay(ctx context.Context, name, point string, kill func(*figures)) (killed chan struct{}, err error) {
	h.bots.stopRunning()
	if err := h.rdb.Del(ctx, sweepKey("sweep"), sweepKey("sweep-lease")).Err(); err != nil {
		return nil, fmt.Errorf("forget the last sweep: %w", err)
	}
	killed = make(chan struct{})
	stop := h.bots.killer(name)
	h.killer.arm(1, point, func(p string) {
		stop(p)
		h.count(kill)
		close(killed)
	})
	if _, err := h.bots.start(name); err != nil {
		return nil, err
	}
	return killed, nil
}

// digests counts the daily digests in the sweep's channel.
func (h *harness) digests() int {
	n := 0
	for _, m := range h.slack.History(ops, alice) {
		if m.BotID != "" && strings.HasPrefix(m.Text, "Daily sweep of "+env) {
			n++
		}
	}
	return n
}

// signonWrites are the tokens Signon issued and revoked.
func (h *harness) signonWrites() int {
	return h.signon.Calls(signon.OpIssue) + h.signon.Calls(signon.OpRevoke)
}

// sweepKey is one of the sweep's keys of the environment.
func sweepKey(kind string) string {
	return statePfx + ":{" + statePfx + "}:" + kind + ":" + env
}

// watchSweepWrites makes the sweep's lease and record writes kill
// points, as watchWrites does for runs and offers.
func (h *harness) watchSweepWrites(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ps := h.rdb.Subscribe(ctx, "__keyspace@0__:"+sweepKey("sweep-lease"), "__keyspace@0__:"+sweepKey("sweep"))
	// Subscribed before any bot starts, so that no write goes unseen.
	if _, err := ps.Receive(ctx); err != nil {
		h.say("sweep phase: subscribe to the sweep's keys: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchSets(ctx, ps, func(channel string) {
			if strings.HasSuffix(channel, sweepKey("sweep-lease")) {
				h.killer.point("sweep lease taken")
			} else {
				h.killer.point("sweep recorded")
			}
		})
	}()
	return func() { cancel(); <-done }
}
