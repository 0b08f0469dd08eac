package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
)

// rotateAllResult is a grouped alert's tokens rotated as one batch under
// Slack's rate limits.
type rotateAllResult struct {
	Tokens int
	// Completed: the batch and every run in it ended within the time
	// limit, Elapsed after the alert was sent.
	Completed bool
	Elapsed   time.Duration
	// Calls are the Web API calls the bot made, 429s included, and
	// Served429 those the fake answered with 429.
	Calls, Served429 int
	ByMethod         map[string]int
	// Jobs are the sync Jobs the bot created.
	Jobs int
	// Ended and Done are the batch's runs that ended, and ended done;
	// Pages the offer's messages; Paused the runs that stopped alone and
	// were retried.
	Ended, Done, Pages, Paused int
}

// CallsPerToken is the Web API calls made per token rotated.
func (r rotateAllResult) CallsPerToken() float64 { return float64(r.Calls) / float64(r.Tokens) }

// benchRotateAll posts a grouped alert for StormTokens production tokens
// against a fake that enforces Slack's published rate limits, presses
// Rotate all in the offer once it is posted, and passes the batch's gates
// as soon as they are asked (Alice the sync, Bob the revoke; Alice retries
// a run that stopped alone). It measures the time from the alert to the
// batch ended, the Web API calls and the sync Jobs.
func (e *bench) benchRotateAll(ctx context.Context) (rotateAllResult, error) {
	res := rotateAllResult{Tokens: e.sz.StormTokens}
	fake, w, bot, store, err := e.limitedBot(ctx, "rotateall", map[string]int{flows.Production: res.Tokens})
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)
	before := len(fake.Calls())

	began := time.Now()
	pending := []*envelope{{d: fake.SendMessage(alert(flows.Production, res.Tokens, nil)), sent: began}}
	alertTS := fake.History(alertsChannel, "")[0].TS
	d := &stormDriver{fake: fake, store: store, clicked: map[string]*envelope{}, runs: map[string]*flows.Run{}}
	var rotateAll *envelope
	var batch *flows.Batch
	pctx, cancel := context.WithTimeout(ctx, e.sz.StormTimeout)
	defer cancel()
	lastReport := began
	err = poll(pctx, 100*time.Millisecond, "the batch to end", func() (bool, error) {
		pending, _ = redeliver(pending)
		if rotateAll == nil || refused(rotateAll.d) {
			p, err := pressRotateAll(ctx, fake, store, alertTS)
			if err != nil || p == nil {
				return false, err
			}
			rotateAll = p
			pending = append(pending, p)
		}
		if batch == nil || !batch.Ended {
			b, err := findBatch(ctx, store, batch, alertTS)
			if err != nil || b == nil {
				return false, err
			}
			batch = b
			if p := passBatchGate(fake, b, d.clicked); p != nil {
				pending = append(pending, p)
			}
		}
		clicks, err := d.step(ctx)
		if err != nil {
			return false, err
		}
		pending = append(pending, clicks...)
		if time.Since(lastReport) > 30*time.Second {
			lastReport = time.Now()
			e.progress("rotateall: %s: runs ended %d/%d, 429s served %d", time.Since(began).Round(time.Second), d.ended(), res.Tokens, fake.Served429(""))
		}
		return batch.Ended && len(d.runs) == len(batch.Members) && d.ended() == len(d.runs), nil
	})
	res.Elapsed = time.Since(began)
	res.Served429, res.Paused, res.Ended = fake.Served429(""), d.paused, d.ended()
	res.Jobs = w.Cluster[flows.Production].JobsCreated()
	res.ByMethod = map[string]int{}
	for _, c := range fake.Calls()[before:] {
		res.Calls++
		res.ByMethod[c.Method]++
	}
	res.Done = d.done()
	if o, oerr := store.OfferForAlert(ctx, alertsChannel, alertTS); oerr == nil {
		res.Pages = len(o.Messages)
	}
	switch {
	case err == nil:
		res.Completed = true
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return res, nil
	default:
		return res, err
	}
	return res, nil
}

// pressRotateAll presses Rotate all as Alice once every page of the alert's
// offer is in Slack, as a person reading the whole offer first would.
func pressRotateAll(ctx context.Context, fake *slacktest.Server, store *state.Store, alertTS string) (*envelope, error) {
	o, all, err := postedOffer(ctx, store, alertTS)
	if err != nil || !all {
		return nil, err
	}
	dl, ok := press(fake, alice, alertsChannel, o.Messages[0], fmt.Sprintf("Rotate all %d", len(blocks.Rotatable(o))))
	if !ok {
		return nil, nil
	}
	return &envelope{d: dl, sent: time.Now()}, nil
}

// findBatch loads the batch started in the alert's thread: the one known,
// or the first active one there.
func findBatch(ctx context.Context, store *state.Store, known *flows.Batch, alertTS string) (*flows.Batch, error) {
	if known != nil {
		return store.Batch(ctx, known.ID)
	}
	bs, err := store.ActiveBatches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.Thread.TS == alertTS {
			return b, nil
		}
	}
	return nil, nil
}

// passBatchGate presses the batch's open gate, once per gate unless the
// bot answered the click with an error: Alice runs the sync, Bob revokes.
func passBatchGate(fake *slacktest.Server, b *flows.Batch, clicked map[string]*envelope) *envelope {
	if b.Gate == nil {
		return nil
	}
	if prev, ok := clicked[b.Gate.ID]; ok && !refused(prev.d) {
		return nil
	}
	user := alice
	if b.Gate.Kind == flows.GateRevoke {
		user = bob
	}
	action := blocks.ActionBatchApprove + ":" + b.Gate.ID
	for _, rc := range b.Receipts {
		m, ok := fake.Message(b.Thread.Channel, rc.TS, user)
		if !ok || !strings.Contains(string(m.BlocksJSON), action) {
			continue
		}
		dl := fake.Click(slacktest.BlockAction{User: user, Channel: b.Thread.Channel, MessageTS: rc.TS, ActionID: action})
		if dl == nil {
			return nil
		}
		p := &envelope{d: dl, sent: time.Now()}
		clicked[b.Gate.ID] = p
		return p
	}
	return nil
}

// limitedBot starts a bot on a fake that enforces Slack's rate limits and
// a world with these tokens.
func (e *bench) limitedBot(ctx context.Context, name string, tokens map[string]int) (*slacktest.Server, *world, *botProc, *state.Store, error) {
	fake := newSlack(e.h, true)
	w := newWorld(e.h, tokens)
	bot, store, err := e.bot(ctx, name, fake, w)
	return fake, w, bot, store, err
}

// postedOffer is the alert's offer, nil until the bot records it, and
// whether every page of it is in Slack.
func postedOffer(ctx context.Context, store *state.Store, alertTS string) (*flows.Offer, bool, error) {
	o, err := store.OfferForAlert(ctx, alertsChannel, alertTS)
	switch {
	case errors.Is(err, flows.ErrOfferNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return o, len(o.Items) > 0 && len(o.Messages) == blocks.OfferPage(len(o.Items)-1)+1, nil
}
