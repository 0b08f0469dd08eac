package blocks

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/flows"
)

// Explanation answers an alert the bot will not act on (staging, which
// production overwrites every night), with no buttons.
func (r Renderer) Explanation(env string, sc flows.SpecialCase) Message {
	text := fmt.Sprintf(":information_source: *Nothing to rotate in %s.* %s", Escape(env), Escape(sc.Reason))
	if link := LinkTo(sc.Link, "Read more"); link != "" {
		text += " " + link
	}
	return Message{Text: Plain("Nothing to rotate in " + env), Blocks: []slack.Block{section(text)}}
}

// Handled is a token a repeated alert names that an earlier offer or an
// active run already answers.
type Handled struct {
	Key flows.Key
	// What is "offered" or "rotating"; Link goes to the offer or the run.
	What string
	Link string
}

// AlreadyHandled answers a repeated (daily) alert whose tokens have an
// open offer or an active run: one short reply pointing there.
func (r Renderer) AlreadyHandled(hs []Handled) Message {
	lines := []string{fmt.Sprintf(":repeat: The alert fired again for %s already in hand:", plural(len(hs), "token"))}
	for _, h := range hs {
		where := map[string]string{"offered": "offered", "rotating": "rotation under way"}[h.What]
		if h.Link != "" {
			where = fmt.Sprintf("<%s|%s>", h.Link, where)
		}
		lines = append(lines, fmt.Sprintf("• `%s` → `%s` (%s): %s", Escape(h.Key.APIUser), Escape(h.Key.Application), Escape(h.Key.Environment), where))
	}
	return Message{Text: "The alert fired again; these tokens are in hand already", Blocks: []slack.Block{section(strings.Join(lines, "\n"))}}
}

// Unanswered says why an alert got no offer, and what to do instead.
func (r Renderer) Unanswered(env, reason string) Message {
	text := fmt.Sprintf(":warning: I could not look at this alert: %s. Nothing was changed. When it is back, start a rotation with `%s`.",
		Escape(reason), Escape("/rotate-token <api-user-email> <application> "+env))
	return Message{Text: "I could not look at this alert", Blocks: []slack.Block{section(text)}}
}

// RunList is `/rotate-token list`: the active runs, each linked to its
// thread.
func (r Renderer) RunList(runs []*flows.Run) Message {
	if len(runs) == 0 {
		return Message{Text: "No rotation is under way.", Blocks: []slack.Block{section(":zzz: No rotation is under way.")}}
	}
	lines := []string{fmt.Sprintf("*%s under way:*", plural(len(runs), "rotation"))}
	// A long list is cut rather than refused: the oldest come first.
	const max = 40
	for i, run := range runs {
		if i == max {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(runs)-max))
			break
		}
		lines = append(lines, "• "+r.runBrief(run))
	}
	return Message{Text: plural(len(runs), "rotation") + " under way", Blocks: []slack.Block{section(strings.Join(lines, "\n"))}}
}

// RunStatus is `/rotate-token status <run>`: the run's checklist and a
// link to its thread.
func (r Renderer) RunStatus(run *flows.Run) Message {
	m := r.Status(run)
	if link := r.threadLink(run); link != "" {
		m.Blocks = append(m.Blocks, context(fmt.Sprintf("<%s|Open the thread>", link)))
	}
	return m
}

func (r Renderer) runBrief(run *flows.Run) string {
	line := fmt.Sprintf("`%s` %s: %s", run.ID, Text(run.Label()), phaseWords[run.Outcome()])
	if run.Gate != nil && run.Phase == flows.PhaseWaiting {
		line += " (" + Text(run.Gate.Prompt) + ")"
	} else if run.Phase == flows.PhaseRunning {
		line += " (" + stepLabels[run.Step] + ")"
	}
	line += fmt.Sprintf(", started by %s", who(run.StartedBy))
	if link := r.threadLink(run); link != "" {
		line += fmt.Sprintf(" · <%s|thread>", link)
	}
	return line
}

func (r Renderer) threadLink(run *flows.Run) string {
	return r.Link(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, run.Thread.TS)
}

var phaseWords = map[flows.Phase]string{
	flows.PhaseRunning:    "running",
	flows.PhaseWaiting:    "waiting for confirmation",
	flows.PhasePaused:     "stopped, needs a decision",
	flows.PhaseDone:       "done",
	flows.PhaseFailed:     "failed",
	flows.PhaseCancelled:  "cancelled",
	flows.PhaseRolledBack: "rolled back",
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
