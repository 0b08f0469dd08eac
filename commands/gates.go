package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// gateClick passes a run's gate: the engine checks that the gate is still
// open and the person may pass it, and of simultaneous clicks lets one
// count.
func (b *Bot) gateClick(action flows.Action) ActionHandler {
	return func(ctx context.Context, a Action) error {
		run, gateID, err := b.clickedRun(ctx, a)
		if err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
		}
		ctx = withRoute(ctx, a.ChannelID, a.MessageTS, a.ResponseURL)
		run, err = b.engine.Act(ctx, flows.ActRequest{RunID: run.ID, GateID: gateID, Action: action, Actor: a.UserID})
		if err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, b.runLink(run))
		}
		b.log.InfoContext(ctx, "gate", "run", run.ID, "action", action, "user", a.UserID)
		return nil
	}
}

// revealClick shows the new token of an external consumer's run to the
// one person who may see it, in a modal. The click is checked first (a
// store read and the role lookup, well within the trigger's 3 seconds), so
// nobody else gets a window; then the modal opens at once (Signon takes
// longer than the trigger lasts) and the Revealer fills it in.
func (b *Bot) revealClick(ctx context.Context, a Action) error {
	run, gateID, err := b.clickedRun(ctx, a)
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	req := flows.ActRequest{RunID: run.ID, GateID: gateID, Action: flows.ActionReveal, Actor: a.UserID}
	if err := b.engine.Check(ctx, req); err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, b.runLink(run))
	}
	view, err := b.slack.OpenView(ctx, a.TriggerID, blocks.RevealPending(run))
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, fmt.Errorf("open the reveal window: %w", err), "")
	}
	req.Handle = RevealHandle{ViewID: view.ID, User: a.UserID}
	_, err = b.engine.Act(ctx, req)
	if err == nil {
		b.log.InfoContext(ctx, "token revealed", "run", run.ID, "user", a.UserID)
		return nil
	}
	if expected(err) {
		b.log.WarnContext(ctx, "audit: reveal refused", "run", run.ID, "user", a.UserID, "err", err)
	} else {
		b.log.ErrorContext(ctx, "reveal", "run", run.ID, "user", a.UserID, "err", err)
	}
	if _, uerr := b.slack.UpdateView(ctx, view.ID, "", blocks.RevealProblem(Answer(err, ""))); uerr != nil {
		return fmt.Errorf("say in the reveal window that it failed: %w", uerr)
	}
	return nil
}

// clickedRun finds the run and gate a gate button names, and checks that
// the button is in the run's own channel.
func (b *Bot) clickedRun(ctx context.Context, a Action) (*flows.Run, string, error) {
	runID, gateID, ok := blocks.ParseGateValue(a.Value)
	forged := func() (*flows.Run, string, error) {
		b.log.WarnContext(ctx, "audit: forged gate button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS, "run", runID)
		return nil, "", fmt.Errorf("%w: that button does not belong to this message, so I did nothing", flows.ErrBadInput)
	}
	// A gate's buttons carry its id in both action_id and value.
	if _, suffix, _ := strings.Cut(a.ActionID, ":"); !ok || suffix != gateID {
		return forged()
	}
	run, err := b.engine.Get(ctx, runID)
	if errors.Is(err, flows.ErrRunNotFound) {
		b.log.WarnContext(ctx, "a click on a run the store no longer has", "run", runID, "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
		return nil, "", &goneRunError{runID: runID}
	}
	if err != nil {
		return nil, "", err
	}
	if run.Thread.Channel != a.ChannelID || (run.Thread.TS != "" && a.ThreadTS != "" && a.ThreadTS != run.Thread.TS) {
		return forged()
	}
	return run, gateID, nil
}

// goneRunError: a button names a run the store no longer has. The button
// was the bot's, so the run existed: it ended longer ago than runs are
// kept, or the store lost its data while it was under way.
type goneRunError struct{ runID string }

func (e *goneRunError) Error() string {
	return fmt.Sprintf("run %s: %v", e.runID, flows.ErrRunNotFound)
}

func (e *goneRunError) Unwrap() error { return flows.ErrRunNotFound }
