// Package commands is the bot's Slack surface: it routes Socket Mode
// envelopes (slash commands, button clicks, modal submissions, messages)
// to handlers, makes each take effect once, and answers people privately.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/alphagov/signon-token-bot/commands/blocks"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// Deduper remembers keys, so that an envelope Slack redelivers, or a
// double click, takes effect once.
type Deduper interface {
	// Once returns true the first time it sees key within ttl.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Responder answers through a response_url.
type Responder interface {
	Respond(ctx context.Context, responseURL string, r slack.Reply) error
}

// Command is a slash command as typed.
type Command struct {
	Name string // "/rotate-token"
	Text string
	// Args are Text's words; a sub-command handler sees only the words
	// after its name.
	Args        []string
	UserID      string
	ChannelID   string
	ResponseURL string
	TriggerID   string
}

// Action is one click on a button.
type Action struct {
	// ActionID is the button's action_id: a name the handler was
	// registered under, optionally ":" and a suffix that keeps action_ids
	// unique within a message.
	ActionID    string
	Value       string
	BlockID     string
	ActionTS    string
	UserID      string
	ChannelID   string
	MessageTS   string
	ThreadTS    string
	Ephemeral   bool
	ResponseURL string
	TriggerID   string
	// once is the router's de-duplication of this click for a handler
	// registered with ActionFirst; nil: the router asked already.
	once func(ctx context.Context) bool
}

// First reports whether this is the first delivery of the click that
// takes effect, for a handler registered with ActionFirst, which asks it
// once its checks pass and before its first side effect. Elsewhere the
// router has asked already, and First is true.
func (a Action) First(ctx context.Context) bool {
	if a.once == nil {
		return true
	}
	return a.once(ctx)
}

// Submission is a submitted modal.
type Submission struct {
	CallbackID      string
	ViewID          string
	Hash            string
	PrivateMetadata string
	UserID          string
	TriggerID       string
	// Values are the inputs, by block_id then action_id.
	Values map[string]map[string]slackapi.BlockAction
}

// Message is a message posted in a channel the bot is in.
type Message struct {
	EventID string
	Event   *slackevents.MessageEvent
	// once is the router's de-duplication of this event, asked at most
	// once; nil takes every message as new.
	once func(ctx context.Context) bool
}

// First reports whether this is the first delivery of the message event
// that takes effect; a redelivery, or a store that cannot say, answers
// as Router.once does. The router leaves the question to the handler,
// which asks it once the message turns out to concern it and before its
// first side effect: most messages are people talking, and asking the
// store about each would cost a Redis round trip per message.
func (m Message) First(ctx context.Context) bool {
	if m.once == nil {
		return true
	}
	return m.once(ctx)
}

// Handler signatures. An error is logged and, where there is someone to
// tell, answered privately.
type (
	CommandHandler func(ctx context.Context, c Command) error
	ActionHandler  func(ctx context.Context, a Action) error
	ViewHandler    func(ctx context.Context, s Submission) error
	MessageHandler func(ctx context.Context, m Message) error
	// ViewCheck finds the mistakes in a submission that the person can
	// fix in the modal, by block_id. It runs before the ack: no I/O.
	ViewCheck func(s Submission) map[string]string
	// CommandAnswer is the private answer to a slash command that its
	// words alone decide (help, a typo), if it is one. It runs before the
	// ack: no I/O.
	CommandAnswer func(c Command) (text string, ok bool)
)

// RouterConfig configures a Router.
type RouterConfig struct {
	Responder Responder
	// Dedup, when set, makes each envelope take effect once.
	Dedup Deduper
	// DedupTTL is how long a key is remembered: 1h by default, longer
	// than Slack's redeliveries.
	DedupTTL time.Duration
	// BotUserID and BotID are the bot's own, from auth.test: its own
	// messages are not routed.
	BotUserID, BotID string
	Logger           *slog.Logger
}

// Router routes envelopes to handlers registered by name.
type Router struct {
	cfg      RouterConfig
	log      *slog.Logger
	commands map[string]CommandHandler
	actions  map[string]ActionHandler
	// firsts are the actions whose handlers ask Action.First themselves.
	firsts   map[string]bool
	views    map[string]ViewHandler
	checks   map[string]ViewCheck
	answers  map[string]CommandAnswer
	messages []MessageHandler
	home     HomeHandler
}

// NewRouter makes a Router with no handlers.
func NewRouter(cfg RouterConfig) *Router {
	if cfg.DedupTTL == 0 {
		cfg.DedupTTL = time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{
		cfg: cfg, log: log,
		commands: map[string]CommandHandler{},
		actions:  map[string]ActionHandler{},
		firsts:   map[string]bool{},
		views:    map[string]ViewHandler{},
		checks:   map[string]ViewCheck{},
		answers:  map[string]CommandAnswer{},
	}
}

// Command routes a slash command ("/rotate-token").
func (r *Router) Command(name string, h CommandHandler) { r.commands[name] = h }

// Action routes clicks on buttons whose action_id is name or "name:...".
func (r *Router) Action(name string, h ActionHandler) {
	if strings.Contains(name, ":") {
		panic("commands: an action name cannot contain ':': " + name)
	}
	r.actions[name] = h
}

// ActionFirst routes clicks as Action does, and leaves their
// de-duplication to h, which asks a.First before its first side effect:
// a click h refuses on its first checks (someone with no role, a forged
// button) then costs no Redis round trip, and a redelivery of it is
// refused again, which changes nothing.
func (r *Router) ActionFirst(name string, h ActionHandler) {
	r.Action(name, h)
	r.firsts[name] = true
}

// View routes submissions of modals with this callback_id.
func (r *Router) View(callbackID string, h ViewHandler) { r.views[callbackID] = h }

// Check has Slack show c's errors beside the fields of a submitted modal
// with this callback_id, which then stays open; a submission without
// errors goes on to the view's handler.
func (r *Router) Check(callbackID string, c ViewCheck) { r.checks[callbackID] = c }

// CommandAnswer has the slash command name answered in its ack when a
// says its words decide the answer. Slack shows an ack's payload as the
// command's reply, so the person sees it as soon as the bot has read the
// command, and the answer costs no worker, Redis round trip or post.
func (r *Router) CommandAnswer(name string, a CommandAnswer) { r.answers[name] = a }

// ackReply is a slash command's answer in its ack: the fields of a
// response_url post.
type ackReply struct {
	Text         string `json:"text"`
	ResponseType string `json:"response_type"`
}

// AnswerInAck answers in the ack a slash command whose words decide the
// answer, one the bot does not know, and a modal submission that fails its
// check (the only place Slack takes field errors from).
func (r *Router) AnswerInAck(e slack.Envelope) (any, bool) {
	if sc := e.Command; sc != nil {
		if _, known := r.commands[sc.Command]; !known {
			return ackReply{Text: Answer(unknownCommand(sc.Command), ""), ResponseType: slackapi.ResponseTypeEphemeral}, true
		}
		a, ok := r.answers[sc.Command]
		if !ok {
			return nil, false
		}
		text, ok := a(commandOf(sc))
		if !ok {
			return nil, false
		}
		return ackReply{Text: text, ResponseType: slackapi.ResponseTypeEphemeral}, true
	}
	ic := e.Interaction
	if ic == nil || ic.Type != slackapi.InteractionTypeViewSubmission {
		return nil, false
	}
	s := submissionOf(ic)
	c, ok := r.checks[s.CallbackID]
	if !ok {
		return nil, false
	}
	errs := c(s)
	if len(errs) == 0 {
		return nil, false
	}
	r.log.Info("form refused in the modal", "envelope", e.ID, "view", s.CallbackID, "user", s.UserID, "fields", slices.Sorted(maps.Keys(errs)))
	return slackapi.NewErrorsViewSubmissionResponse(errs), true
}

// Message routes every message event but the bot's own to h.
func (r *Router) Message(h MessageHandler) { r.messages = append(r.messages, h) }

// HandleEnvelope routes one envelope. The runner has acked it already.
func (r *Router) HandleEnvelope(ctx context.Context, e slack.Envelope) {
	log := lazyLogger(r.log, "envelope", e.ID, "type", e.Type, "retry", e.RetryAttempt)
	switch {
	case e.Command != nil:
		r.command(ctx, log, e.Command)
	case e.Interaction != nil:
		r.interaction(ctx, log, e.Interaction)
	case e.Event != nil:
		r.event(ctx, log, e.EventID, e.Event)
	}
}

// once reports whether key is new. When the store cannot say, the work is
// done anyway: the flows guard their own side effects, and a lost click
// is worse than a repeated answer.
func (r *Router) once(ctx context.Context, log *slog.Logger, key string) bool {
	if r.cfg.Dedup == nil {
		return true
	}
	first, err := r.cfg.Dedup.Once(ctx, key, r.cfg.DedupTTL)
	if err != nil {
		log.WarnContext(ctx, "de-duplication unavailable, handling anyway", "key", key, "err", err)
		return true
	}
	if !first {
		log.InfoContext(ctx, "duplicate envelope ignored", "key", key)
	}
	return first
}

// memoOnce is once for key, asked on the first call only, so that every
// message handler sees the same answer.
func (r *Router) memoOnce(log *slog.Logger, key string) func(context.Context) bool {
	var (
		asked, first bool
	)
	return func(ctx context.Context) bool {
		if !asked {
			asked, first = true, r.once(ctx, log, key)
		}
		return first
	}
}

func commandOf(sc *slackapi.SlashCommand) Command {
	return Command{
		Name: sc.Command, Text: sc.Text, Args: strings.Fields(sc.Text), UserID: sc.UserID,
		ChannelID: sc.ChannelID, ResponseURL: sc.ResponseURL, TriggerID: sc.TriggerID,
	}
}

func unknownCommand(name string) error {
	return fmt.Errorf("%w: I do not know the command %s", flows.ErrBadInput, name)
}

func (r *Router) command(ctx context.Context, log *slog.Logger, sc *slackapi.SlashCommand) {
	c := commandOf(sc)
	log = log.With("command", c.Name, "user", c.UserID)
	// A trigger_id is unique to one invocation and repeated in a redelivery.
	if !r.once(ctx, log, "slash:"+sc.TriggerID) {
		return
	}
	h, ok := r.commands[c.Name]
	if !ok {
		r.fail(ctx, log, c.ResponseURL, unknownCommand(c.Name))
		return
	}
	if err := h(ctx, c); err != nil {
		r.fail(ctx, log, c.ResponseURL, err)
	}
}

func (r *Router) interaction(ctx context.Context, log *slog.Logger, ic *slackapi.InteractionCallback) {
	log = log.With("user", ic.User.ID)
	switch ic.Type {
	case slackapi.InteractionTypeBlockActions:
		for _, ba := range ic.ActionCallback.BlockActions {
			r.action(ctx, log, ic, ba)
		}
	case slackapi.InteractionTypeViewSubmission:
		r.submission(ctx, log, ic)
	default:
		log.DebugContext(ctx, "interaction not routed", "interaction", ic.Type)
	}
}

func (r *Router) action(ctx context.Context, log *slog.Logger, ic *slackapi.InteractionCallback, ba *slackapi.BlockAction) {
	a := Action{
		ActionID: ba.ActionID, Value: ba.Value, BlockID: ba.BlockID, ActionTS: ba.ActionTs,
		UserID: ic.User.ID, ChannelID: ic.Container.ChannelID, MessageTS: ic.Container.MessageTs,
		ThreadTS: ic.Container.ThreadTs, Ephemeral: ic.Container.IsEphemeral,
		ResponseURL: ic.ResponseURL, TriggerID: ic.TriggerID,
	}
	if a.ChannelID == "" {
		a.ChannelID = ic.Channel.ID
	}
	log = log.With("action", a.ActionID)
	key := "action:" + a.UserID + ":" + a.ActionTS + ":" + a.ActionID
	name, _, _ := strings.Cut(a.ActionID, ":")
	if r.firsts[name] {
		a.once = r.memoOnce(log, key)
	} else if !r.once(ctx, log, key) {
		return
	}
	h, ok := r.actions[name]
	if !ok {
		r.fail(ctx, log, a.ResponseURL, fmt.Errorf("%w: that button no longer does anything", flows.ErrBadInput))
		return
	}
	if err := h(ctx, a); err != nil {
		r.fail(ctx, log, a.ResponseURL, err)
	}
}

func submissionOf(ic *slackapi.InteractionCallback) Submission {
	s := Submission{
		CallbackID: ic.View.CallbackID, ViewID: ic.View.ID, Hash: ic.View.Hash,
		PrivateMetadata: ic.View.PrivateMetadata, UserID: ic.User.ID, TriggerID: ic.TriggerID,
	}
	if ic.View.State != nil {
		s.Values = ic.View.State.Values
	}
	return s
}

func (r *Router) submission(ctx context.Context, log *slog.Logger, ic *slackapi.InteractionCallback) {
	s := submissionOf(ic)
	log = log.With("view", s.CallbackID)
	// A view's hash changes with every update, so id and hash name one
	// submission of one version of the form.
	if !r.once(ctx, log, "view:"+s.ViewID+":"+s.Hash) {
		return
	}
	h, ok := r.views[s.CallbackID]
	if !ok {
		log.WarnContext(ctx, "submission of an unknown view")
		return
	}
	if err := h(ctx, s); err != nil {
		// A submission has no response_url to answer through; the
		// handler tells the user itself.
		log.ErrorContext(ctx, "view handler failed", "err", err)
	}
}

func (r *Router) event(ctx context.Context, log *slog.Logger, eventID string, ev *slackevents.EventsAPIEvent) {
	if home, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok {
		r.homeOpened(ctx, log, eventID, home)
		return
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		log.DebugContext(ctx, "event not routed", "event", ev.InnerEvent.Type)
		return
	}
	if (r.cfg.BotUserID != "" && msg.User == r.cfg.BotUserID) || (r.cfg.BotID != "" && msg.BotID == r.cfg.BotID) {
		return
	}
	m := Message{EventID: eventID, Event: msg, once: r.memoOnce(log, "event:"+eventID)}
	for _, h := range r.messages {
		if err := h(ctx, m); err != nil {
			log.ErrorContext(ctx, "message handler failed", "channel", msg.Channel, "ts", msg.TimeStamp, "err", err)
		}
	}
}

// fail logs err and tells the person privately what went wrong with
// their input, or that the bot failed.
func (r *Router) fail(ctx context.Context, log *slog.Logger, responseURL string, err error) {
	text := Answer(err, "")
	if expected(err) {
		log.InfoContext(ctx, "refused", "err", err)
	} else {
		// The person who asked sees the details, privately, under the id
		// an operator finds them by in the log.
		id := flows.NewID("e")
		log.ErrorContext(ctx, "handler failed", "error_id", id, "err", err)
		text += fmt.Sprintf(" (error `%s`: %s)", id, blocks.Escape(err.Error()))
	}
	if responseURL == "" {
		return
	}
	if rerr := r.cfg.Responder.Respond(ctx, responseURL, slack.Reply{Text: text}); rerr != nil {
		log.ErrorContext(ctx, "could not answer", "err", rerr)
	}
}

// expected reports whether err is the person's mistake or the world's
// state (bad input, a refusal, a stale click) rather than a fault.
func expected(err error) bool {
	for _, target := range []error{flows.ErrBadInput, flows.ErrUnknownAPIUser, flows.ErrUnknownApplication, flows.ErrSuspended, flows.ErrRunNotFound, flows.ErrOfferNotFound} {
		if errors.Is(err, target) {
			return true
		}
	}
	return errors.As(err, new(*flows.DeniedError)) || errors.As(err, new(*flows.RefusedError)) ||
		errors.As(err, new(*flows.ActiveRunError)) || errors.As(err, new(*flows.StaleError))
}

var (
	_ slack.Handler     = (*Router)(nil)
	_ slack.AckAnswerer = (*Router)(nil)
)
