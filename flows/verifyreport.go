package flows

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// When verification stops, the on-call engineer needs what the cluster
// says, not a guess: which token each consumer holds, and why the ones
// on the wrong token are there. This file writes both into the stopped
// run's post, within one Block Kit section.

// Explainer is the part of a Cluster that says, from the objects' own
// status (Reloader's annotations, rollout progress, container states),
// why consumers may not hold what their Secret was written with at
// since. A stand-in without it leaves the causes to the flows' own.
type Explainer interface {
	Explain(ctx context.Context, secret string, since time.Time, consumers []Consumer) ([]string, error)
}

// A post is one section of at most 3,000 characters, and the stopped
// post says more than the report (reason, deadline, one line per
// button): past these the report summarises.
const (
	maxTableChars = 900
	maxCauseChars = 550
)

// verifyReport is what a stopped verify says after its reason: a table of
// which token each consumer holds (new, old or neither, by short
// fingerprint), then the likely causes. Consumers verify did not reach
// are looked at now; what cannot be read says so.
func (e *Engine) verifyReport(ctx context.Context, run *Run) []string {
	if run.Mode != ModeRotate || run.NewToken == nil || run.SecretName == "" || external(run) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, standingTimeout)
	defer cancel()
	cl := e.envs[run.Key.Environment].Cluster
	unread := map[Consumer]string{} // why a consumer has no check
	var down error                  // the cluster stopped answering
	for _, c := range run.Consumers {
		if c.Kind != "Deployment" || idleBefore(run, c.Name) || checkOf(run, c) != nil {
			continue
		}
		if down != nil {
			unread[c] = Plain(down)
			continue
		}
		checks, err := cl.CheckPods(ctx, c, run.NewToken.Fingerprint)
		if err != nil {
			unread[c] = unreadWhy(err)
			if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) {
				down = err
			}
			continue
		}
		run.noteChecks(c.Name, checks)
	}
	lines := holdingTable(run, unread)
	causes := secretCause(run)
	if ex, ok := cl.(Explainer); ok && down == nil {
		more, err := ex.Explain(ctx, run.SecretName, rolloutSince(run), run.Consumers)
		causes = append(causes, untrustedLines(more)...)
		if err != nil {
			causes = append(causes, "Could not read the rest of the cluster to find a cause: "+Plain(err))
		}
	}
	causes = append(causes, unexplained(run, causes)...)
	if len(causes) > 0 {
		lines = append(lines, "Likely cause:")
		for i, c := range causes {
			causes[i] = "• " + c
		}
		lines = append(lines, bounded(causes, maxCauseChars, func(n int) string { return "• …and " + Count(n, "more cause") + "." })...)
	}
	return lines
}

// checkOf is this attempt's in-pod check of the consumer, if any.
func checkOf(run *Run, c Consumer) *PodCheck {
	for i, pc := range run.Checks {
		if pc.Deployment == c.Name && pc.Container == c.Container && pc.Variable == c.Variable {
			return &run.Checks[i]
		}
	}
	return nil
}

func unreadWhy(err error) string {
	if errors.Is(err, ErrNotFound) {
		return "no ready pod to look inside"
	}
	return strings.TrimSuffix(Plain(err), ".")
}

// holdingTable is one row per consumer, the Secret first: "new", "old" or
// "neither", with the short fingerprint, never more of the token.
func holdingTable(run *Run, unread map[Consumer]string) []string {
	head := fmt.Sprintf("Which token each consumer holds (new %s", Code(run.NewToken.Fingerprint.Short()))
	for _, t := range unrevoked(run.OldTokens) {
		head += fmt.Sprintf(", old #%d %s", t.ID, Code(t.Fingerprint.Short()))
	}
	rows := []string{fmt.Sprintf("• Secret %s: %s", Code(run.SecretName), holding(run, run.Secret.Fingerprint))}
	var tally [4]int // new, old, neither, not checked
	for _, c := range run.Consumers {
		row, kind := consumerRow(run, c, unread)
		tally[kind]++
		rows = append(rows, row)
	}
	return append([]string{head + "):"}, bounded(rows, maxTableChars, func(n int) string {
		return fmt.Sprintf("• …and %s; in all %d on the new token, %d on the old, %d on neither, %d not checked.", Count(n, "more consumer"), tally[0], tally[1], tally[2], tally[3])
	})...)
}

// consumerRow says what one consumer holds, and which of new, old,
// neither or not checked (0 to 3) that is.
func consumerRow(run *Run, c Consumer, unread map[Consumer]string) (string, int) {
	name := fmt.Sprintf("%s (%s, %s)", workload(c), c.Container, Code(c.Variable))
	switch {
	case c.Kind != "Deployment":
		return fmt.Sprintf("• %s: no pod between runs; its next Job reads the Secret", name), 3
	case idleBefore(run, c.Name):
		return fmt.Sprintf("• %s: 0 replicas, so no pod holds a token", name), 3
	}
	pc := checkOf(run, c)
	if pc == nil {
		why, ok := unread[c]
		if !ok {
			why = "not looked at"
		}
		return fmt.Sprintf("• %s: not checked, %s", name, why), 3
	}
	kind := 2
	switch {
	case pc.Fingerprint == run.NewToken.Fingerprint:
		kind = 0
	case pc.Fingerprint != "" && isOld(run, pc.Fingerprint):
		kind = 1
	}
	return fmt.Sprintf("• %s, pod %s: %s", name, pc.Pod, holding(run, pc.Fingerprint)), kind
}

func workload(c Consumer) string {
	if c.Kind == "Deployment" {
		return "deploy/" + c.Name
	}
	return "cronjob/" + c.Name
}

// holding names a fingerprint as new, old or neither.
func holding(run *Run, fp token.Fingerprint) string {
	switch {
	case fp == "":
		return "*no token* (unset)"
	case fp == run.NewToken.Fingerprint:
		return "*new* " + Code(fp.Short())
	case isOld(run, fp):
		return "*old* " + Code(fp.Short())
	}
	return "*neither* " + Code(fp.Short())
}

func isOld(run *Run, fp token.Fingerprint) bool {
	for _, t := range run.Tokens {
		if t.Fingerprint == fp && (run.NewToken == nil || t.ID != run.NewToken.ID) {
			return true
		}
	}
	for _, t := range run.OldTokens {
		if t.Fingerprint == fp {
			return true
		}
	}
	return false
}

// secretCause compares the Secret's fingerprint with the tokens': a
// Secret not on the new token explains every consumer at once.
func secretCause(run *Run) []string {
	st, want := run.Secret, run.NewToken.Fingerprint
	job := "the sync Job"
	if run.Sync != nil && run.Sync.Job != "" {
		job = "the sync Job " + Code(run.Sync.Job)
	}
	switch {
	case st.Fingerprint == want:
		return nil
	case !st.Exists:
		return []string{fmt.Sprintf("Secret %s does not exist: %s did not create it.", Code(run.SecretName), job)}
	case st.Fingerprint == "":
		return []string{fmt.Sprintf("Secret %s has no %s key: %s did not write it.", Code(run.SecretName), Code("bearer_token"), job)}
	case isOld(run, st.Fingerprint):
		return []string{fmt.Sprintf("The Secret still holds the old token: %s did not write the new one (Signon's sync writes the unrevoked token that expires last).", job)}
	}
	return []string{"The Secret holds neither the new nor an old token: something other than the sync wrote it."}
}

// unexplained adds a line for each Deployment whose pod holds the wrong
// token although it rolled since the Secret changed, and nothing else
// says why: the application caches the token, or reads it elsewhere.
func unexplained(run *Run, causes []string) []string {
	var lines []string
	for _, ro := range run.Rollouts {
		if !ro.Started || !ro.Complete || ro.Replicas == 0 || mentions(causes, ro.Deployment) {
			continue
		}
		for _, c := range run.Consumers {
			if pc := checkOf(run, c); c.Kind == "Deployment" && c.Name == ro.Deployment && pc != nil && pc.Fingerprint != run.NewToken.Fingerprint {
				lines = append(lines, fmt.Sprintf("deploy/%s rolled out after the Secret changed, yet pod %s holds %s: the application may cache the token, or take %s from somewhere else.", ro.Deployment, pc.Pod, which(run, pc.Fingerprint), Code(c.Variable)))
				break
			}
		}
	}
	return lines
}

// mentions: a line names deploy/name, and not a longer name it begins.
func mentions(lines []string, name string) bool {
	re := regexp.MustCompile(`deploy/` + regexp.QuoteMeta(name) + `([^-a-z0-9.]|\.(\s|$)|$)`)
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// bounded keeps lines while they fit in limit characters, then says how
// many it left out.
func bounded(lines []string, limit int, more func(n int) string) []string {
	used := 0
	for i, l := range lines {
		used += len(l) + 1
		if used > limit {
			return append(lines[:i:i], more(len(lines)-i))
		}
	}
	return lines
}

// rolloutSince is when the Secret took the token verify looks for: the
// write the server recorded, or the sync Job's start if that is earlier,
// since the Secret's time is its last write of any key.
func rolloutSince(run *Run) time.Time {
	since := run.Secret.UpdatedAt
	if run.Sync != nil && !run.Sync.CompletedAt.IsZero() && (since.IsZero() || run.Sync.StartedAt.Before(since)) {
		since = run.Sync.StartedAt
	}
	return since
}
