package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// memoryResult is the resident memory of the bot and of the bare client.
type memoryResult struct {
	BareIdle, Idle, Parked memory
	ParkedRuns             int
	// IdleGo and ParkedGo are the Go runtime's view of the bot's memory.
	IdleGo, ParkedGo map[string]float64
}

// Memory is read over a quiet window once the process has settled: the
// largest resident size seen is what a container's limit must allow.
const (
	settle     = time.Second
	memWindow  = 2 * time.Second
	slashInFly = 32
)

// benchMemory reads the resident memory of the bare client and of the
// bot idle after connecting, then of the bot with Parked runs started by
// /rotate-token and waiting at their sync gate.
func (e *bench) benchMemory(ctx context.Context) (memoryResult, error) {
	var res memoryResult
	bareFake := newSlack(e.h, false)
	bare, err := e.bare(ctx, bareFake, "memory-bare", 1)
	if err != nil {
		return res, err
	}
	res.BareIdle, err = steadyMemory(ctx, bare.Pid(), settle, memWindow)
	bare.stop(5 * time.Second)
	if err != nil {
		return res, err
	}

	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: e.sz.Parked})
	bot, store, err := e.bot(ctx, "memory", fake, w)
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)
	if res.Idle, err = steadyMemory(ctx, bot.Pid(), settle, memWindow); err != nil {
		return res, err
	}
	if res.IdleGo, err = bot.goMemory(ctx); err != nil {
		return res, err
	}

	var inFlight []*slacktest.Delivery
	answered := func(d *slacktest.Delivery) (bool, error) {
		rs := d.Responses()
		if len(rs) == 0 {
			return false, nil
		}
		if !strings.Contains(rs[0].Text, "Started run") {
			return false, fmt.Errorf("/rotate-token answered %q", rs[0].Text)
		}
		return true, nil
	}
	drain := func(limit int) error {
		return poll(ctx, 2*time.Millisecond, "answers to /rotate-token", func() (bool, error) {
			kept := inFlight[:0]
			for _, d := range inFlight {
				ok, err := answered(d)
				if err != nil {
					return false, err
				}
				if !ok {
					kept = append(kept, d)
				}
			}
			inFlight = kept
			return len(inFlight) < limit, nil
		})
	}
	for _, t := range w.Tokens[flows.Production] {
		if err := drain(slashInFly); err != nil {
			return res, err
		}
		inFlight = append(inFlight, rotateToken(fake, alice, opsChannel, t, flows.Production))
	}
	if err := drain(1); err != nil {
		return res, err
	}
	err = poll(ctx, 250*time.Millisecond, "every run at its sync gate", func() (bool, error) {
		runs, err := store.ActiveRuns(ctx)
		if err != nil {
			return false, err
		}
		n := 0
		for _, r := range runs {
			if parked(r, flows.GateSync) {
				n++
			}
		}
		res.ParkedRuns = n
		return n == len(w.Tokens[flows.Production]), nil
	})
	if err != nil {
		return res, err
	}
	if res.Parked, err = steadyMemory(ctx, bot.Pid(), settle, memWindow); err != nil {
		return res, err
	}
	res.ParkedGo, err = bot.goMemory(ctx)
	return res, err
}
