package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// MismatchError lists how a play differed from the scenario's design.
type MismatchError struct {
	Scenario string
	Problems []string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("scenario %s did not play out as designed:\n- %s", e.Scenario, strings.Join(e.Problems, "\n- "))
}

// Check compares the world after a play with the scenario's design: each
// token's run (its mode and final phase), the tokens in the Signon double,
// what the consumers' pods hold, the sync Jobs created, and for a
// hand-off, the requester's private modal. It returns a line per token
// saying what became of it, and a *MismatchError if anything differed.
func (w *World) Check(runs []*flows.Run, fake *slacktest.Server) ([]string, error) {
	var problems, lines []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	seen := map[string]bool{}
	for _, e := range w.expects {
		label := e.user + " → " + e.app
		if e.explained != "" {
			lines = append(lines, w.checkExplained(e, label, runs, fake, bad))
			continue
		}
		i := slices.IndexFunc(runs, func(r *flows.Run) bool { return r.Key.APIUser == e.email })
		if i < 0 {
			bad("%s: no run was started", label)
			continue
		}
		r := runs[i]
		seen[r.ID] = true
		if r.Mode != e.mode || r.Phase != e.phase {
			now := fmt.Sprintf("is %s at %s", r.Phase, r.Step)
			if r.Ended() {
				now = "ended " + string(r.Phase)
			}
			if r.Reason != "" {
				now += " (" + r.Reason + ")"
			}
			bad("%s: run %s is a %s run that %s, want a %s run that ends %s", label, r.ID, r.Mode, now, e.mode, e.phase)
		}
		got, err := w.Signon.Tokens(context.Background(), e.email, e.app)
		if err != nil {
			bad("%s: Signon: %v", label, err)
			continue
		}
		if n := len(got.Tokens); n != e.tokens+e.issued {
			bad("%s: Signon holds %d tokens, want %d (%d before, %d issued)", label, n, e.tokens+e.issued, e.tokens, e.issued)
		}
		byID := func(id int64) (flows.Token, bool) {
			j := slices.IndexFunc(got.Tokens, func(t flows.Token) bool { return t.ID == id })
			if j < 0 {
				return flows.Token{}, false
			}
			return got.Tokens[j], true
		}
		old, _ := byID(e.old.ID)
		var fresh flows.Token
		if r.NewToken != nil {
			fresh, _ = byID(r.NewToken.ID)
		}
		var held token.Fingerprint
		var line string
		switch e.keep {
		case "new":
			switch {
			case r.NewToken == nil || fresh.ID == 0:
				bad("%s: the run has no new token in Signon", label)
			case e.renewed.ID != 0 && fresh.ID != e.renewed.ID:
				bad("%s: the run's new token is #%d, want the auto-renewed #%d", label, fresh.ID, e.renewed.ID)
			case fresh.Revoked():
				bad("%s: the new token #%d is revoked", label, fresh.ID)
			}
			if !old.Revoked() {
				bad("%s: the old token #%d is not revoked", label, e.old.ID)
			}
			held = fresh.Fingerprint
			line = fmt.Sprintf("old token #%d revoked; new token #%d (fingerprint %s) live", e.old.ID, fresh.ID, fresh.Fingerprint.Short())
			if e.renewed.ID != 0 {
				line = fmt.Sprintf("old token #%d revoked; no token issued: Signon's auto-renewed #%d (fingerprint %s) is live", e.old.ID, fresh.ID, fresh.Fingerprint.Short())
			}
		case "old":
			if r.NewToken == nil || !fresh.Revoked() {
				bad("%s: the run's new token is not revoked", label)
			}
			if old.Revoked() {
				bad("%s: the old token #%d was revoked", label, e.old.ID)
			}
			held = old.Fingerprint
			line = fmt.Sprintf("new token #%d revoked; old token #%d (fingerprint %s) still live", fresh.ID, e.old.ID, old.Fingerprint.Short())
		default:
			if r.NewToken != nil {
				bad("%s: the run made a new token #%d", label, r.NewToken.ID)
			}
			if !old.Revoked() {
				bad("%s: the disused token #%d is not revoked", label, e.old.ID)
			}
			line = fmt.Sprintf("disused token #%d (fingerprint %s) revoked; none issued", e.old.ID, old.Fingerprint.Short())
		}
		var holders []string
		for _, c := range e.consumers {
			if fp := w.Cluster.PodFingerprint(c.deployment, c.variable); fp != held {
				bad("%s: deploy/%s holds fingerprint %s in %s, want %s", label, c.deployment, fp.Short(), c.variable, held.Short())
			}
			holders = append(holders, "deploy/"+c.deployment)
		}
		if len(holders) > 0 {
			line += ", in " + strings.Join(holders, " and ")
		}
		if e.reveal {
			if err := w.checkReveal(r, fresh, fake); err != nil {
				bad("%s: %v", label, err)
			} else if p, ok := PersonByID(r.StartedBy); ok {
				line += ", shown to " + p.Name + " alone"
			}
		}
		lines = append(lines, fmt.Sprintf("%s: %s (run %s, %s).", label, line, r.ID, r.Phase))
	}
	for _, r := range runs {
		if !seen[r.ID] {
			bad("an unexpected run %s for %s", r.ID, r.Key)
		}
	}
	w.checkDigests(fake, bad)
	if n := w.Cluster.JobsCreated(); n != w.jobs {
		bad("the bot created %d sync Jobs, want %d", n, w.jobs)
	}
	if len(problems) > 0 {
		return lines, &MismatchError{Scenario: w.Name, Problems: problems}
	}
	return lines, nil
}

// checkExplained: the bot started no run, Signon's tokens are as they
// were, and the offer in the thread carries the explanation.
func (w *World) checkExplained(e *expect, label string, runs []*flows.Run, fake *slacktest.Server, bad func(string, ...any)) string {
	for _, r := range runs {
		if r.Key.APIUser == e.email {
			bad("%s: run %s was started, want none", label, r.ID)
		}
	}
	got, err := w.Signon.Tokens(context.Background(), e.email, e.app)
	if err != nil {
		bad("%s: Signon: %v", label, err)
		return ""
	}
	if n := len(got.Tokens); n != e.tokens {
		bad("%s: Signon holds %d tokens, want the %d it had", label, n, e.tokens)
	}
	for _, t := range got.Tokens {
		if t.Revoked() {
			bad("%s: token #%d was revoked", label, t.ID)
		}
	}
	said := false
	for _, c := range fake.Calls("chat.postMessage", "chat.update") {
		if strings.Contains(c.Args["blocks"]+c.Args["text"], e.explained) {
			said = true
		}
	}
	if !said {
		bad("%s: the bot did not explain %q in the thread", label, e.explained)
	}
	why := "the bot explained that the 10-year token outlives any new one"
	if e.left != "" {
		why = e.left
	}
	return fmt.Sprintf("%s: nothing changed; %s (%s, none revoked).", label, why, flows.Count(len(got.Tokens), "token"))
}

// checkReveal: the run's requester, and only they, has a modal showing the
// new token.
func (w *World) checkReveal(r *flows.Run, fresh flows.Token, fake *slacktest.Server) error {
	secret, ok := w.secret(fresh.Fingerprint)
	if !ok {
		return fmt.Errorf("Signon did not make the new token #%d", fresh.ID)
	}
	shown := func(user string) bool {
		for _, v := range fake.OpenViews(user) {
			if v.CallbackID == blocks.RevealCallbackID && strings.Contains(string(v.Spec), secret.Reveal()) {
				return true
			}
		}
		return false
	}
	for _, p := range People() {
		if p.ID != r.StartedBy && shown(p.ID) {
			return fmt.Errorf("%s was shown the new token", p.Name)
		}
	}
	if !shown(r.StartedBy) {
		return fmt.Errorf("the requester %s has no modal showing the new token", r.StartedBy)
	}
	return nil
}

func (w *World) secret(fp token.Fingerprint) (token.Secret, bool) {
	for _, s := range w.Signon.IssuedSecrets() {
		if s.Fingerprint() == fp {
			return s, true
		}
	}
	return token.Secret{}, false
}

// Leaks returns the fingerprint of every token the Signon double made
// whose plaintext is in any of texts.
func (w *World) Leaks(texts ...string) []token.Fingerprint {
	var out []token.Fingerprint
	for _, s := range w.Signon.IssuedSecrets() {
		for _, t := range texts {
			if strings.Contains(t, s.Reveal()) {
				out = append(out, s.Fingerprint())
				break
			}
		}
	}
	return out
}

// Sent is everything the bot sent the fake Slack, for a leak scan: the
// arguments of every Web API call and every post to a click's
// response_url, but for the calls that fill in a private reveal modal,
// which Sent returns apart, having checked that each went to a modal
// that its run's requester opened.
func (d *Driver) Sent(ctx context.Context) (text string, reveals int, err error) {
	runs, err := d.Runs(ctx)
	if err != nil {
		return "", 0, err
	}
	requesters := map[string]bool{}
	for _, r := range runs {
		requesters[r.StartedBy] = true
	}
	var b strings.Builder
	for _, c := range d.Slack.Calls() {
		if c.Method == "views.update" && reveal(c) {
			if !d.openedBy(c.Args["view_id"], requesters) {
				return "", reveals, fmt.Errorf("a reveal modal update went to view %s, which no requester opened", c.Args["view_id"])
			}
			reveals++
			continue
		}
		for k, v := range c.Args {
			fmt.Fprintf(&b, "%s %s=%s\n", c.Method, k, v)
		}
	}
	for _, dl := range d.clicks {
		for _, r := range dl.Responses() {
			fmt.Fprintf(&b, "response_url %s %s\n", r.Text, r.Blocks)
		}
	}
	return b.String(), reveals, nil
}

// reveal: the call writes into the reveal modal.
func reveal(c slacktest.Call) bool {
	var v struct {
		CallbackID string `json:"callback_id"`
	}
	return json.Unmarshal([]byte(c.Args["view"]), &v) == nil && v.CallbackID == blocks.RevealCallbackID
}

func (d *Driver) openedBy(viewID string, users map[string]bool) bool {
	for u := range users {
		for _, v := range d.Slack.OpenViews(u) {
			if v.ID == viewID {
				return true
			}
		}
	}
	return false
}
