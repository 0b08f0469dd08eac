package blocks

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Action ids of the offer's buttons.
const (
	ActionRotate        = "offer.rotate"
	ActionRevokeDisused = "offer.revoke-disused"
	ActionIgnore        = "offer.ignore"
)

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

// itemsPerPage keeps a page within Block Kit's 50 blocks: a heading, then
// at most three blocks per item.
const itemsPerPage = (maxBlocks - 1) / 3

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
		for _, it := range o.Items[lo:hi] {
			blocks = append(blocks, r.offerItem(o, it, runs[it.RunID], now)...)
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
	if a.Current != nil {
		lines = append(lines, fmt.Sprintf("Expires %s (%s) · last used %s", flows.Date(a.Current.ExpiresAt), until(a.Current.ExpiresAt, now), lastUsed(a.LastSyncedAt, now)))
	}
	value := OfferValue(o.ID, it.ID)
	var actions []slack.BlockElement
	switch {
	case a.Special != nil:
		text := ":information_source: " + Escape(a.Special.Reason)
		if a.Special.Link != "" {
			text += fmt.Sprintf(" <%s|Read the procedure>", Escape(a.Special.Link))
		}
		lines = append(lines, text)
	case it.RunID != "":
		lines = append(lines, r.runLine(it, run))
	case it.IgnoredBy != "":
		lines = append(lines, fmt.Sprintf(":zzz: Ignored by <@%s> at %s.", it.IgnoredBy, flows.Date(it.IgnoredAt)))
	case a.Error != "":
		lines = append(lines, ":warning: "+Escape(a.Error))
	case o.Resolved:
		lines = append(lines, "No longer expiring soon.")
	default:
		if a.Renewed {
			lines = append(lines, ":information_source: Signon already has a newer token for this (its nightly auto-rotation); Rotate moves the consumers to it and revokes the old one.")
		}
		actions = append(actions, button(ActionRotate, value, "Rotate", slack.StylePrimary, nil))
		if a.Disused {
			lines = append(lines, ":zzz: Unused for a while: you may revoke it instead of rotating, as the runbook allows.")
			actions = append(actions, button(ActionRevokeDisused, value, "Revoke (disused)", slack.StyleDanger,
				confirmation("Revoke this disused token?", "The bot will show what it found and ask once more before revoking.", "Continue")))
		}
		actions = append(actions, button(ActionIgnore, value, "Ignore", "", nil))
	}
	blocks := []slack.Block{section(strings.Join(lines, "\n"))}
	if len(actions) > 0 {
		blocks = append(blocks, slack.NewActionBlock("offer-"+it.ID, actions...))
	}
	return blocks
}

func (r Renderer) runLine(it flows.OfferItem, run *flows.Run) string {
	if run == nil {
		return fmt.Sprintf(":arrows_counterclockwise: Run `%s` started.", it.RunID)
	}
	state := map[flows.Phase]string{
		flows.PhaseRunning:    ":arrows_counterclockwise: Rotation in progress",
		flows.PhaseWaiting:    ":raised_hand: Rotation waiting for confirmation",
		flows.PhasePaused:     ":warning: Rotation stopped, needs a decision",
		flows.PhaseDone:       ":white_check_mark: Rotated",
		flows.PhaseFailed:     ":x: Rotation failed",
		flows.PhaseCancelled:  ":no_entry_sign: Rotation cancelled",
		flows.PhaseRolledBack: ":leftwards_arrow_with_hook: Rotation rolled back",
	}[run.Outcome()]
	if run.Mode == flows.ModeRevokeDisused {
		state = strings.Replace(state, "Rotation", "Revocation", 1)
		state = strings.Replace(state, "Rotated", "Revoked", 1)
	}
	line := fmt.Sprintf("%s (started by <@%s>)", state, run.StartedBy)
	if link := r.Link(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, run.Thread.TS); link != "" {
		line += fmt.Sprintf(" · <%s|status>", link)
	}
	return line
}

func until(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d < 0:
		return "expired"
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", int(d.Hours()))
	default:
		return fmt.Sprintf("in %d days", int(d.Hours()/24))
	}
}

func lastUsed(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return "within the hour"
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}
