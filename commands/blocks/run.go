package blocks

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Action ids of the buttons on a run's posts: "gate." + flows.Action,
// then ":" and the gate's id, since action_ids are unique within a
// message and a message may hold several posts.
const GatePrefix = "gate."

// GateValue is a gate button's value: the run and the gate it answers.
// It names server-side state only; the click is checked against the run.
func GateValue(runID, gateID string) string { return runID + "|" + gateID }

// ParseGateValue splits a gate button's value. ok is false for anything
// that was not made by GateValue.
func ParseGateValue(v string) (runID, gateID string, ok bool) {
	runID, gateID, ok = strings.Cut(v, "|")
	if !ok || !validID(runID, "r-") || gateID == "" || len(gateID) > 16 || strings.ContainsAny(gateID, "|<>& ") {
		return "", "", false
	}
	return runID, gateID, true
}

func validID(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) > 40 || len(s) == len(prefix) {
		return false
	}
	for _, c := range s[len(prefix):] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var stepLabels = map[flows.Step]string{
	flows.StepClassify:      "Check the runbook's special cases",
	flows.StepInspect:       "Inspect tokens, last use and consumers",
	flows.StepRevokeDisused: "Revoke the disused token",
	flows.StepIssue:         "Issue a new token in Signon",
	flows.StepHandoff:       "Hand the token to its external consumer",
	flows.StepSync:          "Sync tokens to Kubernetes",
	flows.StepVerify:        "Verify every consumer holds the new token",
	flows.StepRevoke:        "Revoke the old token",
	flows.StepRollback:      "Roll back",
}

var statusIcons = map[flows.StepStatus]string{
	flows.StepPending:   ":white_large_square:",
	flows.StepRunning:   ":hourglass_flowing_sand:",
	flows.StepWaiting:   ":raised_hand:",
	flows.StepOK:        IconDone,
	flows.StepSkipped:   IconSkipped,
	flows.StepFailed:    IconFailed,
	flows.StepCancelled: IconCancelled,
}

var phaseHeadlines = map[flows.Phase]string{
	flows.PhaseRunning:    ":arrows_counterclockwise: Rotating",
	flows.PhaseWaiting:    ":raised_hand: Waiting for confirmation:",
	flows.PhasePaused:     ":warning: Stopped, needs a decision:",
	flows.PhaseDone:       IconDone + " Done:",
	flows.PhaseFailed:     IconFailed + " Failed:",
	flows.PhaseCancelled:  IconCancelled + " Cancelled:",
	flows.PhaseRolledBack: IconRolledBack + " Rolled back:",
}

// Status renders a run's status message: a checklist of its steps, edited
// in place as the run moves. It shows no running clocks, so it renders the
// same until the run changes.
func (r Renderer) Status(run *flows.Run) Message {
	head := phaseHeadlines[run.Outcome()]
	if run.Mode == flows.ModeRevokeDisused && run.Outcome() == flows.PhaseRunning {
		head = ":wastebasket: Revoking a disused token:"
	}
	title := fmt.Sprintf("*%s* %s", head, Text(run.Label()))
	var list []string
	for _, s := range run.Steps {
		line := fmt.Sprintf("%s %s", statusIcons[s.Status], stepLabels[s.Step])
		if s.Status == flows.StepOK && s.Took() >= time.Second {
			line += " (" + flows.Elapsed(s.Took()) + ")"
		}
		if s.Note != "" {
			line += " · " + Text(s.Note)
		}
		list = append(list, line)
	}
	meta := fmt.Sprintf("Run `%s` · started by %s · %s", run.ID, who(run.StartedBy), Date(run.CreatedAt))
	if run.Reason != "" && run.Outcome() != flows.PhaseDone {
		meta += " · " + Text(run.Reason)
	}
	blocks := []slack.Block{section(title)}
	if len(list) > 0 {
		// Slack refuses an empty section; a run the engine knows only by
		// its head (a lost run's report) has no checklist.
		blocks = append(blocks, section(strings.Join(list, "\n")))
	}
	blocks = append(blocks, context(meta))
	if links := r.linkLine(run); links != "" {
		blocks = append(blocks, context(links))
	}
	return Message{Text: Plain(strings.TrimSuffix(head, ":") + " " + run.Label()), Blocks: blocks}
}

var postIcons = map[string]string{
	"ok":          IconDone,
	"warning":     ":warning:",
	"error":       IconFailed,
	"cancelled":   IconCancelled,
	"rolled back": IconRolledBack,
}

// Post renders one message of a run's thread. A post that asks the run's
// open gate carries its buttons; once answered it says who answered.
func (r Renderer) Post(run *flows.Run, p flows.Post) Message {
	head := "*" + Text(p.Title) + "*"
	if label := run.Label(); !strings.Contains(p.Title, label) {
		// Runs for several tokens may share a thread: every reply says
		// whose it is.
		head += " · " + Text(label)
	}
	if icon, ok := postIcons[p.Outcome]; ok {
		head = icon + " " + head
	}
	body := []string{head}
	for _, l := range p.Lines {
		body = append(body, Text(l))
	}
	text := Plain(p.Title)
	if p.Ping != "" {
		body = append(body, ":bell: "+Text(p.Ping))
		// Phones show the notification text alone.
		text = Plain(p.Ping) + " " + text
	}
	blocks := []slack.Block{section(strings.Join(body, "\n"))}
	if len(p.Code) > 0 {
		blocks = append(blocks, codeBlock(p.Code))
	}
	if p.Gate != "" {
		blocks = append(blocks, r.gate(run, p)...)
	}
	return Message{Text: text, Blocks: blocks}
}

// Posts renders several posts of a run's thread as one message, divided,
// in order: the notifier sends the posts a run made between two flushes
// together, so that a rotation costs few messages.
func (r Renderer) Posts(run *flows.Run, posts []flows.Post) Message {
	var out Message
	var titles []string
	for i, p := range posts {
		m := r.Post(run, p)
		if i > 0 {
			out.Blocks = append(out.Blocks, slack.NewDividerBlock())
		}
		out.Blocks = append(out.Blocks, m.Blocks...)
		titles = append(titles, m.Text)
	}
	out.Text = truncate(strings.Join(titles, " · "), maxNotificationText)
	return out
}

// PostBlocks is how many blocks Posts adds for p, the divider included.
func (r Renderer) PostBlocks(run *flows.Run, p flows.Post) int {
	return len(r.Post(run, p).Blocks) + 1
}

func (r Renderer) gate(run *flows.Run, p flows.Post) []slack.Block {
	g := run.Gate
	if g != nil && g.ID == p.Gate {
		value := GateValue(run.ID, g.ID)
		var els []slack.BlockElement
		var note string
		if g.Expired {
			note = fmt.Sprintf(":hourglass: This confirmation expired at %s. The run is waiting; ask again to continue.", Date(g.ExpiresAt))
			els = []slack.BlockElement{button(GatePrefix+string(flows.ActionReopen)+":"+g.ID, value, "Ask again", slack.StylePrimary, nil),
				button(GatePrefix+string(flows.ActionCancel)+":"+g.ID, value, "Cancel run", "", nil)}
		} else {
			for _, a := range g.Actions {
				els = append(els, gateButton(run, g, a, value))
			}
			switch {
			case g.OnlyUser != "":
				note = fmt.Sprintf("Only %s can reveal the token or confirm delivery.", who(g.OnlyUser))
			case g.NotUser != "":
				note = fmt.Sprintf("Needs an approver other than %s.", who(g.NotUser))
			}
			if !g.ExpiresAt.IsZero() {
				if note != "" {
					note += " "
				}
				note += "Open until " + Date(g.ExpiresAt) + "."
			}
		}
		out := []slack.Block{slack.NewActionBlock("gate-"+g.ID, els...)}
		if note != "" {
			out = append(out, context(note))
		}
		return out
	}
	for _, a := range run.Approvals {
		if a.GateID == p.Gate {
			return []slack.Block{context(fmt.Sprintf("%s %s by %s at %s", answeredIcon(a.Action), answered[a.Action], who(a.User), Date(a.At)))}
		}
	}
	return []slack.Block{context(":heavy_minus_sign: No longer open.")}
}

var answered = map[flows.Action]string{
	flows.ActionApprove:   "Confirmed",
	flows.ActionCancel:    "Cancelled",
	flows.ActionRetry:     "Retried",
	flows.ActionRollback:  "Rolled back",
	flows.ActionRestart:   "Restart asked",
	flows.ActionDelivered: "Delivery confirmed",
	flows.ActionReopen:    "Asked again",
}

func answeredIcon(a flows.Action) string {
	switch a {
	case flows.ActionCancel:
		return IconCancelled
	case flows.ActionRollback:
		return IconRolledBack
	default:
		return IconDone
	}
}

func gateButton(run *flows.Run, g *flows.Gate, a flows.Action, value string) slack.BlockElement {
	id := GatePrefix + string(a) + ":" + g.ID
	switch a {
	case flows.ActionApprove:
		switch g.Kind {
		case flows.GateSync:
			return button(id, value, "Run sync", slack.StylePrimary, nil)
		case flows.GateRevoke:
			return button(id, value, "Revoke old token", slack.StyleDanger,
				confirmation("Revoke the old token?", "Signon will reject the old token at once. Every consumer has been verified on the new one.", "Revoke"))
		default:
			return button(id, value, "Revoke token", slack.StyleDanger,
				confirmation("Revoke this token?", "Anything still using it will stop working.", "Revoke"))
		}
	case flows.ActionRollback:
		text := "Revokes the new token. The old one stays valid."
		if run.SyncJob != nil {
			text = "Revokes the new token and runs the sync again, so the Secret holds the old token once more."
		}
		return button(id, value, "Roll back", slack.StyleDanger, confirmation("Roll back?", text, "Roll back"))
	case flows.ActionRestart:
		return button(id, value, "Restart deployment", "", confirmation("Restart?", "Does what `kubectl rollout restart` does to the Deployments that did not roll.", "Restart"))
	case flows.ActionRetry:
		return button(id, value, "Retry", slack.StylePrimary, nil)
	case flows.ActionReveal:
		return button(id, value, "Reveal token", slack.StylePrimary, nil)
	case flows.ActionDelivered:
		return button(id, value, "Delivered", "", nil)
	case flows.ActionCancel:
		return button(id, value, "Cancel run", "", nil)
	}
	return button(id, value, string(a), "", nil)
}
