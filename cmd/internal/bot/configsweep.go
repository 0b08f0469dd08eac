package bot

import (
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/daily"
)

// Sweep is an environment's daily sweep and digest (package daily). It is
// off unless channel is set.
type Sweep struct {
	// At is the time of day, "HH:MM" UTC, no earlier than 01:15: after
	// Signon's 01:00 renewal and the 01:07-01:12 sync Jobs. Default 02:00.
	At string `json:"at"`
	// Channel is where the digest goes (a channel id).
	Channel string `json:"channel"`
	// Within is the digest's expiry window (default 720h, 30 days);
	// HomeWithin the Home tab's (default 1440h, 60 days).
	Within     time.Duration `json:"within"`
	HomeWithin time.Duration `json:"homeWithin"`
	// Quiet posts nothing on a day with nothing to report, instead of
	// one short line.
	Quiet bool `json:"quiet"`
}

// maxSweepWindow is the longest window: a year covers every two-year
// token's second half.
const maxSweepWindow = 366 * 24 * time.Hour

// enabled reports whether the environment sweeps.
func (s Sweep) enabled() bool { return s.Channel != "" }

// schedule is the sweep's time, 02:00 by default.
func (s Sweep) schedule() (daily.Schedule, error) {
	return daily.ParseSchedule(or(s.At, "02:00"))
}

func (s Sweep) validate(key string, rotate bool) error {
	if !s.enabled() {
		if s.At != "" || s.Within != 0 || s.HomeWithin != 0 || s.Quiet {
			return fmt.Errorf("%s.channel: the sweep is configured but has no channel for its digest", key)
		}
		return nil
	}
	if !rotate {
		return fmt.Errorf("%s: the bot sweeps only environments it rotates in (rotate: true)", key)
	}
	if !channelPattern.MatchString(s.Channel) {
		return fmt.Errorf("%s.channel: %q is not a channel id (like C0123ABCD)", key, s.Channel)
	}
	if _, err := s.schedule(); err != nil {
		return fmt.Errorf("%s.at: %w", key, err)
	}
	for _, w := range []struct {
		field string
		v     time.Duration
	}{{"within", s.Within}, {"homeWithin", s.HomeWithin}} {
		if w.v < 0 || w.v > maxSweepWindow || (w.v != 0 && w.v < 24*time.Hour) {
			return fmt.Errorf("%s.%s: %v is not between 24h and %v", key, w.field, w.v, maxSweepWindow)
		}
	}
	return nil
}
