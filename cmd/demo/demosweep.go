package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/cmd/internal/bot"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
	"github.com/alphagov/signon-token-bot/state"
)

// sweepingEnv is the swept environment of a sweep-driven scenario: its
// daily sweep at scenario.SweepAt, the digest in scenario.DigestChannel,
// the scenario's autopilot, and people as starters and approvers.
func sweepingEnv(s *scenario.Sweep, people bot.Principals) bot.Environment {
	env := bot.EnvironmentDefaults(s.Environment)
	env.Starters, env.Approvers = people, people
	env.Sweep = bot.Sweep{At: scenario.SweepAt, Channel: scenario.DigestChannel}
	env.Autopilot = bot.AutopilotSetting(s.Autopilot)
	return env
}

// sweptYesterday records that env was swept the day before now, as a bot
// running since then would have: the sweep the demo shows is then the one
// the clock passes, not a catch-up of yesterday's at start-up.
func sweptYesterday(ctx context.Context, store *state.Store, env string, now time.Time) error {
	sched, err := daily.ParseSchedule(scenario.SweepAt)
	if err != nil {
		return fmt.Errorf("the demo's sweep time: %w", err)
	}
	day, _ := sched.Due(now)
	record, err := json.Marshal(daily.Report{Environment: env, Day: day})
	if err != nil {
		return fmt.Errorf("yesterday's sweep of %s: %w", env, err)
	}
	const owner = "demo-yesterday"
	if _, err := store.ClaimSweep(ctx, env, owner, time.Minute); err != nil {
		return fmt.Errorf("yesterday's sweep of %s: %w", env, err)
	}
	if err := store.FinishSweep(ctx, env, owner, day, record); err != nil {
		return fmt.Errorf("yesterday's sweep of %s: %w", env, err)
	}
	if err := store.ReleaseSweep(ctx, env, owner); err != nil {
		return fmt.Errorf("yesterday's sweep of %s: %w", env, err)
	}
	return nil
}
