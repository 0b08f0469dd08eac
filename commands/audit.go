package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/audit"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
)

// maxAuditText keeps an answer within Slack's 40,000 characters of text.
const maxAuditText = 38_000

// auditCommand is `/rotate-token audit <run>`: the run's trail, privately,
// to the starters and approvers, as `status` is.
func (b *Bot) auditCommand(ctx context.Context, c Command) error {
	id, err := runArg("audit", c.Args)
	if err == nil {
		err = b.maySee(ctx, c.UserID)
	}
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	entries, err := b.engine.AuditTrail(ctx, id)
	if err != nil {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("read the audit trail of %s: %w", id, err), "")
	}
	t := audit.Trail{Scope: "run " + id, Entries: entries, Runs: map[string]*flows.Run{}}
	if b.cfg.AuditLimits != nil {
		t.Retention, t.MaxLen = b.cfg.AuditLimits()
	}
	if len(entries) == 0 {
		return b.answer(ctx, c.ResponseURL, c.UserID, fmt.Errorf("%w: there is no audit trail for `%s`: no such run, or it ended more than %s ago", flows.ErrBadInput, id, t.Retention), "")
	}
	switch run, err := b.engine.Get(ctx, id); {
	case err == nil:
		t.Runs[id] = run
	case !errors.Is(err, flows.ErrRunNotFound):
		return b.answer(ctx, c.ResponseURL, c.UserID, err, "")
	}
	var out strings.Builder
	if err := t.WriteTable(&out); err != nil {
		return fmt.Errorf("render the audit trail of %s: %w", id, err)
	}
	text := strings.ReplaceAll(blocks.Escape(out.String()), "```", "'''")
	if len(text) > maxAuditText {
		text = text[:maxAuditText] + fmt.Sprintf("\n… cut short: `bot audit %s` prints all of it", id)
	}
	return b.private(ctx, c.ResponseURL, fmt.Sprintf("Dates in UTC (%s).\n```%s```", time.UTC, text))
}
