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
	// Snoozes keeps Ignore…'s snoozes (state.Store); nil answers that
	// Ignore… is not available. Audit records them, Edit shows them on
	// the digest in place, and Clock dates them; each may be nil.
	Snoozes Snoozes
	Audit   Auditor
	Edit    interface {
		UpdateMessage(ctx context.Context, channel, ts string, opts ...slackapi.MsgOption) error
	}
	Clock  flows.Clock
	Logger *slog.Logger
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
	r.Action(blocks.ActionDigestUnignore, d.unignore)
	r.View(blocks.DigestIgnoreCallbackID, d.SubmitIgnore)
	r.Check(blocks.DigestIgnoreCallbackID, d.CheckIgnore)
}

// click checks a digest button as any other (checked), then acts.
// Ignore… from the Home tab needs the click's trigger for its form, so
// its refusals open their own modal rather than one opened at once.
func (d *DigestPoster) click(ctx context.Context, a Action) error {
	ignore := strings.HasPrefix(a.ActionID, blocks.ActionDigestIgnore)
	say := func(text string) error {
		return d.Slack.Respond(ctx, a.ResponseURL, slack.Reply{Text: text})
	}
	if a.ResponseURL == "" {
		// Acting on a click nobody can be told about would leave a batch
		// its starter does not know of.
		if d.Views == nil {
			return fmt.Errorf("answer %s's click on %s: no response URL, and no Views to answer in a modal", a.UserID, a.ActionID)
		}
		if ignore {
			say = homeNotice(ctx, d.Views, a)
		} else {
			say = homeAnswer(ctx, d.Views, a, "Looking at the group…")
		}
	}
	rep, target, refusal, err := d.checked(ctx, a)
	if refusal != "" {
		d.logRefusal(ctx, a, err)
		return say(refusal)
	}
	switch {
	case target.Why == blocks.WhySuperseded && strings.HasPrefix(a.ActionID, blocks.ActionDigestRevoke) && d.Cleaner != nil:
		return d.revokeSuperseded(ctx, a, rep, target, say)
	case strings.HasPrefix(a.ActionID, blocks.ActionDigestRotateAll):
		return d.rotateAll(ctx, a, rep, target, say)
	case ignore:
		return d.ignoreGroup(ctx, a, target, say)
	}
	return say(fmt.Sprintf(":construction: Acting on a whole group (%d tokens) is not available on this bot. Nothing was done. Meanwhile, rotate each token with `/rotate-token <api-user-email> <application> %s`.", len(target.Pairs), target.Environment))
}

// checked checks a digest button's click: a value the digest made (for
// Ignore…, from the digest's channel or the Home tab), for pairs the
// latest sweep reported and nobody has ignored since, from a person who
// may start runs there. A refusal says privately why nothing was done;
// err, if any, is for the log.
func (d *DigestPoster) checked(ctx context.Context, a Action) (*daily.Report, blocks.DigestTarget, string, error) {
	target, ok := blocks.ParseDigestValue(a.Value)
	channel := d.Channels[target.Environment]
	forged := !ok || channel == "" || (strings.HasPrefix(a.ActionID, blocks.ActionDigestIgnore) && a.ChannelID != "" && a.ChannelID != channel)
	if forged {
		d.log().WarnContext(ctx, "audit: forged digest button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
		return nil, target, ":warning: That button was not made by the bot's daily digest. Nothing was done.", nil
	}
	rep, err := daily.Last(ctx, d.Reports, target.Environment)
	if err == nil && rep != nil {
		err = d.withIgnores(ctx, rep)
	}
	if err != nil {
		return nil, target, fmt.Sprintf(":warning: The bot cannot read the last sweep of %s right now. Nothing was done; try again shortly.", target.Environment), err
	}
	if rep == nil || rep.Day != target.Day || !reported(rep, target) {
		return nil, target, ":warning: That digest is not the latest one, or names tokens its sweep did not report or that are ignored. Nothing was done: use the latest digest or the Home tab.", nil
	}
	refusal, err := d.mayAct(ctx, target.Environment, a.UserID)
	return rep, target, refusal, err
}

// mayAct refuses a person who may not start runs in env.
func (d *DigestPoster) mayAct(ctx context.Context, env, user string) (string, error) {
	may, err := d.MayStart(ctx, env, user)
	if err != nil {
		return fmt.Sprintf(":warning: The bot cannot check who may act in %s right now. Nothing was done.", env), err
	}
	if !may {
		return fmt.Sprintf(":no_entry: You are not among the configured starters for %s. Nothing was done.", env), nil
	}
	return "", nil
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
