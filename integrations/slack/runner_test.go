package slack_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
	"github.com/alphagov/signon-token-bot/integrations/slack"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// handlerFunc adapts a function to slack.Handler.
type handlerFunc func(ctx context.Context, e slack.Envelope)

func (f handlerFunc) HandleEnvelope(ctx context.Context, e slack.Envelope) { f(ctx, e) }

// startRunner runs a Runner against the fake until the test ends and
// returns it with a function that stops it and returns Run's error.
func startRunner(t *testing.T, f *fixture, h slack.Handler, cfg slack.RunnerConfig) (*slack.Runner, func() error) {
	t.Helper()
	if cfg.PingInterval == 0 {
		cfg.PingInterval = time.Second
	}
	r := slack.NewRunner(f.client, h, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return r, stop
}

func slash(f *fixture, text string) *slacktest.Delivery {
	return f.fake.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: text, User: "U0ALICE", Channel: "C0ALERTS"})
}

// waitFor polls cond until it holds or the test's deadline passes. It is
// for state with no event to wait on (an atomic flag in the runner).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunnerAcksAndHandsEnvelopesToHandlers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	got := make(chan slack.Envelope, 10)
	r, _ := startRunner(t, f, handlerFunc(func(_ context.Context, e slack.Envelope) { got <- e }), slack.RunnerConfig{})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected", r.Connected)

	d := slash(f, "help")
	if _, err := d.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	e := <-got
	if e.Command == nil || e.Command.Text != "help" || e.ID != d.EnvelopeID {
		t.Errorf("handler got %+v", e)
	}

	m := f.fake.SendMessage(slacktest.UserMessage("C0ALERTS", "U0ALICE", "hi"))
	if _, err := m.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if e := <-got; e.Event == nil || e.EventID != m.EventID {
		t.Errorf("handler got %+v, want the event %s", e, m.EventID)
	}
	if n := promtest.Scrape(t, f.reg).Sum("signon_token_bot_slack_ack_seconds_count", nil); n != 2 {
		t.Errorf("acks timed = %v, want 2: the command and the message", n)
	}
}

func TestABlockedHandlerDoesNotDelayAcks(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	_, _ = startRunner(t, f, handlerFunc(func(context.Context, slack.Envelope) {
		started <- struct{}{}
		<-release
	}), slack.RunnerConfig{Workers: 2})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer close(release)

	// Both workers stick in a handler; the envelopes after them are still
	// acked at once.
	var ds []*slacktest.Delivery
	for range 2 {
		ds = append(ds, slash(f, "block"))
		<-started
	}
	for range 20 {
		ds = append(ds, slash(f, "later"))
	}
	for i, d := range ds {
		ack, err := d.WaitAck(ctx)
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
		if ack.Latency > time.Second {
			t.Errorf("envelope %d acked after %v", i, ack.Latency)
		}
	}
}

func TestRunnerLeavesEnvelopesUnackedWhenItsBacklogIsFull(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	release := make(chan struct{})
	handled := make(chan string, 10)
	_, _ = startRunner(t, f, handlerFunc(func(_ context.Context, e slack.Envelope) {
		if e.Command.Text == "first" {
			<-release
		}
		handled <- e.Command.Text
	}), slack.RunnerConfig{Workers: 1, Backlog: 1})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	first, queued := slash(f, "first"), slash(f, "queued")
	for _, d := range []*slacktest.Delivery{first, queued} {
		if _, err := d.WaitAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	shed := slash(f, "shed")
	waitFor(t, "the envelope to be shed", func() bool {
		return f.metric(t, "signon_token_bot_slack_envelopes_total", map[string]string{"outcome": "shed"}) == 1
	})
	if shed.Acked() {
		t.Fatal("acked an envelope the runner could not take")
	}
	close(release)
	for _, want := range []string{"first", "queued"} {
		if got := <-handled; got != want {
			t.Errorf("handled %q, want %q", got, want)
		}
	}
	// Slack redelivers what was not acked; now there is room.
	if _, err := shed.Redeliver().WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-handled; got != "shed" {
		t.Errorf("handled %q, want the redelivered envelope", got)
	}
}

func TestRunnerReconnectsAndKeepsServing(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	got := make(chan string, 10)
	r, _ := startRunner(t, f, handlerFunc(func(_ context.Context, e slack.Envelope) { got <- e.Command.Text }), slack.RunnerConfig{})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}

	f.fake.Disconnect("refresh_requested")
	if err := f.fake.WaitConnected(ctx, 2); err != nil {
		t.Fatalf("after a disconnect envelope: %v", err)
	}
	if _, err := slash(f, "after disconnect").WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "after disconnect" {
		t.Errorf("handled %q", g)
	}

	f.fake.DropConnections()
	if err := f.fake.WaitConnected(ctx, 3); err != nil {
		t.Fatalf("after a dropped connection: %v", err)
	}
	waitFor(t, "Connected after reconnecting", r.Connected)
	if _, err := slash(f, "after drop").WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "after drop" {
		t.Errorf("handled %q", g)
	}
}

func TestRunnerReportsDisconnectedWhileSlackIsAway(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	r, _ := startRunner(t, f, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected", r.Connected)
	f.fake.FailNext("apps.connections.open", 1000, slacktest.Fault{Status: 503})
	f.fake.DropConnections()
	waitFor(t, "not Connected", func() bool { return !r.Connected() })
	if v := f.metric(t, "signon_token_bot_slack_connected", nil); v != 0 {
		t.Errorf("connected gauge = %v while disconnected", v)
	}
}

func TestRunnerStopsCleanlyAndLetsHandlersFinish(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	inHandler := make(chan struct{})
	finish := make(chan struct{})
	finished := make(chan error, 1)
	_, stop := startRunner(t, f, handlerFunc(func(hctx context.Context, _ slack.Envelope) {
		close(inHandler)
		<-finish
		finished <- hctx.Err()
	}), slack.RunnerConfig{Grace: time.Minute})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	slash(f, "long")
	<-inHandler

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if err := f.fake.WaitDisconnected(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a handler was still running", err)
	default:
	}
	close(finish)
	if err := <-finished; err != nil {
		t.Errorf("the handler's context ended (%v) within the grace period", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestRunnerFailsWhenSlackRefusesTheAppToken(t *testing.T) {
	fake := slacktest.New(t)
	client := slack.New(slack.Config{BotToken: fake.BotToken, AppToken: "xapp-revoked", APIURL: fake.URL()})
	r := slack.NewRunner(client, handlerFunc(func(context.Context, slack.Envelope) {}), slack.RunnerConfig{})
	err := r.Run(ctxT(t))
	if err == nil || !strings.HasPrefix(err.Error(), "socket mode: Slack refused SLACK_APP_TOKEN on apps.connections.open: invalid_auth") {
		t.Errorf("Run = %v, want it to name SLACK_APP_TOKEN and invalid_auth", err)
	}
}

// answering is a Handler that answers slash commands reading "answer" in
// their ack.
type answering struct{ got chan slack.Envelope }

func (a answering) HandleEnvelope(_ context.Context, e slack.Envelope) { a.got <- e }

func (a answering) AnswerInAck(e slack.Envelope) (any, bool) {
	switch {
	case e.Command != nil && e.Command.Text == "answer":
		return map[string]string{"text": "answered in the ack"}, true
	case e.Command != nil && e.Command.Text == "panic":
		panic("a bug in a check")
	}
	return nil, false
}

func TestRunnerAnswersInTheAck(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	h := answering{got: make(chan slack.Envelope, 10)}
	startRunner(t, f, h, slack.RunnerConfig{})
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ack, err := slash(f, "answer").WaitAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(ack.Payload) != `{"text":"answered in the ack"}` {
		t.Errorf("ack payload %s", ack.Payload)
	}
	// The next envelope is handed on; the answered one was not.
	help := slash(f, "help")
	if ack, err := help.WaitAck(ctx); err != nil || ack.Payload != nil {
		t.Fatalf("help acked with %s, %v", ack.Payload, err)
	}
	if e := <-h.got; e.ID != help.EnvelopeID {
		t.Errorf("the handler got %+v, want only the help command", e.Command)
	}
	if n := f.metric(t, "signon_token_bot_slack_envelopes_total", map[string]string{"outcome": "answered_in_ack"}); n != 1 {
		t.Errorf("answered_in_ack = %v, want 1", n)
	}
	// A check that panics leaves the connection up and the envelope to
	// its handler.
	p := slash(f, "panic")
	if ack, err := p.WaitAck(ctx); err != nil || ack.Payload != nil {
		t.Fatalf("panic acked with %s, %v", ack.Payload, err)
	}
	if e := <-h.got; e.ID != p.EnvelopeID {
		t.Errorf("the handler got %+v, want the command whose check panicked", e.Command)
	}
	if _, err := slash(f, "answer").WaitAck(ctx); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}
