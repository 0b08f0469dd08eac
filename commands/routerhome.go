package commands

import (
	"context"
	"log/slog"

	"github.com/slack-go/slack/slackevents"
)

// HomeHandler handles a person opening the app's Home tab.
type HomeHandler func(ctx context.Context, userID string) error

// HomeOpened routes app_home_opened (the Home tab, not the Messages tab).
func (r *Router) HomeOpened(h HomeHandler) { r.home = h }

func (r *Router) homeOpened(ctx context.Context, log *slog.Logger, eventID string, ev *slackevents.AppHomeOpenedEvent) {
	if r.home == nil || ev.Tab != "home" || ev.User == "" {
		log.DebugContext(ctx, "app_home_opened not routed", "tab", ev.Tab)
		return
	}
	if !r.once(ctx, log, "event:"+eventID) {
		return
	}
	if err := r.home(ctx, ev.User); err != nil {
		log.WarnContext(ctx, "home tab not published", "user", ev.User, "err", err)
	}
}
