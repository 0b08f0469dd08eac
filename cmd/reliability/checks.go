package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// verdict is what a finished rotation left behind, against what it
// should: done, exactly one new token, the old one revoked once after the
// new one was in every pod, one sync Job, and every post the run records
// in its thread.
type verdict struct {
	done bool
	// newTokens is how many tokens the rotation made.
	newTokens int
	// early are revokes of the old token before the new one was in
	// every consumer's pod.
	early []string
	// extraJobs and extraRevokes are side effects done more than once.
	extraJobs, extraRevokes int
	// lost are posts the run records that its thread lacks; orphans are
	// the bot's messages in the thread that no record accounts for (a
	// post made again because a crash lost its receipt).
	lost, orphans []string
	problems      []string
}

func (v verdict) ok() bool { return len(v.problems) == 0 }

func (v *verdict) bad(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// check judges a rotation from the doubles, the fake Slack and the run's
// record.
func (h *harness) check(ctx context.Context, s *tokenSpec, run *flows.Run) verdict {
	var v verdict
	if run == nil {
		v.bad("no run was started")
		return v
	}
	v.done = run.Phase == flows.PhaseDone
	if !v.done {
		v.bad("run %s ended %s at %s: %s", run.ID, run.Phase, run.Step, run.Reason)
	}
	ts, err := h.signon.Tokens(ctx, s.email, appName)
	if err != nil {
		v.bad("Signon: %v", err)
		return v
	}
	v.newTokens = len(ts.Tokens) - 1
	if v.newTokens != 1 {
		v.bad("%d new tokens, want exactly 1", v.newTokens)
	}
	for _, t := range ts.Tokens {
		switch {
		case t.ID == s.old.ID && v.done && !t.Revoked():
			v.bad("the old token #%d is not revoked", t.ID)
		case t.ID != s.old.ID && t.Revoked():
			v.bad("the new token #%d is revoked", t.ID)
		case t.ID != s.old.ID && run.NewToken != nil && t.ID != run.NewToken.ID:
			v.bad("token #%d is not the run's new token #%d", t.ID, run.NewToken.ID)
		}
	}
	v.early = h.effects.earlyRevokes(s.email)
	for _, e := range v.early {
		v.bad("%s", e)
	}
	if n := h.effects.revokes(s.old.ID); n > 1 {
		v.extraRevokes = n - 1
		v.bad("the old token was revoked %d times", n)
	}
	wantJobs := 1
	if s.external() {
		wantJobs = 0
	}
	if n := h.effects.jobsOf(run.ID); n > wantJobs {
		v.extraJobs = n - wantJobs
		v.bad("%d sync Jobs, want %d", n, wantJobs)
	}
	h.checkThread(ctx, run, &v)
	if len(v.lost) > 0 {
		v.bad("%d post(s) missing from the thread: %s", len(v.lost), strings.Join(v.lost, "; "))
	}
	return v
}

// checkThread compares the run's posts with its thread in the fake.
func (h *harness) checkThread(ctx context.Context, run *flows.Run, v *verdict) {
	accounted := map[string]bool{run.Thread.TS: true}
	rc, ok := run.Receipts[flows.StatusPostID]
	switch {
	case ok && rc.TS == "" && run.Batch != "":
		// A batch member shows in the batch's status message.
	case !ok:
		v.lost = append(v.lost, "the status message")
	default:
		if _, ok := h.slack.Message(run.Thread.Channel, rc.TS, ""); !ok {
			v.lost = append(v.lost, "the status message "+rc.TS)
		} else {
			accounted[rc.TS] = true
		}
	}
	for _, p := range run.Posts {
		rc, ok := run.Receipts[p.ID]
		if !ok {
			v.lost = append(v.lost, fmt.Sprintf("%q (no receipt)", p.Title))
			continue
		}
		if rc.TS == "" && run.Batch != "" {
			continue // said in the batch's status message
		}
		m, ok := h.slack.Message(run.Thread.Channel, rc.TS, "")
		if !ok || (m.ThreadTS != run.Thread.TS && m.TS != run.Thread.TS) {
			v.lost = append(v.lost, fmt.Sprintf("%q (no message %s in the thread)", p.Title, rc.TS))
			continue
		}
		if !strings.Contains(messageText(m), "*"+blocks.Text(p.Title)+"*") {
			v.lost = append(v.lost, fmt.Sprintf("%q (message %s says something else)", p.Title, rc.TS))
			continue
		}
		accounted[rc.TS] = true
	}
	if run.Origin.OfferID != "" {
		if o, err := h.store.Offer(ctx, run.Origin.OfferID); err == nil {
			for _, ts := range o.Messages {
				accounted[ts] = true
			}
		}
	}
	if run.Batch != "" {
		return // a batch's thread is checked once for all its runs
	}
	v.orphans = h.orphans(run.Thread, accounted)
}

// orphans are the bot's messages in a thread that no record accounts for.
func (h *harness) orphans(th flows.Thread, accounted map[string]bool) []string {
	thread := h.slack.Thread(th.Channel, th.TS, "")
	var said, out []string
	for _, m := range thread {
		if accounted[m.TS] {
			said = append(said, messageText(m))
		}
	}
	for _, m := range thread {
		if m.BotID != h.slack.BotID || accounted[m.TS] {
			continue
		}
		what := "not in the record"
		if repeats(m, said) {
			what = "a repeat of messages the record has"
		}
		out = append(out, fmt.Sprintf("%s: %q", what, firstLine(m.Text)))
	}
	return out
}

// repeats: every title in a message's notification text (posts sent
// together are joined by " · ") is said in one of the other messages.
func repeats(m slacktest.Message, said []string) bool {
	for _, title := range strings.Split(m.Text, " · ") {
		if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, title) }) {
			return false
		}
	}
	return true
}

// messageText is everything a message says: its text and every text in
// its blocks.
func messageText(m slacktest.Message) string {
	parts := []string{m.Text}
	var blocksJSON any
	if json.Unmarshal(m.BlocksJSON, &blocksJSON) == nil {
		collectText(blocksJSON, &parts)
	}
	return strings.Join(parts, "\n")
}

func collectText(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "text" {
				*out = append(*out, s)
				continue
			}
			collectText(e, out)
		}
	case []any:
		for _, e := range x {
			collectText(e, out)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return truncate(s, 80)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
