package flows

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// standingTimeout bounds the reads behind a summary: a cancel or a
// rollback must end even when Signon or the cluster does not answer.
const standingTimeout = 20 * time.Second

// standing says where the run's tokens and consumers stand when it ends
// early, as Signon and the cluster say at that moment, not as the run's
// record assumes: a cancel can come while a token is being issued, and a
// pod can hold a token the run never saw. A read that fails says so, and
// the run's own record stands in for it.
func (e *Engine) standing(ctx context.Context, run *Run) []string {
	ctx, cancel := context.WithTimeout(ctx, standingTimeout)
	defer cancel()
	env := e.envs[run.Key.Environment]
	var lines []string
	ts, err := env.Signon.Tokens(ctx, run.Key.APIUser, run.ApplicationName)
	if err != nil {
		lines = append(lines, fmt.Sprintf("Could not ask Signon where the tokens stand (%s); by this run's record:", Plain(err)))
		lines = append(lines, tokenState(run)...)
	} else {
		lines = append(lines, tokenLines(run, ts.Tokens)...)
	}
	if run.SecretName == "" {
		return lines
	}
	st, err := env.Cluster.Secret(ctx, run.SecretName)
	if err != nil {
		return append(lines, fmt.Sprintf("Could not read Secret %s: %s", Code(run.SecretName), Plain(err)))
	}
	lines = append(lines, fmt.Sprintf("Secret %s holds %s.", Code(run.SecretName), which(run, st.Fingerprint)))
	for _, c := range run.Consumers {
		if c.Kind != "Deployment" {
			lines = append(lines, fmt.Sprintf("cronjob/%s reads the Secret when it next runs.", c.Name))
			continue
		}
		checks, err := env.Cluster.CheckPods(ctx, c, st.Fingerprint)
		if err != nil {
			lines = append(lines, fmt.Sprintf("deploy/%s: could not look inside its pods: %s", c.Name, Plain(err)))
			continue
		}
		for _, pc := range checks {
			lines = append(lines, fmt.Sprintf("Pod %s (deploy/%s): %s holds %s.", pc.Pod, c.Name, Code(pc.Variable), which(run, pc.Fingerprint)))
		}
	}
	return lines
}

// tokenLines says, for each token the run knows, what Signon says of it.
func tokenLines(run *Run, inSignon []Token) []string {
	find := func(id int64) (Token, bool) {
		for _, t := range inSignon {
			if t.ID == id {
				return t, true
			}
		}
		return Token{}, false
	}
	say := func(what string, t Token) string {
		now, ok := find(t.ID)
		switch {
		case !ok:
			return fmt.Sprintf("%s #%d is no longer in Signon.", what, t.ID)
		case now.Revoked():
			return fmt.Sprintf("%s #%d is revoked in Signon (since %s).", what, t.ID, When(now.RevokedAt))
		default:
			return fmt.Sprintf("%s #%d is valid in Signon until %s.", what, t.ID, When(now.ExpiresAt))
		}
	}
	var lines []string
	if run.NewToken != nil {
		lines = append(lines, say("The new token", *run.NewToken))
	} else if in, ok := run.Intent(EffectIssue, ""); ok && !in.Done {
		// The issue may have reached Signon without its answer reaching
		// the run: any token made since the intent is this run's.
		for _, t := range inSignon {
			if !t.Revoked() && !t.CreatedAt.Before(in.At.Add(-time.Minute)) {
				lines = append(lines, fmt.Sprintf("Token #%d was made at %s, as this run was issuing one; it is valid in Signon.", t.ID, When(t.CreatedAt)))
			}
		}
	}
	for _, t := range run.OldTokens {
		lines = append(lines, say("The old token", t))
	}
	return lines
}

// which names the token a fingerprint belongs to, as far as the run knows.
func which(run *Run, fp token.Fingerprint) string {
	switch {
	case fp == "":
		return "no token"
	case run.NewToken != nil && fp == run.NewToken.Fingerprint:
		return fmt.Sprintf("the new token (fingerprint %s)", Code(fp.Short()))
	}
	for _, t := range run.Tokens {
		if t.Fingerprint == fp {
			return fmt.Sprintf("the old token #%d (fingerprint %s)", t.ID, Code(fp.Short()))
		}
	}
	return fmt.Sprintf("neither the new nor an old token (fingerprint %s)", Code(fp.Short()))
}
