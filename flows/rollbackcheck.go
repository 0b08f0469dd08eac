package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A rollback revokes the new token before the re-sync can put the old one
// back (Signon's sync writes the unrevoked token that expires last), so
// every consumer already on the new token breaks until its rollout
// finishes. This file keeps what verify saw, so that the Roll back button
// can name them before the click, and proves afterwards that each is back
// on the old token, saying for how long it held a revoked one.

// noteChecks records in-pod checks of a Deployment, and whether it holds
// the new token.
func (r *Run) noteChecks(dep string, checks []PodCheck) {
	for _, pc := range checks {
		pc.Deployment = dep
		r.Checks = append(r.Checks, pc)
		if r.NewToken != nil && pc.Fingerprint == r.NewToken.Fingerprint && !slices.Contains(r.Holders, dep) {
			r.Holders = append(r.Holders, dep)
		}
	}
}

// maxHolders is how many of them the Roll back line names, so that it
// fits the stopped post's one section however many there are.
const maxHolders = 5

// holdersText names the consumers verify saw on the new token.
func holdersText(run *Run) string {
	var names []string
	for i, d := range run.Holders {
		if i == maxHolders {
			return strings.Join(names, ", ") + " and " + Count(len(run.Holders)-i, "other Deployment")
		}
		names = append(names, "deploy/"+d)
	}
	return strings.Join(names, ", ")
}

// revokedNewAt is when this run revoked its new token, zero if it did not.
func (r *Run) revokedNewAt() time.Time {
	if r.NewToken == nil {
		return time.Time{}
	}
	if in, ok := r.Intent(EffectRevokeNew, strconv.FormatInt(r.NewToken.ID, 10)); ok && in.Done {
		return in.DoneAt
	}
	return time.Time{}
}

// checkRolledBack proves, with in-pod fingerprints as verify does, that
// every Deployment reading the Secret holds the old token again. A
// Deployment verify saw on the new token must first roll out since the
// Secret went back; the others are looked at as they are. It returns the
// thread's lines (how long each held a revoked token; the closing read of
// where things stand names every pod), and why a consumer is not back
// ("" when all are).
func (e *Engine) checkRolledBack(ctx context.Context, run *Run) (lines []string, notBack string, err error) {
	old := unrevoked(run.OldTokens)
	if len(old) == 0 || external(run) {
		return nil, "", nil
	}
	want := old[0].Fingerprint
	env := e.policy.Environments[run.Key.Environment]
	cl := e.envs[run.Key.Environment].Cluster
	vctx, cancel := context.WithTimeout(ctx, env.VerifyTimeout)
	defer cancel()
	revokedAt := run.revokedNewAt()
	since := run.Secret.UpdatedAt
	if since.IsZero() {
		since = revokedAt
	}
	var longest time.Duration
	for _, c := range run.Consumers {
		if c.Kind != "Deployment" || idleBefore(run, c.Name) {
			continue
		}
		held := slices.Contains(run.Holders, c.Name)
		var hint string
		if held {
			ro, err := cl.WaitRollout(vctx, c.Name, since, env.RolloutStartTimeout)
			switch {
			case errors.Is(err, ErrRolloutNotStarted):
				hint = " It has not rolled out since the Secret went back to the old token (is Reloader running?)."
			case err != nil:
				return lines, fmt.Sprintf("deploy/%s did not roll back to the old token: %s.", c.Name, Plain(err)), nil
			case ro.Replicas == 0:
				lines = append(lines, fmt.Sprintf("deploy/%s has 0 replicas: nothing to check.", c.Name))
				continue
			}
		}
		checks, err := cl.CheckPods(vctx, c, want)
		if err != nil {
			return lines, fmt.Sprintf("Could not look inside the pods of deploy/%s: %s.", c.Name, Plain(err)), nil
		}
		seen := e.clock.Now()
		for _, pc := range checks {
			if !pc.Match {
				return lines, fmt.Sprintf("deploy/%s is not back on the old token: pod %s holds %s in %s.%s%s", c.Name, pc.Pod, which(run, pc.Fingerprint), pc.Variable, hint, heldFor(run, c.Name, revokedAt, seen)), nil
			}
		}
		if held && !revokedAt.IsZero() {
			d := seen.Sub(revokedAt)
			longest = max(longest, d)
			lines = append(lines, fmt.Sprintf("deploy/%s held the revoked new token for %s: from the revoke at %s until its pods were seen on the old token at %s.", c.Name, Elapsed(d), When(revokedAt), When(seen)))
		}
	}
	if len(run.Holders) == 0 {
		lines = append(lines, "No consumer was seen on the new token, so none held a revoked token.")
	} else if longest > 0 {
		lines = append(lines, fmt.Sprintf("Longest time a consumer held a revoked token: %s.", Elapsed(longest)))
	}
	return lines, "", nil
}

// heldFor says, for a consumer still not back, how long it has held the
// revoked token so far.
func heldFor(run *Run, dep string, revokedAt, now time.Time) string {
	if !slices.Contains(run.Holders, dep) || revokedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf(" It has held the revoked new token for %s so far.", Elapsed(now.Sub(revokedAt)))
}

// idleBefore: verify saw the Deployment scaled to zero.
func idleBefore(run *Run, dep string) bool {
	for _, ro := range run.Rollouts {
		if ro.Deployment == dep && ro.Complete && ro.Replicas == 0 {
			return true
		}
	}
	return false
}
