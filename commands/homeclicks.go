package commands

import (
	"context"
	"fmt"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// HomeClicks answers the Home tab's per-token buttons: Rotate, and Clean
// up for a pair with superseded tokens. A click on the Home tab has no
// response_url and no channel, so the answer is a modal opened with the
// click's trigger, and a rotation's thread goes in the environment's
// sweep channel, where its digest is (the bot is in it).
type HomeClicks struct {
	Bot *Bot
	// Reports reads an environment's last sweep (state.Store): a button
	// acts only on a pair that sweep reported.
	Reports interface {
		LastSweep(ctx context.Context, env string) ([]byte, error)
	}
	// Channels are the sweep channels, by environment.
	Channels map[string]string
	// CleanUp starts the clean-up of one pair's superseded tokens, once
	// the click has passed the checks a digest button has (a pair of the
	// last sweep with superseded tokens, a starter of the environment),
	// answering through say (DigestPoster.CleanUpPair).
	CleanUp func(ctx context.Context, user string, rep *daily.Report, pair flows.EstatePair, say func(text string) error) error
}

// Register routes the Home tab's per-token buttons.
func (h *HomeClicks) Register(r *Router) {
	r.Action(blocks.ActionHomeRotate, h.rotate)
	r.Action(blocks.ActionHomeCleanUp, h.cleanUp)
}

// rotate starts a rotation of the pair as `/rotate-token <email> <app>
// <env>` would, with the same checks.
func (h *HomeClicks) rotate(ctx context.Context, a Action) error {
	rep, p, say, err := h.pair(ctx, a, "Starting a rotation…")
	if err != nil || rep == nil {
		return err
	}
	key := daily.PairKey(rep.Environment, p)
	return h.Bot.startRotation(ctx, a.UserID, h.Channels[rep.Environment], key, false, say)
}

// cleanUp hands a pair with superseded tokens to the clean-up.
func (h *HomeClicks) cleanUp(ctx context.Context, a Action) error {
	rep, p, say, err := h.pair(ctx, a, "Looking at the superseded tokens…")
	if err != nil || rep == nil {
		return err
	}
	if len(p.Superseded) == 0 || !p.Synced {
		return say(fmt.Sprintf(":warning: The last sweep of %s found no superseded token of %s → %s. Nothing was done.", rep.Environment, blocks.Escape(p.User.Email), blocks.Escape(p.Application.Name)))
	}
	may, err := h.Bot.engine.MayStart(ctx, rep.Environment, a.UserID)
	if err != nil {
		return say(fmt.Sprintf(":warning: The bot cannot check who may act in %s right now. Nothing was done.", rep.Environment))
	}
	if !may {
		h.Bot.log.WarnContext(ctx, "audit: refused", "user", a.UserID, "action", a.ActionID)
		return say(fmt.Sprintf(":no_entry: You are not among the configured starters for %s. Nothing was done.", rep.Environment))
	}
	return h.CleanUp(ctx, a.UserID, rep, p, say)
}

// pair opens the answer modal and finds the pair the click names in its
// environment's last sweep. A nil report means the click was answered
// already: its value was not one the Home tab made, or names a pair the
// last sweep did not report.
func (h *HomeClicks) pair(ctx context.Context, a Action, pending string) (*daily.Report, flows.EstatePair, func(string) error, error) {
	say := h.answerer(ctx, a, pending)
	no := func(text string) (*daily.Report, flows.EstatePair, func(string) error, error) {
		return nil, flows.EstatePair{}, say, say(text)
	}
	t, ok := blocks.ParseHomeValue(a.Value)
	if !ok || h.Channels[t.Environment] == "" {
		h.Bot.log.WarnContext(ctx, "audit: forged Home tab button", "user", a.UserID, "action", a.ActionID)
		return no(":warning: That button was not made by the bot's Home tab. Nothing was done.")
	}
	rep, err := daily.Last(ctx, h.Reports, t.Environment)
	if err != nil {
		h.Bot.log.WarnContext(ctx, "Home tab button: last sweep unreadable", "environment", t.Environment, "err", err)
		return no(fmt.Sprintf(":warning: The bot cannot read the last sweep of %s right now. Nothing was done; try again shortly.", t.Environment))
	}
	p, found := flows.EstatePair{}, false
	if rep != nil {
		p, found = rep.Pair(t.Pair.User, t.Pair.Application)
	}
	if !found {
		return no(fmt.Sprintf(":warning: The last sweep of %s did not report that token. Nothing was done: open the Home tab again for the latest.", t.Environment))
	}
	return rep, p, say, nil
}

// answerer answers the click in a modal (homeAnswer).
func (h *HomeClicks) answerer(ctx context.Context, a Action, pending string) func(string) error {
	return homeAnswer(ctx, h.Bot.slack, a, pending)
}
