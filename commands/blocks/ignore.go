package blocks

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// The Ignore modal: its callback_id, its inputs (each the block_id and
// the action_id of one input) and the choices of its duration.
const (
	IgnoreCallbackID = "offer.ignore"
	IgnoreReason     = "reason"
	IgnoreFor        = "for"
	IgnoreDate       = "date"
	// IgnoreUntilResolved lasts until the alert resolves; IgnoreUntilDate
	// until the date picked.
	IgnoreUntilResolved = "resolved"
	IgnoreUntilDate     = "date"
	// ActionUnignore is the Undo button of an ignored offer item.
	ActionUnignore = "offer.unignore"
)

// DateLayout is how a datepicker writes its date.
const DateLayout = "2006-01-02"

// IgnoreModal asks why a token (or a group of them, what) is left alone,
// and for how long. untilResolved names what ends the default duration.
func IgnoreModal(what, untilResolved, metadata string, today time.Time) slack.ModalViewRequest {
	resolved := slack.NewOptionBlockObject(IgnoreUntilResolved, plain(untilResolved), nil)
	date := slack.NewOptionBlockObject(IgnoreUntilDate, plain("Until a date (snooze)"), nil)
	duration := slack.NewRadioButtonsBlockElement(IgnoreFor, resolved, date)
	duration.InitialOption = resolved
	pick := slack.NewInputBlock(IgnoreDate, plain("Snooze until"), plain(fmt.Sprintf("With \"Until a date\": a day after today, within %d days. The buttons come back on the first alert after it.", int(flows.MaxSnooze.Hours()/24))), snoozePicker(today))
	pick.Optional = true
	return ignoreModal(IgnoreCallbackID, metadata,
		section(fmt.Sprintf("Leave %s alone. Everyone in the thread sees the reason, and anyone who may rotate can undo it.", what)),
		slack.NewInputBlock(IgnoreReason, plain("Why?"), nil, reasonInput()),
		slack.NewInputBlock(IgnoreFor, plain("For how long?"), nil, duration),
		pick,
	)
}

// IgnoreValues reads a submitted Ignore modal: the reason as typed, and
// the date when the duration is one.
func IgnoreValues(values map[string]map[string]slack.BlockAction) (reason, duration, date string) {
	return values[IgnoreReason][IgnoreReason].Value,
		values[IgnoreFor][IgnoreFor].SelectedOption.Value,
		values[IgnoreDate][IgnoreDate].SelectedDate
}

// untrusted shows text someone typed on one line, escaped.
func untrusted(s string) string {
	return Escape(strings.Join(strings.Fields(s), " "))
}

// ignoredLine says who ignored a token, until when, and why.
func ignoredLine(ig flows.Ignore) string {
	until := "until the alert resolves"
	if !ig.Until.IsZero() {
		until = "until " + day(ig.Until)
	}
	if ig.Reason == "" {
		return fmt.Sprintf(":zzz: Ignored by <@%s> %s.", ig.By, until)
	}
	return fmt.Sprintf(":zzz: Ignored by <@%s> %s: %s", ig.By, until, untrusted(ig.Reason))
}

// day shows a date in each reader's own calendar, as Date does a time.
func day(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty}|%s>", t.Unix(), t.UTC().Format("2 Jan 2006"))
}

// Ignored is the thread's one line about an Ignore.
func (r Renderer) Ignored(ig flows.Ignore) Message {
	text := fmt.Sprintf("%s → %s (%s): %s", Escape(ig.Key.APIUser), Escape(ig.Key.Application), Escape(ig.Key.Environment), ignoredLine(ig))
	return Message{Text: "Ignored: " + Escape(ig.Key.APIUser) + " → " + Escape(ig.Key.Application), Blocks: []slack.Block{section(text)}}
}

// Unignored is the thread's one line about an Undo.
func (r Renderer) Unignored(key flows.Key, user string) Message {
	text := fmt.Sprintf(":leftwards_arrow_with_hook: <@%s> undid the Ignore of `%s` → `%s` (%s): its buttons are back.", user, Escape(key.APIUser), Escape(key.Application), Escape(key.Environment))
	return Message{Text: "Ignore undone: " + Escape(key.APIUser) + " → " + Escape(key.Application), Blocks: []slack.Block{section(text)}}
}
