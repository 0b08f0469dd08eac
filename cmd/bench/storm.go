package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
)

// stormResult is an alert storm under Slack's rate limits.
type stormResult struct {
	Tokens, Runs int
	// Completed: the offer was fully posted and every run ended within
	// the time limit, Elapsed after the first envelope. Ideal is the least
	// time the rate limits allow for the calls the fake served, and
	// Limiting the bucket that sets it.
	Completed      bool
	Elapsed, Ideal time.Duration
	Limiting       string
	Buckets        []bucketUse
	// Served429 are the 429s the fake answered; Surfaced those that
	// reached the bot's code as errors, from its log.
	Served429, Surfaced int
	// Lost are messages the bot meant to post that are not in Slack;
	// Stale are messages left showing an earlier state of their run.
	Lost, Stale int
	LostWhat    []string
	// Ended are the runs that ended, RunsDone those that ended done;
	// Refused are /rotate-token answered with an error, so no run.
	Ended, RunsDone, Refused int
	OfferPages               int
	// Redelivered are envelopes left unacked that the benchmark sent
	// again, as Slack does; Reclicks are clicks repeated after the bot
	// answered a click with an error, as a person would.
	Redelivered, Reclicks int
	// Paused are the runs that stopped to ask a person what next (a Slack
	// error the engine did not wait out); the benchmark pressed Retry.
	Paused int
	// Jobs are the sync Jobs the /rotate-token runs made, all in one
	// environment.
	Jobs int
}

// bucketUse is the calls one rate-limit bucket served in the storm.
type bucketUse struct {
	Bucket string
	Calls  int
	Ideal  time.Duration
}

// Efficiency is the ideal time over the actual.
func (r stormResult) Efficiency() float64 {
	return r.Ideal.Seconds() / r.Elapsed.Seconds()
}

// Slack retries an envelope that was not acked within 3 seconds, three
// times.
const (
	ackDeadline  = 3 * time.Second
	redeliveries = 3
)

// envelope is one the benchmark sent, for redelivery.
type envelope struct {
	d       *slacktest.Delivery
	sent    time.Time
	retries int
}

// redeliver sends again, as Slack does, the envelopes not acked in time,
// and forgets the acked ones. It returns how many it sent again.
func redeliver(pending []*envelope) ([]*envelope, int) {
	kept, n := pending[:0], 0
	for _, p := range pending {
		switch {
		case p.d.Acked():
			continue
		case time.Since(p.sent) > ackDeadline && p.retries < redeliveries:
			p.d, p.sent = p.d.Redeliver(), time.Now()
			p.retries++
			n++
		}
		kept = append(kept, p)
	}
	return kept, n
}

// benchStorm posts a grouped alert for StormTokens production tokens,
// which the bot must find through Signon's expiry list, and types
// /rotate-token for StormRuns integration tokens, all at once, against a
// fake that enforces Slack's published rate limits. It passes each run's
// gates as soon as they are asked (Alice the sync, Bob the revoke) and
// measures the time to the offer fully posted and every run ended.
func (e *bench) benchStorm(ctx context.Context) (stormResult, error) {
	res := stormResult{Tokens: e.sz.StormTokens, Runs: e.sz.StormRuns}
	fake, w, bot, store, err := e.limitedBot(ctx, "storm", map[string]int{flows.Production: res.Tokens, flows.Integration: res.Runs})
	if err != nil {
		return res, err
	}
	defer bot.stop(10 * time.Second)
	before := len(fake.Calls())

	began := time.Now()
	var pending []*envelope
	sent := func(d *slacktest.Delivery) *envelope {
		p := &envelope{d: d, sent: time.Now()}
		pending = append(pending, p)
		return p
	}
	sent(fake.SendMessage(alert(flows.Production, res.Tokens, nil)))
	alertTS := fake.History(alertsChannel, "")[0].TS
	var commands []*envelope
	for _, t := range w.Tokens[flows.Integration] {
		commands = append(commands, sent(rotateToken(fake, alice, opsChannel, t, flows.Integration)))
	}

	d := &stormDriver{fake: fake, store: store, clicked: map[string]*envelope{}, runs: map[string]*flows.Run{}}
	offerDone, lastReport := false, time.Now()
	pctx, cancel := context.WithTimeout(ctx, e.sz.StormTimeout)
	defer cancel()
	err = poll(pctx, 100*time.Millisecond, "the storm to pass", func() (bool, error) {
		var n int
		pending, n = redeliver(pending)
		res.Redelivered += n
		if !offerDone {
			o, all, err := postedOffer(ctx, store, alertTS)
			if err != nil {
				return false, err
			}
			if o != nil {
				res.OfferPages = len(o.Messages)
			}
			offerDone = all
		}
		answered, started := 0, 0
		for _, c := range commands {
			if rs := c.d.Responses(); len(rs) > 0 {
				answered++
				if strings.Contains(rs[0].Text, "Started run") {
					started++
				}
			}
		}
		res.Refused = answered - started
		clicks, err := d.step(ctx)
		if err != nil {
			return false, err
		}
		pending = append(pending, clicks...)
		ended := d.ended()
		if time.Since(lastReport) > 30*time.Second {
			lastReport = time.Now()
			e.progress("storm: %s: offer pages %d, commands answered %d/%d, runs ended %d/%d, paused %d, 429s served %d, surfaced %d",
				time.Since(began).Round(time.Second), res.OfferPages, answered, len(commands), ended, started, d.paused, fake.Served429(""), bot.Surfaced429s())
		}
		return offerDone && answered == len(commands) && len(d.runs) == started && ended == started, nil
	})
	res.Elapsed = time.Since(began)
	res.Served429, res.Surfaced = fake.Served429(""), bot.Surfaced429s()
	res.Reclicks, res.Paused, res.Ended = d.reclicks, d.paused, d.ended()
	res.Ideal, res.Limiting, res.Buckets = ideal(fake.Calls()[before:], slacktest.DefaultLimits())
	res.RunsDone = d.done()
	res.Jobs = w.Cluster[flows.Integration].JobsCreated()
	switch {
	case err == nil:
		res.Completed = true
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// Not over in time: a result, and the figures so far say why.
		return res, nil
	default:
		return res, err
	}
	for _, c := range commands {
		if len(c.d.Responses()) == 0 {
			res.lost("no answer to a /rotate-token")
		}
	}
	res.check(ctx, fake, d.runs, store, alertTS)
	return res, nil
}

func (r *stormResult) lost(what string) {
	r.Lost++
	if len(r.LostWhat) < 5 {
		r.LostWhat = append(r.LostWhat, what)
	}
}

// check counts the messages missing from Slack, and those left stale:
// every post of every run where its receipt says, each run's status
// message showing its end, and every page of the offer.
func (r *stormResult) check(ctx context.Context, fake *slacktest.Server, runs map[string]*flows.Run, store *state.Store, alertTS string) {
	for _, run := range runs {
		for _, p := range run.Posts {
			rc, ok := run.Receipts[p.ID]
			if _, found := fake.Message(run.Thread.Channel, rc.TS, ""); !ok || !found {
				r.lost(fmt.Sprintf("run %s: post %s", run.ID, p.ID))
			}
		}
		status, ok := fake.Message(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, "")
		switch {
		case !ok:
			r.lost(fmt.Sprintf("run %s: status message", run.ID))
		case run.Phase == flows.PhaseDone && !strings.Contains(status.Text+string(status.BlocksJSON), "Done:"):
			r.Stale++
		}
	}
	o, err := store.OfferForAlert(ctx, alertsChannel, alertTS)
	if err != nil {
		r.lost("the offer: " + err.Error())
		return
	}
	have := 0
	for _, ts := range o.Messages {
		if _, ok := fake.Message(alertsChannel, ts, ""); ok {
			have++
		}
	}
	for range blocks.OfferPage(len(o.Items)-1) + 1 - have {
		r.lost("a page of the offer")
	}
}

// stormDriver plays the people who pass the gates.
type stormDriver struct {
	fake  *slacktest.Server
	store *state.Store
	// runs are every run seen, as last loaded.
	runs map[string]*flows.Run
	// clicked holds the click that answered each gate, by gate id.
	clicked map[string]*envelope
	// reclicks and paused count the clicks repeated after an error answer,
	// and the paused runs retried.
	reclicks, paused int
}

// step loads the runs and clicks the gates that are asked and not yet
// answered, or whose click the bot answered with an error, as people
// would: Alice runs the sync, Bob revokes, and Alice retries a run that
// stopped to ask what next.
func (d *stormDriver) step(ctx context.Context) (clicks []*envelope, err error) {
	active, err := d.store.ActiveRuns(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, r := range active {
		live[r.ID] = true
		d.runs[r.ID] = r
	}
	for id, r := range d.runs {
		if live[id] || !r.Phase.Active() {
			continue
		}
		if d.runs[id], err = d.store.Run(ctx, id); err != nil {
			return nil, err
		}
	}
	for _, r := range d.runs {
		var user, text string
		switch {
		case parked(r, flows.GateSync):
			user, text = alice, "Run sync"
		case parked(r, flows.GateRevoke):
			user, text = bob, "Revoke old token"
		case r.Phase == flows.PhasePaused && r.Gate != nil && posted(r):
			user, text = alice, "Retry"
		default:
			continue
		}
		if prev, ok := d.clicked[r.Gate.ID]; ok && !refused(prev.d) {
			continue
		} else if ok {
			d.reclicks++
		} else if r.Phase == flows.PhasePaused {
			d.paused++
		}
		ts, _ := gatePost(r)
		dl, ok := press(d.fake, user, r.Thread.Channel, ts, text)
		if !ok {
			continue // the message does not show the button yet
		}
		p := &envelope{d: dl, sent: time.Now()}
		d.clicked[r.Gate.ID] = p
		clicks = append(clicks, p)
	}
	return clicks, nil
}

// refused: the bot answered a click privately (an error), not by
// replacing the message.
func refused(d *slacktest.Delivery) bool {
	for _, r := range d.Responses() {
		if !r.ReplaceOriginal && !r.DeleteOriginal {
			return true
		}
	}
	return false
}

func (d *stormDriver) done() int {
	n := 0
	for _, r := range d.runs {
		if r.Phase == flows.PhaseDone {
			n++
		}
	}
	return n
}

func (d *stormDriver) ended() int {
	n := 0
	for _, r := range d.runs {
		if r.Ended() {
			n++
		}
	}
	return n
}

// ideal is the least time in which Slack's limits let through the calls
// made: each bucket starts full and refills at its rate, so n calls need
// (n - burst) / rate; buckets fill in parallel, so the slowest decides.
func ideal(calls []slacktest.Call, limits map[string]slacktest.Limit) (time.Duration, string, []bucketUse) {
	served := map[string]int{}
	for _, c := range calls {
		l, ok := limits[c.Method]
		if !ok || c.Status == 429 {
			continue
		}
		key := c.Method
		if l.PerChannel {
			key += " in " + c.Args["channel"]
		}
		served[key]++
	}
	var out []bucketUse
	for key, n := range served {
		method, _, _ := strings.Cut(key, " ")
		l := limits[method]
		secs := math.Max(0, float64(n-l.Burst)) / (l.PerMinute / 60)
		out = append(out, bucketUse{Bucket: key, Calls: n, Ideal: time.Duration(secs * float64(time.Second))})
	}
	slices.SortFunc(out, func(a, b bucketUse) int {
		return cmp.Or(cmp.Compare(b.Ideal, a.Ideal), cmp.Compare(a.Bucket, b.Bucket))
	})
	if len(out) == 0 {
		return 0, "", nil
	}
	return out[0].Ideal, out[0].Bucket, out
}
