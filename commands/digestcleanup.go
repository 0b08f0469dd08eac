package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// Cleaner starts the superseded-token clean-up as one batch (flows.Engine).
type Cleaner interface {
	StartBatch(ctx context.Context, req flows.BatchRequest) (*flows.BatchStarted, error)
}

// revokeSuperseded starts the clean-up of the superseded pairs a digest's
// (or the Home tab's) button names, as the clicking user. The batch talks
// in the digest's thread, or in a new thread in the environment's digest
// channel when the click came from elsewhere. The engine checks the user's
// role and each pair in Signon again; a pair it refuses is named privately.
func (d *DigestPoster) revokeSuperseded(ctx context.Context, a Action, rep *daily.Report, t blocks.DigestTarget, say func(text string) error) error {
	thread := flows.Thread{Channel: d.Channels[t.Environment]}
	if a.ChannelID == thread.Channel && a.MessageTS != "" {
		thread.TS = a.MessageTS
	}
	return d.cleanUp(ctx, a.UserID, rep, t.Pairs, thread, say)
}

// CleanUpPair is the Home tab's Clean up (HomeClicks.CleanUp): one pair's
// clean-up, in a new thread in the digest's channel.
func (d *DigestPoster) CleanUpPair(ctx context.Context, user string, rep *daily.Report, p flows.EstatePair, say func(text string) error) error {
	pairs := []blocks.DigestPair{{User: p.User.ID, Application: p.Application.ID}}
	return d.cleanUp(ctx, user, rep, pairs, flows.Thread{Channel: d.Channels[rep.Environment]}, say)
}

func (d *DigestPoster) cleanUp(ctx context.Context, user string, rep *daily.Report, pairs []blocks.DigestPair, thread flows.Thread, say func(text string) error) error {
	keys := supersededKeys(rep, pairs)
	if len(keys) == 0 {
		return say(":warning: That button names no pair with superseded tokens. Nothing was done.")
	}
	res, err := d.Cleaner.StartBatch(ctx, flows.BatchRequest{Mode: flows.ModeCleanup, Keys: keys, Actor: user, Thread: thread,
		Origin: flows.Origin{Kind: "digest"}})
	if err != nil {
		return say(Answer(err, ""))
	}
	text := fmt.Sprintf(":broom: Started the clean-up of %s (batch `%s`): each pair's consumers are checked for the synced token before one question asks to revoke the superseded tokens.", flows.Count(len(res.Runs), "pair"), res.Batch.ID)
	if len(res.Refused) > 0 {
		var lines []string
		for _, f := range res.Refused {
			lines = append(lines, fmt.Sprintf("• %s: %s", f.Key.APIUser, Answer(f.Err, "")))
		}
		text += "\nNot started:\n" + strings.Join(lines, "\n")
	}
	return say(text)
}

// supersededKeys are the run keys of the report's superseded pairs that
// pairs names, in the report's order.
func supersededKeys(rep *daily.Report, pairs []blocks.DigestPair) []flows.Key {
	var keys []flows.Key
	for _, p := range rep.Superseded() {
		if slices.Contains(pairs, blocks.DigestPair{User: p.User.ID, Application: p.Application.ID}) {
			keys = append(keys, daily.PairKey(rep.Environment, p))
		}
	}
	return keys
}

var _ Cleaner = (*flows.Engine)(nil)
