package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// rotationResult is one full rotation's cost in Slack calls.
type rotationResult struct {
	// Calls are the Web API calls, but the connection's own (auth.test,
	// apps.connections.open), by method.
	Calls map[string]int
	// Floor is the baseline: the bot's messages in the finished thread,
	// the calls a bot that posted each message once, in its final form,
	// would make.
	Floor int
	// ResponseURL counts the posts to the clicks' response_urls, which
	// are not Web API calls and have no rate limit of their own.
	ResponseURL int
}

// Total is the number of Web API calls.
func (r rotationResult) Total() int {
	n := 0
	for _, c := range r.Calls {
		n += c
	}
	return n
}

// benchRotation runs one rotation the way people do: an alert for one
// token in production, Rotate (Alice), Run sync (Alice), Revoke old token
// (Bob, as production wants a second person), against instant doubles,
// and counts the Web API calls the fake served.
func (e *bench) benchRotation(ctx context.Context) (rotationResult, error) {
	fake := newSlack(e.h, false)
	w := newWorld(e.h, map[string]int{flows.Production: 1})
	tok := w.Tokens[flows.Production][0]
	bot, store, err := e.bot(ctx, "rotation", fake, w)
	if err != nil {
		return rotationResult{}, err
	}
	defer bot.stop(10 * time.Second)

	d := fake.SendMessage(alert(flows.Production, 1, &tok))
	alertTS := fake.History(alertsChannel, "")[0].TS
	if _, err := d.WaitAck(ctx); err != nil {
		return rotationResult{}, err
	}
	var offerTS string
	err = poll(ctx, 5*time.Millisecond, "the offer", func() (bool, error) {
		o, err := store.OfferForAlert(ctx, alertsChannel, alertTS)
		if errors.Is(err, flows.ErrOfferNotFound) {
			return false, nil
		}
		if err != nil || len(o.Messages) == 0 {
			return false, err
		}
		offerTS = o.Messages[0]
		return true, nil
	})
	if err != nil {
		return rotationResult{}, err
	}
	var clicks []*slacktest.Delivery
	click := func(user, ts, text string) error {
		d, ok := press(fake, user, alertsChannel, ts, text)
		if !ok {
			return fmt.Errorf("no %q button on message %s:\n%s", text, ts, fake.Transcript(alertsChannel, alertTS))
		}
		clicks = append(clicks, d)
		return nil
	}
	if err := click(alice, offerTS, "Rotate"); err != nil {
		return rotationResult{}, err
	}
	var runID string
	err = poll(ctx, 5*time.Millisecond, "the run", func() (bool, error) {
		run, err := store.ActiveRun(ctx, tok.Key(flows.Production))
		if errors.Is(err, flows.ErrRunNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		runID = run.ID
		return true, nil
	})
	if err != nil {
		return rotationResult{}, err
	}
	for _, g := range []struct {
		kind flows.GateKind
		user string
		text string
	}{{flows.GateSync, alice, "Run sync"}, {flows.GateRevoke, bob, "Revoke old token"}} {
		var ts string
		err := poll(ctx, 5*time.Millisecond, "the "+string(g.kind)+" gate", func() (bool, error) {
			run, err := store.Run(ctx, runID)
			if err != nil || !parked(run, g.kind) {
				return false, err
			}
			ts, _ = gatePost(run)
			return true, nil
		})
		if err != nil {
			return rotationResult{}, err
		}
		if err := click(g.user, ts, g.text); err != nil {
			return rotationResult{}, err
		}
	}
	err = poll(ctx, 5*time.Millisecond, "the end of the run", func() (bool, error) {
		run, err := store.Run(ctx, runID)
		if err != nil || !run.Ended() || !posted(run) {
			return false, err
		}
		if run.Phase != flows.PhaseDone {
			return false, fmt.Errorf("run %s ended %s: %s", run.ID, run.Phase, run.Reason)
		}
		// The offer shows the outcome once its item has been refreshed.
		return strings.Contains(fake.Transcript(alertsChannel, alertTS), "Rotation done"), nil
	})
	if err != nil {
		return rotationResult{}, fmt.Errorf("%w\n%s", err, fake.Transcript(alertsChannel, alertTS))
	}

	res := rotationResult{Calls: map[string]int{}}
	for _, c := range fake.Calls() {
		if c.Method != "apps.connections.open" && c.Method != "auth.test" {
			res.Calls[c.Method]++
		}
	}
	for _, m := range fake.Thread(alertsChannel, alertTS, "") {
		if m.User == fake.BotUserID {
			res.Floor++
		}
	}
	for _, d := range clicks {
		res.ResponseURL += len(d.Responses())
	}
	return res, nil
}
