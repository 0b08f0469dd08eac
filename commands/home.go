package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Viewers remembers who opened the tab lately (state.Store), so that
	// any replica refreshes their tabs when a run changes.
	Viewers interface {
		SawHomeViewer(ctx context.Context, user string, at time.Time) error
		HomeViewers(ctx context.Context, since time.Time, most int) ([]string, error)
	}
	// Ignores, when set, leaves out the pairs snoozed now rather than at
	// the last sweep (state.Store).
	Ignores daily.Ignores
	Logger  *slog.Logger

	once    sync.Once
	changed chan struct{}
}

// homeRefreshMost caps the tabs one refresh publishes: views.publish is
// Slack's tier 4, 100 a minute.
const homeRefreshMost = 50

// Changed notes that a run changed; Run refreshes the open tabs once the
// changes have settled. It never blocks.
func (h *HomeTab) Changed() {
	h.once.Do(func() { h.changed = make(chan struct{}, 1) })
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// Run refreshes the tabs of the people who opened theirs in the last day,
// at most once per debounce, after a change, until ctx ends.
func (h *HomeTab) Run(ctx context.Context, debounce time.Duration) {
	h.once.Do(func() { h.changed = make(chan struct{}, 1) })
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.changed:
		}
		// A burst of changes (a run's steps) makes one refresh.
		t := time.NewTimer(debounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case <-h.changed:
		default:
		}
		if err := h.refresh(ctx); err != nil && ctx.Err() == nil && h.Logger != nil {
			h.Logger.WarnContext(ctx, "home tabs not refreshed", "err", err)
		}
	}
}

func (h *HomeTab) refresh(ctx context.Context) error {
	if h.Viewers == nil {
		return nil
	}
	users, err := h.Viewers.HomeViewers(ctx, h.Clock.Now().Add(-24*time.Hour), homeRefreshMost)
	if err != nil {
		return fmt.Errorf("refresh home tabs: %w", err)
	}
	var errs []error
	for _, u := range users {
		errs = append(errs, h.publish(ctx, u))
	}
	return errors.Join(errs...)
}

// Open publishes user's Home tab, and keeps it fresh for a day.
func (h *HomeTab) Open(ctx context.Context, user string) error {
	if err := h.publish(ctx, user); err != nil {
		return err
	}
	if h.Viewers != nil {
		if err := h.Viewers.SawHomeViewer(ctx, user, h.Clock.Now()); err != nil {
			return fmt.Errorf("home tab: %w", err)
		}
	}
	return nil
}

func (h *HomeTab) publish(ctx context.Context, user string) error {
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
		if e.Last != nil && h.Ignores != nil {
			igs, err := h.Ignores.Ignores(ctx, name, now)
			if err != nil {
				return fmt.Errorf("home tab: %w", err)
			}
			e.Last.Ignore(igs)
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
