package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// ackResult is the ack latency of the same envelopes, sent at the same
// moments, to the bot and to the bare client.
type ackResult struct {
	// Bot and Bare are in the order sent; envelope i is of kind
	// ackKinds[i%3].
	Bot, Bare []time.Duration
	// Rate is how many envelopes a second the bot took.
	Rate float64
	// Shed counts the envelopes the bot left unacked for Slack to
	// redeliver (every worker busy and the backlog full).
	Shed float64
	// BotCPU and BareCPU are the CPU time each process used from the
	// first envelope to the last handled.
	BotCPU, BareCPU time.Duration
	// BotIdle and BareIdle are what each would have used over the same
	// time with no envelope: its own tickers and, for the bot, the
	// bench's scrapes of /metrics that pace the run (50 a second, which
	// the bare client does not serve). Measured over ackIdle before the
	// first envelope, with the scrapes going.
	BotIdle, BareIdle time.Duration
	// BotPeak and BarePeak are each process's largest resident size
	// (VmHWM) by the end of the run: the memory a busy bot trades for
	// fewer collections (cmd/internal/bot's gcPacer).
	BotPeak, BarePeak int64
}

// ackIdle is how long the idle CPU of both processes is measured.
const ackIdle = 2 * time.Second

// ackKinds are the envelopes sent, in turn.
var ackKinds = []string{"message", "slash_command", "block_action"}

// benchAck sends a mix of envelopes (a person's message in the alert
// channel, `/rotate-token help`, a click on an offer's Ignore by someone
// who may not) over one connection as fast as the bot takes them. Each
// envelope has a twin, sent at the same moment to the bare client on a
// second instance of the fake: the load of a shared machine falls on both
// alike, which alternating runs cannot ensure. name is the run's: its
// bot's and bare client's logs, Redis prefix and profiles.
func (e *bench) benchAck(ctx context.Context, name string) (ackResult, error) {
	var res ackResult
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: 1})
	bot, store, err := e.bot(ctx, name, fake, w)
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)

	// An offer to click on, and its copy in the twin.
	tok := w.Tokens[flows.Production][0]
	fake.SendMessage(alert(flows.Production, 1, &tok))
	alertTS := fake.History(alertsChannel, "")[0].TS
	var offer slacktest.Message
	err = poll(ctx, 5*time.Millisecond, "the offer", func() (bool, error) {
		o, err := store.OfferForAlert(ctx, alertsChannel, alertTS)
		if errors.Is(err, flows.ErrOfferNotFound) {
			return false, nil
		}
		if err != nil || len(o.Messages) == 0 {
			return false, err
		}
		var ok bool
		offer, ok = fake.Message(alertsChannel, o.Messages[0], mallory)
		return ok, nil
	})
	if err != nil {
		return res, err
	}
	twin := newSlack(e.h, false)
	twinOffer, err := copyMessage(ctx, twin, offer)
	if err != nil {
		return res, err
	}
	sender := func(f *slacktest.Server, m slacktest.Message) (func(int) *slacktest.Delivery, error) {
		b, ok := m.Button("Ignore")
		if !ok {
			return nil, fmt.Errorf("the offer has no Ignore button")
		}
		ignore := slacktest.BlockAction{User: mallory, Channel: alertsChannel, MessageTS: m.TS, ActionID: b.ActionID}
		return func(i int) *slacktest.Delivery {
			switch i % len(ackKinds) {
			case 0:
				return f.SendMessage(slacktest.UserMessage(alertsChannel, alice, fmt.Sprintf("looking at it (%d)", i)))
			case 1:
				return f.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: alice, Channel: opsChannel})
			default:
				return f.Click(ignore)
			}
		}, nil
	}
	toBot, err := sender(fake, offer)
	if err != nil {
		return res, err
	}
	toBare, err := sender(twin, twinOffer)
	if err != nil {
		return res, err
	}
	bare, err := e.bare(ctx, twin, name+"-bare", 1)
	if err != nil {
		return res, err
	}
	defer bare.stop(5 * time.Second)

	done := func() (float64, error) { return bot.metric(ctx, "signon_token_bot_slack_envelopes_total") }
	before, err := done()
	if err != nil {
		return res, err
	}
	p := newPacer(e.sz.AckRate)
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
	botIdle, bareIdle, err := idleCPU(ctx, bot.Pid(), bare.Pid())
	if err != nil {
		return res, err
	}
	p.restart()
	botCPU, err := cpuTime(bot.Pid())
	if err != nil {
		return res, err
	}
	bareCPU, err := cpuTime(bare.Pid())
	if err != nil {
		return res, err
	}
	n := e.sz.Envelopes
	sentBot, sentBare := make([]*slacktest.Delivery, n), make([]*slacktest.Delivery, n)
	began := time.Now()
	for i := range n {
		if err := p.wait(ctx, scraped); err != nil {
			return res, fmt.Errorf("pacing by the bot's metrics: %w", err)
		}
		// Neither twin always goes first.
		if i%2 == 0 {
			sentBot[i], sentBare[i] = toBot(i), toBare(i)
		} else {
			sentBare[i], sentBot[i] = toBare(i), toBot(i)
		}
	}
	if res.Bot, err = latencies(ctx, sentBot); err != nil {
		return res, fmt.Errorf("the bot: %w", err)
	}
	if res.Bare, err = latencies(ctx, sentBare); err != nil {
		return res, fmt.Errorf("the bare client: %w", err)
	}
	if res.BareCPU, err = addCPU(0, bare.Pid(), bareCPU); err != nil {
		return res, err
	}
	res.BareIdle = time.Duration(bareIdle * time.Since(began).Seconds())
	err = poll(ctx, 20*time.Millisecond, "the bot to finish the envelopes", func() (bool, error) {
		return p.handled.Load() >= int64(n), nil
	})
	if err != nil {
		return res, err
	}
	res.Rate = float64(n) / time.Since(began).Seconds()
	if res.BotCPU, err = addCPU(0, bot.Pid(), botCPU); err != nil {
		return res, err
	}
	res.BotIdle = time.Duration(botIdle * time.Since(began).Seconds())
	botMem, err := readMemory(bot.Pid())
	if err != nil {
		return res, err
	}
	bareMem, err := readMemory(bare.Pid())
	if err != nil {
		return res, err
	}
	res.BotPeak, res.BarePeak = botMem.HWM, bareMem.HWM
	res.Shed, err = bot.metric(ctx, "signon_token_bot_slack_envelopes_total", `outcome="shed"`)
	return res, err
}

// copyMessage posts a copy of a message of the bot's, blocks and all, in
// the same channel of another fake, as the bot would have, and returns it
// as the fake keeps it.
func copyMessage(ctx context.Context, to *slacktest.Server, m slacktest.Message) (slacktest.Message, error) {
	var blocks slackapi.Blocks
	if err := json.Unmarshal(m.BlocksJSON, &blocks); err != nil {
		return slacktest.Message{}, fmt.Errorf("copy message %s: %w", m.TS, err)
	}
	c := slackint.New(slackint.Config{BotToken: to.BotToken, AppToken: to.AppToken, APIURL: to.URL()})
	ts, err := c.PostMessage(ctx, m.Channel, slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(blocks.BlockSet...))
	if err != nil {
		return slacktest.Message{}, fmt.Errorf("copy message %s: %w", m.TS, err)
	}
	got, ok := to.Message(m.Channel, ts, mallory)
	if !ok {
		return slacktest.Message{}, fmt.Errorf("copy message %s: not in the fake", m.TS)
	}
	return got, nil
}

// idleCPU is the CPU time a second each process uses over ackIdle, in
// nanoseconds.
func idleCPU(ctx context.Context, bot, bare int) (float64, float64, error) {
	b0, err := cpuTime(bot)
	if err != nil {
		return 0, 0, err
	}
	t0, err := cpuTime(bare)
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(ackIdle):
	}
	b, err := addCPU(0, bot, b0)
	if err != nil {
		return 0, 0, err
	}
	t, err := addCPU(0, bare, t0)
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(began).Seconds()
	return float64(b) / secs, float64(t) / secs, nil
}

// addCPU adds the CPU time pid used since it had used from.
func addCPU(total time.Duration, pid int, from time.Duration) (time.Duration, error) {
	now, err := cpuTime(pid)
	return total + now - from, err
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
