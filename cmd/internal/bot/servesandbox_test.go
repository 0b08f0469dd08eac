package bot

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/sandbox"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// serveSandbox runs the whole bot, as cmd/sandboxbot does, with the
// sandbox at worldURL as its environments, the fake Slack and Redis at
// redisAddr (its keys under prefix), until the test ends, and returns
// its log and the address of its HTTP listener once it listens. A test
// that fails shows the log.
func serveSandbox(ctx context.Context, t *testing.T, fake *slacktest.Server, redisAddr, prefix, worldURL, config string) (*logLines, string) {
	t.Helper()
	env := map[string]string{
		"SLACK_APP_TOKEN": fake.AppToken, "SLACK_BOT_TOKEN": fake.BotToken, "SLACK_API_URL": fake.URL(),
		"REDIS_URL": "redis://" + redisAddr, "HTTP_ADDR": "127.0.0.1:0", "STATE_PREFIX": prefix,
	}
	logs := &logLines{addr: make(chan string, 1)}
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		p := Program{Wiring: Wiring{Backend: sandbox.Backend(worldURL)}}
		done <- p.Run(botCtx, []string{"-config", config}, getenv(env), strings.NewReader(""), io.Discard, logs)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("bot log:\n%s", logs)
		}
	})
	select {
	case addr := <-logs.addr:
		return logs, "http://" + addr
	case err := <-done:
		done <- err // for the clean-up
		t.Fatalf("run returned early: %v\n%s", err, logs)
		return nil, ""
	}
}
