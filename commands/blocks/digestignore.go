package blocks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// The digest's Ignore modal and the Undo of its ignored pairs. The
// modal's inputs are the alert's (IgnoreReason, IgnoreDate); the date is
// required, as a digest has no alert whose end could end the snooze.
const (
	DigestIgnoreCallbackID = "digest.ignore"
	ActionDigestUnignore   = "digest.unignore"
)

// DigestIgnoreModal asks why a group's pairs (what) are left alone, and
// until which day.
func DigestIgnoreModal(what, metadata string, today time.Time) slack.ModalViewRequest {
	return ignoreModal(DigestIgnoreCallbackID, metadata,
		section(fmt.Sprintf("Leave %s alone until a day you pick: the daily digests and the Home tab count them apart, and the autopilot leaves them out. Everyone in the digest's channel sees the reason, and anyone who may rotate can undo it.", what)),
		slack.NewInputBlock(IgnoreReason, plain("Why?"), nil, reasonInput()),
		slack.NewInputBlock(IgnoreDate, plain("Until"), plain(fmt.Sprintf("A day after today, within %d days.", int(flows.MaxSnooze.Hours()/24))), snoozePicker(today)),
	)
}

// ignoreModal is the frame both Ignore modals share.
func ignoreModal(callbackID, metadata string, body ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackID,
		PrivateMetadata: metadata,
		Title:           plain("Ignore"),
		Submit:          plain("Ignore"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: body},
	}
}

// snoozePicker is the Ignore modals' day, a week from today at first.
func snoozePicker(today time.Time) *slack.DatePickerBlockElement {
	picker := slack.NewDatePickerBlockElement(IgnoreDate)
	picker.InitialDate = today.AddDate(0, 0, 7).Format(DateLayout)
	return picker
}

// reasonInput is the Ignore modals' "Why?".
func reasonInput() *slack.PlainTextInputBlockElement {
	reason := slack.NewPlainTextInputBlockElement(plain("The consumer is retired on 1 March"), IgnoreReason)
	reason.Multiline, reason.MinLength, reason.MaxLength = true, 1, flows.MaxIgnoreReason
	return reason
}

// ignoredOf are the snoozes of pairs, in the report's order.
func ignoredOf(rep *daily.Report, pairs []flows.EstatePair) []flows.Ignore {
	var out []flows.Ignore
	for _, p := range pairs {
		if ig, ok := rep.IgnoreOf(p); ok {
			out = append(out, ig)
		}
	}
	return out
}

// ignoredText is the short count of snoozed pairs, "ignored: N (until
// D)" with the last day any of them comes back, then one line per person,
// day and reason.
func ignoredText(igs []flows.Ignore) string {
	last := slices.MaxFunc(igs, func(a, b flows.Ignore) int { return a.Until.Compare(b.Until) })
	lines := []string{fmt.Sprintf(":zzz: ignored: %d (until %s)", len(igs), day(last.Until))}
	seen := map[string]bool{}
	for _, ig := range igs {
		l := ignoredLine(ig)
		if !seen[l] {
			seen[l] = true
			lines = append(lines, strings.TrimPrefix(l, ":zzz: "))
		}
	}
	return fitLines(lines)
}

// unignoreButton undoes the snoozes of a group's ignored pairs.
func unignoreButton(rep *daily.Report, why daily.Why, pairs []flows.EstatePair, suffix string) slack.BlockElement {
	t := DigestTarget{Environment: rep.Environment, Day: rep.Day, Why: why}
	for _, p := range pairs {
		t.Pairs = append(t.Pairs, DigestPair{User: p.User.ID, Application: p.Application.ID})
	}
	v := DigestValue(t)
	if v == "" {
		return nil
	}
	return button(ActionDigestUnignore+suffix, v, "Undo Ignore", "", nil)
}
