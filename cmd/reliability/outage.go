package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// outageLimit bounds each wait of the outage phase.
const outageLimit = 30 * time.Second

// outagePhase takes Redis away from a running bot: stopped mid-run and
// started again with its data, then lost altogether (no persistence), and
// last lost while the bot restarts too.
func (h *harness) outagePhase(ctx context.Context) error {
	const name = "outage"
	b, err := h.bots.start(name)
	if err != nil {
		return err
	}
	if err := b.waitReady(ctx); err != nil {
		return err
	}
	for _, step := range []func(context.Context, *bot) error{h.redisStops, h.redisLosesAll} {
		h.count(func(f *figures) { f.FaultsInjected++ })
		if err := step(ctx, b); err != nil {
			h.count(func(f *figures) { f.finding("outage: %v", err) })
			h.say("outage: %v", err)
		} else {
			h.count(func(f *figures) { f.FaultsSurvived++; f.RedisOutages++ })
		}
		if !b.alive() {
			return fmt.Errorf("bot %s died in the outage", name)
		}
	}
	h.saveMetrics(ctx, b, "end")
	if err := h.bots.stop(name); err != nil {
		return err
	}
	return h.redisAndBotLoseAll(ctx)
}

// atGate: the run waits at a gate of that kind, with its post in Slack.
func atGate(kind flows.GateKind) func(*flows.Run) bool {
	return func(r *flows.Run) bool {
		return r.Phase == flows.PhaseWaiting && r.Gate != nil && r.Gate.Kind == kind && gateMessage(r) != ""
	}
}

// redisStops stops Redis while the bot waits on the sync Job. The bot must
// say so on /readyz, refuse new work privately, and finish the run once
// Redis is back, without a restart.
func (h *harness) redisStops(ctx context.Context, b *bot) error {
	spec := h.newSpec(false)
	r := h.newRotation(spec, viaCommand)
	if _, err := r.until(ctx, outageLimit, atGate(flows.GateSync)); err != nil {
		return fmt.Errorf("Redis stopped: before the outage: %w", err)
	}
	var once sync.Once
	stopped := make(chan error, 1)
	h.effects.setBefore(func(method string) {
		if method == "WaitSync" {
			once.Do(func() { stopped <- h.redis.Stop() })
		}
	})
	defer h.effects.setBefore(nil)
	var stopErr error
	if _, err := r.until(ctx, outageLimit, func(*flows.Run) bool {
		select {
		case stopErr = <-stopped:
			return true
		default:
			return false
		}
	}); err != nil {
		return fmt.Errorf("Redis stopped: pressing Run sync: %w", err)
	}
	if stopErr != nil {
		return fmt.Errorf("Redis stopped: stop Redis: %w", stopErr)
	}
	h.say("outage: Redis stopped while the bot waits on the sync Job")

	var body string
	if err := waitFor(ctx, "/readyz to report Redis down", func() bool {
		code, got, err := b.get(ctx, "/readyz")
		body = got
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(got, "redis:") && !strings.Contains(got, "redis: ok")
	}); err != nil {
		return fmt.Errorf("Redis stopped: %w (last /readyz: %q)", err, body)
	}
	other := h.newSpec(false)
	answer, err := h.privateAnswer(ctx, h.slack.SendSlashCommand(slacktest.SlashCommand{
		Command: commands.CommandName, Text: other.email + " " + appSlug + " " + env, User: alice, Channel: ops,
	}))
	if err != nil {
		return fmt.Errorf("Redis stopped: /rotate-token during the outage: %w", err)
	}
	if !strings.Contains(answer, "state store") || !strings.Contains(answer, "nothing was changed") {
		return fmt.Errorf("Redis stopped: /rotate-token during the outage was answered %q, want a refusal naming the state store", answer)
	}
	h.debug("outage: /readyz said %q; /rotate-token was answered %q", firstLine(body), answer)

	if err := h.redis.Start(); err != nil {
		return err
	}
	h.say("outage: Redis started again")
	if err := b.waitReady(ctx); err != nil {
		return fmt.Errorf("Redis stopped: after Redis came back: %w", err)
	}
	run, err := r.drive(ctx, rotationLimit)
	v := h.judge(ctx, "outage", spec, run, err)
	switch {
	case !v.ok():
		return fmt.Errorf("Redis stopped: the run did not finish well: %s", verdictLine(v))
	case !b.alive() || h.bots.current("outage") != b:
		return errors.New("Redis stopped: the bot restarted")
	}
	if _, err := h.store.ActiveRun(ctx, other.key); !errors.Is(err, flows.ErrRunNotFound) {
		return fmt.Errorf("Redis stopped: the refused /rotate-token left a run behind (%v)", err)
	}
	if n := h.signon.TokenCount(other.email, appName); n != 1 {
		return fmt.Errorf("Redis stopped: the refused /rotate-token changed Signon: %d tokens, want 1", n)
	}
	return nil
}

// redisLosesAll restarts Redis empty while a run waits at its sync gate
// with its new token issued. The bot must say in the run's thread what
// Signon and the cluster show; a new run must use the lost run's token.
func (h *harness) redisLosesAll(ctx context.Context, b *bot) error {
	spec := h.newSpec(false)
	lost, err := h.newRotation(spec, viaCommand).until(ctx, outageLimit, atGate(flows.GateSync))
	if err != nil {
		return fmt.Errorf("Redis lost: before the loss: %w", err)
	}
	if err := h.loseRedis(ctx); err != nil {
		return err
	}
	h.say("outage: Redis restarted empty under run %s", lost.ID)
	report, err := h.lostReport(ctx, lost, outageLimit)
	if err != nil {
		return fmt.Errorf("Redis lost: %w", err)
	}
	if want := fmt.Sprintf("Made during the run: token #%d", lost.NewToken.ID); !strings.Contains(report, want) {
		return fmt.Errorf("Redis lost: the report does not say %q:\n%s", want, report)
	}
	return h.resumeLost(ctx, spec, lost)
}

// redisAndBotLoseAll loses Redis while the bot is down too: the new bot
// never knew the run, so it cannot report it. What it does is recorded as
// a finding, not a failure; a new run must still not issue a second
// token.
func (h *harness) redisAndBotLoseAll(ctx context.Context) error {
	const name = "outage-2"
	b, err := h.bots.start(name)
	if err != nil {
		return err
	}
	if err := b.waitReady(ctx); err != nil {
		return err
	}
	spec := h.newSpec(false)
	lost, err := h.newRotation(spec, viaCommand).until(ctx, outageLimit, atGate(flows.GateSync))
	if err != nil {
		return fmt.Errorf("Redis and bot lost: before the loss: %w", err)
	}
	b.kill()
	if err := h.loseRedis(ctx); err != nil {
		return err
	}
	if b, err = h.bots.start(name); err != nil {
		return err
	}
	if err := b.waitReady(ctx); err != nil {
		return err
	}
	// Give the new bot several sweeps to report the run, if it can.
	if _, err := h.lostReport(ctx, lost, 3*time.Second); err != nil {
		h.count(func(f *figures) {
			f.finding("outage: when Redis loses its data while the bot restarts too, run %s's thread is not told: the token #%d it issued is reported nowhere until someone rotates again (the next run then uses it)", lost.ID, lost.NewToken.ID)
		})
	}
	h.count(func(f *figures) { f.FaultsInjected++ })
	if err := h.resumeLost(ctx, spec, lost); err != nil {
		h.count(func(f *figures) { f.finding("outage: %v", err) })
	} else {
		h.count(func(f *figures) { f.FaultsSurvived++; f.RedisOutages++ })
	}
	h.saveMetrics(ctx, b, "end")
	return h.bots.stop(name)
}

// loseRedis keeps what Redis holds for the leak scan, then kills it
// without saving and starts it again empty.
func (h *harness) loseRedis(ctx context.Context) error {
	h.mu.Lock()
	h.losses++
	n := h.losses
	h.mu.Unlock()
	if err := h.dumpRedis(ctx, fmt.Sprintf("redis-before-loss-%d", n)); err != nil {
		return err
	}
	if err := h.redis.Lose(); err != nil {
		return err
	}
	return h.redis.Start()
}

// lostReport waits for the bot's report of a lost run in its thread.
func (h *harness) lostReport(ctx context.Context, lost *flows.Run, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var report string
	err := waitFor(ctx, "the report of lost run "+lost.ID, func() bool {
		for _, m := range h.slack.Thread(lost.Thread.Channel, lost.Thread.TS, "") {
			if t := messageText(m); strings.Contains(t, "State lost") {
				report = t
				return true
			}
		}
		return false
	})
	return report, err
}

// resumeLost rotates a lost run's token again: the new run must find the
// token the lost one made, and issue none.
func (h *harness) resumeLost(ctx context.Context, spec *tokenSpec, lost *flows.Run) error {
	run, err := h.newRotation(spec, viaCommand).drive(ctx, rotationLimit)
	v := h.judge(ctx, "outage", spec, run, err)
	switch {
	case !v.ok():
		return fmt.Errorf("Redis lost: the new run did not finish well: %s", verdictLine(v))
	case run.NewToken == nil || run.NewToken.ID != lost.NewToken.ID || !run.NewTokenExisting:
		return fmt.Errorf("Redis lost: the new run's token is %+v, want the lost run's #%d, found not issued", run.NewToken, lost.NewToken.ID)
	}
	return nil
}

// privateAnswer waits for the bot's private answer to a slash command or
// a click.
func (h *harness) privateAnswer(ctx context.Context, d *slacktest.Delivery) (string, error) {
	if d == nil {
		return "", errors.New("the fake Slack refused to deliver it")
	}
	h.keep(d)
	ctx, cancel := context.WithTimeout(ctx, outageLimit)
	defer cancel()
	var text string
	err := waitFor(ctx, "a private answer", func() bool {
		for _, r := range d.Responses() {
			if !r.ReplaceOriginal && !r.DeleteOriginal && r.ResponseType != "in_channel" {
				text = r.Text
				return true
			}
		}
		return false
	})
	return text, err
}
