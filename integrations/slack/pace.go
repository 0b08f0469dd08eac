package slack

import (
	"context"
	"sync"
	"time"
)

// Limit is one of Slack's rate limits as a token bucket: PerMinute calls
// a minute, Burst at once. PerChannel keeps a bucket per channel, as
// chat.postMessage's limit does.
type Limit struct {
	PerMinute  float64
	Burst      int
	PerChannel bool
}

// Slack's tiers (https://api.slack.com/apis/rate-limits): calls a minute,
// with short bursts allowed.
var (
	tier2 = Limit{PerMinute: 20, Burst: 3}
	tier3 = Limit{PerMinute: 50, Burst: 5}
	tier4 = Limit{PerMinute: 100, Burst: 10}
)

// PublishedLimits are Slack's published limits for the methods the bot
// calls. chat.postMessage allows about one message a second per channel.
func PublishedLimits() map[string]Limit {
	return map[string]Limit{
		"auth.test":             tier4,
		"apps.connections.open": {PerMinute: 1, Burst: 2},
		"chat.postMessage":      {PerMinute: 60, Burst: 3, PerChannel: true},
		"chat.postEphemeral":    tier4,
		"chat.update":           tier3,
		"chat.delete":           tier3,
		"chat.getPermalink":     tier4,
		"views.open":            tier4,
		"views.push":            tier4,
		"views.update":          tier4,
		"views.publish":         tier4,
		"users.info":            tier4,
		"usergroups.users.list": tier2,
	}
}

// Paced is PublishedLimits at 95%: what the bot keeps to, so that a burst
// of work (an alert storm) waits its turn here instead of collecting 429s
// and, after enough of them in a row, failing.
func Paced() map[string]Limit {
	out := PublishedLimits()
	for m, l := range out {
		l.PerMinute *= 0.95
		out[m] = l
	}
	return out
}

// pacer spaces calls to stay within limits. Each call reserves the next
// free slot of its bucket and waits for it, so callers are served in the
// order they asked.
type pacer struct {
	limits map[string]Limit
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// wait blocks until the call may go. Without a limit for the method it
// returns at once.
func (p *pacer) wait(ctx context.Context, method, channel string) error {
	l, ok := p.limits[method]
	if !ok || l.PerMinute <= 0 {
		return nil
	}
	key := method
	if l.PerChannel {
		key += "/" + channel
	}
	perSecond := l.PerMinute / 60
	p.mu.Lock()
	now := p.now()
	b, ok := p.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.Burst), at: now}
		p.buckets[key] = b
	}
	b.tokens = min(float64(l.Burst), b.tokens+now.Sub(b.at).Seconds()*perSecond)
	b.at = now
	b.tokens--
	wait := time.Duration(-b.tokens / perSecond * float64(time.Second))
	p.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return p.sleep(ctx, wait)
}
