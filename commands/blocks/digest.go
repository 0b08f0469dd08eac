package blocks

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// Action ids of the digest's buttons. Each carries a DigestValue.
const (
	ActionDigestRotateAll = "digest.rotate-all"
	ActionDigestRevoke    = "digest.revoke-superseded"
	ActionDigestIgnore    = "digest.ignore"
)

// WhySuperseded names the digest's superseded group in a DigestValue.
const WhySuperseded daily.Why = "superseded"

// DigestPair is a pair in a button's value: Signon's user and application
// ids, which the pair's record in the sweep's report resolves.
type DigestPair struct{ User, Application int64 }

// DigestTarget is what a digest button acts on: the environment, the
// sweep's day and group, and the pairs a batch would take.
type DigestTarget struct {
	Environment string
	Day         string
	Why         daily.Why
	Pairs       []DigestPair
}

// maxValue is Block Kit's limit on a button's value.
const maxValue = 2000

// DigestValue is a digest button's value, "env|day|why|u.a,u.a,...", or
// "" when the pairs do not fit in one value.
func DigestValue(t DigestTarget) string {
	ps := make([]string, len(t.Pairs))
	for i, p := range t.Pairs {
		ps[i] = strconv.FormatInt(p.User, 10) + "." + strconv.FormatInt(p.Application, 10)
	}
	v := t.Environment + "|" + t.Day + "|" + string(t.Why) + "|" + strings.Join(ps, ",")
	if len(v) > maxValue {
		return ""
	}
	return v
}

var (
	envPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	dayPattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	pairPattern = regexp.MustCompile(`^[1-9][0-9]{0,17}\.[1-9][0-9]{0,17}$`)
)

// ParseDigestValue reads a DigestValue; ok is false for anything
// DigestValue did not make. The caller still checks each pair against the
// sweep's report: a well-formed value may name pairs the digest did not.
func ParseDigestValue(v string) (DigestTarget, bool) {
	parts := strings.Split(v, "|")
	if len(v) > maxValue || len(parts) != 4 || !envPattern.MatchString(parts[0]) || !dayPattern.MatchString(parts[1]) {
		return DigestTarget{}, false
	}
	if _, err := time.Parse(daily.DayLayout, parts[1]); err != nil {
		return DigestTarget{}, false
	}
	t := DigestTarget{Environment: parts[0], Day: parts[1], Why: daily.Why(parts[2])}
	if t.Why != WhySuperseded && !slices.Contains(daily.Whys, t.Why) {
		return DigestTarget{}, false
	}
	seen := map[DigestPair]bool{}
	for p := range strings.SplitSeq(parts[3], ",") {
		if !pairPattern.MatchString(p) {
			return DigestTarget{}, false
		}
		u, a, _ := strings.Cut(p, ".")
		var dp DigestPair
		var err1, err2 error
		dp.User, err1 = strconv.ParseInt(u, 10, 64)
		dp.Application, err2 = strconv.ParseInt(a, 10, 64)
		if err1 != nil || err2 != nil || seen[dp] {
			return DigestTarget{}, false
		}
		seen[dp] = true
		t.Pairs = append(t.Pairs, dp)
	}
	return t, true
}

// whyTitle heads a group and says why its tokens need a person.
var whyTitle = map[daily.Why]string{
	daily.WhyRenewalFailed: "*Renewal failed*: internal users whose token expires within a month, with no newer token after Signon's 01:00 renewal",
	daily.WhyExternal:      "*External users*: Signon renews only internal users' tokens; each consumer needs its new token handed over",
	daily.WhyOtherTeam:     "*Another team's*: rotated by that team's own procedure",
	daily.WhyStaging:       "*Staging*",
	daily.WhyRenewalAhead:  "*Renewal ahead*: internal users more than a month from expiry; Signon renews them within a month of it",
	daily.WhyNotSynced:     "*Not synced*: a suspended user or a retired application; no consumer holds these tokens",
}

// digestLines caps the pairs listed per group; the rest are counted.
const digestLines = 15

// Digest renders a sweep as one message. An empty sweep is one short
// line, or nothing (ok false) when quiet.
func (r Renderer) Digest(rep *daily.Report, quiet bool) (Message, bool) {
	env := Escape(rep.Environment)
	groups, superseded := rep.Groups(), rep.Superseded()
	if rep.Empty() {
		if quiet {
			return Message{}, false
		}
		line := fmt.Sprintf(":white_check_mark: Daily sweep of %s for %s: nothing expires within %s, no superseded tokens, no runs under way.", env, rep.Day, flows.Span(rep.Within))
		return Message{Text: fmt.Sprintf("Daily sweep of %s: nothing to do", rep.Environment), Blocks: []slack.Block{section(line)}}, true
	}
	expiring := 0
	for _, g := range groups {
		expiring += len(g.Pairs)
	}
	old := 0
	for _, p := range superseded {
		old += len(p.Superseded)
	}
	head := fmt.Sprintf(":sunrise: *Daily sweep of %s* for %s: %s within %s, %s, %s.", env, rep.Day,
		countOf(expiring, "token expires", "tokens expire"), flows.Span(rep.Within), countOf(old, "superseded token", "superseded tokens"), countOf(len(rep.OpenRuns), "run under way", "runs under way"))
	blocks := []slack.Block{section(head)}
	// Each group takes at most three blocks; the last four are the
	// superseded group, the runs and the note on what the buttons do.
	budget := maxBlocks - 5
	left := 0
	for _, g := range groups {
		if len(blocks)+3 > budget {
			left += len(g.Pairs)
			continue
		}
		blocks = append(blocks, r.digestGroup(rep, g.Why, g.Pairs, g.Ignored, func(p flows.EstatePair) string { return r.expiringLine(p, rep.SignonNow) })...)
	}
	if left > 0 {
		blocks = append(blocks, context(fmt.Sprintf("%s more in other groups: see the Home tab.", countOf(left, "token", "tokens"))))
	}
	if ign := rep.SupersededIgnored(); len(superseded)+len(ign) > 0 {
		blocks = append(blocks, r.digestGroup(rep, WhySuperseded, superseded, ign, r.supersededLine)...)
	}
	if len(rep.OpenRuns) > 0 {
		blocks = append(blocks, section(r.openRuns(rep.OpenRuns, digestLines)))
	}
	blocks = append(blocks, context("Revoke superseded checks every consumer of each pair before one question asks to revoke. Ignore… leaves a group's tokens out of the digests until a day you pick. Next sweep "+flows.Date(rep.Next)+"."))
	return Message{Text: truncate(fmt.Sprintf("Daily sweep of %s: %d expiring, %d superseded", rep.Environment, expiring, old), maxNotificationText), Blocks: blocks}, true
}

// digestGroup is a group's heading and lines, who ignored which of its
// pairs, and its buttons.
func (r Renderer) digestGroup(rep *daily.Report, why daily.Why, pairs, ignored []flows.EstatePair, line func(flows.EstatePair) string) []slack.Block {
	title := whyTitle[why]
	if why == WhySuperseded {
		title = "*Superseded*: older unrevoked tokens a renewal left behind, waiting to be revoked once every consumer holds the synced one"
	}
	lines := []string{fmt.Sprintf("%s (%d)", title, len(pairs))}
	for i, p := range pairs {
		if i == digestLines {
			lines = append(lines, fmt.Sprintf("…and %d more: see the Home tab.", len(pairs)-digestLines))
			break
		}
		lines = append(lines, line(p))
	}
	out := []slack.Block{section(fitLines(lines))}
	suffix := ":" + string(why)
	var undo []slack.BlockElement
	if len(ignored) > 0 {
		out = append(out, context(ignoredText(ignoredOf(rep, ignored))))
		if b := unignoreButton(rep, why, ignored, suffix); b != nil {
			undo = append(undo, b)
		}
	}
	target := DigestTarget{Environment: rep.Environment, Day: rep.Day, Why: why}
	for _, p := range pairs {
		target.Pairs = append(target.Pairs, DigestPair{User: p.User.ID, Application: p.Application.ID})
	}
	value := DigestValue(target)
	if value == "" || len(pairs) == 0 || why == daily.WhyOtherTeam || why == daily.WhyNotSynced {
		if len(undo) == 0 {
			return out
		}
		return append(out, slack.NewActionBlock("digest-"+string(why), undo...))
	}
	var buttons []slack.BlockElement
	if why == WhySuperseded {
		buttons = append(buttons, button(ActionDigestRevoke+suffix, value, fmt.Sprintf("Revoke %d superseded", supersededCount(pairs)), "", nil))
	} else {
		buttons = append(buttons, button(ActionDigestRotateAll+suffix, value, fmt.Sprintf("Rotate all %d", len(pairs)), slack.StylePrimary, nil))
	}
	buttons = append(buttons, button(ActionDigestIgnore+suffix, value, "Ignore…", "", nil))
	return append(out, slack.NewActionBlock("digest-"+string(why), append(buttons, undo...)...))
}

func supersededCount(pairs []flows.EstatePair) int {
	n := 0
	for _, p := range pairs {
		n += len(p.Superseded)
	}
	return n
}

func (r Renderer) expiringLine(p flows.EstatePair, now time.Time) string {
	line := fmt.Sprintf("• %s → %s: expires %s (%s), last check-in %s", pairName(p), Escape(p.Application.Name), flows.Date(p.Token.ExpiresAt), until(p.Token.ExpiresAt, now), lastUsed(p.LastSyncedAt, now))
	if p.RenewalBlocker != 0 {
		line += fmt.Sprintf("; revoked token %d expires later and stops Signon's renewal", p.RenewalBlocker)
	}
	return line
}

func (r Renderer) supersededLine(p flows.EstatePair) string {
	ids := make([]string, len(p.Superseded))
	for i, t := range p.Superseded {
		ids[i] = fmt.Sprintf("%d (`%s`)", t.ID, t.Fingerprint)
	}
	return fmt.Sprintf("• %s → %s: %s behind synced token %d", pairName(p), Escape(p.Application.Name), strings.Join(ids, ", "), p.Token.ID)
}

func pairName(p flows.EstatePair) string {
	return fmt.Sprintf("*%s* (%s)", Escape(p.User.Name), Escape(p.User.Email))
}

// openRuns lists runs under way, linked to their threads.
func (r Renderer) openRuns(runs []daily.RunRef, most int) string {
	lines := []string{fmt.Sprintf("*Runs under way* (%d)", len(runs))}
	for i, run := range runs {
		if i == most {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(runs)-most))
			break
		}
		label := fmt.Sprintf("%s → %s", run.Key.APIUser, run.Key.Application)
		link := LinkTo(r.Link(run.Channel, cmp.Or(run.StatusTS, run.ThreadTS), run.ThreadTS), label)
		if link == "" {
			link = Escape(label)
		}
		lines = append(lines, fmt.Sprintf("• %s: %s", link, Escape(run.Step)))
	}
	return fitLines(lines)
}

// fitLines joins lines within a section's 3,000 characters, counting
// what it had to leave out.
func fitLines(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		more := fmt.Sprintf("\n…and %d more lines.", len(lines)-i)
		if b.Len()+len(l)+1+len(more) > maxSectionText {
			b.WriteString(more)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// count writes n with the singular or plural noun.
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
