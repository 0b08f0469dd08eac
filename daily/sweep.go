package daily

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/state"
)

// Defaults.
const (
	DefaultWithin     = 30 * 24 * time.Hour
	DefaultHomeWithin = 60 * 24 * time.Hour
	// DefaultLeaseTTL outlasts a sweep: one Signon call (90s at most),
	// the runs, and a digest of a few messages.
	DefaultLeaseTTL = 10 * time.Minute
)

// Estate reads Signon's estate report (signon.Client, signontest.Signon).
type Estate interface {
	Estate(ctx context.Context, within time.Duration) (flows.Estate, error)
}

// Workloads lists who reads each token Secret (kube.Client,
// clustertest.Cluster): one look at the namespace per sweep, kept in the
// report, so that the Home tab shows each token's consumers without a
// call to the cluster per view.
type Workloads interface {
	SecretName(apiUserName, application string) string
	SecretReaders(ctx context.Context) (map[string][]flows.Consumer, error)
}

// Store keeps the lease and the last sweep (state.Store).
type Store interface {
	ClaimSweep(ctx context.Context, env, owner string, ttl time.Duration) (bool, error)
	ReleaseSweep(ctx context.Context, env, owner string) error
	LastSweep(ctx context.Context, env string) ([]byte, error)
	FinishSweep(ctx context.Context, env, owner, day string, record []byte) error
}

// Runs lists the runs under way (flows.Store).
type Runs interface {
	ActiveRuns(ctx context.Context) ([]*flows.Run, error)
}

// Publisher shows a sweep: the digest in the environment's channel.
type Publisher interface {
	Digest(ctx context.Context, r *Report) error
}

// Actor is the sweep's act step, between reading the estate and posting
// the digest: where autopilot starts rotations and clean-ups (Steps). It
// may add the runs it starts to r.OpenRuns. Nil does nothing. A sweep
// that fails after it acted acts again, so an Actor must be idempotent.
type Actor interface {
	Act(ctx context.Context, r *Report) error
}

// Steps are act steps run in order, each whatever the others did: a
// failed rotation batch does not hold back a clean-up.
type Steps []Actor

// Act runs every step and joins their errors.
func (s Steps) Act(ctx context.Context, r *Report) error {
	var errs []error
	for _, a := range s {
		if err := a.Act(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Config is one environment's sweep.
type Config struct {
	Environment string
	Schedule    Schedule
	// Within and HomeWithin default to DefaultWithin and
	// DefaultHomeWithin.
	Within, HomeWithin time.Duration
	Rules              Rules
	// Owner names this replica in the lease.
	Owner string
	// LeaseTTL defaults to DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// Sweeper sweeps one environment. Every replica has one per environment
// and calls Tick often (Run does, every minute); the lease and the
// recorded day make one of them sweep once a day.
type Sweeper struct {
	cfg       Config
	estate    Estate
	store     Store
	runs      Runs
	publisher Publisher
	actor     Actor
	workloads Workloads
	ignores   Ignores
	clock     flows.Clock
	log       *slog.Logger
}

// Parts are what a Sweeper uses. Workloads, Ignores, Actor, Clock and
// Logger may be nil; without Workloads the report has no consumers, and
// without Ignores no pair is left out as snoozed.
type Parts struct {
	Estate    Estate
	Workloads Workloads
	Ignores   Ignores
	Store     Store
	Runs      Runs
	Publisher Publisher
	Actor     Actor
	Clock     flows.Clock
	Logger    *slog.Logger
}

// New checks cfg and returns a Sweeper.
func New(cfg Config, p Parts) (*Sweeper, error) {
	if cfg.Environment == "" || cfg.Owner == "" {
		return nil, errors.New("daily: a sweep needs an environment and an owner")
	}
	if p.Estate == nil || p.Store == nil || p.Runs == nil || p.Publisher == nil {
		return nil, errors.New("daily: a sweep needs Signon's estate, the store, the runs and a publisher")
	}
	if cfg.Schedule.At < Earliest || cfg.Schedule.At >= 24*time.Hour {
		return nil, fmt.Errorf("daily: sweep time %v is not between 01:15 and midnight UTC", cfg.Schedule.At)
	}
	cfg.Within = cmp.Or(cfg.Within, DefaultWithin)
	cfg.HomeWithin = cmp.Or(cfg.HomeWithin, DefaultHomeWithin)
	cfg.LeaseTTL = cmp.Or(cfg.LeaseTTL, DefaultLeaseTTL)
	if cfg.Within < 0 || cfg.HomeWithin < 0 || cfg.LeaseTTL < time.Second {
		return nil, errors.New("daily: negative windows, or a lease under a second")
	}
	if p.Clock == nil {
		p.Clock = flows.SystemClock{}
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, estate: p.Estate, store: p.Store, runs: p.Runs, publisher: p.Publisher, actor: p.Actor, workloads: p.Workloads, ignores: p.Ignores, clock: p.Clock, log: p.Logger}, nil
}

// Environment is the environment swept.
func (s *Sweeper) Environment() string { return s.cfg.Environment }

// Last is the last sweep's report, or nil if there was none.
func (s *Sweeper) Last(ctx context.Context) (*Report, error) {
	return Last(ctx, s.store, s.cfg.Environment)
}

// Last reads an environment's last sweep from the store.
func Last(ctx context.Context, store interface {
	LastSweep(ctx context.Context, env string) ([]byte, error)
}, env string) (*Report, error) {
	raw, err := store.LastSweep(ctx, env)
	if err != nil || raw == nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil || r.Environment != env || len(r.Whys) != len(r.Pairs) || (r.Consumers != nil && len(r.Consumers) != len(r.Pairs)) {
		return nil, fmt.Errorf("the last sweep of %s: %w", env, &flows.CorruptError{Key: "sweep:" + env, Err: errors.New("not a sweep report")})
	}
	return &r, nil
}

// Tick sweeps if today's slot has passed, no replica swept for it and
// this one takes the lease. It reports whether it swept. A failed sweep
// keeps the lease until it lapses, so replicas retry once per LeaseTTL
// rather than on every tick.
func (s *Sweeper) Tick(ctx context.Context) (bool, error) {
	env := s.cfg.Environment
	now := s.clock.Now()
	day, _ := s.cfg.Schedule.Due(now)
	if done, err := s.done(ctx, day); err != nil || done {
		return false, err
	}
	ok, err := s.store.ClaimSweep(ctx, env, s.cfg.Owner, s.cfg.LeaseTTL)
	if err != nil || !ok {
		return false, err
	}
	// Another replica may have finished between the look and the claim:
	// it recorded the day before it let the lease go.
	if done, err := s.done(ctx, day); err != nil || done {
		_ = s.store.ReleaseSweep(context.WithoutCancel(ctx), env, s.cfg.Owner)
		return false, err
	}
	r, err := s.report(ctx, now)
	if err != nil {
		return false, fmt.Errorf("sweep %s for %s: %w", env, day, err)
	}
	if s.actor != nil {
		if err := s.actor.Act(ctx, r); err != nil {
			return false, fmt.Errorf("sweep %s for %s: act: %w", env, day, err)
		}
	}
	if err := s.publisher.Digest(ctx, r); err != nil {
		return false, fmt.Errorf("sweep %s for %s: digest: %w", env, day, err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("sweep %s for %s: encode: %w", env, day, err)
	}
	// The digest is out: a crash before this line makes the next replica
	// post it again (at least once, never lost).
	if err := s.store.FinishSweep(ctx, env, s.cfg.Owner, day, raw); err != nil {
		return false, err
	}
	s.log.Info("daily sweep done", "environment", env, "day", day, "pairs", len(r.Pairs), "open_runs", len(r.OpenRuns))
	if err := s.store.ReleaseSweep(ctx, env, s.cfg.Owner); err != nil {
		s.log.Warn("daily sweep: could not release its lease; it lapses by itself", "environment", env, "error", err)
	}
	return true, nil
}

func (s *Sweeper) done(ctx context.Context, day string) (bool, error) {
	last, err := s.Last(ctx)
	if err != nil {
		return false, err
	}
	return last != nil && last.Day >= day, nil
}

// report reads the estate (one Signon call) and the open runs.
func (s *Sweeper) report(ctx context.Context, now time.Time) (*Report, error) {
	est, err := s.estate.Estate(ctx, max(s.cfg.Within, s.cfg.HomeWithin))
	if err != nil {
		return nil, fmt.Errorf("read Signon's estate: %w", err)
	}
	runs, err := s.runs.ActiveRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the runs under way: %w", err)
	}
	r := Build(s.cfg, est, runs, now)
	if s.ignores != nil {
		igs, err := s.ignores.Ignores(ctx, s.cfg.Environment, now)
		if err != nil {
			return nil, fmt.Errorf("read the snoozed tokens: %w", err)
		}
		r.Ignore(igs)
	}
	s.readConsumers(ctx, r)
	return r, nil
}

// readConsumers lists every pair's consumers with one look at the
// cluster. The digest does not need them, so a cluster that cannot be
// read leaves the report without them rather than failing the sweep.
func (s *Sweeper) readConsumers(ctx context.Context, r *Report) {
	if s.workloads == nil {
		r.ConsumersUnread = "the sweep has no cluster to list them from"
		return
	}
	readers, err := s.workloads.SecretReaders(ctx)
	if err != nil {
		// The error stays in the log: the report is shown to anyone.
		s.log.Warn("daily sweep: consumers not listed", "environment", r.Environment, "error", err)
		r.ConsumersUnread = "the cluster could not be read at the sweep"
		return
	}
	r.Consumers = make([][]flows.Consumer, len(r.Pairs))
	for i, p := range r.Pairs {
		r.Consumers[i] = readers[s.workloads.SecretName(p.User.Name, p.Application.Name)]
	}
}

// Build makes the report of a sweep at now from Signon's estate and the
// runs under way. cfg's windows must be set (New sets the defaults).
func Build(cfg Config, est flows.Estate, runs []*flows.Run, now time.Time) *Report {
	day, slot := cfg.Schedule.Due(now)
	renewal := time.Date(slot.Year(), slot.Month(), slot.Day(), 1, 0, 0, 0, time.UTC)
	r := &Report{Environment: cfg.Environment, Day: day, At: now, SignonNow: cmp.Or(est.Now, now), Within: cfg.Within, HomeWithin: cfg.HomeWithin,
		Pairs: est.Pairs, Whys: make([]Why, len(est.Pairs)), Next: cfg.Schedule.Next(now)}
	for i, p := range est.Pairs {
		r.Whys[i] = cfg.Rules.classify(p, renewal)
	}
	r.OpenRuns = RunRefs(runs, cfg.Environment)
	return r
}

// RunRefs are env's runs among runs, by id.
func RunRefs(runs []*flows.Run, env string) []RunRef {
	var out []RunRef
	for _, run := range runs {
		if run.Key.Environment == env {
			out = append(out, RunRef{ID: run.ID, Key: run.Key, Step: string(run.Step), Channel: run.Thread.Channel,
				ThreadTS: run.Thread.TS, StatusTS: run.Receipts[flows.StatusPostID].TS})
		}
	}
	slices.SortFunc(out, func(a, b RunRef) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Run ticks every interval until ctx ends, logging what fails.
func (s *Sweeper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("daily sweep failed; it is retried once its lease lapses", "environment", s.cfg.Environment, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var (
	_ Store = (*state.Store)(nil)
	_ Actor = Steps(nil)
)
