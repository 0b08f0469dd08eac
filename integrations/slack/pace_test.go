package slack_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// virtual is a clock that only moves when someone sleeps on it, shared by
// the fake Slack and the client, so that minutes of pacing take none.
type virtual struct {
	mu  sync.Mutex
	now time.Time
}

func (v *virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

func (v *virtual) Sleep(ctx context.Context, d time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = v.now.Add(d)
	return ctx.Err()
}

// A burst far over Slack's limits against a fake Slack that enforces
// them: the paced client is never answered 429, and it takes about as
// long as the limits allow. (One caller: the virtual clock moves by each
// wait, so concurrent sleepers would add theirs up.)
func TestPacedClientStaysWithinSlacksLimits(t *testing.T) {
	clock := &virtual{now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	fake := slacktest.New(t)
	fake.Now = clock.Now
	fake.EnforceRateLimits = true
	fake.AddChannel("C0ALERTS", "alerts", fake.BotUserID)
	fake.AddChannel("C0OPS", "ops", fake.BotUserID)
	c := slack.New(slack.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL(),
		Limits: slack.Paced(), Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()

	start := clock.Now()
	for i := range 40 {
		channel := []string{"C0ALERTS", "C0OPS"}[i%2]
		ts, err := c.PostMessage(ctx, channel, slackapi.MsgOptionText(fmt.Sprintf("message %d", i), false))
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		if err := c.UpdateMessage(ctx, channel, ts, slackapi.MsgOptionText("edited", false)); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if n := fake.Served429("chat.postMessage") + fake.Served429("chat.update"); n != 0 {
		t.Errorf("the paced client was answered 429 %d times", n)
	}
	// 40 updates at 47.5 a minute after a burst of 5: at least ~44 s.
	if took := clock.Now().Sub(start); took < 40*time.Second || took > 2*time.Minute {
		t.Errorf("the burst took %s of the clock; Slack's limits allow it in about 45s", took)
	}
}

// Unpaced, the same burst is answered 429 and the client waits each out:
// what the pacing saves.
func TestUnpacedClientCollects429s(t *testing.T) {
	clock := &virtual{now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	fake := slacktest.New(t)
	fake.Now = clock.Now
	fake.EnforceRateLimits = true
	fake.AddChannel("C0ALERTS", "alerts", fake.BotUserID)
	c := slack.New(slack.Config{BotToken: fake.BotToken, AppToken: fake.AppToken, APIURL: fake.URL(), Now: clock.Now, Sleep: clock.Sleep})
	for i := range 6 {
		if _, err := c.PostMessage(context.Background(), "C0ALERTS", slackapi.MsgOptionText(fmt.Sprint(i), false)); err != nil {
			t.Fatal(err)
		}
	}
	if fake.Served429("chat.postMessage") == 0 {
		t.Error("an unpaced burst of 6 posts in one channel drew no 429: the fake does not enforce the limit this test relies on")
	}
}
