package commands

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// Engine is what the Slack surface asks of the rotation engine.
type Engine interface {
	Start(ctx context.Context, req flows.StartRequest) (*flows.Run, error)
	Act(ctx context.Context, req flows.ActRequest) (*flows.Run, error)
	Check(ctx context.Context, req flows.ActRequest) error
	Assess(ctx context.Context, key flows.Key) (flows.Assessment, error)
	Expiring(ctx context.Context, env string) ([]flows.Assessment, error)
	Get(ctx context.Context, id string) (*flows.Run, error)
	Active(ctx context.Context) ([]*flows.Run, error)
	MayStart(ctx context.Context, env, user string) (bool, error)
	MaySee(ctx context.Context, user string) (bool, error)
	Policy() flows.Policy
	AuditTrail(ctx context.Context, id string) ([]flows.AuditEntry, error)
	StartBatch(ctx context.Context, req flows.BatchRequest) (*flows.BatchStarted, error)
	ActBatch(ctx context.Context, req flows.BatchActRequest) (*flows.Batch, error)
	GetBatch(ctx context.Context, id string) (*flows.Batch, error)
}

// ActiveRuns finds the run rotating a token, if any.
type ActiveRuns interface {
	ActiveRun(ctx context.Context, key flows.Key) (*flows.Run, error)
}

// AlertGroups remembers the offers that answered each alert group (the
// alerts of one environment in one channel, which Alertmanager sends as
// one message), so that a resolved message naming no token can resolve
// them.
type AlertGroups interface {
	// Remember adds an offer to the group.
	Remember(ctx context.Context, channel, env, offerID string) error
	// Take returns the group's offers, oldest first, and forgets them.
	Take(ctx context.Context, channel, env string) ([]string, error)
}

// Config is what the Slack surface is built from.
type Config struct {
	Engine Engine
	Slack  SlackAPI
	Offers flows.OfferStore
	Runs   ActiveRuns
	Groups AlertGroups
	// Dedup guards the replies that have no record of their own.
	Dedup  Deduper
	Render blocks.Renderer
	// AlertChannels are the channels whose alerts the bot answers.
	AlertChannels []string
	// AlertSenders are the bot and app ids whose messages count as
	// alerts; with none, no message does.
	AlertSenders []string
	// Metrics counts what the Slack surface ignores; nil counts nothing.
	Metrics Metrics
	// DefaultEnvironment is /rotate-token's when none is given.
	DefaultEnvironment string
	Clock              flows.Clock
	Logger             *slog.Logger
	// AuditLimits says how long the audit trail is kept and the cap of the
	// all-runs stream, for `/rotate-token audit`; nil shows zeroes.
	AuditLimits func() (retention time.Duration, maxLen int64)
	// Snoozes keeps Ignores with a date across alerts, and Audit records
	// ignores and undos; nil keeps an Ignore to its offer and audits in
	// the log only.
	Snoozes Snoozes
	Audit   Auditor
}

// Metrics counts the messages the bot ignores, for an operator to see
// attempts that leave no trace in Slack.
type Metrics interface {
	// AlertIgnored counts an alert-like message the bot did not answer,
	// by reason (IgnoredSender).
	AlertIgnored(reason string)
}

// IgnoredSender: the message looked like the alert but its sender is not
// among the AlertSenders.
const IgnoredSender = "sender"

type nopMetrics struct{}

func (nopMetrics) AlertIgnored(string) {}

// Bot is the Slack surface of the rotation engine: alerts, offers, gate
// buttons, the reveal modal and /rotate-token.
type Bot struct {
	cfg     Config
	engine  Engine
	slack   SlackAPI
	render  blocks.Renderer
	offers  *offerPages
	metrics Metrics
	clock   flows.Clock
	log     *slog.Logger
}

// New checks cfg and makes a Bot.
func New(cfg Config) (*Bot, error) {
	if cfg.Engine == nil || cfg.Slack == nil || cfg.Offers == nil || cfg.Runs == nil || cfg.Groups == nil {
		return nil, errors.New("commands: Engine, Slack, Offers, Runs and Groups are required")
	}
	if _, ok := cfg.Engine.Policy().Environments[cfg.DefaultEnvironment]; !ok {
		return nil, errors.New("commands: the default environment " + cfg.DefaultEnvironment + " is not configured")
	}
	if cfg.Clock == nil {
		cfg.Clock = flows.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	return &Bot{
		metrics: cfg.Metrics,
		cfg:     cfg,
		engine:  cfg.Engine,
		slack:   cfg.Slack,
		render:  cfg.Render,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		offers:  &offerPages{slack: cfg.Slack, render: cfg.Render, store: cfg.Offers, runs: cfg.Engine.Get, clock: cfg.Clock, log: cfg.Logger},
	}, nil
}

// Register routes the bot's envelopes.
func (b *Bot) Register(r *Router) {
	rt := &RotateToken{
		Responder: b.slack,
		Start:     b.startCommand,
		Form:      b.openForm,
		Status:    b.statusCommand,
		List:      b.listCommand,
		Cancel:    b.cancelCommand,
		Audit:     b.auditCommand,
		Expiring:  b.expiringCommand,
	}
	r.Command(CommandName, rt.Handle)
	r.CommandAnswer(CommandName, rt.Immediate)
	r.View(blocks.FormCallbackID, b.submitForm)
	r.Check(blocks.FormCallbackID, checkForm)
	r.ActionFirst(blocks.ActionRotate, b.offerClick(flows.ModeRotate))
	r.ActionFirst(blocks.ActionRevokeDisused, b.offerClick(flows.ModeRevokeDisused))
	r.ActionFirst(blocks.ActionIgnore, b.ignoreClick)
	r.ActionFirst(blocks.ActionUnignore, b.undoClick)
	r.View(blocks.IgnoreCallbackID, b.submitIgnore)
	r.Check(blocks.IgnoreCallbackID, b.checkIgnore)
	r.Action(blocks.ActionRotateAll, b.rotateAllClick)
	r.Action(blocks.ActionBatchApprove, b.batchGateClick(flows.ActionApprove))
	r.Action(blocks.ActionBatchCancel, b.batchGateClick(flows.ActionCancel))
	for _, a := range []flows.Action{flows.ActionApprove, flows.ActionCancel, flows.ActionRetry, flows.ActionRollback,
		flows.ActionRestart, flows.ActionDelivered, flows.ActionReopen} {
		r.Action(blocks.GatePrefix+string(a), b.gateClick(a))
	}
	r.Action(blocks.GatePrefix+string(flows.ActionReveal), b.revealClick)
	r.Message(b.onMessage)
}

// isAlertChannel reports whether the bot answers alerts in channel.
func (b *Bot) isAlertChannel(channel string) bool {
	return slices.Contains(b.cfg.AlertChannels, channel)
}

// runLink links to a run's thread, at its status message.
func (b *Bot) runLink(run *flows.Run) string {
	if run == nil {
		return ""
	}
	return b.render.Link(run.Thread.Channel, run.Receipts[flows.StatusPostID].TS, run.Thread.TS)
}

// private answers one person through a response_url.
func (b *Bot) private(ctx context.Context, responseURL, text string) error {
	return b.slack.Respond(ctx, responseURL, slack.Reply{Text: text})
}
