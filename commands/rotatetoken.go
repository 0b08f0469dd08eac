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
	h, sub, text := rt.pick(c)
	if text != "" {
		return rt.reply(ctx, c, text)
	}
	return h(ctx, sub)
}

// Immediate is the answer to a /rotate-token that its words alone decide
// (help, a mistake, a sub-command not available), for the router to send
// in the ack: no worker, Redis round trip or response_url post.
func (rt *RotateToken) Immediate(c Command) (string, bool) {
	_, _, text := rt.pick(c)
	return text, text != ""
}

// pick finds the handler a /rotate-token asks for and the command as it
// sees it (a sub-command's handler, the words after its name), or, as
// text, the answer itself.
func (rt *RotateToken) pick(c Command) (CommandHandler, Command, string) {
	if len(c.Args) == 0 {
		return rt.available(rt.Form, "", c)
	}
	word := strings.ToLower(c.Args[0])
	sub := c
	sub.Args = c.Args[1:]
	switch {
	case word == "help":
		return nil, c, Usage
	case word == "status":
		return rt.available(rt.Status, word, sub)
	case word == "list":
		return rt.available(rt.List, word, sub)
	case word == "cancel":
		return rt.available(rt.Cancel, word, sub)
	case word == "audit":
		return rt.available(rt.Audit, word, sub)
	case word == "expiring":
		return rt.available(rt.Expiring, word, sub)
	case strings.Contains(word, "@"):
		return rt.available(rt.Start, "", c)
	default:
		return nil, c, unknownSubcommand(c.Args[0])
	}
}

func (rt *RotateToken) available(h CommandHandler, name string, c Command) (CommandHandler, Command, string) {
	if h == nil {
		what := CommandName
		if name != "" {
			what += " " + name
		}
		return nil, c, fmt.Sprintf("`%s` is not available yet.", what)
	}
	return h, c, ""
}

func (rt *RotateToken) reply(ctx context.Context, c Command, text string) error {
	if err := rt.Responder.Respond(ctx, c.ResponseURL, slack.Reply{Text: text}); err != nil {
		return fmt.Errorf("answer %s: %w", CommandName, err)
	}
	return nil
}
