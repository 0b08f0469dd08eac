package commands

import (
	"context"
	"time"
)

// Slack takes up to 5 posts to a response_url within 30 minutes of the
// click. The click's handler spends one or two (its answer, a private
// note); a run's later flushes may spend heldRouteUses more, and stop
// well before the URL expires, so that a replace they try is not refused
// (which would cost the chat.update it was meant to save, and a warning).
const (
	heldRouteLifetime = 25 * time.Minute
	heldRouteUses     = 2
)

// heldRoute is a click's response_url kept for the run's later flushes:
// replacing the clicked message through it costs no Web API call and no
// place in a rate-limit bucket. It lives only in this replica's memory.
type heldRoute struct {
	url  string
	at   time.Time
	uses int
}

// holdRoute keeps the route of the click ctx handles, if any, in th.
func (th *thread) holdRoute(ctx context.Context, channel string, now time.Time) {
	r, ok := clicked(ctx)
	if !ok || r.channel != channel {
		return
	}
	if th.routes == nil {
		th.routes = map[string]*heldRoute{}
	}
	if h, ok := th.routes[r.ts]; ok && h.url == r.url {
		return
	}
	th.routes[r.ts] = &heldRoute{url: r.url, at: now}
}

// takeRoute is the response_url of an earlier click on message ts, if it
// may still be used, counted as used.
func (th *thread) takeRoute(ts string, now time.Time) (string, bool) {
	h, ok := th.routes[ts]
	if !ok || h.uses >= heldRouteUses || now.Sub(h.at) >= heldRouteLifetime {
		return "", false
	}
	h.uses++
	return h.url, true
}

// dropRoute forgets a route Slack refused.
func (th *thread) dropRoute(ts string) { delete(th.routes, ts) }
