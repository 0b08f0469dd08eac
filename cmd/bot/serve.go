package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	slackapi "github.com/slack-go/slack"
	"golang.org/x/sync/errgroup"

	"github.com/alphagov/signon-token-bot/commands"
	slackint "github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/state"
)

// routerDeps is what the Slack surface is built from. The engine and the
// commands that come later add what they need here.
type routerDeps struct {
	Config *Config
	Slack  *slackint.Client
	Dedup  commands.Deduper
	Self   *slackapi.AuthTestResponse
	Log    *slog.Logger
}

// buildRouter wires handlers to the router: the seam where the rotation
// commands, buttons and alert detection plug in.
func buildRouter(d routerDeps) *commands.Router {
	r := commands.NewRouter(commands.RouterConfig{
		Responder: d.Slack, Dedup: d.Dedup, BotUserID: d.Self.UserID, BotID: d.Self.BotID, Logger: d.Log,
	})
	rt := &commands.RotateToken{Responder: d.Slack}
	r.Command(commands.CommandName, rt.Handle)
	return r
}

// serve runs the bot until ctx ends: the Socket Mode runner and the HTTP
// listener, each stopping the other if it fails.
func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	client := slackint.New(slackint.Config{
		BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, APIURL: cfg.Slack.APIURL,
		Metrics: slackint.NewMetrics(reg), Logger: log,
	})
	rdb, err := newRedis(cfg.Redis)
	if err != nil {
		return fmt.Errorf("redis client: %w", err)
	}
	defer rdb.Close()
	store, err := state.New(rdb, state.Options{Prefix: cfg.StatePrefix, Retention: cfg.Retention})
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}

	self, err := client.AuthTest(ctx)
	if err != nil {
		return fmt.Errorf("check SLACK_BOT_TOKEN with auth.test: %w", err)
	}
	log.InfoContext(ctx, "slack identity", "team", self.Team, "user", self.User, "user_id", self.UserID, "bot_id", self.BotID)
	router := buildRouter(routerDeps{Config: cfg, Slack: client, Dedup: store, Self: self, Log: log})
	runner := slackint.NewRunner(client, router, slackint.RunnerConfig{Logger: log})

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           healthHandler(runner, pingFunc(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }), reg),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.InfoContext(ctx, "http listening", "addr", ln.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runner.Run(gctx) })
	g.Go(func() error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("http: %w", err)
		case <-gctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	err = g.Wait()
	log.InfoContext(ctx, "stopped", "err", err)
	return err
}
