package slack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// Envelope is one Socket Mode request, acked already, for a handler.
// Exactly one of Event, Interaction and Command is set.
type Envelope struct {
	ID   string
	Type socketmode.EventType
	// RetryAttempt counts Slack's redeliveries of an envelope it thinks
	// was not acked; handlers de-duplicate by the payload's own ids.
	RetryAttempt int
	RetryReason  string
	ReceivedAt   time.Time

	Event *slackevents.EventsAPIEvent
	// EventID is the Events API event_id, stable across redeliveries.
	EventID     string
	Interaction *slackapi.InteractionCallback
	Command     *slackapi.SlashCommand
}

// Handler does the work an envelope asks for. It runs on a worker, after
// the ack, with a context that ends some time after the runner stops.
type Handler interface {
	HandleEnvelope(ctx context.Context, e Envelope)
}

// AckAnswerer is implemented by a Handler that answers some envelopes in
// their ack, as Slack requires for a modal's field errors. AnswerInAck
// runs on the receiving goroutine before the ack, so it must be quick and
// do no I/O. With ok, the envelope is acked with payload and goes no
// further; without, it is acked empty and handed to a worker.
type AckAnswerer interface {
	AnswerInAck(e Envelope) (payload any, ok bool)
}

// RunnerConfig configures a Runner. Zero fields take the defaults.
//
// Clicks and commands, which a person waits on and Slack does not
// redeliver, have workers of their own; Events API envelopes (messages,
// alerts among them), which Slack redelivers when left unacked, have
// theirs. A flood of messages then cannot take the workers or the backlog
// a click needs.
type RunnerConfig struct {
	// Workers run the handlers of clicks, modal submissions and slash
	// commands: 8.
	Workers int
	// Backlog is how many of those acked envelopes may wait for a worker:
	// 256. Beyond it envelopes are not acked, so Slack redelivers them
	// later.
	Backlog int
	// EventWorkers and EventBacklog are the same for Events API
	// envelopes: 2 and 64.
	EventWorkers, EventBacklog int
	// PingInterval is how long without a ping from Slack before the
	// connection is given up and reopened: 30s.
	PingInterval time.Duration
	// Grace is how long handlers may keep running after Run's context
	// ends: 10s.
	Grace  time.Duration
	Logger *slog.Logger
}

// Runner keeps a Socket Mode connection open and serves its envelopes.
type Runner struct {
	sm        *socketmode.Client
	client    *Client
	apiURL    string
	wire      *wire
	handler   Handler
	cfg       RunnerConfig
	log       *slog.Logger
	metrics   *Metrics
	connected atomic.Bool
	// trouble is why the last attempt to connect failed.
	trouble atomic.Pointer[string]
	// interactive serves clicks, submissions and commands; events serves
	// the Events API.
	interactive, events *lane
}

// lane is a pool of workers. slots bounds the envelopes acked and not yet
// finished; work carries them to the workers.
type lane struct {
	name    string
	workers int
	slots   chan struct{}
	work    chan Envelope
}

func newLane(name string, workers, backlog int) *lane {
	return &lane{name: name, workers: workers, slots: make(chan struct{}, workers+backlog), work: make(chan Envelope, workers+backlog)}
}

// laneOf is the lane that serves env.
func (r *Runner) laneOf(env Envelope) *lane {
	if env.Event != nil {
		return r.events
	}
	return r.interactive
}

// NewRunner makes a Runner that serves h over c's app token.
func NewRunner(c *Client, h Handler, cfg RunnerConfig) *Runner {
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = 256
	}
	if cfg.EventWorkers == 0 {
		cfg.EventWorkers = 2
	}
	if cfg.EventBacklog == 0 {
		cfg.EventBacklog = 64
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 30 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = c.log
	}
	w := &wire{pingInterval: cfg.PingInterval}
	return &Runner{
		sm: socketmode.New(c.api,
			socketmode.OptionPingInterval(cfg.PingInterval),
			socketmode.OptionDialer(w.dialer()),
			socketmode.OptionLog(slog.NewLogLogger(log.Handler(), slog.LevelDebug))),
		client:      c,
		apiURL:      c.apiURL,
		wire:        w,
		handler:     h,
		cfg:         cfg,
		log:         log,
		metrics:     c.metrics,
		interactive: newLane("interactive", cfg.Workers, cfg.Backlog),
		events:      newLane("events", cfg.EventWorkers, cfg.EventBacklog),
	}
}

// Connected reports whether a Socket Mode connection is open, for /readyz.
func (r *Runner) Connected() bool { return r.connected.Load() }

// Trouble says why the last attempt to connect failed, "" if it did not.
func (r *Runner) Trouble() string {
	if t := r.trouble.Load(); t != nil {
		return *t
	}
	return ""
}

// Run serves until ctx ends, then lets running handlers finish (within
// the grace period) and returns nil. While Slack cannot be reached it
// keeps trying, backing off up to 5 minutes. It returns an error only when
// Slack refuses the app token, naming SLACK_APP_TOKEN.
func (r *Runner) Run(ctx context.Context) error {
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var workers sync.WaitGroup
	for _, l := range []*lane{r.interactive, r.events} {
		for range l.workers {
			workers.Go(func() { r.serve(handlerCtx, l) })
		}
	}

	smCtx, stopSM := context.WithCancel(ctx)
	defer stopSM()
	connErr := make(chan error, 1)
	go func() { connErr <- r.connect(smCtx) }()

	err := r.receive(ctx, connErr, stopSM)
	r.connected.Store(false)
	r.metrics.connected.Set(0)

	// Stop taking work, let the workers drain what was acked, and cut them
	// off after the grace period.
	close(r.interactive.work)
	close(r.events.work)
	grace := time.AfterFunc(r.cfg.Grace, cancelHandlers)
	defer grace.Stop()
	workers.Wait()
	return err
}

// connect runs slack-go's connection loop, which reconnects by itself
// after a disconnect, a dropped connection or a ping timeout, backing off
// while Slack is unreachable. It gives up by itself on four of the codes
// that refuse the app token (the others connectionEvent catches), and
// that is fatal.
func (r *Runner) connect(ctx context.Context) error {
	err := r.sm.RunContext(ctx)
	if ctx.Err() != nil {
		return nil
	}
	r.metrics.calls.WithLabelValues("apps.connections.open", classify(err)).Inc()
	r.metrics.connections.WithLabelValues("failed").Inc()
	return fmt.Errorf("socket mode: %w", r.explain(err))
}

// receive takes slack-go's events until ctx ends or the connection loop
// gives up, or stops it on a refusal it would retry for ever. Acks happen
// here, on this goroutine, before any handler runs.
func (r *Runner) receive(ctx context.Context, connErr <-chan error, stopConnecting func()) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-connErr:
			return err
		case ev := <-r.sm.Events:
			if err := r.connectionEvent(ctx, ev); err != nil {
				stopConnecting()
				<-connErr
				return fmt.Errorf("socket mode: %w", err)
			}
			r.event(ctx, ev)
		}
	}
}

func (r *Runner) event(ctx context.Context, ev socketmode.Event) {
	received := time.Now()
	switch ev.Type {
	case socketmode.EventTypeErrorBadMessage:
		// Without an envelope id it cannot be acked; Slack redelivers it.
		r.metrics.envelopes.WithLabelValues("unknown", "malformed").Inc()
		r.log.WarnContext(ctx, "socket mode message does not parse", "err", ev.Data)
		return
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
	default:
		return
	}
	if ev.Request == nil || ev.Request.EnvelopeID == "" {
		return
	}
	env, ok := envelopeOf(ev)
	if !ok {
		r.metrics.envelopes.WithLabelValues(string(ev.Type), "malformed").Inc()
		r.log.WarnContext(ctx, "socket mode envelope has an unexpected payload", "type", ev.Type, "envelope", ev.Request.EnvelopeID)
		return
	}
	env.ReceivedAt = received

	if payload, ok := r.answerInAck(ctx, env); ok {
		if r.ack(ctx, env, payload) {
			r.metrics.envelopes.WithLabelValues(string(ev.Type), "answered_in_ack").Inc()
		}
		return
	}

	// Take a slot before acking: with every worker of its lane busy and
	// the backlog full, leave the envelope unacked for Slack to redeliver
	// rather than acking work that would be dropped.
	l := r.laneOf(env)
	select {
	case l.slots <- struct{}{}:
	default:
		r.metrics.envelopes.WithLabelValues(string(ev.Type), "shed").Inc()
		r.log.WarnContext(ctx, "every worker busy: leaving an envelope for Slack to redeliver", "type", ev.Type, "lane", l.name, "envelope", env.ID)
		return
	}
	if !r.ack(ctx, env, nil) {
		<-l.slots
		return
	}
	l.work <- env
}

// ack acknowledges the envelope with payload and reports whether Slack
// was told.
func (r *Runner) ack(ctx context.Context, env Envelope, payload any) bool {
	if err := r.sm.AckCtx(ctx, env.ID, payload); err != nil {
		r.metrics.envelopes.WithLabelValues(string(env.Type), "ack_failed").Inc()
		r.log.WarnContext(ctx, "ack failed", "envelope", env.ID, "err", err)
		return false
	}
	r.metrics.ackTime.Observe(time.Since(env.ReceivedAt).Seconds())
	return true
}

// answerInAck asks the handler, if it is an AckAnswerer, for the
// envelope's ack payload. A panic there must not take the connection down
// with it: it counts as no answer, and the envelope goes on to a worker.
func (r *Runner) answerInAck(ctx context.Context, env Envelope) (payload any, ok bool) {
	a, is := r.handler.(AckAnswerer)
	if !is {
		return nil, false
	}
	defer func() {
		if p := recover(); p != nil {
			r.metrics.envelopes.WithLabelValues(string(env.Type), "panicked").Inc()
			r.log.ErrorContext(ctx, "answer in the ack panicked", "type", env.Type, "envelope", env.ID, "panic", p)
			payload, ok = nil, false
		}
	}()
	return a.AnswerInAck(env)
}

func envelopeOf(ev socketmode.Event) (Envelope, bool) {
	env := Envelope{
		ID: ev.Request.EnvelopeID, Type: ev.Type,
		RetryAttempt: ev.Request.RetryAttempt, RetryReason: ev.Request.RetryReason,
	}
	switch d := ev.Data.(type) {
	case slackevents.EventsAPIEvent:
		env.Event = &d
		if cb, ok := d.Data.(*slackevents.EventsAPICallbackEvent); ok {
			env.EventID = cb.EventID
		}
	case slackapi.InteractionCallback:
		env.Interaction = &d
	case slackapi.SlashCommand:
		env.Command = &d
	default:
		return Envelope{}, false
	}
	return env, true
}

// serve runs a lane's handlers until its work channel closes.
func (r *Runner) serve(ctx context.Context, l *lane) {
	for env := range l.work {
		r.handle(ctx, env)
		<-l.slots
	}
}

func (r *Runner) handle(ctx context.Context, env Envelope) {
	defer func() {
		if p := recover(); p != nil {
			r.metrics.envelopes.WithLabelValues(string(env.Type), "panicked").Inc()
			r.log.ErrorContext(ctx, "handler panicked", "type", env.Type, "envelope", env.ID, "panic", p)
		}
	}()
	r.handler.HandleEnvelope(ctx, env)
	r.metrics.envelopes.WithLabelValues(string(env.Type), "handled").Inc()
}
