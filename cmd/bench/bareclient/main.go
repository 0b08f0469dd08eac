// Command bareclient is the benchmarks' baseline: a Socket Mode client
// made of slack-go and nothing else, which acks every envelope and does no
// work. cmd/bench runs it as a child process, as it runs the bot, so that
// the two are measured alike: ack latency at the fake, and memory.
//
// It reads SLACK_APP_TOKEN, SLACK_BOT_TOKEN and SLACK_API_URL, and runs
// until it is interrupted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	api := slack.New(os.Getenv("SLACK_BOT_TOKEN"),
		slack.OptionAppLevelToken(os.Getenv("SLACK_APP_TOKEN")), slack.OptionAPIURL(os.Getenv("SLACK_API_URL")))
	sm := socketmode.New(api)
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "bareclient:", err)
				os.Exit(1)
			}
			return
		case ev := <-sm.Events:
			if ev.Request != nil && ev.Request.EnvelopeID != "" {
				_ = sm.AckCtx(ctx, ev.Request.EnvelopeID, nil)
			}
		}
	}
}
