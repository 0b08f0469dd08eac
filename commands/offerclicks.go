package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// offerClick starts a run from an offer's item: Rotate, or Revoke
// (disused). The run talks in the alert's thread.
func (b *Bot) offerClick(mode flows.Mode) ActionHandler {
	return func(ctx context.Context, a Action) error {
		what := "rotate tokens"
		if mode == flows.ModeRevokeDisused {
			what = "revoke tokens"
		}
		o, it, err := b.clickedItem(ctx, a, what)
		if err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
		}
		if !a.First(ctx) {
			return nil
		}
		if err := b.itemOpen(ctx, o, it); err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, b.itemLink(ctx, it))
		}
		ctx = withRoute(ctx, a.ChannelID, a.MessageTS, a.ResponseURL)
		run, err := b.engine.Start(ctx, flows.StartRequest{
			Key: it.Key, Mode: mode, Actor: a.UserID, Thread: o.Alert,
			Origin: flows.Origin{Kind: "alert", OfferID: o.ID, Alert: o.Alert},
		})
		if err != nil {
			if errors.As(err, new(*flows.ActiveRunError)) && run != nil {
				// Show the run already under way in the offer.
				if lerr := b.linkItem(ctx, o.ID, it.ID, run); lerr != nil {
					b.log.WarnContext(ctx, "link an offer to its token's run", "offer", o.ID, "run", run.ID, "err", lerr)
				}
			}
			return b.answer(ctx, a.ResponseURL, a.UserID, err, b.runLink(run))
		}
		b.log.InfoContext(ctx, "run started from an offer", "run", run.ID, "offer", o.ID, "user", a.UserID, "mode", mode)
		return b.linkItem(ctx, o.ID, it.ID, run)
	}
}

// clickedItem finds the offer item a button names, and checks that the
// button is on one of that offer's own messages: a value copied onto
// another message (forged) names nothing. What is what the button does,
// for the refusal of someone who holds no role. Its refusals come before
// the click's de-duplication (Action.First), which its callers ask next.
func (b *Bot) clickedItem(ctx context.Context, a Action, what string) (*flows.Offer, flows.OfferItem, error) {
	forged := fmt.Errorf("%w: that button does not belong to this message, so I did nothing", flows.ErrBadInput)
	offerID, itemID, ok := blocks.ParseOfferValue(a.Value)
	if !ok {
		b.log.WarnContext(ctx, "audit: forged offer button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
		return nil, flows.OfferItem{}, forged
	}
	// An offer's buttons are each for a role in the item's environment:
	// someone who holds none anywhere is refused before the offer is read,
	// so that their clicks cost no Redis round trip.
	may, err := b.engine.MaySee(ctx, a.UserID)
	if err != nil {
		return nil, flows.OfferItem{}, fmt.Errorf("check who may use an offer's buttons: %w", err)
	}
	if !may {
		return nil, flows.OfferItem{}, &flows.DeniedError{User: a.UserID, What: what, Reason: "you are not among the configured starters or approvers of any environment"}
	}
	o, err := b.cfg.Offers.Offer(ctx, offerID)
	if err != nil {
		return nil, flows.OfferItem{}, err
	}
	// The button's action_id names its item too, and the offer's messages
	// are in the alert's thread (its record may not list them yet).
	i := slices.IndexFunc(o.Items, func(x flows.OfferItem) bool { return x.ID == itemID })
	_, suffix, _ := strings.Cut(a.ActionID, ":")
	inThread := a.ThreadTS == o.Alert.TS || slices.Contains(o.Messages, a.MessageTS)
	if i < 0 || suffix != itemID || o.Alert.Channel != a.ChannelID || !inThread {
		b.log.WarnContext(ctx, "audit: forged offer button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS, "offer", offerID)
		return nil, flows.OfferItem{}, forged
	}
	return o, o.Items[i], nil
}

// itemOpen says why an item no longer takes clicks, if it does not.
func (b *Bot) itemOpen(ctx context.Context, o *flows.Offer, it flows.OfferItem) error {
	switch {
	case it.RunID != "":
		return &flows.StaleError{Reason: "A run has started from this offer already."}
	case it.IgnoredBy != "":
		return &flows.StaleError{Reason: "This token was ignored by " + flows.Mention(it.IgnoredBy) + "; Undo brings its buttons back."}
	case o.Resolved:
		return &flows.StaleError{Reason: "This alert has resolved: the token no longer expires soon."}
	case it.Assessment.Special != nil:
		return &flows.RefusedError{Special: *it.Assessment.Special}
	}
	return nil
}

// itemLink links to the run an item started, if any.
func (b *Bot) itemLink(ctx context.Context, it flows.OfferItem) string {
	if it.RunID == "" {
		return ""
	}
	run, err := b.engine.Get(ctx, it.RunID)
	if err != nil {
		return ""
	}
	return b.runLink(run)
}

// linkItem records the run an item started and shows it in the offer.
func (b *Bot) linkItem(ctx context.Context, offerID, itemID string, run *flows.Run) error {
	o, err := b.offers.update(ctx, offerID, func(o *flows.Offer) error {
		i := slices.IndexFunc(o.Items, func(x flows.OfferItem) bool { return x.ID == itemID })
		if o.Items[i].RunID != "" {
			return errUnchanged
		}
		o.Items[i].RunID = run.ID
		return nil
	})
	if err != nil {
		return fmt.Errorf("record run %s in offer %s: %w", run.ID, offerID, err)
	}
	return b.offers.refresh(ctx, o, run, itemID)
}

// answer tells the person who acted what came of it, privately, and
// logs it; refusals are the audit trail of clicks that start no run.
func (b *Bot) answer(ctx context.Context, responseURL, user string, err error, link string) error {
	switch {
	case errors.As(err, new(*flows.DeniedError)):
		b.log.WarnContext(ctx, "audit: refused", "user", user, "err", err)
	case expected(err):
		b.log.InfoContext(ctx, "refused", "user", user, "err", err)
	default:
		b.log.ErrorContext(ctx, "failed", "user", user, "err", err)
	}
	if responseURL == "" {
		return nil
	}
	if rerr := b.private(ctx, responseURL, Answer(err, link)); rerr != nil {
		return fmt.Errorf("answer %s privately: %w", user, rerr)
	}
	return nil
}
