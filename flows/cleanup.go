package flows

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A clean-up (ModeCleanup) revokes superseded tokens: the unrevoked
// tokens of a pair older than its synced one (the latest expiry, which
// the sync job writes). It reuses a rotation's verify and revoke steps:
// the synced token stands in for the new one, so nothing is revoked
// until every consumer is proven to hold it, and the revoke asks Signon
// again that each token is still superseded.

// superseded refuses a clean-up of a pair that has nothing to clean, or
// whose consumers cannot hold the synced token.
func superseded(ts TokenSet) error {
	if !ts.Synced {
		return fmt.Errorf("%w: the sync job skips %s → %s (a suspended user or a retired application), so no consumer can be proven to hold its synced token", ErrBadInput, defuse(ts.User.Name), defuse(ts.Application.Name))
	}
	live := unrevoked(ts.Tokens)
	if len(live) < 2 || len(olderThan(live[1:], live[0])) == 0 {
		return fmt.Errorf("%w: %s → %s has no superseded token: no unrevoked token is older than the synced one", ErrBadInput, defuse(ts.User.Name), defuse(ts.Application.Name))
	}
	return nil
}

// inspectCleanup takes the synced token as the one to keep and the older
// unrevoked ones as those to revoke, then goes straight to verify.
func (e *Engine) inspectCleanup(ctx context.Context, run *Run, live []Token, lines []string, now time.Time) error {
	if len(live) == 0 {
		return fmt.Errorf("%w: %s has no unrevoked token", ErrBadInput, run.Label())
	}
	synced := live[0]
	run.NewToken, run.NewTokenExisting = &synced, true
	run.OldTokens = olderThan(live[1:], synced)
	lines = append(lines, fmt.Sprintf("Token #%d is the synced token (the latest expiry, which the sync job writes): it is kept. %s older superseded.", synced.ID, Count(len(run.OldTokens), "token is")))
	run.mark(StepInspect, StepOK, Count(len(run.Consumers), "consumer"), now)
	run.post(Post{Step: StepInspect, At: now, Title: "Inspected " + run.Label(), Lines: lines})
	run.moveTo(StepVerify, now)
	return e.save(ctx, run)
}

// unprovable says why a clean-up's verify cannot pass, however often it
// is retried: with no consumer in the cluster it would find nothing to
// check and pass, yet a consumer outside cannot be proven to hold the
// synced token.
func unprovable(run *Run) (string, bool) {
	if run.Mode != ModeCleanup || !external(run) {
		return "", false
	}
	return fmt.Sprintf("No workload in the cluster reads Secret %s, so the bot cannot prove its consumer holds the synced token. The superseded tokens are not revoked.", run.SecretName), true
}

// recheckSuperseded asks Signon, as the revoke starts, whether each token
// still to revoke is still superseded: unrevoked, not the latest, and
// older than the synced token the consumers were verified on, which must
// still be unrevoked. If not, the run ends and revokes nothing more;
// gone reports that.
func (e *Engine) recheckSuperseded(ctx context.Context, run *Run) (gone bool, err error) {
	ts, err := e.envs[run.Key.Environment].Signon.Tokens(ctx, run.Key.APIUser, run.Key.Application)
	if err != nil {
		return false, fmt.Errorf("ask Signon whether the tokens of %s are still superseded: %w", run.Key, err)
	}
	byID := map[int64]Token{}
	for _, t := range ts.Tokens {
		byID[t.ID] = t
	}
	live := unrevoked(ts.Tokens)
	var why []string
	if kept, ok := byID[run.NewToken.ID]; !ok || kept.Revoked() {
		why = append(why, fmt.Sprintf("the synced token #%d, which every consumer was verified to hold, is no longer unrevoked in Signon", run.NewToken.ID))
	}
	for _, t := range run.OldTokens {
		if in, ok := run.Intent(EffectRevoke, strconv.FormatInt(t.ID, 10)); ok && in.Done {
			continue
		}
		if cur, ok := byID[t.ID]; !ok || cur.Revoked() {
			// Revoked or deleted already: the revoke counts it as done.
			continue
		}
		if len(live) > 0 && live[0].ID == t.ID {
			why = append(why, fmt.Sprintf("token #%d is now the latest unrevoked token, the one the sync job writes", t.ID))
		}
	}
	if len(why) == 0 {
		return false, nil
	}
	now := e.clock.Now()
	reason := "no longer superseded: " + strings.Join(why, "; ")
	run.mark(run.Step, StepFailed, "no longer superseded", now)
	lines := append([]string{"Signon changed since the consumers were verified: " + strings.Join(why, "; ") + ". Nothing more was revoked."}, tokenState(run)...)
	run.post(Post{Step: run.Step, At: now, Title: "Not revoked: " + run.Label(), Lines: lines, Outcome: "error"})
	e.audit(ctx, run, "bot", "revoke", "refused", reason)
	return true, e.end(ctx, run, PhaseFailed, reason)
}

// heldBack lists, under a clean-up's revoke question, the pairs of the
// batch that failed verification: they are not revoked.
func (b *Batch) heldBack(runs []*Run) {
	var lines []string
	for _, r := range runs {
		if r.Mode != ModeCleanup || r.ID == "" || (!r.Detached && !r.Ended()) || r.Phase == PhaseDone {
			continue
		}
		reason := r.Reason
		if reason == "" {
			reason = string(r.Phase)
		}
		lines = append(lines, fmt.Sprintf("• %s: %s", r.Label(), Untrusted(reason)))
	}
	if len(lines) == 0 || len(b.Posts) == 0 {
		return
	}
	p := &b.Posts[len(b.Posts)-1]
	p.Lines = append(p.Lines, fmt.Sprintf("Not revoked, listed apart (%s):", Count(len(lines), "pair")))
	p.Lines = append(p.Lines, lines...)
}

// cleanupRevokeTitle asks once for every superseded token of the runs.
func cleanupRevokeTitle(runs []*Run) string {
	n := 0
	for _, r := range runs {
		n += len(r.OldTokens)
	}
	return fmt.Sprintf("Revoke %s?", Count(n, "superseded token"))
}
