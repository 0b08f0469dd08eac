package commands

import (
	"context"

	slackapi "github.com/slack-go/slack"
)

// SlackAPI is the part of Slack's Web API the surface uses; the bot's
// one slack.Client (rate limits, retries, metrics) provides it.
type SlackAPI interface {
	Responder
	PostMessage(ctx context.Context, channel string, opts ...slackapi.MsgOption) (string, error)
	PostEphemeral(ctx context.Context, channel, user string, opts ...slackapi.MsgOption) (string, error)
	UpdateMessage(ctx context.Context, channel, ts string, opts ...slackapi.MsgOption) error
	OpenView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error)
	UpdateView(ctx context.Context, viewID, hash string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error)
}

// route says that the message (channel, ts) was clicked and can be
// replaced through the click's response_url: that answers the click at
// once and spares a chat.update.
type route struct {
	channel, ts, url string
}

type routeKey struct{}

// withRoute marks ctx as the handling of a click on (channel, ts).
func withRoute(ctx context.Context, channel, ts, url string) context.Context {
	if channel == "" || ts == "" || url == "" {
		return ctx
	}
	return context.WithValue(ctx, routeKey{}, route{channel: channel, ts: ts, url: url})
}

// routeOf returns the click's response_url if ctx handles a click on
// (channel, ts).
func routeOf(ctx context.Context, channel, ts string) (string, bool) {
	r, ok := ctx.Value(routeKey{}).(route)
	if !ok || r.channel != channel || r.ts != ts {
		return "", false
	}
	return r.url, true
}

// clicked reports whether ctx handles a click, and on which message.
func clicked(ctx context.Context) (route, bool) {
	r, ok := ctx.Value(routeKey{}).(route)
	return r, ok
}
