package flows

import "fmt"

// handoffKnowledge is what the revoke question of a hand-off says about
// the consumer outside the cluster: the bot cannot look inside it, so the
// person who confirms must know what the click rests on.
func handoffKnowledge(run *Run) []string {
	lines := []string{"The consumer is outside the cluster: the bot cannot see which token it uses, so it cannot tell whether it has switched to the new one."}
	for i := len(run.Approvals) - 1; i >= 0; i-- {
		if a := run.Approvals[i]; a.Action == ActionDelivered {
			lines = append(lines, fmt.Sprintf("What it knows: %s confirmed delivery at %s.", Mention(a.User), When(a.At)))
			break
		}
	}
	lines = append(lines, fmt.Sprintf("Signon's last check by %s (%s) is per API user and application, not per token: it does not show which token was used. Ask the consumer's owner to confirm they use the new token before revoking.",
		defuse(run.ApplicationName), When(run.LastSyncedAt)))
	return lines
}
