package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
)

// LeakError says a token's plaintext was about to be printed, or was
// logged or sent to Slack where only its fingerprint should be.
type LeakError struct {
	Where        string
	Fingerprints []string
}

func (e *LeakError) Error() string {
	return fmt.Sprintf("demo: the plaintext of token(s) with fingerprint %s is in %s; nothing of it was printed",
		strings.Join(e.Fingerprints, ", "), e.Where)
}

// screen prints what the demo shows, each piece only once it is checked
// to hold no token the Signon double made.
type screen struct {
	world *scenario.World
	w     io.Writer
}

func (s *screen) show(text string) error {
	if err := leaks(s.world, "the demo's output", text); err != nil {
		return err
	}
	_, err := io.WriteString(s.w, text)
	return err
}

// leaks is a *LeakError if any of texts holds a token's plaintext.
func leaks(w *scenario.World, where string, texts ...string) error {
	found := w.Leaks(texts...)
	if len(found) == 0 {
		return nil
	}
	fps := make([]string, len(found))
	for i, f := range found {
		fps[i] = f.Short()
	}
	return &LeakError{Where: where, Fingerprints: fps}
}

// report prints the thread, the private reveals, the audit trail, what
// became of each token and a one-line result, once everything the bot
// logged and sent to Slack has been checked for tokens. It returns nil
// only if the scenario played out as designed.
// The bot's log goes to stderr when the play failed, or when a scripted
// play differed from the design; a person who stopped early is only told
// what is left undone.
func (sb *demoBot) report(ctx context.Context, out *screen, played error, scripted bool, took time.Duration, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	w, d := sb.world, sb.driver
	var b strings.Builder
	fmt.Fprintf(&b, "Scenario %s: %s.\n", w.Name, w.Summary)
	fmt.Fprintf(&b, "The bot runs as `bot serve` wires it, against a fake Slack, a Signon double and a cluster stand-in on loopback; Redis: %s.\n\n", sb.redis)

	var runs []*flows.Run
	var problems []error
	if played != nil {
		problems = append(problems, played)
	}
	if digest := d.Digest(); digest != "" {
		fmt.Fprintf(&b, "#%s, the day's digest:\n\n%s\n", scenario.DigestChannelName, readable(digest))
	}
	if d.ThreadTS() != "" {
		channel, thread := scenario.ChannelName, "the alert's thread"
		if w.Sweep != nil {
			channel, thread = scenario.DigestChannelName, "the thread of the batch the sweep started"
		}
		fmt.Fprintf(&b, "#%s, %s:\n\n%s\n", channel, thread, readable(d.Transcript()))
		var err error
		if runs, err = d.Runs(ctx); err != nil {
			problems = append(problems, err)
		}
	}
	b.WriteString(sb.reveals(runs))
	for _, r := range runs {
		trail, err := sb.app.Engine().AuditTrail(ctx, r.ID)
		if err != nil {
			problems = append(problems, fmt.Errorf("audit trail of run %s: %w", r.ID, err))
			continue
		}
		fmt.Fprintf(&b, "Audit trail of run %s (%s):\n", r.ID, r.Label())
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, e := range trail {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.At.Format("15:04:05"), who(e.Actor), e.Action, e.Outcome, readable(blocks.Plain(e.Detail)))
		}
		tw.Flush()
		b.WriteString("\n")
	}
	lines, err := w.Check(runs, sb.fake)
	if err != nil {
		problems = append(problems, err)
	}
	if !scripted {
		// A person may have pressed anything: say what is, not what the
		// scenario meant to happen.
		b.WriteString("Where things stand now, read from Signon and the cluster:\n")
		lines = w.Standing(ctx)
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "%s\n", l)
	}
	sent, reveals, err := d.Sent(ctx)
	if err != nil {
		problems = append(problems, err)
	}
	calls := len(sb.fake.Calls())
	if err := sb.halt(); err != nil {
		problems = append(problems, fmt.Errorf("the bot stopped with: %w", err))
	}

	if len(problems) == 0 {
		fmt.Fprintf(&b, "\nPASS %s: played out as designed in %s (%d Slack Web API calls", w.Name, took, calls)
		if reveals > 0 {
			fmt.Fprintf(&b, ", %d of them the private reveal, left out of the token scan", reveals)
		}
		b.WriteString("; no token in the output, the log or what Slack was sent).\n")
	} else {
		fmt.Fprintf(&b, "\nFAIL %s: did not play out as designed (see below).\n", w.Name)
	}
	logs := sb.logs.String()
	for _, c := range []struct{ where, text string }{{"the bot's log", logs}, {"what the bot sent to Slack", sent}} {
		if err := leaks(w, c.where, c.text); err != nil {
			return err
		}
	}
	if err := out.show(b.String()); err != nil {
		return err
	}
	if len(problems) == 0 {
		return nil
	}
	if played != nil || scripted {
		fmt.Fprintf(stderr, "The bot's log (the last lines):\n%s", tail(logs, 40))
	}
	return errors.Join(problems...)
}

// reveals says which private modals showed a token, without the token.
func (sb *demoBot) reveals(runs []*flows.Run) string {
	var b strings.Builder
	for _, r := range runs {
		if r.NewToken == nil {
			continue
		}
		for _, v := range sb.fake.OpenViews(r.StartedBy) {
			if v.CallbackID == blocks.RevealCallbackID {
				fmt.Fprintf(&b, "Only %s saw: a modal %q showing new token #%d (fingerprint %s) to copy and send on. The demo does not print it.\n\n",
					who(r.StartedBy), v.Title, r.NewToken.ID, r.NewToken.Fingerprint.Short())
			}
		}
	}
	return b.String()
}

// who names a Slack user as people in the channel know them.
func who(id string) string {
	if p, ok := scenario.PersonByID(id); ok {
		return p.Name
	}
	return id
}

var (
	mention    = regexp.MustCompile(`<@([UW][A-Z0-9]+)>`)
	link       = regexp.MustCompile(`<(https?://[^|>]+)(?:\|([^>]*))?>`)
	blankLines = regexp.MustCompile(`\n([ \t]*\n)+`)
)

// readable turns Slack's mrkdwn in a transcript into what a person sees:
// names for mentions, link labels for links, & < > unescaped, emoji, and
// a run of blank lines (Alertmanager's template leaves four) as one.
func readable(s string) string {
	s = blankLines.ReplaceAllString(s, "\n\n")
	s = mention.ReplaceAllStringFunc(s, func(m string) string { return "@" + who(mention.FindStringSubmatch(m)[1]) })
	s = link.ReplaceAllStringFunc(s, func(m string) string {
		g := link.FindStringSubmatch(m)
		if g[2] != "" {
			return g[2]
		}
		return g[1]
	})
	return unescape.Replace(s)
}

// unescape undoes mrkdwn's escapes and shows the emoji the bot and
// Alertmanager use as Slack draws them.
var unescape = strings.NewReplacer(
	"&lt;", "<", "&gt;", ">", "&amp;", "&",
	":white_check_mark:", "✅", ":green_tick:", "✅", ":warning:", "⚠️", ":fire:", "🔥", ":key:", "🔑",
	":orange_book:", "📙", ":hourglass_flowing_sand:", "⏳", ":hourglass:", "⌛", ":raised_hand:", "✋",
	":white_large_square:", "⬜", ":no_entry_sign:", "🚫", ":no_entry:", "⛔", ":x:", "❌", ":zzz:", "💤",
	":information_source:", "ℹ️", ":wastebasket:", "🗑️", ":arrows_counterclockwise:", "🔄", ":repeat:", "🔁",
	":large_green_circle:", "🟢", ":heavy_minus_sign:", "➖", ":leftwards_arrow_with_hook:", "↩️",
	":mag:", "🔍", ":fast_forward:", "⏩", ":bell:", "🔔",
)

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
