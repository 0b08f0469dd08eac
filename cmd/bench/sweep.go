package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state"
)

// sweepTokens is issue 16's estate: 2,000 API tokens.
const sweepTokens = 2000

// sweepResult is one daily sweep of an estate of sweepTokens tokens.
type sweepResult struct {
	Took, Bare              time.Duration
	SignonCalls, SlackCalls int
	Pairs                   int
}

// benchSweep runs one daily sweep in this process: Signon's double with
// 2,000 tokens (1,000 pairs, half of them renewed twice so that the
// older tokens are superseded; the others' expiries spread over 60 days), a real redis-server for
// the lease and the record, and the fake Slack through the bot's own
// client. The baseline is the estate call alone, side by side.
func (e *bench) benchSweep(ctx context.Context) (sweepResult, error) {
	var res sweepResult
	clock := &flowstest.Clock{}
	sig := signontest.New(clock)
	now := clock.Now()
	const apps = 10
	for a := range apps {
		sig.AddApplication(fmt.Sprintf("Application %02d", a))
	}
	for i := range sweepTokens / 2 {
		u, a := i/apps, i%apps
		email := fmt.Sprintf("api-user-%03d@alphagov.co.uk", u)
		if u%2 == 1 {
			email = fmt.Sprintf("api-user-%03d@partner.example.com", u)
		}
		if a == 0 {
			sig.AddAPIUser(fmt.Sprintf("API user %03d", u), email)
		}
		app := fmt.Sprintf("Application %02d", a)
		sig.AddToken(email, app, now.Add(time.Duration(i%60+1)*24*time.Hour-flows.TokenLife), flows.TokenLife)
		if i%2 == 0 {
			sig.AddToken(email, app, now.Add(-100*24*time.Hour), flows.TokenLife)
			sig.AddToken(email, app, now.Add(-time.Hour), flows.TokenLife)
		}
	}
	start := time.Now()
	if _, err := sig.Estate(ctx, daily.DefaultHomeWithin); err != nil {
		return res, err
	}
	res.Bare = time.Since(start)

	fake := newSlack(e.h, false)
	client := slackint.New(slackint.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL()})
	store, err := state.New(e.redis.Client(), state.Options{Prefix: "bench-sweep"})
	if err != nil {
		return res, err
	}
	poster := &commands.DigestPoster{Slack: client, Render: blocks.Renderer{WorkspaceURL: "https://slacktest.slack.com/"},
		Channels: map[string]string{flows.Production: alertsChannel}, Reports: store}
	sched, err := daily.ParseSchedule("02:00")
	if err != nil {
		return res, err
	}
	s, err := daily.New(daily.Config{Environment: flows.Production, Schedule: sched, Owner: "bench"},
		daily.Parts{Estate: sig, Store: store, Runs: store, Publisher: poster, Clock: clock})
	if err != nil {
		return res, err
	}
	signonBefore, slackBefore := signonCalls(sig), len(fake.Calls())
	start = time.Now()
	swept, err := s.Tick(ctx)
	res.Took = time.Since(start)
	if err != nil {
		return res, err
	}
	if !swept {
		return res, fmt.Errorf("the sweep did not run")
	}
	res.SignonCalls, res.SlackCalls = signonCalls(sig)-signonBefore, len(fake.Calls())-slackBefore
	last, err := s.Last(ctx)
	if err != nil || last == nil {
		return res, fmt.Errorf("the sweep's record: %v", err)
	}
	res.Pairs = len(last.Pairs)
	return res, nil
}

func signonCalls(s *signontest.Signon) int {
	n := 0
	for _, op := range []signon.Op{signon.OpFindAPIUser, signon.OpTokens, signon.OpExpiring, signon.OpEstate, signon.OpIssue, signon.OpRevoke, signon.OpReveal} {
		n += s.Calls(op)
	}
	return n
}

func (r *report) sweep(x sweepResult) {
	if x.Took == 0 {
		return
	}
	r.against("sweep", "sweep_2000_ms", float64(x.Took.Microseconds())/1000, "ms", "sweep_estate_ms", float64(x.Bare.Microseconds())/1000, "the estate call alone", "sweep_vs_estate")
	r.add("sweep", "sweep_signon_calls", float64(x.SignonCalls), "calls")
	r.add("sweep", "sweep_slack_calls", float64(x.SlackCalls), "calls")
	r.details["sweep"] = map[string]int{"tokens": sweepTokens, "pairs_reported": x.Pairs}
}
