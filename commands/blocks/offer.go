package blocks

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Action ids of the offer's buttons. A button's action_id is one of them,
// ":" and the item's id, since action_ids are unique within a message.
const (
	ActionRotate        = "offer.rotate"
	ActionRevokeDisused = "offer.revoke-disused"
	ActionIgnore        = "offer.ignore"
	// ActionRotateAll starts a batch of every token the offer may rotate.
	ActionRotateAll = "offer.rotate-all"
)

// RotateAllValue is the Rotate all button's value: the offer.
func RotateAllValue(offerID string) string { return offerID }

// ParseRotateAllValue reads a Rotate all button's value.
func ParseRotateAllValue(v string) (offerID string, ok bool) {
	return v, validID(v, "o-")
}

// Rotatable lists the offer's items that Rotate all would start: open,
// not special, looked up without error. Rotate all shows once there are
// two.
func Rotatable(o *flows.Offer) []flows.OfferItem {
	if o.Resolved {
		return nil
	}
	var out []flows.OfferItem
	for _, it := range o.Items {
		if it.RunID == "" && it.IgnoredBy == "" && it.Assessment.Special == nil && it.Assessment.Error == "" {
			out = append(out, it)
		}
	}
	return out
}

// OfferValue is an offer button's value: the offer and the item.
func OfferValue(offerID, itemID string) string { return offerID + "|" + itemID }

// ParseOfferValue splits an offer button's value; ok is false for anything
// OfferValue did not make.
func ParseOfferValue(v string) (offerID, itemID string, ok bool) {
	offerID, itemID, ok = strings.Cut(v, "|")
	if !ok || !validID(offerID, "o-") || !validID(itemID, "i-") {
		return "", "", false
	}
	return offerID, itemID, true
}

// itemsPerPage keeps a page within Block Kit's 50 blocks: a heading and
// the Rotate all button, then at most three blocks per item.
const itemsPerPage = (maxBlocks - 2) / 3

// OfferPage is the page (of Offer's messages) that shows item i.
func OfferPage(i int) int { return i / itemsPerPage }

// Offer renders an offer as one message per page of items.
func (r Renderer) Offer(o *flows.Offer, runs map[string]*flows.Run, now time.Time) []Message {
	pages := (len(o.Items) + itemsPerPage - 1) / itemsPerPage
	if pages == 0 {
		pages = 1
	}
	out := make([]Message, 0, pages)
	for p := range pages {
		lo, hi := p*itemsPerPage, min((p+1)*itemsPerPage, len(o.Items))
		head := r.offerHeading(o, len(o.Items))
		if pages > 1 {
			head += fmt.Sprintf(" (%d of %d)", p+1, pages)
		}
		blocks := []slack.Block{section(head)}
		if n := len(Rotatable(o)); p == 0 && n > 1 {
			blocks = append(blocks, slack.NewActionBlock("offer-all", button(ActionRotateAll, RotateAllValue(o.ID), fmt.Sprintf("Rotate all %d", n), slack.StylePrimary,
				confirmation(fmt.Sprintf("Rotate all %d tokens?", n), fmt.Sprintf("Starts one batch: a new token for each of the %d, then one sync confirmation and one revoke confirmation for all of them.", n), "Rotate all"))))
		}
		for _, it := range o.Items[lo:hi] {
			blocks = append(blocks, r.offerItem(o, it, runs[cmp.Or(it.RunID, it.EndedRunID)], now)...)
		}
		out = append(out, Message{Text: fmt.Sprintf("Signon tokens expiring in %s: %d", o.Environment, len(o.Items)), Blocks: blocks})
	}
	return out
}

func (r Renderer) offerHeading(o *flows.Offer, n int) string {
	env := Escape(o.Environment)
	switch {
	case o.Resolved:
		return fmt.Sprintf(":large_green_circle: *Alert resolved* in %s. Rotations already started carry on.", env)
	case n == 0:
		return fmt.Sprintf(":mag: Signon lists no token expiring within the alert's window in %s: a newer token exists, or it was rotated already.", env)
	case n == 1:
		return fmt.Sprintf(":key: *A Signon API token expires soon* in %s.", env)
	default:
		return fmt.Sprintf(":key: *%d Signon API tokens expire soon* in %s.", n, env)
	}
}

func (r Renderer) offerItem(o *flows.Offer, it flows.OfferItem, run *flows.Run, now time.Time) []slack.Block {
	a := it.Assessment
	user := a.APIUserName
	if user == "" {
		user = it.Key.APIUser
	}
	app := a.ApplicationName
	if app == "" {
		app = it.Key.Application
	}
	lines := []string{fmt.Sprintf("*%s* → *%s*  `%s`", Escape(user), Escape(app), Escape(it.Key.APIUser))}
	switch {
	case a.Current != nil && a.Renewed:
		// Current is the newer token; the expiring one is older.
		lines = append(lines, fmt.Sprintf("Newest token expires %s · last checked with Signon by %s %s", Date(a.Current.ExpiresAt), Escape(app), lastUsed(a.LastSyncedAt, now)))
	case a.Current != nil:
		lines = append(lines, fmt.Sprintf("Expires %s (%s) · last checked with Signon by %s %s", Date(a.Current.ExpiresAt), until(a.Current.ExpiresAt, now), Escape(app), lastUsed(a.LastSyncedAt, now)))
	}
	value := OfferValue(o.ID, it.ID)
	var actions []slack.BlockElement
	switch {
	case a.Special != nil:
		text := ":information_source: " + Escape(a.Special.Reason)
		if link := LinkTo(a.Special.Link, "Read the procedure"); link != "" {
			text += " " + link
		}
		lines = append(lines, text)
	case it.RunID != "":
		lines = append(lines, r.runLine(it.RunID, run))
	case it.IgnoredBy != "":
		ig, _ := it.Ignore()
		lines = append(lines, ignoredLine(ig))
		if !o.Resolved {
			actions = append(actions, button(ActionUnignore+":"+it.ID, value, "Undo", "", nil))
		}
	case a.Error != "":
		lines = append(lines, fmt.Sprintf(":warning: I could not look this token up: %s. Once that is fixed, start the rotation with `%s`.",
			Escape(a.Error), Escape(fmt.Sprintf("/rotate-token %s %s %s", it.Key.APIUser, it.Key.Application, it.Key.Environment))))
	case o.Resolved && a.Renewed:
		lines = append(lines, ":white_check_mark: Resolved: a newer token exists, so nothing is left to do unless its consumers still use the old one.")
	case o.Resolved:
		lines = append(lines, ":white_check_mark: No longer expiring soon.")
	default:
		if it.EndedRunID != "" {
			lines = append(lines, r.runLine(it.EndedRunID, run))
		}
		if a.Renewed {
			lines = append(lines, ":information_source: Signon already has a newer token for this (its nightly auto-rotation); Rotate moves the consumers to it and revokes the old one.")
		}
		actions = append(actions, button(ActionRotate+":"+it.ID, value, "Rotate", slack.StylePrimary, nil))
		if a.Disused {
			lines = append(lines, ":zzz: Unused for a while: you may revoke it instead of rotating, as the runbook allows.")
			actions = append(actions, button(ActionRevokeDisused+":"+it.ID, value, "Revoke (disused)", slack.StyleDanger,
				confirmation("Revoke this disused token?", "The bot will show what it found and ask once more before revoking.", "Continue")))
		}
		actions = append(actions, button(ActionIgnore+":"+it.ID, value, "Ignore", "", nil))
	}
	blocks := []slack.Block{section(strings.Join(lines, "\n"))}
	if len(actions) > 0 {
		blocks = append(blocks, slack.NewActionBlock("offer-"+it.ID, actions...))
	}
	return blocks
}

// runLine says where the item's run stands. It changes only when the run
// starts and when it ends, so that a run's every step does not cost an
// edit of the offer: the run's own status message has the detail.
func (r Renderer) runLine(id string, run *flows.Run) string {
	if run == nil {
		return fmt.Sprintf(":arrows_counterclockwise: Run `%s` started.", Escape(id))
	}
	what := "Rotation"
	if run.Mode == flows.ModeRevokeDisused {
		what = "Revocation of the disused token"
	}
	var line string
	if !run.Ended() && run.EndAs == "" {
		line = fmt.Sprintf(":arrows_counterclockwise: %s under way, started by %s", what, who(run.StartedBy))
	} else {
		line = fmt.Sprintf("%s %s %s, started by %s", outcomeIcons[run.Outcome()], what, outcomeWords[run.Outcome()], who(run.StartedBy))
	}
	if link := r.Link(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, run.Thread.TS); link != "" {
		line += fmt.Sprintf(" · <%s|status>", link)
	}
	return line + "."
}

var outcomeIcons = map[flows.Phase]string{
	flows.PhaseDone:       IconDone,
	flows.PhaseFailed:     IconFailed,
	flows.PhaseCancelled:  IconCancelled,
	flows.PhaseRolledBack: IconRolledBack,
}

var outcomeWords = map[flows.Phase]string{
	flows.PhaseDone:       "done",
	flows.PhaseFailed:     "failed",
	flows.PhaseCancelled:  "cancelled",
	flows.PhaseRolledBack: "rolled back",
}

func until(t, now time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + flows.Span(d)
	}
	return "expired"
}

func lastUsed(t, now time.Time) string {
	switch d := now.Sub(t); {
	case t.IsZero():
		return "never"
	case d < time.Hour:
		return "within the hour"
	default:
		return flows.Span(d) + " ago"
	}
}
