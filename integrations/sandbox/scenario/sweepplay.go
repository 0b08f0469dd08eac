package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// Advancer is a clock a Driver can move on: the bot's, so that the
// sweep falls due at once (flowstest.Clock, cmd/demo's).
type Advancer interface {
	flows.Clock
	Advance(d time.Duration)
}

// Threads lists the runs indexed under a thread (*state.Store): how a
// Driver finds the runs of a batch the sweep started, which no offer
// records.
type Threads interface {
	RunsInThread(ctx context.Context, channel, ts string) ([]string, error)
}

// digestPrefix starts the text of every digest (blocks.Digest).
const digestPrefix = "Daily sweep of "

// Sweep moves the bot's clock a second past the next sweep time, waits
// for the digest in the digest channel and, when the scenario expects
// runs, for the thread of the batch the sweep started, and then for the
// bot to settle.
func (d *Driver) Sweep(ctx context.Context) error {
	clock, ok := d.World.clock.(Advancer)
	if !ok {
		return fmt.Errorf("%s: the clock (%T) cannot be moved past the sweep time", d.World.Name, d.World.clock)
	}
	sched, err := daily.ParseSchedule(SweepAt)
	if err != nil {
		return fmt.Errorf("%s: %w", d.World.Name, err)
	}
	now := clock.Now()
	clock.Advance(sched.Next(now).Sub(now) + time.Second)
	d.channel = DigestChannel
	if err := d.until(ctx, "the daily digest", func() (bool, error) { return len(d.digests()) > 0, nil }); err != nil {
		return err
	}
	if !d.World.startsRuns() {
		return nil
	}
	threads, ok := d.Records.(Threads)
	if !ok {
		return fmt.Errorf("%s: the bot's records (%T) cannot list a thread's runs", d.World.Name, d.Records)
	}
	digest := d.digests()[0].TS
	err = d.until(ctx, "the thread of the batch the sweep started", func() (bool, error) {
		for _, m := range d.Slack.History(DigestChannel, "") {
			if m.TS == digest {
				continue
			}
			ids, err := threads.RunsInThread(ctx, DigestChannel, m.TS)
			if err != nil {
				return false, err
			}
			if len(ids) > 0 {
				d.threadTS = m.TS
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Settle(ctx)
}

// digests are the digests the bot posted, oldest first.
func (d *Driver) digests() []slacktest.Message {
	return digestsIn(d.Slack)
}

func digestsIn(fake *slacktest.Server) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range fake.History(DigestChannel, "") {
		if m.BotID != "" && strings.HasPrefix(m.Text, digestPrefix) {
			out = append(out, m)
		}
	}
	return out
}

// Digest is the day's digest as people read it, or "" before there is
// one.
func (d *Driver) Digest() string {
	ds := d.digests()
	if len(ds) == 0 {
		return ""
	}
	return d.Slack.Transcript(DigestChannel, ds[0].TS)
}

// sweptRuns are the runs in the thread of the batch the sweep started.
func (d *Driver) sweptRuns(ctx context.Context) ([]*flows.Run, error) {
	threads, ok := d.Records.(Threads)
	if !ok || d.threadTS == "" {
		return nil, nil
	}
	ids, err := threads.RunsInThread(ctx, DigestChannel, d.threadTS)
	if err != nil {
		return nil, fmt.Errorf("the runs of the sweep's batch: %w", err)
	}
	return d.runsByID(ctx, ids)
}

// startsRuns: some token of the scenario is meant to get a run.
func (w *World) startsRuns() bool {
	for _, e := range w.expects {
		if e.explained == "" {
			return true
		}
	}
	return false
}

// checkDigests: a sweep-driven scenario's day has one digest.
func (w *World) checkDigests(fake *slacktest.Server, bad func(string, ...any)) {
	if w.Sweep == nil {
		return
	}
	if n := len(digestsIn(fake)); n != 1 {
		bad("the bot posted %d digests in #%s, want 1 for the day", n, DigestChannelName)
	}
}

// ended waits until every run of the sweep's batch has ended and Slack
// shows it.
func (d *Driver) ended(ctx context.Context) error {
	err := d.until(ctx, "the runs of the sweep's batch to end", func() (bool, error) {
		runs, err := d.Runs(ctx)
		if err != nil {
			return false, err
		}
		for _, r := range runs {
			if !r.Ended() {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return d.Settle(ctx)
}
