package blocks

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

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

// cleanupRevokeButton is a clean-up's revoke button, labelled as its
// question ("Revoke N superseded tokens"); ok is false for a rotation's.
func cleanupRevokeButton(p flows.Post, actionID, value string) (*slack.ButtonBlockElement, bool) {
	label, ok := strings.CutSuffix(p.Title, "?")
	if !ok || !strings.HasSuffix(label, " superseded token") && !strings.HasSuffix(label, " superseded tokens") {
		return nil, false
	}
	return button(actionID, value, label, slack.StyleDanger,
		confirmation("Revoke the superseded tokens?", "Signon will reject them at once. Every consumer of each pair has been verified on its synced token, which is kept.", "Revoke")), true
}
