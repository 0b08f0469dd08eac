package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// digestIgnoreMeta is what the digest's Ignore modal carries back: the
// button's value, checked again on submit, and where the click came from.
type digestIgnoreMeta struct {
	Value       string `json:"v"`
	Channel     string `json:"c,omitempty"`
	Message     string `json:"m,omitempty"`
	ResponseURL string `json:"r,omitempty"`
}

// ignoreGroup opens the Ignore modal for a group click has checked.
// Nothing changes until the modal is submitted.
func (d *DigestPoster) ignoreGroup(ctx context.Context, a Action, target blocks.DigestTarget, say func(string) error) error {
	if d.Snoozes == nil || d.Views == nil {
		return say(":construction: Ignoring a group is not available on this bot. Nothing was done.")
	}
	meta, err := json.Marshal(digestIgnoreMeta{Value: a.Value, Channel: a.ChannelID, Message: a.MessageTS, ResponseURL: a.ResponseURL})
	if err != nil {
		return fmt.Errorf("encode the digest's Ignore modal's metadata: %w", err)
	}
	what := fmt.Sprintf("%s of %s's *%s* group", flows.Count(len(target.Pairs), "token"), blocks.Escape(target.Environment), target.Why)
	if _, err := d.Views.OpenView(ctx, a.TriggerID, blocks.DigestIgnoreModal(what, string(meta), d.now())); err != nil {
		d.log().WarnContext(ctx, "open the digest's Ignore modal", "user", a.UserID, "err", err)
		return say(":warning: The bot could not open the Ignore form. Nothing was done: press Ignore… again.")
	}
	return nil
}

// CheckIgnore finds the mistakes in a submitted digest Ignore modal that
// the person can fix there.
func (d *DigestPoster) CheckIgnore(s Submission) map[string]string {
	_, _, errs := readDigestIgnore(s, d.now())
	return errs
}

// readDigestIgnore reads the reason and the day the snooze ends, which
// the digest's modal requires.
func readDigestIgnore(s Submission, now time.Time) (string, time.Time, map[string]string) {
	reason, _, date := blocks.IgnoreValues(s.Values)
	errs := map[string]string{}
	reason = checkReason(reason, "the tokens", errs)
	return reason, checkSnoozeDay(date, now, "the tokens", errs), errs
}

// SubmitIgnore snoozes the group's pairs once everything the click
// checked holds again: the digest may have been replaced, or the person's
// role taken away, while the modal was open.
func (d *DigestPoster) SubmitIgnore(ctx context.Context, s Submission) error {
	var meta digestIgnoreMeta
	if err := json.Unmarshal([]byte(s.PrivateMetadata), &meta); err != nil || meta.Value == "" {
		return fmt.Errorf("the digest's Ignore form submitted by %s has no usable metadata", s.UserID)
	}
	a := Action{ActionID: blocks.ActionDigestIgnore, Value: meta.Value, UserID: s.UserID, ChannelID: meta.Channel, MessageTS: meta.Message, ResponseURL: meta.ResponseURL, TriggerID: s.TriggerID}
	say := d.submitAnswer(ctx, a)
	now := d.now()
	reason, until, errs := readDigestIgnore(s, now)
	if len(errs) > 0 {
		return say(":warning: The Ignore form came back with mistakes the form should have caught. Nothing was done.")
	}
	rep, target, refusal, err := d.checked(ctx, a)
	if refusal != "" {
		d.logRefusal(ctx, a, err)
		return say(refusal)
	}
	var keys []flows.Key
	for _, tp := range target.Pairs {
		if p, ok := rep.Pair(tp.User, tp.Application); ok {
			keys = append(keys, daily.PairKey(rep.Environment, p))
		}
	}
	for _, k := range keys {
		ig := flows.Ignore{Key: k, By: s.UserID, At: now, Until: until, Reason: reason}
		if err := d.Snoozes.SetIgnore(ctx, ig); err != nil {
			d.log().ErrorContext(ctx, "digest ignore: snooze", "key", k.String(), "err", err)
			return errors.Join(err, say(":warning: The bot cannot record the Ignore right now. Some tokens may not be ignored: press Ignore… again."))
		}
	}
	d.audit(ctx, rep, s.UserID, "ignore", keys, fmt.Sprintf("until %s: %s", until.Format(blocks.DateLayout), flows.Clip(reason)))
	return errors.Join(d.refreshDigest(ctx, a, rep), say(fmt.Sprintf(":zzz: Ignored %s until %s. The digests and the Home tab count them apart until then; Undo Ignore brings them back.",
		flows.Count(len(keys), "token"), until.Format("2 Jan 2006"))))
}

// unignore undoes the snoozes of a group's ignored pairs, from the digest.
// The pairs need only be in the environment's last sweep: an Undo on an
// older digest still brings them back.
func (d *DigestPoster) unignore(ctx context.Context, a Action) error {
	say := func(text string) error { return d.Slack.Respond(ctx, a.ResponseURL, slack.Reply{Text: text}) }
	if a.ResponseURL == "" && d.Views != nil {
		say = homeAnswer(ctx, d.Views, a, "Undoing the Ignore…")
	}
	target, ok := blocks.ParseDigestValue(a.Value)
	if !ok || d.Channels[target.Environment] == "" || d.Snoozes == nil {
		return say(":warning: That button was not made by the bot's daily digest. Nothing was done.")
	}
	rep, err := daily.Last(ctx, d.Reports, target.Environment)
	if err != nil || rep == nil {
		return say(fmt.Sprintf(":warning: The bot cannot read the last sweep of %s right now. Nothing was done; try again shortly.", target.Environment))
	}
	var keys []flows.Key
	for _, tp := range target.Pairs {
		p, ok := rep.Pair(tp.User, tp.Application)
		if !ok {
			return say(":warning: That button names tokens the last sweep did not report. Nothing was done.")
		}
		keys = append(keys, daily.PairKey(rep.Environment, p))
	}
	if refusal, err := d.mayAct(ctx, target.Environment, a.UserID); refusal != "" {
		d.logRefusal(ctx, a, err)
		return say(refusal)
	}
	for _, k := range keys {
		if err := d.Snoozes.ClearIgnore(ctx, k); err != nil {
			return errors.Join(err, say(":warning: The bot cannot undo the Ignore right now. Some tokens may still be ignored: press Undo Ignore again."))
		}
	}
	d.audit(ctx, rep, a.UserID, "unignore", keys, "")
	return errors.Join(d.refreshDigest(ctx, a, rep), say(fmt.Sprintf(":leftwards_arrow_with_hook: Undid the Ignore of %s: the next digest lists them again.", flows.Count(len(keys), "token"))))
}

// refreshDigest edits the digest the click came from in place, with the
// environment's snoozes as they are now, when it is the latest one.
func (d *DigestPoster) refreshDigest(ctx context.Context, a Action, rep *daily.Report) error {
	target, _ := blocks.ParseDigestValue(a.Value)
	channel := d.Channels[rep.Environment]
	if d.Edit == nil || a.ChannelID != channel || a.MessageTS == "" || target.Day != rep.Day {
		return nil
	}
	if err := d.withIgnores(ctx, rep); err != nil {
		return err
	}
	m, _ := d.Render.Digest(rep, false)
	if err := d.Edit.UpdateMessage(ctx, channel, a.MessageTS, slackapi.MsgOptionText(m.Text, false), slackapi.MsgOptionBlocks(m.Blocks...)); err != nil {
		return fmt.Errorf("edit the digest of %s: %w", rep.Environment, err)
	}
	return nil
}

// withIgnores marks the report's pairs snoozed now.
func (d *DigestPoster) withIgnores(ctx context.Context, rep *daily.Report) error {
	if d.Snoozes == nil {
		return nil
	}
	igs, err := d.Snoozes.Ignores(ctx, rep.Environment, d.now())
	if err != nil {
		return fmt.Errorf("read the snoozes of %s: %w", rep.Environment, err)
	}
	rep.Ignore(igs)
	return nil
}

// audit records an Ignore or an Undo under the sweep's day; a failure is
// logged, as the change has been made.
func (d *DigestPoster) audit(ctx context.Context, rep *daily.Report, user, action string, keys []flows.Key, detail string) {
	id := "digest-" + rep.Environment + "-" + rep.Day
	for _, k := range keys {
		d.log().InfoContext(ctx, "audit: digest "+action, "digest", id, "user", user, "key", k.String())
		if d.Audit == nil {
			continue
		}
		e := flows.AuditEntry{RunID: id, At: d.now(), Actor: user, Action: action, Outcome: "ok", Detail: strings.TrimSpace(k.String() + " " + detail)}
		if err := d.Audit.Audit(ctx, e); err != nil {
			d.log().WarnContext(ctx, "audit a digest "+action, "digest", id, "err", err)
		}
	}
}

// submitAnswer answers a submitted modal privately: through the click's
// response URL, or, from the Home tab, in a modal of its own.
func (d *DigestPoster) submitAnswer(ctx context.Context, a Action) func(string) error {
	if a.ResponseURL != "" || d.Views == nil {
		return func(text string) error { return d.Slack.Respond(ctx, a.ResponseURL, slack.Reply{Text: text}) }
	}
	return homeNotice(ctx, d.Views, a)
}

func (d *DigestPoster) now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock.Now()
}

// logRefusal logs why a click was refused when a part failed: the person
// was told only that nothing was done.
func (d *DigestPoster) logRefusal(ctx context.Context, a Action, err error) {
	if err != nil {
		d.log().WarnContext(ctx, "digest button refused", "user", a.UserID, "action", a.ActionID, "err", err)
	}
}
