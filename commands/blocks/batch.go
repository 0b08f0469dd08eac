package blocks

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Action ids of a batch's gate buttons, ":" and the gate's id.
const (
	ActionBatchApprove = "batch.approve"
	ActionBatchCancel  = "batch.cancel"
)

// BatchValue is a batch gate button's value: the batch and the gate. The
// click is checked against the stored batch, never this.
func BatchValue(batchID, gateID string) string { return batchID + "|" + gateID }

// ParseBatchValue splits a batch gate button's value.
func ParseBatchValue(v string) (batchID, gateID string, ok bool) {
	batchID, gateID, ok = strings.Cut(v, "|")
	if !ok || !validID(batchID, "b-") || gateID == "" || len(gateID) > 16 || strings.ContainsAny(gateID, "|<>& ") {
		return "", "", false
	}
	return batchID, gateID, true
}

// BatchStatus renders a batch's status message: a line per token with
// where its run stands, edited in place. Past Block Kit's limits it is
// several messages, as few as the limits allow.
func (r Renderer) BatchStatus(b *flows.Batch, runs []*flows.Run) []Message {
	head := fmt.Sprintf("*:arrows_counterclockwise: Rotating %s in %s*", plural(len(runs), "token"), Escape(b.Environment))
	if b.Ended {
		head = fmt.Sprintf("*%s Batch ended:* %d of %s done in %s", batchIcon(runs), countDone(runs), plural(len(runs), "rotation"), Escape(b.Environment))
	} else if len(runs) == 0 {
		head = fmt.Sprintf("*:hourglass_flowing_sand: Starting rotations in %s…*", Escape(b.Environment))
	}
	if h, ok := cleanupHead(b, runs); ok {
		head = h
	}
	lines := make([]string, 0, len(runs))
	for _, run := range runs {
		lines = append(lines, r.batchLine(b, run))
	}
	meta := fmt.Sprintf("Batch `%s` · started by %s · %s", b.ID, who(b.StartedBy), flows.Date(b.CreatedAt))
	return paged(head, lines, []slack.Block{context(meta)}, "Rotating "+plural(len(runs), "token")+" in "+b.Environment)
}

// batchLine is one token's line in its batch's status.
func (r Renderer) batchLine(b *flows.Batch, run *flows.Run) string {
	label := Text(run.Label())
	switch {
	case run.Ended() || run.EndAs != "":
		line := fmt.Sprintf("%s %s · %s", outcomeIcons[run.Outcome()], label, outcomeWords[run.Outcome()])
		if run.Outcome() == flows.PhaseDone && run.NewToken != nil {
			line += fmt.Sprintf(" · token #%d `%s`", run.NewToken.ID, run.NewToken.Fingerprint.Short())
		} else if run.Reason != "" {
			line += " · " + Text(run.Reason)
		}
		return line
	case run.Phase == flows.PhasePaused:
		return fmt.Sprintf(":warning: %s · stopped at %s: see its own message below", label, run.Step)
	case run.Gate != nil && run.Gate.Batch == b.ID:
		return fmt.Sprintf("%s %s · waiting for the batch's %s confirmation", statusIcons[flows.StepWaiting], label, run.Gate.Kind)
	case run.Gate != nil:
		return fmt.Sprintf("%s %s · waiting: %s (its own message below)", statusIcons[flows.StepWaiting], label, Text(run.Gate.Prompt))
	default:
		return fmt.Sprintf("%s %s · %s", statusIcons[flows.StepRunning], label, strings.ToLower(stepLabels[run.Step]))
	}
}

func countDone(runs []*flows.Run) int {
	n := 0
	for _, r := range runs {
		if r.Phase == flows.PhaseDone {
			n++
		}
	}
	return n
}

func batchIcon(runs []*flows.Run) string {
	if countDone(runs) == len(runs) {
		return ":white_check_mark:"
	}
	return ":warning:"
}

// BatchPost renders one post of a batch's thread, with the batch gate's
// buttons on its last page while that gate is open.
func (r Renderer) BatchPost(b *flows.Batch, p flows.Post) []Message {
	head := "*" + Text(p.Title) + "*"
	if icon, ok := postIcons[p.Outcome]; ok {
		head = icon + " " + head
	}
	lines := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = Text(l)
	}
	var tail []slack.Block
	if p.Ping != "" {
		// Beside the buttons, on the last page only: one notification.
		tail = append(tail, section(":bell: "+Text(p.Ping)))
	}
	if p.Gate != "" {
		tail = append(tail, r.batchGate(b, p)...)
	}
	out := paged(head, lines, tail, Plain(p.Title))
	if p.Ping != "" {
		last := &out[len(out)-1]
		last.Text = truncate(Plain(p.Ping)+" "+last.Text, maxNotificationText)
	}
	return out
}

func (r Renderer) batchGate(b *flows.Batch, p flows.Post) []slack.Block {
	g := b.Gate
	if g != nil && g.ID == p.Gate {
		value := BatchValue(b.ID, g.ID)
		n := len(b.Covers)
		var approve slack.BlockElement
		if g.Kind == flows.GateRevoke {
			approve = button(ActionBatchApprove+":"+g.ID, value, fmt.Sprintf("Revoke %s", plural(n, "old token")), slack.StyleDanger,
				confirmation("Revoke the old tokens?", fmt.Sprintf("Signon will reject %s at once. Every consumer of each has been verified on its new token.", plural(n, "old token")), "Revoke"))
			if c, ok := cleanupRevokeButton(p, ActionBatchApprove+":"+g.ID, value); ok {
				approve = c
			}
		} else {
			approve = button(ActionBatchApprove+":"+g.ID, value, fmt.Sprintf("Run sync for %s", plural(n, "token")), slack.StylePrimary, nil)
		}
		cancel := button(ActionBatchCancel+":"+g.ID, value, "Cancel all", "",
			confirmation("Cancel these rotations?", fmt.Sprintf("Stops the %s waiting here; the thread then says where each token stands.", plural(n, "rotation")), "Cancel all"))
		out := []slack.Block{slack.NewActionBlock("batch-"+g.ID, approve, cancel)}
		if g.NotUser != "" {
			out = append(out, context(fmt.Sprintf("Needs an approver other than %s.", who(g.NotUser))))
		}
		return out
	}
	if a, ok := b.Approval(p.Gate); ok {
		return []slack.Block{context(fmt.Sprintf("%s %s by %s at %s for %s", answeredIcon(a.Action), answered[a.Action], who(a.User), flows.Date(a.At), plural(len(a.Runs), "token")))}
	}
	return []slack.Block{context(":heavy_minus_sign: No longer open.")}
}

// paged lays out a heading, lines and closing blocks in as few messages
// as Block Kit allows: lines packed into sections of at most 3,000
// characters, at most 50 blocks a message, the heading on the first and
// the closing blocks on the last. A line longer than a section is cut.
func paged(head string, lines []string, tail []slack.Block, text string) []Message {
	var sections []string
	var cur strings.Builder
	for _, l := range lines {
		l = truncate(l, maxSectionText)
		if cur.Len() > 0 && len([]rune(cur.String()))+1+len([]rune(l)) > maxSectionText {
			sections = append(sections, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		sections = append(sections, cur.String())
	}
	var out []Message
	page := []slack.Block{section(head)}
	for _, s := range sections {
		if len(page) == maxBlocks {
			out = append(out, Message{Blocks: page})
			page = nil
		}
		page = append(page, section(s))
	}
	if len(page)+len(tail) > maxBlocks {
		out = append(out, Message{Blocks: page})
		page = nil
	}
	page = append(page, tail...)
	out = append(out, Message{Blocks: page})
	for i := range out {
		t := text
		if len(out) > 1 {
			t += fmt.Sprintf(" (%d of %d)", i+1, len(out))
		}
		out[i].Text = truncate(t, maxNotificationText)
	}
	return out
}

// BatchPageID is the receipt key of page i of a batch message (the status
// or a post): the first page keeps the message's own id.
func BatchPageID(id string, i int) string {
	if i == 0 {
		return id
	}
	return fmt.Sprintf("%s/%d", id, i)
}
