package commands

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
)

// HomeTab publishes a person's Home tab when they open it: rendered from
// Redis (each environment's last sweep and the runs under way), never
// from a Signon call.
type HomeTab struct {
	Slack interface {
		PublishView(ctx context.Context, userID string, view slackapi.HomeTabViewRequest) error
	}
	Render blocks.Renderer
	// Envs are the environments shown, in order; Schedules their sweeps'
	// times (an environment without one does not sweep).
	Envs      []string
	Schedules map[string]daily.Schedule
	Reports   interface {
		LastSweep(ctx context.Context, env string) ([]byte, error)
	}
	Runs interface {
		ActiveRuns(ctx context.Context) ([]*flows.Run, error)
	}
	// MayStart says whether a user may start runs in an environment: the
	// buttons are for those who may in at least one.
	MayStart func(ctx context.Context, env, user string) (bool, error)
	Clock    flows.Clock
}

// Open publishes user's Home tab.
func (h *HomeTab) Open(ctx context.Context, user string) error {
	runs, err := h.Runs.ActiveRuns(ctx)
	if err != nil {
		return fmt.Errorf("home tab: list runs: %w", err)
	}
	now := h.Clock.Now()
	canAct := false
	envs := make([]blocks.HomeEnv, 0, len(h.Envs))
	for _, name := range h.Envs {
		e := blocks.HomeEnv{Name: name}
		if sched, ok := h.Schedules[name]; ok {
			e.Next = sched.Next(now)
		}
		if e.Last, err = daily.Last(ctx, h.Reports, name); err != nil {
			return fmt.Errorf("home tab: %w", err)
		}
		e.Runs = daily.RunRefs(runs, name)
		if ok, err := h.MayStart(ctx, name, user); err == nil && ok {
			canAct = true
		}
		envs = append(envs, e)
	}
	view := slackapi.HomeTabViewRequest{Type: slackapi.VTHomeTab, Blocks: slackapi.Blocks{BlockSet: h.Render.Home(envs, canAct)}}
	if err := h.Slack.PublishView(ctx, user, view); err != nil {
		return fmt.Errorf("home tab: publish for %s: %w", user, err)
	}
	return nil
}
