package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// ackRound is how many envelopes go to the bot, then on the same
// schedule to the bare client, before the next round: alternating keeps
// the load of a shared machine from falling on one side only.
const ackRound = 1000

// ackResult is the ack latency at the fake of the same envelopes, sent
// on the same schedule, to the bot and to the bare client.
type ackResult struct {
	// Bot and Bare are in the order sent; envelope i is of kind
	// ackKinds[i%3].
	Bot, Bare []time.Duration
	// Rate is how many envelopes a second the bot took.
	Rate float64
	// Shed counts the envelopes the bot left unacked for Slack to
	// redeliver (every worker busy and the backlog full).
	Shed float64
	// BotCPU and BareCPU are the CPU time each process used, from the
	// first envelope of a round to the last handled.
	BotCPU, BareCPU time.Duration
}

// ackKinds are the envelopes sent, in turn.
var ackKinds = []string{"message", "slash_command", "block_action"}

// benchAck sends a mix of envelopes (a person's message in the alert
// channel, `/rotate-token help`, a click on an offer's Ignore by someone
// who may not) over one connection as fast as the bot takes them, and
// replays each round's schedule to the bare client on the same fake.
func (e *bench) benchAck(ctx context.Context) (ackResult, error) {
	var res ackResult
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: 1})
	bot, store, err := e.bot(ctx, "ack", fake, w)
	if err != nil {
		return res, err
	}
	defer func() { bot.stop(10 * time.Second) }()

	// An offer to click on.
	tok := w.Tokens[flows.Production][0]
	fake.SendMessage(alert(flows.Production, 1, &tok))
	alertTS := fake.History(alertsChannel, "")[0].TS
	var ignore slacktest.BlockAction
	err = poll(ctx, 5*time.Millisecond, "the offer", func() (bool, error) {
		o, err := store.OfferForAlert(ctx, alertsChannel, alertTS)
		if errors.Is(err, flows.ErrOfferNotFound) {
			return false, nil
		}
		if err != nil || len(o.Messages) == 0 {
			return false, err
		}
		m, ok := fake.Message(alertsChannel, o.Messages[0], mallory)
		b, found := m.Button("Ignore")
		ignore = slacktest.BlockAction{User: mallory, Channel: alertsChannel, MessageTS: o.Messages[0], ActionID: b.ActionID}
		return ok && found, nil
	})
	if err != nil {
		return res, err
	}
	send := func(i int) *slacktest.Delivery {
		switch i % len(ackKinds) {
		case 0:
			return fake.SendMessage(slacktest.UserMessage(alertsChannel, alice, fmt.Sprintf("looking at it (%d)", i)))
		case 1:
			return fake.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: alice, Channel: opsChannel})
		default:
			return fake.Click(ignore)
		}
	}

	conns := 1
	var busy time.Duration
	for first := 0; first < e.sz.Envelopes; first += ackRound {
		n := min(ackRound, e.sz.Envelopes-first)
		if first > 0 {
			conns++
			if bot, err = e.reconnectBot(ctx, "ack", fake, w, conns); err != nil {
				return res, err
			}
		}
		began := time.Now()
		cpu, err := cpuTime(bot.Pid())
		if err != nil {
			return res, err
		}
		lat, offsets, shed, err := botRound(ctx, bot, func(i int) *slacktest.Delivery { return send(first + i) }, n)
		if err != nil {
			return res, fmt.Errorf("the bot: %w", err)
		}
		busy += time.Since(began)
		res.Bot, res.Shed = append(res.Bot, lat...), res.Shed+shed
		if res.BotCPU, err = addCPU(res.BotCPU, bot.Pid(), cpu); err != nil {
			return res, err
		}
		bot.stop(10 * time.Second)
		if err := fake.WaitDisconnected(ctx); err != nil {
			return res, err
		}

		conns++
		bare, err := e.bare(ctx, fake, fmt.Sprintf("ack-bare-%d", conns), conns)
		if err != nil {
			return res, err
		}
		if cpu, err = cpuTime(bare.Pid()); err != nil {
			return res, err
		}
		lat, err = replay(ctx, func(i int) *slacktest.Delivery { return send(first + i) }, offsets)
		if err == nil {
			res.BareCPU, err = addCPU(res.BareCPU, bare.Pid(), cpu)
		}
		bare.stop(5 * time.Second)
		if err != nil {
			return res, fmt.Errorf("the bare client: %w", err)
		}
		res.Bare = append(res.Bare, lat...)
		if err := fake.WaitDisconnected(ctx); err != nil {
			return res, err
		}
	}
	res.Rate = float64(e.sz.Envelopes) / busy.Seconds()
	return res, nil
}

// addCPU adds the CPU time pid used since it had used from.
func addCPU(total time.Duration, pid int, from time.Duration) (time.Duration, error) {
	now, err := cpuTime(pid)
	return total + now - from, err
}

// reconnectBot starts the bot again on a fake it has used, and returns
// once it has opened the fake's conn-th connection.
func (e *bench) reconnectBot(ctx context.Context, name string, fake *slacktest.Server, w *world, conn int) (*botProc, error) {
	b, err := startBot(ctx, e.bins.Bot, botSetup{Name: fmt.Sprintf("%s-%d", name, conn), Fake: fake, Redis: e.redis.Addr(), Prefix: "bench-" + name, Sandbox: w.URL(), Dir: e.dir})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := fake.WaitConnected(cctx, conn); err != nil {
		b.stop(5 * time.Second)
		return nil, err
	}
	return b, nil
}

// botRound sends n envelopes to the bot, paced by its own count of
// envelopes done (scraped from its metrics), and returns their ack
// latencies, when each was sent, and how many the bot shed.
func botRound(ctx context.Context, bot *botProc, send func(int) *slacktest.Delivery, n int) ([]time.Duration, []time.Duration, float64, error) {
	done := func() (float64, error) { return bot.metric(ctx, "signon_token_bot_slack_envelopes_total") }
	before, err := done()
	if err != nil {
		return nil, nil, 0, err
	}
	p := newPacer()
	scrape, stopScrape := context.WithCancel(ctx)
	defer stopScrape()
	scraped := make(chan error, 1)
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-scrape.Done():
				scraped <- nil
				return
			case <-t.C:
			}
			v, err := done()
			if err != nil {
				scraped <- err
				return
			}
			p.observe(int64(v - before))
		}
	}()
	offsets := make([]time.Duration, n)
	sent := make([]*slacktest.Delivery, n)
	began := time.Now()
	for i := range n {
		if err := p.wait(ctx, scraped); err != nil {
			return nil, nil, 0, fmt.Errorf("pacing by the bot's metrics: %w", err)
		}
		offsets[i] = time.Since(began)
		sent[i] = send(i)
	}
	lat, err := latencies(ctx, sent)
	if err != nil {
		return nil, nil, 0, err
	}
	// Let the handlers finish before the bot is stopped.
	err = poll(ctx, 20*time.Millisecond, "the bot to finish the envelopes", func() (bool, error) {
		return p.handled.Load() >= int64(n), nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	shed, err := bot.metric(ctx, "signon_token_bot_slack_envelopes_total", `outcome="shed"`)
	return lat, offsets, shed, err
}

// replay sends the envelopes again at the same offsets from the start.
func replay(ctx context.Context, send func(int) *slacktest.Delivery, offsets []time.Duration) ([]time.Duration, error) {
	sent := make([]*slacktest.Delivery, len(offsets))
	began := time.Now()
	for i, at := range offsets {
		if wait := time.Until(began.Add(at)); wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		sent[i] = send(i)
	}
	return latencies(ctx, sent)
}

// bare starts the bare client on the fake and returns once it has opened
// the fake's n-th connection.
func (e *bench) bare(ctx context.Context, fake *slacktest.Server, name string, n int) (*child, error) {
	env := append(os.Environ(), "SLACK_APP_TOKEN="+fake.AppToken, "SLACK_BOT_TOKEN="+fake.BotToken, "SLACK_API_URL="+fake.URL())
	c, err := start(name, e.bins.Bare, nil, env, filepath.Join(e.dir, name+".log"), nil)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := fake.WaitConnected(cctx, n); err != nil {
		c.stop(5 * time.Second)
		return nil, fmt.Errorf("the bare client: %w", err)
	}
	return c, nil
}

// latencies waits for every envelope's ack and returns the latencies.
func latencies(ctx context.Context, ds []*slacktest.Delivery) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out := make([]time.Duration, 0, len(ds))
	for _, d := range ds {
		ack, err := d.WaitAck(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, ack.Latency)
	}
	return out, nil
}

// sorted returns the latencies of envelopes of kind k (-1: all), sorted.
func sorted(lat []time.Duration, k int) []time.Duration {
	var out []time.Duration
	for i, d := range lat {
		if k < 0 || i%len(ackKinds) == k {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// quantile of sorted durations, in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return float64(sorted[max(i, 0)]) / float64(time.Millisecond)
}
