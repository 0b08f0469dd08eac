package blocks

import (
	"fmt"

	"github.com/alphagov/signon-token-bot/flows"
)

// cleanupHead is the head of a superseded-token clean-up's status, whose
// runs revoke tokens rather than rotate them; ok is false for a batch of
// rotations.
func cleanupHead(b *flows.Batch, runs []*flows.Run) (head string, ok bool) {
	if len(runs) == 0 || runs[0].Mode != flows.ModeCleanup {
		return "", false
	}
	if b.Ended {
		return fmt.Sprintf("*%s Clean-up ended:* %d of %s cleaned up in %s", batchIcon(runs), countDone(runs), plural(len(runs), "pair"), Escape(b.Environment)), true
	}
	return fmt.Sprintf("*:broom: Cleaning up the superseded tokens of %s in %s*", plural(len(runs), "pair"), Escape(b.Environment)), true
}
