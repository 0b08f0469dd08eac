package slack_test

import (
	"context"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// A flood of messages that keeps every event worker busy and fills the
// events backlog must not take the slots a click or a command needs:
// those are acked and handled at once, while the extra messages are left
// for Slack to redeliver.
func TestAFloodOfMessagesDoesNotStarveCommands(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	release := make(chan struct{})
	commands := make(chan string, 10)
	_, _ = startRunner(t, f, handlerFunc(func(_ context.Context, e slack.Envelope) {
		if e.Event != nil {
			<-release
			return
		}
		commands <- e.Command.Text
	}), slack.RunnerConfig{Workers: 2, Backlog: 2, EventWorkers: 1, EventBacklog: 1})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer close(release)

	var flood []*slacktest.Delivery
	for range 10 {
		flood = append(flood, f.fake.SendMessage(slacktest.UserMessage("C0ALERTS", "U0MALLORY", "look like an alert")))
	}
	waitFor(t, "the flood to be shed", func() bool {
		return f.metric(t, "signon_token_bot_slack_envelopes_total", map[string]string{"outcome": "shed"}) >= 8
	})
	for range 3 {
		d := slash(f, "status")
		if _, err := d.WaitAck(ctx); err != nil {
			t.Fatalf("a command behind the flood was not acked: %v", err)
		}
		select {
		case <-commands:
		case <-ctx.Done():
			t.Fatal("a command behind the flood was not handled")
		}
	}
	acked := 0
	for _, d := range flood {
		if d.Acked() {
			acked++
		}
	}
	if acked != 2 {
		t.Errorf("%d messages acked, want 2 (one in hand, one in the backlog)", acked)
	}
}
