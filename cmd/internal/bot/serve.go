package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	slackapi "github.com/slack-go/slack"
	"golang.org/x/sync/errgroup"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/prom"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state"
)

// routerDeps is what the Slack surface is built from.
type routerDeps struct {
	Slack *slackint.Client
	Dedup commands.Deduper
	Self  *slackapi.AuthTestResponse
	Log   *slog.Logger
	// Bot is the rotation surface: alerts, offers, gates, /rotate-token.
	Bot *commands.Bot
	// Digest answers the daily digest's buttons; nil without sweeps.
	Digest *commands.DigestPoster
	// Home publishes the Home tab.
	Home *commands.HomeTab
	// HomeClicks answers the Home tab's per-token buttons; nil without
	// sweeps, whose reports the buttons act on.
	HomeClicks *commands.HomeClicks
}

// buildRouter wires handlers to the router: the seam where the rotation
// commands, buttons and alert detection plug in.
func buildRouter(d routerDeps) *commands.Router {
	r := commands.NewRouter(commands.RouterConfig{
		Responder: d.Slack, Dedup: d.Dedup, BotUserID: d.Self.UserID, BotID: d.Self.BotID, Logger: d.Log,
	})
	d.Bot.Register(r)
	if d.Digest != nil {
		d.Digest.Register(r)
	}
	if d.Home != nil {
		r.HomeOpened(d.Home.Open)
	}
	if d.HomeClicks != nil {
		d.HomeClicks.Register(r)
	}
	return r
}

// Wiring replaces parts the configuration would otherwise build, for the
// mains that run the bot against stand-ins (cmd/demo, cmd/sandboxbot).
// Its zero value, which cmd/bot uses, changes nothing.
type Wiring struct {
	// Backend, when set, makes each rotating environment's Signon and
	// cluster in place of the kubeconfig and the exec into Signon. An
	// environment it fails for is unavailable, as one whose cluster
	// cannot be set up is.
	Backend func(ctx context.Context, env string) (flows.Env, error)
	// Clock, when set, is the engine's and the notifier's clock.
	Clock flows.Clock
	// SlackRetry, when set, replaces the Slack client's retry policy; its
	// BaseDelay and MaxDelay also bound the waits between start-up checks
	// of the bot token (1s to 1m), for tests that make Slack unreachable.
	SlackRetry slackint.RetryPolicy
	// SweepCheck, when set, is how often each replica looks whether a
	// daily sweep is due (default a minute): the demo's clock passes the
	// sweep time in a moment, not a minute.
	SweepCheck time.Duration
}

// App is the bot, assembled and not yet running.
type App struct {
	log      *slog.Logger
	rdb      redis.UniversalClient
	runner   *slackint.Runner
	engine   *flows.Engine
	bot      *commands.Bot
	sweep    time.Duration
	envs     *environments
	notifier *commands.Notifier
	srv      *http.Server
	ln       net.Listener
	served   chan error
	slack    *slackState
	sweeps   []*daily.Sweeper
	// sweepCheck is how often the sweeps look whether they are due.
	sweepCheck time.Duration
	home       *commands.HomeTab
}

// serve runs the bot until ctx ends.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, w Wiring) error {
	a, err := Assemble(ctx, cfg, log, w)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Assemble builds the bot from its configuration: the Slack client, the
// state store, each environment's backends, the engine, the Slack
// surface, and the HTTP listener for health and metrics.
func Assemble(ctx context.Context, cfg *Config, log *slog.Logger, w Wiring) (*App, error) {
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector())
	limits := slackint.Paced()
	if cfg.Slack.Unpaced {
		limits = nil
	}
	client := slackint.New(slackint.Config{
		BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, APIURL: cfg.Slack.APIURL,
		Metrics: slackint.NewMetrics(reg), Logger: log, Limits: limits, Retry: w.SlackRetry,
	})
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis client: %w", err)
	}
	rdb.AddHook(newRedisErrors(reg, log))
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log: log}) })
	a := &App{log: log, rdb: rdb}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	store, err := state.New(rdb, state.Options{Prefix: cfg.StatePrefix, Retention: cfg.Retention})
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	var clock flows.Clock = flows.SystemClock{}
	if w.Clock != nil {
		clock = w.Clock
	}
	a.envs = newEnvironments(ctx, cfg, w.Backend, clock, log)
	// Health and metrics answer from here on, so that a bot waiting for
	// Slack at start-up is alive and not ready, rather than restarted.
	a.slack = &slackState{}
	a.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.srv = &http.Server{
		Handler:           healthHandler(a.slack, pingFunc(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }), a.envs, reg),
		ReadHeaderTimeout: 5 * time.Second,
	}
	a.served = make(chan error, 1)
	go func() { a.served <- a.srv.Serve(a.ln) }()
	log.InfoContext(ctx, "http listening", "addr", a.ln.Addr().String())

	self, err := whoAmI(ctx, client, a.slack, log, w.SlackRetry)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "slack identity", "team", self.Team, "user", self.User, "user_id", self.UserID, "bot_id", self.BotID)

	render := blocks.Renderer{WorkspaceURL: self.URL, Links: cfg.renderLinks()}
	a.notifier = commands.NewNotifier(commands.NotifierConfig{
		Slack: client, Render: render, Offers: store, Runs: store, Clock: clock, Logger: log,
	})
	obs := newObserver(reg)
	a.home = homeTab(cfg, store, client, render, func(ctx context.Context, env, user string) (bool, error) { return a.engine.MayStart(ctx, env, user) }, clock, log)
	a.engine, err = flows.New(flows.Config{
		Policy:      policyOf(cfg),
		Envs:        a.envs.envs,
		Store:       store,
		Notifier:    a.notifier,
		Directory:   &commands.CachedDirectory{Directory: client, Clock: clock},
		Revealer:    &commands.Revealer{Slack: client},
		Clock:       clock,
		Logger:      log,
		Observer:    homeObserver{observer: obs, home: a.home},
		Owner:       cfg.Owner,
		LeaseTTL:    cfg.LeaseTTL,
		StepTimeout: cfg.StepTimeout,
		SweepEvery:  cfg.SweepInterval,
		// Per environment: a flood of alerts or commands waits its turn
		// instead of opening a console each in the signon pod.
		SignonConcurrency: cfg.SignonConcurrency,
	})
	if err != nil {
		return nil, fmt.Errorf("rotation engine: %w", err)
	}
	bot, err := commands.New(commands.Config{
		Engine: a.engine, Slack: client, Offers: store, Runs: store, Dedup: store, Render: render,
		Groups:        alertGroups{rdb: rdb, prefix: cfg.StatePrefix, ttl: cfg.Retention},
		AlertChannels: cfg.AlertChannels, AlertSenders: cfg.AlertSenders, Metrics: obs, DefaultEnvironment: cfg.DefaultEnvironment, Clock: clock, Logger: log,
		AuditLimits: store.AuditLimits, Snoozes: store, Audit: store,
	})
	if err != nil {
		return nil, fmt.Errorf("slack surface: %w", err)
	}
	a.bot, a.sweep = bot, cfg.SweepInterval
	sweepers, digest, err := sweeps(cfg, a.envs.envs, store, client, render, a.engine.MayStart, a.engine, clock, log)
	if err != nil {
		return nil, err
	}
	a.sweeps, a.sweepCheck = sweepers, cmp.Or(w.SweepCheck, sweepEvery)
	var homeClicks *commands.HomeClicks
	if digest != nil {
		digest.Cleaner, digest.Views = a.engine, client
		digest.Snoozes, digest.Audit, digest.Edit, digest.Clock = store, store, client, clock
		homeClicks = &commands.HomeClicks{Bot: bot, Reports: store, Channels: digest.Channels, CleanUp: digest.CleanUpPair}
	}
	router := buildRouter(routerDeps{Slack: client, Dedup: store, Self: self, Log: log, Bot: bot, Digest: digest, Home: a.home, HomeClicks: homeClicks})
	a.runner = slackint.NewRunner(client, router, slackint.RunnerConfig{Logger: log})
	a.slack.runner.Store(a.runner)
	ok = true
	return a, nil
}

// Run serves until ctx ends: the Socket Mode runner, the engine, the
// environments' probes and the HTTP listener, each stopping the others if
// it fails.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.runner.Run(gctx) })
	g.Go(func() error { return a.engine.Run(gctx) })
	g.Go(func() error { return a.bot.Run(gctx, a.sweep) })
	g.Go(func() error { return a.envs.Run(gctx) })
	g.Go(func() error { a.home.Run(gctx, homeDebounce); return nil })
	for _, s := range a.sweeps {
		g.Go(func() error { s.Run(gctx, a.sweepCheck); return nil })
	}
	paceGC(gctx, a.log, os.Getenv("GOGC"))
	g.Go(func() error {
		select {
		case err := <-a.served:
			return fmt.Errorf("http: %w", err)
		case <-gctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	err := g.Wait()
	a.log.InfoContext(ctx, "stopped", "err", err)
	return err
}

// Close lets go of what Assemble took.
func (a *App) Close() {
	if a.notifier != nil {
		a.notifier.Close()
	}
	if a.srv != nil {
		_ = a.srv.Close()
	}
	_ = a.rdb.Close()
}

// Redis is the bot's Redis client, for a caller that reads its state.
func (a *App) Redis() redis.UniversalClient { return a.rdb }

// Engine is the bot's rotation engine.
func (a *App) Engine() *flows.Engine { return a.engine }
