package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// alert is SignonApiUserTokenExpirySoon as Alertmanager's Slack notifier
// posts it: for one token (count 1, naming it) or for a group of count
// tokens of env, which names none, so that the bot asks Signon.
func alert(env string, count int, one *expiring) slacktest.MessageEvent {
	labels := env + " monitoring/kube-prometheus-stack-prometheus warning"
	if one != nil {
		labels = one.Email + " " + flows.Parameterize(one.Application) + " " + labels
	}
	link := "https://alertmanager.eks." + env + ".govuk.digital/#/alerts?receiver=slack"
	return slacktest.AlertmanagerMessage(alertsChannel, slackapi.Attachment{
		Title:     ":warning: WARNING: SignonApiUserTokenExpirySoon",
		TitleLink: link,
		Pretext:   "The following alert is firing:",
		Fallback:  fmt.Sprintf("[FIRING:%d] SignonApiUserTokenExpirySoon (%s) | %s", count, labels, link),
		Fields: []slackapi.AttachmentField{
			{Title: "Status", Value: ":fire: Firing", Short: true},
			{Title: "Severity", Value: ":warning: Warning", Short: true},
			{Title: "Environment", Value: strings.ToUpper(env[:1]) + env[1:], Short: true},
		},
	})
}

// rotateToken types `/rotate-token <email> <app> <env>` as user in channel.
func rotateToken(fake *slacktest.Server, user, channel string, t expiring, env string) *slacktest.Delivery {
	return fake.SendSlashCommand(slacktest.SlashCommand{
		Command: "/rotate-token", User: user, Channel: channel,
		Text: t.Email + " " + flows.Parameterize(t.Application) + " " + env,
	})
}

// press clicks the button labelled text on a message, as user, once the
// message shows it. It reports false if the message has no such button.
func press(fake *slacktest.Server, user, channel, ts, text string) (*slacktest.Delivery, bool) {
	m, ok := fake.Message(channel, ts, user)
	if !ok {
		return nil, false
	}
	b, ok := m.Button(text)
	if !ok {
		return nil, false
	}
	return fake.Click(slacktest.BlockAction{User: user, Channel: channel, MessageTS: ts, ActionID: b.ActionID}), true
}

// gatePost is the ts of the message that asks the run's open gate, once
// it is in Slack.
func gatePost(run *flows.Run) (string, bool) {
	if run.Gate == nil {
		return "", false
	}
	for _, p := range run.Posts {
		if p.Gate == run.Gate.ID {
			rc, ok := run.Receipts[p.ID]
			return rc.TS, ok
		}
	}
	return "", false
}

// posted reports whether every message of the run is in Slack.
func posted(run *flows.Run) bool {
	if _, ok := run.Receipts[flows.StatusPostID]; !ok {
		return false
	}
	for _, p := range run.Posts {
		if _, ok := run.Receipts[p.ID]; !ok {
			return false
		}
	}
	return true
}

// parked: waiting at a gate of kind, every message posted.
func parked(run *flows.Run, kind flows.GateKind) bool {
	return run.Phase == flows.PhaseWaiting && run.Gate != nil && run.Gate.Kind == kind && posted(run)
}

// poll calls cond every interval until it reports true, fails, or ctx
// ends.
func poll(ctx context.Context, interval time.Duration, what string, cond func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
