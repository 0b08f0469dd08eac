package slacktest

import (
	"math"
	"time"
)

// Limit is a token bucket: PerMinute calls a minute, Burst at once.
// PerChannel keeps one bucket per channel (chat.postMessage's limit).
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

// DefaultLimits returns Slack's published limits for the methods the fake
// serves. chat.postMessage is about one message a second per channel.
func DefaultLimits() map[string]Limit {
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
		"users.info":            tier4,
		"usergroups.users.list": tier2,
	}
}

type bucket struct {
	tokens float64
	at     time.Time
}

// rateLimitLocked takes a token for the call, or says how many seconds to
// wait for one.
func (s *Server) rateLimitLocked(method, channel string) (retryAfter int, limited bool) {
	limits := s.Limits
	if limits == nil {
		limits = DefaultLimits()
	}
	l, ok := limits[method]
	if !ok {
		return 0, false
	}
	key := method
	if l.PerChannel {
		key += "/" + channel
	}
	now := s.now()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.Burst), at: now}
		s.buckets[key] = b
	}
	perSecond := l.PerMinute / 60
	b.tokens = math.Min(float64(l.Burst), b.tokens+now.Sub(b.at).Seconds()*perSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	wait := (1 - b.tokens) / perSecond
	return int(math.Ceil(wait)), true
}
