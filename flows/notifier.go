package flows

import (
	"context"

	"github.com/alphagov/signon-token-bot/flows/token"
)

// Notifier puts a run's thread in Slack in line with the run: the status
// message (ID StatusPostID) and every Post. It posts what has no receipt,
// edits what would render differently, and returns the receipts for the
// engine to store. It may coalesce edits; it must not lose posts.
type Notifier interface {
	Sync(ctx context.Context, run *Run) (map[string]Receipt, error)
}

// Revealer shows a token privately to one user: the only way a plaintext
// leaves the bot. handle is the Slack layer's own context for the reply
// (the click it answers).
type Revealer interface {
	Reveal(ctx context.Context, handle any, run *Run, secret token.Secret) error
}

// Directory answers questions about people that only the chat system can.
type Directory interface {
	// Email is the user's email address, "" if hidden.
	Email(ctx context.Context, userID string) (string, error)
	// GroupMembers lists a user group's members.
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}
