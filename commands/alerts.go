package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// onMessage answers SignonApiUserTokenExpirySoon in the alert channels:
// an offer in the alert's thread, an explanation where the bot does not
// rotate, a pointer to what is in hand already for a repeated alert, and
// resolved offers when the alert resolves.
func (b *Bot) onMessage(ctx context.Context, m Message) error {
	ev := m.Event
	if !b.isAlertChannel(ev.Channel) || (ev.ThreadTimeStamp != "" && ev.ThreadTimeStamp != ev.TimeStamp) {
		return nil
	}
	msg := AlertMessageOf(ev)
	al := ParseAlert(msg)
	if al.Name == "" || !m.First(ctx) {
		return nil
	}
	// Anyone in the channel can post a message that looks like
	// Alertmanager's; only the configured integration's counts. A forgery
	// gets no answer in the channel, which would only reward it.
	if !msg.SentBy(b.cfg.AlertSenders) {
		b.log.WarnContext(ctx, "alert ignored: its sender is not among alertSenders", "channel", ev.Channel, "alert", ev.TimeStamp,
			"sender", msg.Sender(), "user", ev.User, "status", al.Status, "environment", al.Environment, "tokens", len(al.Tokens))
		b.metrics.AlertIgnored(IgnoredSender)
		return nil
	}
	alert := flows.Thread{Channel: ev.Channel, TS: ev.TimeStamp}
	log := b.log.With("channel", alert.Channel, "alert", alert.TS, "status", al.Status, "environment", al.Environment, "tokens", len(al.Tokens))
	log.InfoContext(ctx, "alert")
	envp, ok := b.engine.Policy().Environments[al.Environment]
	if !ok {
		reason := fmt.Sprintf("it is for the environment %q, which I am not configured for (I know %v)", al.Environment, b.engine.Policy().EnvironmentNames())
		if al.Environment == "" {
			reason = "it does not say which environment it is for"
		}
		return b.replyOnce(ctx, alert, b.render.Unanswered(or(al.Environment, "<environment>"), reason))
	}
	switch {
	case al.Status == StatusResolved:
		return b.resolve(ctx, log, alert, al)
	case !envp.Rotate:
		return b.replyOnce(ctx, alert, b.render.Explanation(al.Environment, flows.SpecialCase{Kind: "staging", Reason: envp.NoRotateReason}))
	}
	return b.offer(ctx, log, alert, al)
}

// offer answers a firing alert with an offer of the tokens it names, or
// Signon's expiring tokens when it names none. What is in hand already
// (a run, an open offer) is found in the state store before Signon is
// asked, and Signon is asked once however many tokens the alert names.
func (b *Bot) offer(ctx context.Context, log *slog.Logger, alert flows.Thread, al Alert) error {
	var (
		as      []flows.Assessment
		handled []blocks.Handled
		err     error
	)
	inHand := func(key flows.Key) (bool, error) {
		h, err := b.handled(ctx, key)
		if err != nil || h == nil {
			return false, err
		}
		handled = append(handled, *h)
		return true, nil
	}
	if len(al.Tokens) > 0 {
		var pending []flows.Key
		for _, t := range al.Tokens {
			key := flows.Key{Environment: al.Environment, APIUser: t.APIUser, Application: t.Application}
			if ok, err := inHand(key); err != nil {
				return b.storeDown(ctx, log, alert, al, err)
			} else if !ok {
				pending = append(pending, key)
			}
		}
		as, err = b.assess(ctx, al.Environment, pending)
	} else {
		var all []flows.Assessment
		all, err = b.engine.Expiring(ctx, al.Environment)
		for _, a := range all {
			if ok, herr := inHand(a.Key); herr != nil {
				return b.storeDown(ctx, log, alert, al, herr)
			} else if !ok {
				as = append(as, a)
			}
		}
	}
	if err != nil {
		id := flows.NewID("e")
		log.ErrorContext(ctx, "list expiring tokens", "error_id", id, "err", err)
		return b.replyOnce(ctx, alert, b.render.Unanswered(al.Environment, strings.ToLower(backend(err)[:1])+backend(err)[1:]+" did not list the expiring tokens (error "+id+"; the details are in the bot's logs)"))
	}
	now := b.clock.Now()
	snoozed := b.snoozed(ctx, log, al.Environment, len(as), now)
	var items []flows.OfferItem
	for _, a := range as {
		it := flows.OfferItem{ID: flows.NewID("i"), Key: a.Key, Assessment: a}
		if ig, ok := snoozed[a.Key]; ok {
			it.SetIgnore(ig)
		}
		items = append(items, it)
	}
	o := &flows.Offer{ID: flows.NewID("o"), Alert: alert, Environment: al.Environment, CreatedAt: now, UpdatedAt: now, Items: items}
	if err := b.cfg.Offers.CreateOffer(ctx, o); err != nil {
		if errors.As(err, new(*flows.OfferExistsError)) {
			log.InfoContext(ctx, "alert answered already")
			return nil
		}
		id := flows.NewID("e")
		log.ErrorContext(ctx, "record the offer", "error_id", id, "err", err)
		return b.replyOnce(ctx, alert, b.render.Unanswered(al.Environment, "I could not record an offer, because the state store did not answer (error "+id+"; the details are in the bot's logs)"))
	}
	var errs []error
	// The group learns of the offer before Slack shows it, so that a
	// resolved message arriving meanwhile finds it.
	if len(items) > 0 {
		if err := b.cfg.Groups.Remember(ctx, alert.Channel, al.Environment, o.ID); err != nil {
			errs = append(errs, fmt.Errorf("remember offer %s in its alert group: %w", o.ID, err))
		}
	}
	if len(items) > 0 || len(handled) == 0 {
		if err := b.offers.post(ctx, o); err != nil {
			errs = append(errs, err)
		}
	}
	if len(handled) > 0 {
		if _, err := b.reply(ctx, alert, b.render.AlreadyHandled(handled)); err != nil {
			errs = append(errs, err)
		}
	}
	log.InfoContext(ctx, "alert answered", "offer", o.ID, "offered", len(items), "in_hand", len(handled))
	return errors.Join(errs...)
}

// storeDown answers an alert the state store kept the bot from answering.
func (b *Bot) storeDown(ctx context.Context, log *slog.Logger, alert flows.Thread, al Alert, err error) error {
	id := flows.NewID("e")
	log.ErrorContext(ctx, "look for earlier offers and runs", "error_id", id, "err", err)
	return b.replyOnce(ctx, alert, b.render.Unanswered(al.Environment, "the state store did not answer (error "+id+"; the details are in the bot's logs)"))
}

// assess assesses the tokens an alert names: one, with Signon's record of
// it; several, with one expiry query matched here, so that an alert costs
// one Signon console however many tokens it lists.
func (b *Bot) assess(ctx context.Context, env string, keys []flows.Key) ([]flows.Assessment, error) {
	if len(keys) == 1 {
		a, err := b.engine.Assess(ctx, keys[0])
		if err != nil {
			b.log.WarnContext(ctx, "alert names a token the engine refuses", "key", keys[0].String(), "err", err)
			return nil, nil
		}
		return []flows.Assessment{a}, nil
	}
	var out, ask []flows.Assessment
	p := b.engine.Policy()
	for _, k := range keys {
		if sc := p.Special(env, k.APIUser, ""); sc != nil {
			out = append(out, flows.Assessment{Key: k, Special: sc})
		} else {
			ask = append(ask, flows.Assessment{Key: k})
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	expiring, err := b.engine.Expiring(ctx, env)
	if err != nil {
		return nil, err
	}
	for _, a := range ask {
		i := slices.IndexFunc(expiring, func(e flows.Assessment) bool { return e.Key == a.Key })
		if i < 0 {
			a.Error = fmt.Sprintf("Signon has no unrevoked token of this API user for this application that expires within %s: it may have been renewed already", flows.Span(p.ExpiryWindow))
			out = append(out, a)
			continue
		}
		out = append(out, expiring[i])
	}
	return out, nil
}

// handled says whether a token is in hand already: an active run, or an
// open offer whose item nobody acted on (or someone ignored).
func (b *Bot) handled(ctx context.Context, key flows.Key) (*blocks.Handled, error) {
	run, err := b.cfg.Runs.ActiveRun(ctx, key)
	if err == nil {
		return &blocks.Handled{Key: key, What: "rotating", Link: b.runLink(run)}, nil
	}
	if !errors.Is(err, flows.ErrRunNotFound) {
		return nil, err
	}
	o, err := b.cfg.Offers.OfferForKey(ctx, key)
	if errors.Is(err, flows.ErrOfferNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, it := range o.Items {
		if it.Key != key || it.RunID != "" {
			continue
		}
		if !it.IgnoredUntil.IsZero() && !b.clock.Now().Before(it.IgnoredUntil) {
			if err := b.snoozeOver(ctx, o.ID, it.ID); err != nil {
				b.log.WarnContext(ctx, "give a snoozed token its buttons back", "offer", o.ID, "err", err)
			}
		}
		link := ""
		if p := blocks.OfferPage(i); p < len(o.Messages) {
			link = b.render.Link(o.Alert.Channel, o.Messages[p], o.Alert.TS)
		}
		return &blocks.Handled{Key: key, What: "offered", Link: link}, nil
	}
	return nil, nil
}

// resolve marks the offers of a resolved alert resolved: those of the
// tokens it names, and those that answered its group. Alertmanager says
// "resolved" only once every alert of the group has.
func (b *Bot) resolve(ctx context.Context, log *slog.Logger, alert flows.Thread, al Alert) error {
	var ids []string
	for _, t := range al.Tokens {
		o, err := b.cfg.Offers.OfferForKey(ctx, flows.Key{Environment: al.Environment, APIUser: t.APIUser, Application: t.Application})
		if err != nil {
			if !errors.Is(err, flows.ErrOfferNotFound) {
				log.WarnContext(ctx, "find the offer of a resolved token", "err", err)
			}
			continue
		}
		ids = append(ids, o.ID)
	}
	group, err := b.cfg.Groups.Take(ctx, alert.Channel, al.Environment)
	if err != nil {
		log.WarnContext(ctx, "find the offers of a resolved alert group", "err", err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, id := range append(ids, group...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		o, err := b.offers.update(ctx, id, func(o *flows.Offer) error {
			if o.Resolved {
				return errUnchanged
			}
			o.Resolved = true
			return nil
		})
		if err != nil {
			if !errors.Is(err, flows.ErrOfferNotFound) {
				errs = append(errs, fmt.Errorf("resolve offer %s: %w", id, err))
			}
			continue
		}
		if err := b.offers.refresh(ctx, o, nil); err != nil {
			errs = append(errs, err)
		}
		log.InfoContext(ctx, "offer resolved", "offer", id)
	}
	return errors.Join(errs...)
}

// replyOnce replies in the alert's thread, once however often the alert
// is delivered (when the de-duplication store answers).
func (b *Bot) replyOnce(ctx context.Context, alert flows.Thread, m blocks.Message) error {
	if b.cfg.Dedup != nil {
		first, err := b.cfg.Dedup.Once(ctx, "alert-reply:"+alert.Channel+":"+alert.TS, 0)
		if err == nil && !first {
			return nil
		}
	}
	_, err := b.reply(ctx, alert, m)
	return err
}

func (b *Bot) reply(ctx context.Context, alert flows.Thread, m blocks.Message) (string, error) {
	ts, err := b.slack.PostMessage(ctx, alert.Channel, slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(m.Blocks...),
		slackapi.MsgOptionTS(alert.TS), slackapi.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return "", fmt.Errorf("reply to alert %s: %w", alert.TS, err)
	}
	return ts, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// unpostedAfter is how old an offer with no message in Slack must be
// before a sweep posts it: older than any answer still in progress, even
// one slowed by Slack's rate limits.
const unpostedAfter = 5 * time.Minute

// PostUnposted posts the offers that were recorded but never reached the
// alert's thread, because a replica stopped between the two. An alert is
// answered late rather than never.
func (b *Bot) PostUnposted(ctx context.Context) error {
	offers, err := b.cfg.Offers.UnpostedOffers(ctx, b.clock.Now().Add(-unpostedAfter))
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, o := range offers {
		// One replica posts it; if that fails, a sweep ten minutes on tries
		// again.
		if b.cfg.Dedup != nil {
			if first, err := b.cfg.Dedup.Once(ctx, "late-offer:"+o.ID, 0); err != nil || !first {
				continue
			}
		}
		b.log.WarnContext(ctx, "posting an offer late: it was recorded but never reached Slack", "offer", o.ID, "alert", o.Alert.TS)
		if err := b.offers.post(ctx, o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run sweeps for unposted offers every interval until ctx ends.
func (b *Bot) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := b.PostUnposted(ctx); err != nil && ctx.Err() == nil {
				// An outage of Redis is logged once, where it is seen.
				level := slog.LevelWarn
				if errors.Is(err, flows.ErrUnavailable) {
					level = slog.LevelDebug
				}
				b.log.Log(ctx, level, "post unposted offers", "err", err)
			}
		}
	}
}
