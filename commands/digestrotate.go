package commands

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// rotateAll starts one batch of the group's pairs, in the digest's
// thread, as the person who clicked: click has checked the value against
// the latest sweep and that they may start runs; the engine checks the
// role again and refuses pairs it will not rotate, one by one.
func (d *DigestPoster) rotateAll(ctx context.Context, a Action, rep *daily.Report, target blocks.DigestTarget, say func(string) error) error {
	channel := d.Channels[target.Environment]
	// The Home tab's button comes from no channel; the digest's only
	// from the digest's channel.
	if target.Why == blocks.WhySuperseded || target.Why == daily.WhyOtherTeam || target.Why == daily.WhyNotSynced || (a.ChannelID != "" && a.ChannelID != channel) {
		d.log().WarnContext(ctx, "audit: forged digest button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
		return say(":warning: That button was not made by the bot's daily digest. Nothing was done.")
	}
	keys := make([]flows.Key, 0, len(target.Pairs))
	for _, tp := range target.Pairs {
		for _, p := range rep.Pairs {
			if p.User.ID == tp.User && p.Application.ID == tp.Application {
				keys = append(keys, daily.PairKey(rep.Environment, p))
				break
			}
		}
	}
	// In the digest's thread; from the Home tab, a new thread in the
	// digest's channel.
	thread := flows.Thread{Channel: channel}
	if a.ChannelID != "" {
		thread.TS = cmp.Or(a.ThreadTS, a.MessageTS)
	}
	res, err := d.StartBatch(ctx, flows.BatchRequest{Keys: keys, Actor: a.UserID, Thread: thread, Origin: flows.Origin{Kind: "digest"}})
	if err != nil {
		if !expected(err) {
			d.log().ErrorContext(ctx, "digest rotate all failed", "user", a.UserID, "environment", target.Environment, "err", err)
		}
		return say(Answer(err, ""))
	}
	d.log().InfoContext(ctx, "batch started from the digest", "batch", res.Batch.ID, "user", a.UserID, "environment", target.Environment, "runs", len(res.Runs), "refused", len(res.Refused))
	if len(res.Refused) > 0 {
		return say(refusedText(res))
	}
	return say(fmt.Sprintf(":arrows_counterclockwise: Started %d rotations in %s as one batch: follow it in its thread in the digest's channel.", len(res.Runs), blocks.Escape(target.Environment)))
}

func (d *DigestPoster) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
