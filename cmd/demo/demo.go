package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/alphagov/signon-token-bot/cmd/internal/bot"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/sandbox/scenario"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
	"github.com/alphagov/signon-token-bot/state"
)

const demoUsage = `Usage: demo [-scenario NAME] [-interactive] [-list]

Runs the bot, wired as bot serve wires it, against a fake Slack, a Signon
double and a cluster stand-in on loopback, with Redis at REDIS_URL or an
embedded one; plays a scenario and prints its Slack thread, its audit
trail and whether it played out as designed.

`

// demoStart is when every demo begins, so that its thread reads the same
// on every run: the demo's clock starts here and runs at the wall
// clock's pace.
var demoStart = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// sweepStart is when a sweep-driven demo begins: a minute before its
// environment's 02:00 sweep on demoStart's day.
var sweepStart = time.Date(2026, 11, 26, 1, 59, 0, 0, time.UTC)

// demoClock is the wall clock moved to start, and on by whatever the
// scenario skips (a sweep-driven one skips to its sweep time).
type demoClock struct {
	start, began time.Time
	skipped      atomic.Int64
}

func (c *demoClock) Now() time.Time {
	return c.start.Add(time.Since(c.began) + time.Duration(c.skipped.Load())).UTC()
}

func (c *demoClock) Advance(d time.Duration) { c.skipped.Add(int64(d)) }

// demo plays a scenario against the real bot and reports on it: nil when
// it played out as designed.
func demo(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	name := fs.String("scenario", scenario.Alert, "the scenario to play (-list names them)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	interactive := fs.Bool("interactive", false, "press the buttons yourself, as Alice or Bob")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("demo: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	if *list {
		for _, s := range scenario.List() {
			fmt.Fprintf(stdout, "%-15s %s\n", s.Name, s.Summary)
		}
		return nil
	}

	clock := &demoClock{start: demoStart, began: time.Now()}
	for _, s := range scenario.List() {
		if s.Name == *name && s.Swept != "" {
			clock.start = sweepStart
		}
	}
	world, err := scenario.New(*name, clock)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	sb, err := startSandbox(ctx, world, getenv("REDIS_URL"), clock)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer sb.close()

	out := &screen{world: world, w: stdout}
	began := time.Now()
	if *interactive {
		err = playInteractive(ctx, sb.driver, bufio.NewScanner(stdin), out)
	} else {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = sb.driver.Play(pctx)
		cancel()
	}
	took := time.Since(began).Round(10 * time.Millisecond)
	return sb.report(ctx, out, err, !*interactive, took, stderr)
}

// demoBot is the bot and everything it talks to, in this process.
type demoBot struct {
	world  *scenario.World
	fake   *slacktest.Server
	mini   *miniredis.Miniredis
	redis  string
	prefix string
	app    *bot.App
	store  *state.Store
	driver *scenario.Driver
	logs   *lockedBuffer
	stop   context.CancelFunc
	done   chan error
}

// startSandbox starts the fake Slack, Redis unless redisURL names one, and
// the bot, assembled as serve assembles it but given the scenario's
// backends and the demo's clock; it returns once the bot is connected.
func startSandbox(ctx context.Context, world *scenario.World, redisURL string, clock flows.Clock) (*demoBot, error) {
	sb := &demoBot{world: world, logs: &lockedBuffer{}, prefix: "demo"}
	sb.fake = &slacktest.Server{Now: clock.Now, Logf: func(string, ...any) {}}
	world.Setup(sb.fake)
	ok := false
	defer func() {
		if !ok {
			sb.close()
		}
	}()
	if redisURL == "" {
		m, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("start an embedded Redis: %w", err)
		}
		sb.mini, sb.redis, redisURL = m, "embedded (miniredis)", "redis://"+m.Addr()
	} else {
		// A shared Redis may hold an earlier demo's keys, whose alert had
		// the same ts: start afresh under a prefix of our own.
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		sb.prefix = "demo-" + hex.EncodeToString(b)
		sb.redis = "REDIS_URL, keys under " + sb.prefix + " that expire within the hour"
	}
	cfg, err := demoConfig(sb.fake, redisURL, sb.prefix, world.Sweep)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(sb.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	envs := world.Envs()
	backend := func(_ context.Context, name string) (flows.Env, error) {
		env, ok := envs[name]
		if !ok {
			return flows.Env{}, fmt.Errorf("scenario %s has no environment %s", world.Name, name)
		}
		return env, nil
	}
	sb.app, err = bot.Assemble(ctx, cfg, log, bot.Wiring{Backend: backend, Clock: clock, SweepCheck: 20 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("assemble the bot: %w", err)
	}
	sb.store, err = state.New(sb.app.Redis(), state.Options{Prefix: cfg.StatePrefix, Retention: cfg.Retention})
	if err != nil {
		sb.app.Close()
		return nil, fmt.Errorf("read the bot's state: %w", err)
	}
	if world.Sweep != nil {
		if err := sweptYesterday(ctx, sb.store, world.Sweep.Environment, clock.Now()); err != nil {
			sb.app.Close()
			return nil, err
		}
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	sb.stop, sb.done = stop, make(chan error, 1)
	go func() { sb.done <- sb.app.Run(runCtx) }()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sb.fake.WaitConnected(cctx, 1); err != nil {
		return nil, fmt.Errorf("the bot did not connect to the fake Slack: %w", err)
	}
	sb.driver = scenario.NewDriver(world, sb.fake, sb.store)
	ok = true
	return sb, nil
}

// demoConfig is the bot's configuration for the sandbox: GOV.UK's
// defaults, the scenario's alert channel, and Alice and Bob as starters
// and approvers in production, or in the environment that sweeps.
func demoConfig(fake *slacktest.Server, redisURL, prefix string, sweep *scenario.Sweep) (*bot.Config, error) {
	cfg := bot.DefaultConfig()
	// The demo's fake Slack does not limit calls; pacing would only slow it.
	cfg.Slack = bot.SlackConfig{AppToken: fake.AppToken, BotToken: fake.BotToken, APIURL: fake.URL(), Unpaced: true}
	cfg.Redis = bot.RedisConfig{URL: redisURL}
	cfg.StatePrefix = prefix
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.AlertChannels = []string{scenario.Channel}
	cfg.AlertSenders = []string{slacktest.AlertmanagerBotID}
	cfg.Retention = time.Hour
	prod := bot.EnvironmentDefaults(scenario.Environment)
	prod.Starters = bot.Principals{Users: []string{scenario.Alice.ID, scenario.Bob.ID}}
	// Named as approvers too, so that each confirmation pings the other.
	prod.Approvers = prod.Starters
	cfg.Environments = map[string]bot.Environment{scenario.Environment: prod, flows.Staging: bot.EnvironmentDefaults(flows.Staging)}
	if sweep != nil {
		// The scenario's world is the swept environment alone.
		delete(cfg.Environments, scenario.Environment)
		cfg.Environments[sweep.Environment] = sweepingEnv(sweep, prod.Starters)
		cfg.DefaultEnvironment = sweep.Environment
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the demo's configuration: %w", err)
	}
	return &cfg, nil
}

// halt stops the bot and waits for it.
func (sb *demoBot) halt() error {
	if sb.stop == nil {
		return nil
	}
	sb.stop()
	sb.stop = nil
	return <-sb.done
}

func (sb *demoBot) close() {
	if err := sb.halt(); err != nil {
		fmt.Fprintf(sb.logs, "stopping the bot: %v\n", err)
	}
	sb.fake.Close()
	if sb.mini != nil {
		sb.mini.Close()
	}
}

// lockedBuffer collects the bot's log, which many goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
