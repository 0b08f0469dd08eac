package bot

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
)

// slackState is /readyz's view of Slack: not connected while the bot
// waits at start-up for Slack to answer auth.test, then the runner's.
type slackState struct {
	runner atomic.Pointer[slackint.Runner]
	// waiting says why start-up is stuck, "" once it is not.
	waiting atomic.Pointer[string]
}

func (s *slackState) Connected() bool {
	r := s.runner.Load()
	return r != nil && r.Connected()
}

// Trouble says why the bot is not connected, "" when it does not know.
func (s *slackState) Trouble() string {
	if r := s.runner.Load(); r != nil {
		return r.Trouble()
	}
	if w := s.waiting.Load(); w != nil {
		return *w
	}
	return ""
}

// whoAmI asks Slack who the bot is, until it answers. A bot started while
// Slack cannot be reached (a network not up yet, an outage) waits, not
// ready, instead of exiting into a crash loop; only a refused token,
// which no wait can fix, ends it. The waits double from p.BaseDelay (1s)
// up to p.MaxDelay (a minute).
func whoAmI(ctx context.Context, c *slackint.Client, s *slackState, log *slog.Logger, p slackint.RetryPolicy) (*slackapi.AuthTestResponse, error) {
	wait, most := p.BaseDelay, p.MaxDelay
	if wait <= 0 {
		wait = time.Second
	}
	if most <= 0 {
		most = time.Minute
	}
	for attempt := 1; ; attempt++ {
		self, err := c.AuthTest(ctx)
		if err == nil {
			s.waiting.Store(nil)
			return self, nil
		}
		explained := c.Explain("auth.test", "SLACK_BOT_TOKEN", err)
		if _, refused := slackint.Refused(err); refused || ctx.Err() != nil {
			return nil, explained
		}
		why := explained.Error()
		s.waiting.Store(&why)
		log.InfoContext(ctx, "slack is not answering at start-up; not ready, retrying", "attempt", attempt, "retry_in", wait, "err", explained)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, explained
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}
