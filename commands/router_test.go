package commands_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// memDedup is an in-memory Deduper that reports every question it is
// asked, so a test can wait for a redelivery to have been considered.
type memDedup struct {
	mu    sync.Mutex
	seen  map[string]bool
	err   error
	asked chan string
}

func newMemDedup() *memDedup {
	return &memDedup{seen: map[string]bool{}, asked: make(chan string, 100)}
}

func (d *memDedup) Once(_ context.Context, key string, _ time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer func() { d.asked <- key }()
	if d.err != nil {
		return false, d.err
	}
	if d.seen[key] {
		return false, nil
	}
	d.seen[key] = true
	return true, nil
}

func (d *memDedup) waitAsked(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case k := <-d.asked:
			if strings.HasPrefix(k, prefix) {
				return k
			}
		case <-timeout:
			t.Fatalf("the deduper was never asked about a %s key", prefix)
		}
	}
}

// harness is the real Slack client and Socket Mode runner, against the
// fake Slack, serving a Router.
type harness struct {
	fake   *slacktest.Server
	client *slack.Client
	router *commands.Router
	dedup  *memDedup
	rt     *commands.RotateToken
	ctx    context.Context
}

func newHarness(t *testing.T, workers int, setup func(h *harness)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	h := &harness{fake: slacktest.New(t), dedup: newMemDedup(), ctx: ctx}
	h.fake.AddUser(slacktest.User{ID: "U0ALICE", Name: "alice", Email: "alice@example.gov.uk"})
	h.fake.AddUser(slacktest.User{ID: "U0BOB", Name: "bob", Email: "bob@example.gov.uk"})
	h.fake.AddChannel("C0ALERTS", "alerts", "U0ALICE", "U0BOB", h.fake.BotUserID)
	h.fake.AddChannel("C0RANDOM", "random", "U0ALICE", "U0BOB")
	h.client = slack.New(slack.Config{BotToken: h.fake.BotToken, AppToken: h.fake.AppToken, APIURL: h.fake.URL()})
	h.router = commands.NewRouter(commands.RouterConfig{
		Responder: h.client, Dedup: h.dedup, BotUserID: h.fake.BotUserID, BotID: h.fake.BotID,
	})
	h.rt = &commands.RotateToken{Responder: h.client}
	h.router.Command(commands.CommandName, h.rt.Handle)
	if setup != nil {
		setup(h)
	}
	runner := slack.NewRunner(h.client, h.router, slack.RunnerConfig{Workers: workers, PingInterval: time.Second})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
	if err := h.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) slash(user, channel, text string) *slacktest.Delivery {
	return h.fake.SendSlashCommand(slacktest.SlashCommand{Command: commands.CommandName, Text: text, User: user, Channel: channel})
}

// answer sends a slash command and returns the one private answer to it.
func (h *harness) answer(t *testing.T, user, channel, text string) slacktest.Response {
	t.Helper()
	d := h.slash(user, channel, text)
	if _, err := d.WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d.WaitResponses(h.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ResponseType != "ephemeral" {
		t.Errorf("answer to %q is %s, want ephemeral", text, got[0].ResponseType)
	}
	return got[0]
}

func TestHelpIsAnsweredPrivatelyEvenWhereTheBotIsNotAMember(t *testing.T) {
	h := newHarness(t, 0, nil)
	got := h.answer(t, "U0ALICE", "C0RANDOM", "help")
	if got.Text != commands.Usage {
		t.Errorf("answer:\n%s\nwant the usage", got.Text)
	}
	for _, want := range []string{
		"`/rotate-token &lt;api-user-email&gt; &lt;application&gt; [environment]`",
		"`/rotate-token` with nothing after it opens a form",
		"`/rotate-token status &lt;run&gt;`", "`/rotate-token list`", "`/rotate-token cancel &lt;run&gt;`", "`/rotate-token help`",
	} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("usage does not list %s", want)
		}
	}
	if seen := h.fake.History("C0RANDOM", "U0ALICE"); len(seen) != 1 || seen[0].VisibleTo != "U0ALICE" {
		t.Errorf("alice sees %+v, want the usage for her eyes only", seen)
	}
	if seen := h.fake.History("C0RANDOM", "U0BOB"); len(seen) != 0 {
		t.Errorf("bob sees %+v, want nothing", seen)
	}
	if calls := h.fake.Calls("chat.postMessage", "chat.postEphemeral"); len(calls) != 0 {
		t.Errorf("answered through %v, want only the response_url", calls)
	}
}

func TestUnknownSubcommandGetsUsageAndASuggestion(t *testing.T) {
	h := newHarness(t, 0, nil)
	cases := []struct {
		text, want, notWant string
	}{
		{"stauts abc123", "Did you mean `/rotate-token status`?", ""},
		{"lsit", "Did you mean `/rotate-token list`?", ""},
		{"Cancle r-1", "Did you mean `/rotate-token cancel`?", ""},
		{"frobnicate", "`frobnicate` is not something `/rotate-token` knows", "Did you mean"},
		{"<!channel> hello", "`&lt;!channel&gt;` is not something", "<!channel>"},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			got := h.answer(t, "U0ALICE", "C0ALERTS", c.text)
			if !strings.Contains(got.Text, c.want) {
				t.Errorf("answer:\n%s\nwant it to contain %q", got.Text, c.want)
			}
			if c.notWant != "" && strings.Contains(got.Text, c.notWant) {
				t.Errorf("answer:\n%s\nmust not contain %q", got.Text, c.notWant)
			}
			if !strings.HasSuffix(got.Text, commands.Usage) {
				t.Errorf("answer does not end with the usage:\n%s", got.Text)
			}
		})
	}
}

func TestSubcommandsReachTheirHandlers(t *testing.T) {
	got := make(chan commands.Command, 10)
	record := func(_ context.Context, c commands.Command) error { got <- c; return nil }
	h := newHarness(t, 0, func(h *harness) {
		h.rt.Status, h.rt.Start = record, record
	})
	h.slash("U0ALICE", "C0ALERTS", "status r-123")
	if c := <-got; strings.Join(c.Args, " ") != "r-123" || c.UserID != "U0ALICE" || c.ResponseURL == "" || c.TriggerID == "" {
		t.Errorf("status handler got %+v", c)
	}
	h.slash("U0ALICE", "C0ALERTS", "a@example.com publishing-api integration")
	if c := <-got; strings.Join(c.Args, " ") != "a@example.com publishing-api integration" {
		t.Errorf("start handler got %+v", c)
	}
	if a := h.answer(t, "U0ALICE", "C0ALERTS", "list"); a.Text != "`/rotate-token list` is not available yet." {
		t.Errorf("list without a handler: %q", a.Text)
	}
	if a := h.answer(t, "U0ALICE", "C0ALERTS", ""); a.Text != "`/rotate-token` is not available yet." {
		t.Errorf("the form without a handler: %q", a.Text)
	}
}

func TestHandlerErrorsAreAnsweredPrivately(t *testing.T) {
	h := newHarness(t, 0, func(h *harness) {
		h.rt.Status = func(_ context.Context, c commands.Command) error {
			if c.Args[0] == "bad" {
				return fmt.Errorf("%w: run <b> & <c> does not exist", flows.ErrBadInput)
			}
			return errors.New("redis: connection refused at 10.0.0.1:6379")
		}
	})
	if a := h.answer(t, "U0ALICE", "C0ALERTS", "status bad"); a.Text != ":warning: Run &lt;b&gt; &amp; &lt;c&gt; does not exist." {
		t.Errorf("bad input answer: %q", a.Text)
	}
	// The person who asked is told privately what failed, with the id
	// the log holds it under.
	a := h.answer(t, "U0ALICE", "C0ALERTS", "status x")
	if !strings.Contains(a.Text, "problem on my side") || !strings.Contains(a.Text, "(error `e-") || !strings.Contains(a.Text, "connection refused at 10.0.0.1:6379") {
		t.Errorf("internal error answer: %q", a.Text)
	}
}

func TestRedeliveredCommandTakesEffectOnce(t *testing.T) {
	calls := make(chan struct{}, 10)
	h := newHarness(t, 1, func(h *harness) {
		h.rt.List = func(context.Context, commands.Command) error { calls <- struct{}{}; return nil }
	})
	d := h.slash("U0ALICE", "C0ALERTS", "list")
	<-calls
	h.dedup.waitAsked(t, "slash:")
	if _, err := d.Redeliver().WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.dedup.waitAsked(t, "slash:")
	// A new invocation is a new trigger_id, so it runs.
	h.slash("U0ALICE", "C0ALERTS", "list")
	<-calls
	select {
	case <-calls:
		t.Fatal("the redelivered command ran twice")
	default:
	}
}

func TestClicksRouteByActionNameOnceEach(t *testing.T) {
	clicks := make(chan commands.Action, 10)
	h := newHarness(t, 1, func(h *harness) {
		h.router.Action("rotate", func(_ context.Context, a commands.Action) error { clicks <- a; return nil })
	})
	ts, err := h.client.PostMessage(h.ctx, "C0ALERTS", slackapi.MsgOptionText("offer", false), slackapi.MsgOptionBlocks(
		slackapi.NewActionBlock("item", slackapi.NewButtonBlockElement("rotate:item-1", "opaque-1",
			slackapi.NewTextBlockObject(slackapi.PlainTextType, "Rotate", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	d := h.fake.Click(slacktest.BlockAction{User: "U0BOB", Channel: "C0ALERTS", MessageTS: ts, ActionID: "rotate:item-1"})
	a := <-clicks
	if a.Value != "opaque-1" || a.UserID != "U0BOB" || a.MessageTS != ts || a.ChannelID != "C0ALERTS" || a.ResponseURL == "" {
		t.Errorf("handler got %+v", a)
	}
	h.dedup.waitAsked(t, "action:")
	d.Redeliver()
	h.dedup.waitAsked(t, "action:")
	// A second click is a new action_ts: it reaches the handler, which
	// decides what a double click means.
	h.fake.Click(slacktest.BlockAction{User: "U0BOB", Channel: "C0ALERTS", MessageTS: ts, ActionID: "rotate:item-1"})
	<-clicks
	select {
	case a := <-clicks:
		t.Fatalf("the redelivered click was handled again: %+v", a)
	default:
	}
}

func TestUnknownButtonIsAnsweredPrivately(t *testing.T) {
	h := newHarness(t, 0, nil)
	ts, err := h.client.PostMessage(h.ctx, "C0ALERTS", slackapi.MsgOptionText("old", false), slackapi.MsgOptionBlocks(
		slackapi.NewActionBlock("", slackapi.NewButtonBlockElement("retired", "x",
			slackapi.NewTextBlockObject(slackapi.PlainTextType, "Old", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	d := h.fake.Click(slacktest.BlockAction{User: "U0ALICE", Channel: "C0ALERTS", MessageTS: ts, ActionID: "retired"})
	got, err := d.WaitResponses(h.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ResponseType != "ephemeral" || !strings.Contains(got[0].Text, "no longer does anything") {
		t.Errorf("answer = %+v", got[0])
	}
}

func TestModalOpensAndItsSubmissionIsRouted(t *testing.T) {
	subs := make(chan commands.Submission, 10)
	h := newHarness(t, 0, func(h *harness) {
		h.rt.Form = func(ctx context.Context, c commands.Command) error {
			_, err := h.client.OpenView(ctx, c.TriggerID, slackapi.ModalViewRequest{
				Type: slackapi.VTModal, CallbackID: "rotate-form", PrivateMetadata: c.ChannelID,
				Title:  slackapi.NewTextBlockObject(slackapi.PlainTextType, "Rotate a token", false, false),
				Submit: slackapi.NewTextBlockObject(slackapi.PlainTextType, "Start", false, false),
				Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{slackapi.NewInputBlock("user",
					slackapi.NewTextBlockObject(slackapi.PlainTextType, "API user email", false, false), nil,
					slackapi.NewPlainTextInputBlockElement(nil, "email"))}},
			})
			return err
		}
		h.router.View("rotate-form", func(_ context.Context, s commands.Submission) error { subs <- s; return nil })
	})

	d := h.slash("U0ALICE", "C0ALERTS", "")
	if _, err := d.WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fake.WaitCalls(h.ctx, "views.open", 1); err != nil {
		t.Fatal(err)
	}
	views := h.fake.OpenViews("U0ALICE")
	if len(views) != 1 {
		t.Fatalf("alice has %d views open", len(views))
	}
	h.fake.Submit(slacktest.ViewSubmission{User: "U0ALICE", ViewID: views[0].ID, Values: map[string]map[string]slackapi.BlockAction{
		"user": {"email": {Type: "plain_text_input", Value: "a@example.com"}},
	}})
	s := <-subs
	if s.PrivateMetadata != "C0ALERTS" || s.UserID != "U0ALICE" || s.Values["user"]["email"].Value != "a@example.com" {
		t.Errorf("view handler got %+v", s)
	}
}

func TestMessagesReachHandlersButNotTheBotsOwn(t *testing.T) {
	msgs := make(chan commands.Message, 10)
	h := newHarness(t, 1, func(h *harness) {
		h.fake.EchoMessages = true
		h.router.Message(func(_ context.Context, m commands.Message) error { msgs <- m; return nil })
	})
	if _, err := h.client.PostMessage(h.ctx, "C0ALERTS", slackapi.MsgOptionText("the bot's own", false)); err != nil {
		t.Fatal(err)
	}
	d := h.fake.SendMessage(slacktest.AlertmanagerMessage("C0ALERTS", slackapi.Attachment{Title: "alert"}))
	m := <-msgs
	if m.EventID != d.EventID || m.Event.SubType != "bot_message" || m.Event.Username != "Prometheus Alertmanager" {
		t.Errorf("handler got %+v", m.Event)
	}
	// One worker handles envelopes in order: the echo came first.
	select {
	case m := <-msgs:
		t.Errorf("handler got a second message %+v", m.Event)
	default:
	}
}

func TestDedupOutageStillHandles(t *testing.T) {
	h := newHarness(t, 0, nil)
	h.dedup.mu.Lock()
	h.dedup.err = errors.New("redis down")
	h.dedup.mu.Unlock()
	if a := h.answer(t, "U0ALICE", "C0ALERTS", "help"); a.Text != commands.Usage {
		t.Errorf("answer with the deduper down: %q", a.Text)
	}
}

// TestMessagesAskTheStoreOnlyWhenTheyConcernAHandler: people talking in a
// channel cost no de-duplication round trip; a message a handler acts on
// is de-duplicated once per delivery, however often the handler asks.
func TestMessagesAskTheStoreOnlyWhenTheyConcernAHandler(t *testing.T) {
	type seen struct {
		text  string
		first bool
	}
	got := make(chan seen, 10)
	h := newHarness(t, 0, func(h *harness) {
		h.router.Message(func(ctx context.Context, m commands.Message) error {
			s := seen{text: m.Event.Text}
			if strings.HasPrefix(s.text, "ALERT") {
				s.first = m.First(ctx) && m.First(ctx)
			}
			got <- s
			return nil
		})
	})
	next := func() seen {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-h.ctx.Done():
			t.Fatal("the message handler was not called")
			return seen{}
		}
	}
	h.fake.SendMessage(slacktest.UserMessage("C0ALERTS", "U0ALICE", "hello"))
	if s := next(); s.text != "hello" {
		t.Fatalf("handled %+v, want hello", s)
	}
	select {
	case k := <-h.dedup.asked:
		t.Fatalf("a person's message asked the store about %q", k)
	default:
	}

	d := h.fake.SendMessage(slacktest.UserMessage("C0ALERTS", "U0ALICE", "ALERT firing"))
	if s := next(); !s.first {
		t.Errorf("the alert's first delivery: %+v, want first", s)
	}
	h.dedup.waitAsked(t, "event:")
	d.Redeliver()
	if s := next(); s.first {
		t.Errorf("the alert's redelivery: %+v, want not first", s)
	}
	h.dedup.waitAsked(t, "event:")
	select {
	case k := <-h.dedup.asked:
		t.Fatalf("the store was asked again, about %q", k)
	default:
	}
}

// A command whose words decide its answer is answered in the ack: Slack
// shows it at once, and no worker, de-duplication or post is spent on it.
// So is a command the bot does not know.
func TestWordsAloneAreAnsweredInTheAck(t *testing.T) {
	handled := make(chan commands.Command, 10)
	h := newHarness(t, 0, func(h *harness) {
		h.rt.Status = func(_ context.Context, c commands.Command) error { handled <- c; return nil }
		h.router.CommandAnswer(commands.CommandName, h.rt.Immediate)
	})
	for _, c := range []struct{ command, text, want string }{
		{commands.CommandName, "help", commands.Usage},
		{commands.CommandName, "lsit", "Did you mean `/rotate-token list`?"},
		{commands.CommandName, "audit", "`/rotate-token audit` is not available yet."},
		{"/rotate-tokens", "help", "I do not know the command /rotate-tokens"},
	} {
		d := h.fake.SendSlashCommand(slacktest.SlashCommand{Command: c.command, Text: c.text, User: "U0ALICE", Channel: "C0RANDOM"})
		ack, err := d.WaitAck(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := d.Responses()
		if len(got) != 1 || !got[0].InAck || got[0].ResponseType != "ephemeral" || !strings.Contains(got[0].Text, c.want) {
			t.Errorf("%s %s: replies %+v (ack payload %s), want one private reply in the ack containing %q", c.command, c.text, got, ack.Payload, c.want)
		}
	}
	if calls := h.fake.Calls("chat.postMessage", "chat.postEphemeral"); len(calls) != 0 {
		t.Errorf("Web API calls %v, want none", calls)
	}
	// A command that needs its handler still goes to a worker, once.
	d := h.slash("U0ALICE", "C0ALERTS", "status r-1")
	if c := <-handled; strings.Join(c.Args, " ") != "r-1" {
		t.Errorf("status handler got %+v", c)
	}
	if ack, err := d.WaitAck(h.ctx); err != nil || len(ack.Payload) != 0 {
		t.Errorf("status acked with %s, %v; want an empty ack", ack.Payload, err)
	}
	h.dedup.mu.Lock()
	keys := slices.Sorted(maps.Keys(h.dedup.seen))
	h.dedup.mu.Unlock()
	if len(keys) != 1 || keys[0] != "slash:"+d.TriggerID {
		t.Errorf("de-duplication keys %q, want only the status command's", keys)
	}
}

// A handler registered with ActionFirst de-duplicates its clicks itself:
// a click it refuses costs no de-duplication, and a redelivered click it
// takes is taken once.
func TestActionFirstLeavesDeduplicationToTheHandler(t *testing.T) {
	firsts := make(chan bool, 10)
	h := newHarness(t, 0, func(h *harness) {
		h.router.ActionFirst("press", func(ctx context.Context, a commands.Action) error {
			if a.UserID == "U0BOB" {
				return fmt.Errorf("%w: not for you", flows.ErrBadInput)
			}
			firsts <- a.First(ctx)
			return nil
		})
	})
	ts, err := h.client.PostMessage(h.ctx, "C0ALERTS", slackapi.MsgOptionText("press", false), slackapi.MsgOptionBlocks(
		slackapi.NewActionBlock("", slackapi.NewButtonBlockElement("press", "v", slackapi.NewTextBlockObject(slackapi.PlainTextType, "Press", false, false)))))
	if err != nil {
		t.Fatal(err)
	}

	refused := h.fake.Click(slacktest.BlockAction{User: "U0BOB", Channel: "C0ALERTS", MessageTS: ts, ActionID: "press"})
	if got, err := refused.WaitResponses(h.ctx, 1); err != nil || !strings.Contains(got[0].Text, "Not for you") {
		t.Fatalf("refusal %+v, %v", got, err)
	}
	h.dedup.mu.Lock()
	n := len(h.dedup.seen)
	h.dedup.mu.Unlock()
	if n != 0 {
		t.Errorf("a refused click was de-duplicated (%d keys)", n)
	}

	d := h.fake.Click(slacktest.BlockAction{User: "U0ALICE", Channel: "C0ALERTS", MessageTS: ts, ActionID: "press"})
	if !<-firsts {
		t.Error("the first delivery of a click was not first")
	}
	d.Redeliver()
	if <-firsts {
		t.Error("the redelivered click was taken again")
	}
}
