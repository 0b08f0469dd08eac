package flows

import (
	"fmt"
	"strings"
	"time"
)

// choices says, one line each and before anyone clicks, what each way on
// from a stopped run will do: the buttons' own confirmations come too
// late to choose by.
func choices(run *Run, s Step, actions []Action) []string {
	var lines []string
	for _, a := range actions {
		var line string
		switch a {
		case ActionRetry:
			line = retryLine(run, s)
		case ActionRestart:
			line = restartLine(run)
		case ActionRollback:
			line = rollbackLine(run)
		case ActionCancel:
			line = cancelLine(run)
		default:
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

func retryLine(run *Run, s Step) string {
	switch s {
	case StepSync:
		return "*Retry* runs the sync Job again."
	case StepVerify:
		return "*Retry* checks every consumer again; it changes nothing."
	case StepRollback:
		return "*Retry* checks again that every consumer is back on the old token; the new token stays revoked."
	}
	return fmt.Sprintf("*Retry* tries the %s step again.", s)
}

func restartLine(run *Run) string {
	var stale []string
	for _, ro := range run.Rollouts {
		if !ro.Started {
			stale = append(stale, "deploy/"+ro.Deployment)
		}
	}
	return fmt.Sprintf("*Restart deployment* restarts %s, as `kubectl rollout restart` does, then checks again.", strings.Join(stale, ", "))
}

// rollbackLine is what Roll back will do. It is a function of its own so
// that what a rollback would break can be added to it alone.
func rollbackLine(run *Run) string {
	line := fmt.Sprintf("*Roll back* revokes the new token #%d", run.NewToken.ID)
	if run.SyncJob != nil {
		line += " and runs the sync again, so that the Secret and its consumers go back to the old token"
	}
	line += "; the old token stays valid."
	switch len(run.Holders) {
	case 0:
	case 1:
		line += fmt.Sprintf(" %s already holds the new token: from the revoke until the re-sync and its rollout finish, it holds a revoked token and its calls fail.", holdersText(run))
	default:
		line += fmt.Sprintf(" %s already hold the new token: from the revoke until the re-sync and their rollout finish, they hold a revoked token and their calls fail.", holdersText(run))
	}
	return line
}

func cancelLine(run *Run) string {
	if !run.revokedNewAt().IsZero() {
		return fmt.Sprintf("*Cancel run* stops here and changes nothing more: the new token #%d stays revoked, and the thread says where each consumer stands.", run.NewToken.ID)
	}
	if run.NewToken != nil && !run.NewTokenExisting {
		return fmt.Sprintf("*Cancel run* stops here and changes nothing more: both the new token #%d and the old one stay valid, and the thread says where each consumer stands.", run.NewToken.ID)
	}
	return "*Cancel run* stops here and changes nothing more; the thread says where the tokens and consumers stand."
}

// deadline says when the oldest token the run would revoke expires: by
// then the rotation must be done, or its consumers break.
func deadline(run *Run, now time.Time) string {
	var first Token
	for _, t := range run.OldTokens {
		if t.Expires() && (first.ExpiresAt.IsZero() || t.ExpiresAt.Before(first.ExpiresAt)) {
			first = t
		}
	}
	if first.ExpiresAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Deadline: the old token #%d expires %s (in %s); the rotation must be done by then.", first.ID, When(first.ExpiresAt), Span(first.ExpiresAt.Sub(now)))
}
