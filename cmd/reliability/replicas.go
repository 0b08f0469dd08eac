package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// replicaPhase runs two bots on one Redis and one fake Slack, which
// spreads envelopes over their connections, and rotates several tokens at
// once with every button pressed twice at the same moment. Half-way, one
// replica is SIGKILLed and started again. Every run must complete once,
// each side effect once.
func (h *harness) replicaPhase(ctx context.Context) error {
	names := []string{"replica-a", "replica-b"}
	for _, name := range names {
		b, err := h.bots.start(name)
		if err != nil {
			return err
		}
		if err := b.waitReady(ctx); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, "both replicas connected", func() bool { return h.slack.Connections() >= 2 }); err != nil {
		return err
	}
	stuckBefore := h.stuckRuns()
	rounds, perRound := 2, 4
	if h.opt.short {
		rounds, perRound = 1, 3
	}
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range perRound {
			via := viaAlert
			if i%2 == 1 {
				via = viaCommand
			}
			spec := h.newSpec(i == perRound-1)
			r := h.newRotation(spec, via)
			r.twice = true
			wg.Go(func() {
				run, err := r.drive(ctx, rotationLimit)
				v := h.judge(ctx, "replicas", spec, run, err)
				h.count(func(f *figures) {
					f.ReplicaRuns++
					f.FaultsInjected++ // the clicks delivered twice
					if v.ok() {
						f.FaultsSurvived++
					}
				})
			})
		}
		if round == 0 {
			// A replica dies while the runs are under way; the other
			// takes its runs over once their leases lapse.
			victim := h.bots.current(names[0])
			if err := waitFor(ctx, "a run under way", func() bool { return h.activeRuns(ctx) > 0 }); err == nil {
				victim.kill()
				h.count(func(f *figures) { f.ReplicaKills++; f.FaultsInjected++ })
				h.say("replicas: SIGKILLed %s with %d run(s) under way", names[0], h.activeRuns(ctx))
				if _, err := h.bots.start(names[0]); err != nil {
					return err
				}
				h.count(func(f *figures) { f.FaultsSurvived++ })
			}
		}
		wg.Wait()
	}
	for _, name := range names {
		n, err := h.envelopesHandled(ctx, h.bots.current(name))
		if err != nil {
			return err
		}
		h.saveMetrics(ctx, h.bots.current(name), "end")
		h.count(func(f *figures) { f.EnvelopesByBot = append(f.EnvelopesByBot, n) })
		if n == 0 {
			h.count(func(f *figures) { f.finding("replicas: %s handled no envelope: the fake did not spread them", name) })
		}
	}
	h.leftovers(ctx, "replicas", stuckBefore)
	for _, name := range names {
		if err := h.bots.stop(name); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) activeRuns(ctx context.Context) int {
	runs, err := h.store.ActiveRuns(ctx)
	if err != nil {
		return 0
	}
	return len(runs)
}

// envelopesHandled reads the Socket Mode envelopes a bot handled from its
// metrics (since it last started).
func (h *harness) envelopesHandled(ctx context.Context, b *bot) (int, error) {
	_, body, err := b.get(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "signon_token_bot_slack_envelopes_total{") || !strings.Contains(line, `outcome="handled"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %q: %w", b.name, line, err)
		}
		n += int(v)
	}
	return n, nil
}
