package commands

import (
	"context"
	"errors"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// RevealHandle is the Slack side of a reveal: the modal that the
// requester's click opened, which only they see.
type RevealHandle struct {
	ViewID string
	User   string
}

// viewUpdater is the one Web API call a reveal makes.
type viewUpdater interface {
	UpdateView(ctx context.Context, viewID, hash string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error)
}

// Revealer is flows.Revealer for Slack: it writes the token into the
// requester's modal. It is the only code that sends a token's plaintext
// anywhere, and it keeps no copy.
type Revealer struct {
	Slack viewUpdater
}

// Reveal shows secret in the modal handle names.
func (r *Revealer) Reveal(ctx context.Context, handle any, run *flows.Run, secret token.Secret) error {
	h, ok := handle.(RevealHandle)
	if !ok || h.ViewID == "" {
		return fmt.Errorf("reveal the token of run %s: no modal to show it in", run.ID)
	}
	if secret.Empty() || run.NewToken == nil {
		return errors.New("reveal: no token")
	}
	t := run.NewToken
	intro := fmt.Sprintf("*The new token for %s* (token #%d, expires %s, fingerprint `%s`).\n"+
		"Copy it now and send it to its consumer by a secure channel, not through Slack, then press *Delivered* in the thread. "+
		"The bot keeps no copy. While the hand-off is open you may reveal it again; each reveal is announced in the thread.",
		blocks.Text(run.Label()), t.ID, blocks.Date(t.ExpiresAt), t.Fingerprint.Short())
	view := slackapi.ModalViewRequest{
		Type:       slackapi.VTModal,
		CallbackID: blocks.RevealCallbackID,
		Title:      slackapi.NewTextBlockObject(slackapi.PlainTextType, "New token", false, false),
		Close:      slackapi.NewTextBlockObject(slackapi.PlainTextType, "Close", false, false),
		// The token is 43 characters of [A-Za-z0-9_-]: nothing in it is
		// mrkdwn inside a code block.
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, intro, false, false), nil, nil),
			slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, "```"+secret.Reveal()+"```", false, false), nil, nil),
		}},
	}
	if _, err := r.Slack.UpdateView(ctx, h.ViewID, "", view); err != nil {
		return fmt.Errorf("show the token of run %s in modal %s: %w", run.ID, h.ViewID, err)
	}
	return nil
}

var _ flows.Revealer = (*Revealer)(nil)
