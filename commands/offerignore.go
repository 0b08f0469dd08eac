package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// Snoozes keeps the Ignores that have a date, per pair, so that they
// outlast their alert (state.Store).
type Snoozes interface {
	SetIgnore(ctx context.Context, ig flows.Ignore) error
	ClearIgnore(ctx context.Context, key flows.Key) error
	Ignores(ctx context.Context, env string, now time.Time) (map[flows.Key]flows.Ignore, error)
}

// Auditor records what people did outside a run (state.Store): an
// entry's RunID is then the offer's id.
type Auditor interface {
	Audit(ctx context.Context, e flows.AuditEntry) error
}

// ignoreMeta is what the Ignore modal carries back: the offer item and
// the click that opened it, whose response_url answers the submission.
type ignoreMeta struct {
	Offer       string `json:"o"`
	Item        string `json:"i"`
	Channel     string `json:"c"`
	Message     string `json:"m"`
	ResponseURL string `json:"r"`
}

// ignoreClick opens the Ignore modal for an offer item that takes clicks,
// for a person who may start runs there. Nothing changes until the modal
// is submitted.
func (b *Bot) ignoreClick(ctx context.Context, a Action) error {
	o, it, err := b.clickedItem(ctx, a, "ignore this token")
	if err == nil && !a.First(ctx) {
		return nil
	}
	if err == nil {
		err = b.mayIgnore(ctx, o, it, a.UserID)
	}
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, b.itemLink(ctx, it))
	}
	meta, err := json.Marshal(ignoreMeta{Offer: o.ID, Item: it.ID, Channel: a.ChannelID, Message: a.MessageTS, ResponseURL: a.ResponseURL})
	if err != nil {
		return fmt.Errorf("encode the Ignore modal's metadata: %w", err)
	}
	what := fmt.Sprintf("`%s` → `%s` (%s)", blocks.Escape(it.Key.APIUser), blocks.Escape(it.Key.Application), blocks.Escape(it.Key.Environment))
	if _, err := b.slack.OpenView(ctx, a.TriggerID, blocks.IgnoreModal(what, "Until the alert resolves", string(meta), b.clock.Now())); err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, fmt.Errorf("open the Ignore form (press Ignore again): %w", err), "")
	}
	return nil
}

// mayIgnore says why user may not ignore the item, if they may not.
func (b *Bot) mayIgnore(ctx context.Context, o *flows.Offer, it flows.OfferItem, user string) error {
	if err := b.itemOpen(ctx, o, it); err != nil {
		return err
	}
	ok, err := b.engine.MayStart(ctx, it.Key.Environment, user)
	if err != nil {
		return fmt.Errorf("check who may ignore tokens in %s: %w", it.Key.Environment, err)
	}
	if !ok {
		return &flows.DeniedError{User: user, What: "ignore this token", Reason: "you are not among the configured starters for " + it.Key.Environment}
	}
	return nil
}

// checkIgnore finds the mistakes in a submitted Ignore modal that the
// person can fix there.
func (b *Bot) checkIgnore(s Submission) map[string]string {
	_, _, errs := readIgnore(s, b.clock.Now())
	return errs
}

// readIgnore reads a submitted Ignore modal: the reason, and the end of
// the ignore (zero: when the alert resolves).
func readIgnore(s Submission, now time.Time) (string, time.Time, map[string]string) {
	reason, duration, date := blocks.IgnoreValues(s.Values)
	errs := map[string]string{}
	reason = checkReason(reason, "the token", errs)
	var until time.Time
	switch duration {
	case blocks.IgnoreUntilResolved:
	case blocks.IgnoreUntilDate:
		until = checkSnoozeDay(date, now, "the buttons", errs)
	default:
		errs[blocks.IgnoreFor] = "Choose how long to ignore it for."
	}
	return reason, until, errs
}

// checkReason trims an Ignore's reason, noting in errs what is wrong
// with it.
func checkReason(reason, what string, errs map[string]string) string {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		errs[blocks.IgnoreReason] = "Say why " + what + " can be left alone."
	case n > flows.MaxIgnoreReason || !utf8.ValidString(reason):
		errs[blocks.IgnoreReason] = fmt.Sprintf("Keep the reason within %d characters.", flows.MaxIgnoreReason)
	}
	return reason
}

// checkSnoozeDay reads the day a snooze ends, noting in errs what is
// wrong with it: a day after today, within MaxSnooze.
func checkSnoozeDay(date string, now time.Time, what string, errs map[string]string) time.Time {
	day, err := time.Parse(blocks.DateLayout, date)
	today := now.UTC().Truncate(24 * time.Hour)
	switch {
	case err != nil:
		errs[blocks.IgnoreDate] = "Pick the day " + what + " should come back."
	case !day.After(today):
		errs[blocks.IgnoreDate] = "Pick a day after today."
	case day.Sub(today) > flows.MaxSnooze:
		errs[blocks.IgnoreDate] = fmt.Sprintf("Pick a day within %d days.", int(flows.MaxSnooze.Hours()/24))
	}
	return day
}

// submitIgnore ignores the offer item the modal was opened for, once
// checkIgnore has passed it. Everything the click checked is checked
// again: the offer may have moved on while the modal was open.
func (b *Bot) submitIgnore(ctx context.Context, s Submission) error {
	var meta ignoreMeta
	if err := json.Unmarshal([]byte(s.PrivateMetadata), &meta); err != nil || meta.ResponseURL == "" {
		return fmt.Errorf("the Ignore form submitted by %s has no usable metadata", s.UserID)
	}
	fail := func(err error) error { return b.answer(ctx, meta.ResponseURL, s.UserID, err, "") }
	now := b.clock.Now()
	reason, until, errs := readIgnore(s, now)
	if len(errs) > 0 {
		return fail(fmt.Errorf("%w: the Ignore form came back with mistakes the form should have caught", flows.ErrBadInput))
	}
	o, err := b.cfg.Offers.Offer(ctx, meta.Offer)
	if err != nil {
		return fail(err)
	}
	i := slices.IndexFunc(o.Items, func(x flows.OfferItem) bool { return x.ID == meta.Item })
	if i < 0 || o.Alert.Channel != meta.Channel {
		return fail(fmt.Errorf("%w: that form does not belong to this offer, so I did nothing", flows.ErrBadInput))
	}
	if err := b.mayIgnore(ctx, o, o.Items[i], s.UserID); err != nil {
		return fail(err)
	}
	ig := flows.Ignore{Key: o.Items[i].Key, By: s.UserID, At: now, Until: until, Reason: reason}
	o, err = b.offers.update(ctx, o.ID, func(o *flows.Offer) error {
		it := &o.Items[i]
		if err := b.itemOpen(ctx, o, *it); err != nil {
			return err
		}
		it.SetIgnore(ig)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	var errs2 []error
	if !until.IsZero() && b.cfg.Snoozes != nil {
		if err := b.cfg.Snoozes.SetIgnore(ctx, ig); err != nil {
			errs2 = append(errs2, err)
		}
	}
	b.audit(ctx, o.ID, s.UserID, "ignore", ig.Key, fmt.Sprintf("until %s: %s", untilText(until), flows.Clip(reason)))
	if err := b.offers.refresh(ctx, o, nil, meta.Item); err != nil {
		errs2 = append(errs2, err)
	}
	if _, err := b.reply(ctx, o.Alert, b.render.Ignored(ig)); err != nil {
		errs2 = append(errs2, err)
	}
	return errors.Join(errs2...)
}

// undoClick brings an ignored item's buttons back.
func (b *Bot) undoClick(ctx context.Context, a Action) error {
	o, it, err := b.clickedItem(ctx, a, "undo this Ignore")
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	if !a.First(ctx) {
		return nil
	}
	switch {
	case it.IgnoredBy == "":
		err = &flows.StaleError{Reason: "This token is not ignored any more."}
	case o.Resolved:
		err = &flows.StaleError{Reason: "This alert has resolved: the token no longer expires soon."}
	}
	if err == nil {
		if ok, merr := b.engine.MayStart(ctx, it.Key.Environment, a.UserID); merr != nil {
			err = fmt.Errorf("check who may undo an Ignore in %s: %w", it.Key.Environment, merr)
		} else if !ok {
			err = &flows.DeniedError{User: a.UserID, What: "undo this Ignore", Reason: "you are not among the configured starters for " + it.Key.Environment}
		}
	}
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	o, err = b.offers.update(ctx, o.ID, func(o *flows.Offer) error {
		i := slices.IndexFunc(o.Items, func(x flows.OfferItem) bool { return x.ID == it.ID })
		if o.Items[i].IgnoredBy == "" {
			return &flows.StaleError{Reason: "This token is not ignored any more."}
		}
		o.Items[i].SetIgnore(flows.Ignore{})
		return nil
	})
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	var errs []error
	if b.cfg.Snoozes != nil {
		if err := b.cfg.Snoozes.ClearIgnore(ctx, it.Key); err != nil {
			errs = append(errs, err)
		}
	}
	b.audit(ctx, o.ID, a.UserID, "unignore", it.Key, "ignored by "+it.IgnoredBy)
	if err := b.offers.refresh(withRoute(ctx, a.ChannelID, a.MessageTS, a.ResponseURL), o, nil, it.ID); err != nil {
		errs = append(errs, err)
	}
	if _, err := b.reply(ctx, o.Alert, b.render.Unignored(it.Key, a.UserID)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// snoozeOver gives an offer item whose snooze has passed its buttons
// back: the next alert for its token does this.
func (b *Bot) snoozeOver(ctx context.Context, offerID, itemID string) error {
	now := b.clock.Now()
	o, err := b.offers.update(ctx, offerID, func(o *flows.Offer) error {
		i := slices.IndexFunc(o.Items, func(x flows.OfferItem) bool { return x.ID == itemID })
		if i < 0 || o.Items[i].IgnoredUntil.IsZero() || now.Before(o.Items[i].IgnoredUntil) {
			return errUnchanged
		}
		o.Items[i].SetIgnore(flows.Ignore{})
		return nil
	})
	if err != nil {
		return fmt.Errorf("end the snooze of offer %s: %w", offerID, err)
	}
	return b.offers.refresh(ctx, o, nil, itemID)
}

// audit records an ignore or an undo in the audit stream, under the
// offer's id; a failure is logged, as the change has been made.
func (b *Bot) audit(ctx context.Context, offerID, user, action string, key flows.Key, detail string) {
	b.log.InfoContext(ctx, "audit: "+action, "offer", offerID, "user", user, "key", key.String())
	if b.cfg.Audit == nil {
		return
	}
	e := flows.AuditEntry{RunID: offerID, At: b.clock.Now(), Actor: user, Action: action, Outcome: "ok", Detail: key.String() + " " + detail}
	if err := b.cfg.Audit.Audit(ctx, e); err != nil {
		b.log.WarnContext(ctx, "audit an offer", "offer", offerID, "action", action, "err", err)
	}
}

func untilText(t time.Time) string {
	if t.IsZero() {
		return "the alert resolves"
	}
	return t.Format(blocks.DateLayout)
}

// snoozed lists the environment's snoozes for a new offer; without them
// the offer still goes out, with buttons, and the log says why.
func (b *Bot) snoozed(ctx context.Context, log *slog.Logger, env string, n int, now time.Time) map[flows.Key]flows.Ignore {
	if b.cfg.Snoozes == nil || n == 0 {
		return nil
	}
	igs, err := b.cfg.Snoozes.Ignores(ctx, env, now)
	if err != nil {
		log.WarnContext(ctx, "read the snoozed tokens; offering them all", "err", err)
	}
	return igs
}
