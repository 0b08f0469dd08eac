package slacktest

import (
	"math"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// Limit is a token bucket: PerMinute calls a minute, Burst at once.
// PerChannel keeps one bucket per channel (chat.postMessage's limit).
type Limit = slack.Limit

// DefaultLimits returns Slack's published limits, the same table the
// bot's client paces itself by.
func DefaultLimits() map[string]Limit { return slack.PublishedLimits() }

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
