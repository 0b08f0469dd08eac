package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// RotateToken is /rotate-token: it picks the sub-command and answers help
// and mistakes itself. A nil handler answers that the sub-command is not
// available yet.
type RotateToken struct {
	Responder Responder
	// Start takes `<api-user-email> <application> [environment]`.
	Start CommandHandler
	// Form takes the bare command and opens the modal.
	Form                        CommandHandler
	Status, List, Cancel, Audit CommandHandler
	// Expiring takes `[environment]` and starts a batch.
	Expiring CommandHandler
}

// CommandName is the slash command's name, as in the app manifest.
const CommandName = "/rotate-token"

var subcommandNames = []string{"status", "list", "cancel", "audit", "expiring", "help"}

// Handle routes one /rotate-token.
func (rt *RotateToken) Handle(ctx context.Context, c Command) error {
	if len(c.Args) == 0 {
		return rt.run(ctx, rt.Form, "", c)
	}
	word := strings.ToLower(c.Args[0])
	sub := c
	sub.Args = c.Args[1:]
	switch {
	case word == "help":
		return rt.reply(ctx, c, Usage)
	case word == "status":
		return rt.run(ctx, rt.Status, word, sub)
	case word == "list":
		return rt.run(ctx, rt.List, word, sub)
	case word == "cancel":
		return rt.run(ctx, rt.Cancel, word, sub)
	case word == "audit":
		return rt.run(ctx, rt.Audit, word, sub)
	case word == "expiring":
		return rt.run(ctx, rt.Expiring, word, sub)
	case strings.Contains(word, "@"):
		return rt.run(ctx, rt.Start, "", c)
	default:
		return rt.reply(ctx, c, unknownSubcommand(c.Args[0]))
	}
}

func (rt *RotateToken) run(ctx context.Context, h CommandHandler, name string, c Command) error {
	if h == nil {
		what := CommandName
		if name != "" {
			what += " " + name
		}
		return rt.reply(ctx, c, fmt.Sprintf("`%s` is not available yet.", what))
	}
	return h(ctx, c)
}

func (rt *RotateToken) reply(ctx context.Context, c Command, text string) error {
	if err := rt.Responder.Respond(ctx, c.ResponseURL, slack.Reply{Text: text}); err != nil {
		return fmt.Errorf("answer %s: %w", CommandName, err)
	}
	return nil
}
