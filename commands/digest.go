package commands

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// DigestPoster posts the daily sweep's digest and answers its buttons.
type DigestPoster struct {
	Slack interface {
		Responder
		PostMessage(ctx context.Context, channel string, opts ...slackapi.MsgOption) (string, error)
	}
	Render blocks.Renderer
	// Channels and Quiet are per environment.
	Channels map[string]string
	Quiet    map[string]bool
	// Reports reads an environment's last sweep (state.Store).
	Reports interface {
		LastSweep(ctx context.Context, env string) ([]byte, error)
	}
	// MayStart says whether a user may start runs in an environment
	// (flows.Engine).
	MayStart func(ctx context.Context, env, user string) (bool, error)
	// Views answers a click on the group buttons the Home tab shows,
	// which carries no response URL, in a small modal; without it such a
	// click fails, in the log, and changes nothing.
	Views views
	// Cleaner starts Revoke superseded's clean-up; nil leaves the button
	// answering that it is not available.
	Cleaner Cleaner
	// StartBatch starts Rotate all's batch (flows.Engine); see
	// digestrotate.go.
	StartBatch func(ctx context.Context, req flows.BatchRequest) (*flows.BatchStarted, error)
	Logger     *slog.Logger
}

// Digest posts one message for the sweep, or nothing on a quiet day.
func (d *DigestPoster) Digest(ctx context.Context, r *daily.Report) error {
	channel, ok := d.Channels[r.Environment]
	if !ok {
		return fmt.Errorf("digest of %s: no channel configured", r.Environment)
	}
	m, ok := d.Render.Digest(r, d.Quiet[r.Environment])
	if !ok {
		return nil
	}
	if _, err := d.Slack.PostMessage(ctx, channel, slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(m.Blocks...)); err != nil {
		return fmt.Errorf("post the digest of %s to %s: %w", r.Environment, channel, err)
	}
	return nil
}

// Register routes the digest's buttons.
func (d *DigestPoster) Register(r *Router) {
	for _, a := range []string{blocks.ActionDigestRotateAll, blocks.ActionDigestRevoke, blocks.ActionDigestIgnore} {
		r.Action(a, d.click)
	}
}

// click checks a digest button as any other: a value the digest made, for
// pairs its sweep reported, from a person who may start runs there. The
// actions need batches of runs, which are not there yet, so every click
// that passes is told so, privately, and nothing changes.
func (d *DigestPoster) click(ctx context.Context, a Action) error {
	say := func(text string) error {
		return d.Slack.Respond(ctx, a.ResponseURL, slack.Reply{Text: text})
	}
	if a.ResponseURL == "" {
		// Acting on a click nobody can be told about would leave a batch
		// its starter does not know of.
		if d.Views == nil {
			return fmt.Errorf("answer %s's click on %s: no response URL, and no Views to answer in a modal", a.UserID, a.ActionID)
		}
		say = homeAnswer(ctx, d.Views, a, "Looking at the group…")
	}
	target, ok := blocks.ParseDigestValue(a.Value)
	if !ok || d.Channels[target.Environment] == "" {
		return say(":warning: That button was not made by the bot's daily digest. Nothing was done.")
	}
	rep, err := daily.Last(ctx, d.Reports, target.Environment)
	if err != nil {
		return say(fmt.Sprintf(":warning: The bot cannot read the last sweep of %s right now. Nothing was done; try again shortly.", target.Environment))
	}
	if rep == nil || rep.Day != target.Day || !reported(rep, target) {
		return say(":warning: That digest is not the latest one, or names tokens its sweep did not report. Nothing was done: use the latest digest or the Home tab.")
	}
	may, err := d.MayStart(ctx, target.Environment, a.UserID)
	if err != nil {
		return say(fmt.Sprintf(":warning: The bot cannot check who may act in %s right now. Nothing was done.", target.Environment))
	}
	if !may {
		return say(fmt.Sprintf(":no_entry: You are not among the configured starters for %s. Nothing was done.", target.Environment))
	}
	if target.Why == blocks.WhySuperseded && strings.HasPrefix(a.ActionID, blocks.ActionDigestRevoke) && d.Cleaner != nil {
		return d.revokeSuperseded(ctx, a, rep, target, say)
	}
	if strings.HasPrefix(a.ActionID, blocks.ActionDigestRotateAll) {
		return d.rotateAll(ctx, a, rep, target, say)
	}
	return say(fmt.Sprintf(":construction: Acting on a whole group (%d tokens) needs batches of runs, which the bot does not have yet. Nothing was done. Meanwhile, rotate each token with `/rotate-token <api-user-email> <application> %s`.", len(target.Pairs), target.Environment))
}

// reported reports whether every pair of the target is in the report's
// group, in the digest's window or the Home tab's.
func reported(rep *daily.Report, t blocks.DigestTarget) bool {
	var pairs []blocks.DigestPair
	if t.Why == blocks.WhySuperseded {
		for _, p := range rep.Superseded() {
			pairs = append(pairs, blocks.DigestPair{User: p.User.ID, Application: p.Application.ID})
		}
	} else {
		for _, g := range rep.GroupsWithin(max(rep.Within, rep.HomeWithin)) {
			if g.Why != t.Why {
				continue
			}
			for _, p := range g.Pairs {
				pairs = append(pairs, blocks.DigestPair{User: p.User.ID, Application: p.Application.ID})
			}
		}
	}
	for _, p := range t.Pairs {
		if !slices.Contains(pairs, p) {
			return false
		}
	}
	return true
}

var _ daily.Publisher = (*DigestPoster)(nil)
