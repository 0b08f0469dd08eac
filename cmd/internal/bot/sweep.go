package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// homeDebounce is how long the Home tabs wait after a run changes before
// they are refreshed: a run's steps come in bursts.
const homeDebounce = 10 * time.Second

// sweepEvery is how often each replica looks whether a sweep is due: a
// Redis GET per environment.
const sweepEvery = time.Minute

// sweeps builds the daily sweep of every environment that configures one,
// and the digest's poster (nil when none does).
func sweeps(cfg *Config, envs map[string]flows.Env, store *state.Store, slack interface {
	commands.Responder
	PostMessage(ctx context.Context, channel string, opts ...slackapi.MsgOption) (string, error)
}, render blocks.Renderer, mayStart func(context.Context, string, string) (bool, error), batches daily.Batches, clock flows.Clock, log *slog.Logger) ([]*daily.Sweeper, *commands.DigestPoster, error) {
	poster := &commands.DigestPoster{Slack: slack, Render: render, Channels: map[string]string{}, Quiet: map[string]bool{}, Reports: store, MayStart: mayStart,
		StartBatch: batches.StartBatch, Logger: log}
	policy := policyOf(cfg)
	host, _ := os.Hostname()
	// The pod's name, when set, makes a restarted container take back the
	// lease it held before it died, as its runs' leases do, rather than
	// wait out the 10 minutes.
	owner := or(cfg.Owner, or(host, "bot")+"-"+flows.NewID("s"))
	var out []*daily.Sweeper
	for name, ec := range cfg.Environments {
		if !ec.Sweep.enabled() {
			continue
		}
		sched, err := ec.Sweep.schedule()
		if err != nil {
			return nil, nil, fmt.Errorf("environments.%s.sweep: %w", name, err)
		}
		poster.Channels[name], poster.Quiet[name] = ec.Sweep.Channel, ec.Sweep.Quiet
		var other []string
		for _, o := range cfg.SpecialCases.OtherTeam {
			other = append(other, o.APIUsers...)
		}
		s, err := daily.New(daily.Config{Environment: name, Schedule: sched, Within: ec.Sweep.Within, HomeWithin: ec.Sweep.HomeWithin,
			Rules: daily.Rules{Staging: name == "staging", OtherTeam: other}, Owner: owner},
			daily.Parts{Estate: estateOf(envs[name].Signon), Workloads: workloadsOf(envs[name].Cluster), Ignores: store, Store: store, Runs: store, Publisher: poster, Clock: clock, Logger: log,
				Actor: daily.Steps{
					&daily.Rotations{Mode: policy.Environments[name].Autopilot, Batches: batches, Channel: ec.Sweep.Channel, Within: policy.ExpiryWindow, Logger: log},
					&daily.Cleanup{Mode: policy.Environments[name].Autopilot, Batches: batches, Channel: ec.Sweep.Channel},
				}})
		if err != nil {
			return nil, nil, fmt.Errorf("environments.%s.sweep: %w", name, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	return out, poster, nil
}

// estateOf is the environment's Signon as the sweep reads it; a Signon
// without the estate report (an unavailable environment) fails each sweep.
func estateOf(s flows.Signon) daily.Estate {
	if e, ok := s.(daily.Estate); ok {
		return e
	}
	return noEstate{}
}

// workloadsOf is the environment's cluster as the sweep lists consumers
// from it, or nil (the Home tab then shows no consumers).
func workloadsOf(c flows.Cluster) daily.Workloads {
	w, _ := c.(daily.Workloads)
	return w
}

type noEstate struct{}

func (noEstate) Estate(context.Context, time.Duration) (flows.Estate, error) {
	return flows.Estate{}, fmt.Errorf("read Signon's estate: %w", errors.Join(flows.ErrUnavailable, errors.New("this environment's Signon cannot report its estate")))
}

// homeTab shows every environment the bot rotates in, sweeping or not.
func homeTab(cfg *Config, store *state.Store, slack interface {
	PublishView(ctx context.Context, userID string, view slackapi.HomeTabViewRequest) error
}, render blocks.Renderer, mayStart func(context.Context, string, string) (bool, error), clock flows.Clock, log *slog.Logger) *commands.HomeTab {
	h := &commands.HomeTab{Slack: slack, Render: render, Schedules: map[string]daily.Schedule{}, Reports: store, Runs: store, MayStart: mayStart,
		Clock: clock, Viewers: store, Ignores: store, Logger: log}
	for name, ec := range cfg.Environments {
		if !ec.Rotate {
			continue
		}
		h.Envs = append(h.Envs, name)
		if sched, err := ec.Sweep.schedule(); err == nil && ec.Sweep.enabled() {
			h.Schedules[name] = sched
		}
	}
	slices.Sort(h.Envs)
	return h
}

// homeObserver refreshes the Home tabs whenever the engine reports a run
// changed: a step done, a gate passed, a run ended.
type homeObserver struct {
	observer flows.Observer
	home     *commands.HomeTab
}

func (o homeObserver) RunEnded(env string, phase flows.Phase, d time.Duration) {
	o.observer.RunEnded(env, phase, d)
	o.home.Changed()
}

func (o homeObserver) StepDone(env string, step flows.Step, ok bool, d time.Duration) {
	o.observer.StepDone(env, step, ok, d)
	o.home.Changed()
}

func (o homeObserver) GatePassed(env string, gate flows.GateKind, waited time.Duration) {
	o.observer.GatePassed(env, gate, waited)
	o.home.Changed()
}

func (o homeObserver) Active(env string, phase flows.Phase, n int) { o.observer.Active(env, phase, n) }

func (o homeObserver) SignonWait(env string, waited time.Duration) {
	o.observer.SignonWait(env, waited)
}

var _ flows.Observer = homeObserver{}
