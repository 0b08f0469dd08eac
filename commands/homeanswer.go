package commands

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
)

// views is the Slack a Home tab click is answered through: such a click
// carries no response URL, only a trigger.
type views interface {
	OpenView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error)
	UpdateView(ctx context.Context, viewID, hash string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error)
}

// homeAnswer opens the modal that answers a Home tab click at once, while
// its trigger lasts (3 seconds), and returns what replaces its text.
func homeAnswer(ctx context.Context, s views, a Action, pending string) func(string) error {
	view, err := s.OpenView(ctx, a.TriggerID, blocks.HomeAnswer(":hourglass_flowing_sand: "+pending))
	return func(text string) error {
		if err != nil {
			return fmt.Errorf("answer %s's Home tab click: open a modal: %w", a.UserID, err)
		}
		if _, err := s.UpdateView(ctx, view.ID, "", blocks.HomeAnswer(text)); err != nil {
			return fmt.Errorf("answer %s's Home tab click: update modal %s: %w", a.UserID, view.ID, err)
		}
		return nil
	}
}

// homeNotice answers a Home tab click or submission in a modal opened
// with its trigger once the answer is known, for a click whose trigger
// the answer may need for a modal of its own.
func homeNotice(ctx context.Context, s views, a Action) func(string) error {
	return func(text string) error {
		if text == "" {
			return nil
		}
		if _, err := s.OpenView(ctx, a.TriggerID, blocks.HomeAnswer(text)); err != nil {
			return fmt.Errorf("answer %s on the Home tab: open a modal: %w", a.UserID, err)
		}
		return nil
	}
}
