package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// rotateAllClick starts one batch of every token the offer may rotate.
// The batch talks in the alert's thread.
func (b *Bot) rotateAllClick(ctx context.Context, a Action) error {
	forged := fmt.Errorf("%w: that button does not belong to this message, so I did nothing", flows.ErrBadInput)
	offerID, ok := blocks.ParseRotateAllValue(a.Value)
	if !ok || a.ActionID != blocks.ActionRotateAll {
		b.log.WarnContext(ctx, "audit: forged offer button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
		return b.answer(ctx, a.ResponseURL, a.UserID, forged, "")
	}
	o, err := b.cfg.Offers.Offer(ctx, offerID)
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	inThread := a.ThreadTS == o.Alert.TS || slices.Contains(o.Messages, a.MessageTS)
	if o.Alert.Channel != a.ChannelID || !inThread {
		b.log.WarnContext(ctx, "audit: forged offer button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS, "offer", offerID)
		return b.answer(ctx, a.ResponseURL, a.UserID, forged, "")
	}
	items := blocks.Rotatable(o)
	if len(items) == 0 {
		return b.answer(ctx, a.ResponseURL, a.UserID, &flows.StaleError{Reason: "Every token of this offer has been started, ignored or resolved already."}, "")
	}
	keys := make([]flows.Key, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	ctx = withRoute(ctx, a.ChannelID, a.MessageTS, a.ResponseURL)
	res, err := b.engine.StartBatch(ctx, flows.BatchRequest{Keys: keys, Actor: a.UserID, Thread: o.Alert,
		Origin: flows.Origin{Kind: "alert", OfferID: o.ID, Alert: o.Alert}})
	if err != nil {
		return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
	}
	b.log.InfoContext(ctx, "batch started from an offer", "batch", res.Batch.ID, "offer", o.ID, "user", a.UserID, "runs", len(res.Runs), "refused", len(res.Refused))
	// Each item shows its run, in one write and one redraw of the offer.
	started := map[flows.Key]string{}
	for _, r := range res.Runs {
		started[r.Key] = r.ID
	}
	for _, f := range res.Refused {
		if f.Run != nil {
			started[f.Key] = f.Run.ID
		}
	}
	o, err = b.offers.update(ctx, o.ID, func(o *flows.Offer) error {
		changed := false
		for i, it := range o.Items {
			if id, ok := started[it.Key]; ok && it.RunID == "" {
				o.Items[i].RunID = id
				changed = true
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record batch %s in offer %s: %w", res.Batch.ID, offerID, err)
	}
	if err := b.offers.refresh(ctx, o, nil); err != nil {
		b.log.WarnContext(ctx, "show a batch in its offer", "batch", res.Batch.ID, "offer", o.ID, "err", err)
	}
	if len(res.Refused) > 0 {
		return b.private(ctx, a.ResponseURL, refusedText(res))
	}
	return nil
}

// refusedText says which tokens a batch did not start, and why.
func refusedText(res *flows.BatchStarted) string {
	var s strings.Builder
	fmt.Fprintf(&s, ":warning: Started %d of %d rotations. Not started:", len(res.Runs), len(res.Runs)+len(res.Refused))
	for i, f := range res.Refused {
		if i == 20 {
			fmt.Fprintf(&s, "\n• and %d more", len(res.Refused)-i)
			break
		}
		fmt.Fprintf(&s, "\n• `%s` → `%s`: %s", blocks.Escape(f.Key.APIUser), blocks.Escape(f.Key.Application), blocks.Escape(flows.Clip(f.Err.Error())))
	}
	return s.String()
}

// batchGateClick answers a batch's gate: the engine checks the gate is
// the batch's open one and the person may pass it, as for a run's.
func (b *Bot) batchGateClick(action flows.Action) ActionHandler {
	return func(ctx context.Context, a Action) error {
		batchID, gateID, ok := blocks.ParseBatchValue(a.Value)
		_, suffix, _ := strings.Cut(a.ActionID, ":")
		forged := fmt.Errorf("%w: that button does not belong to this message, so I did nothing", flows.ErrBadInput)
		if !ok || suffix != gateID {
			b.log.WarnContext(ctx, "audit: forged batch button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS)
			return b.answer(ctx, a.ResponseURL, a.UserID, forged, "")
		}
		bt, err := b.engine.GetBatch(ctx, batchID)
		if err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
		}
		if bt.Thread.Channel != a.ChannelID || (a.ThreadTS != "" && bt.Thread.TS != "" && a.ThreadTS != bt.Thread.TS) {
			b.log.WarnContext(ctx, "audit: forged batch button", "user", a.UserID, "channel", a.ChannelID, "message", a.MessageTS, "batch", batchID)
			return b.answer(ctx, a.ResponseURL, a.UserID, forged, "")
		}
		if _, err := b.engine.ActBatch(ctx, flows.BatchActRequest{BatchID: batchID, GateID: gateID, Action: action, Actor: a.UserID}); err != nil {
			return b.answer(ctx, a.ResponseURL, a.UserID, err, "")
		}
		b.log.InfoContext(ctx, "batch gate", "batch", batchID, "action", action, "user", a.UserID)
		return nil
	}
}

// startBatch starts a batch asked for by command: its status message is
// a new root message in channel.
func (b *Bot) startBatch(ctx context.Context, user, channel, responseURL string, keys []flows.Key) error {
	fail := func(err error) error { return b.answer(ctx, responseURL, user, err, "") }
	env := keys[0].Environment
	envp, ok := b.engine.Policy().Environments[env]
	if !ok {
		return fail(fmt.Errorf("%w: I do not know the environment %s; I know %s", flows.ErrBadInput, flows.Quote(env), strings.Join(b.engine.Policy().EnvironmentNames(), ", ")))
	}
	if !envp.Rotate {
		return fail(&flows.RefusedError{Special: flows.SpecialCase{Kind: "staging", Reason: envp.NoRotateReason}})
	}
	if ok, err := b.engine.MayStart(ctx, env, user); err != nil {
		return fail(fmt.Errorf("check who may rotate in %s: %w", env, err))
	} else if !ok {
		return fail(&flows.DeniedError{User: user, What: "rotate tokens in " + env, Reason: "you are not among the configured starters for " + env})
	}
	_, err := b.slack.PostEphemeral(ctx, channel, user, slackapi.MsgOptionText(fmt.Sprintf(
		":hourglass_flowing_sand: Asking Signon about %d tokens in %s…", len(keys), blocks.Escape(env)), false))
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found" || se.Err == "is_archived") {
		return fail(fmt.Errorf("%w: I cannot post in this conversation, and a rotation needs a thread. Invite me with `/invite @signon-token-bot`, or run the command in a channel I am in", flows.ErrBadInput))
	}
	if err != nil {
		return fail(fmt.Errorf("answer in channel %s: %w", channel, err))
	}
	res, err := b.engine.StartBatch(ctx, flows.BatchRequest{Keys: keys, Actor: user, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}})
	if err != nil {
		return fail(err)
	}
	b.log.InfoContext(ctx, "batch started by command", "batch", res.Batch.ID, "user", user, "runs", len(res.Runs), "refused", len(res.Refused))
	where := ""
	if link := b.render.Link(res.Batch.Thread.Channel, res.Batch.Receipts[flows.BatchStatusID].TS, res.Batch.Thread.TS); link != "" {
		where = fmt.Sprintf(": <%s|follow it in its thread>", link)
	}
	text := fmt.Sprintf(":white_check_mark: Started batch `%s` of %d rotations in %s%s. It asks once before the sync job runs and once before the old tokens are revoked.",
		res.Batch.ID, len(res.Runs), blocks.Escape(env), where)
	if len(res.Refused) > 0 {
		text += "\n" + refusedText(res)
	}
	return b.private(ctx, responseURL, text)
}

// pairsArgs reads `<email> <app> <email> <app> ... [environment]`: two
// or more pairs, then optionally the environment.
func (b *Bot) pairsArgs(args []string) ([]flows.Key, error) {
	env := b.cfg.DefaultEnvironment
	if len(args)%2 == 1 {
		env = strings.ToLower(args[len(args)-1])
		args = args[:len(args)-1]
	}
	usage := func(problem string) error {
		return fmt.Errorf("%w: to start a rotation, type `/rotate-token <api-user-email> <application> [environment]`; to start a batch, type several `<api-user-email> <application>` pairs, then optionally the environment. %s", flows.ErrBadInput, problem)
	}
	if len(args)/2 > flows.MaxBatch {
		return nil, usage(fmt.Sprintf("%d pairs are more than one batch takes (%d).", len(args)/2, flows.MaxBatch))
	}
	var keys []flows.Key
	for i := 0; i < len(args); i += 2 {
		k := flows.Key{Environment: env, APIUser: strings.ToLower(unmailto(args[i])), Application: strings.ToLower(args[i+1])}
		if err := k.Validate(); err != nil {
			return nil, usage(fmt.Sprintf("Pair %d (%s %s): %s.", i/2+1, flows.Quote(flows.Clip(args[i])), flows.Quote(flows.Clip(args[i+1])), strings.TrimPrefix(err.Error(), flows.ErrBadInput.Error()+": ")))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// expiringCommand is `/rotate-token expiring [environment]`: a batch of
// every token Signon lists as expiring within the alert's window, but for
// the runbook's special cases.
func (b *Bot) expiringCommand(ctx context.Context, c Command) error {
	if len(c.Args) > 1 {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("%w: type `/rotate-token expiring [environment]`", flows.ErrBadInput), "")
	}
	env := b.cfg.DefaultEnvironment
	if len(c.Args) == 1 {
		env = strings.ToLower(c.Args[0])
	}
	if ok, err := b.engine.MayStart(ctx, env, c.UserID); err == nil && !ok {
		return b.answer(ctx, c.ResponseURL, c.UserID, &flows.DeniedError{User: c.UserID, What: "rotate tokens in " + env, Reason: "you are not among the configured starters for " + env}, "")
	}
	found, err := b.engine.Expiring(ctx, env)
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	var keys []flows.Key
	for _, a := range found {
		if a.Special == nil && a.Error == "" {
			keys = append(keys, a.Key)
		}
	}
	if len(keys) == 0 {
		return b.private(ctx, c.ResponseURL, fmt.Sprintf(":mag: Signon lists no token to rotate that expires within the alert's window in %s.", blocks.Escape(env)))
	}
	return b.startBatch(ctx, c.UserID, c.ChannelID, c.ResponseURL, keys)
}
