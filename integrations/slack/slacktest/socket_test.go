package slacktest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// runClient runs slack-go's own Socket Mode client against the fake and
// returns its events. ack decides what each envelope is acked with.
func runClient(t *testing.T, w *world, ack func(socketmode.Event) (bool, any)) <-chan socketmode.Event {
	t.Helper()
	sm := socketmode.New(w.api, socketmode.OptionPingInterval(time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sm.RunContext(ctx)
	}()
	out := make(chan socketmode.Event, 100)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sm.Events:
				if ev.Request != nil && ev.Request.EnvelopeID != "" {
					if ok, payload := ack(ev); ok {
						_ = sm.AckCtx(ctx, ev.Request.EnvelopeID, payload)
					}
				}
				out <- ev
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return out
}

func ackAll(socketmode.Event) (bool, any) { return true, nil }

func TestSocketModeClientConnectsAndAcks(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	events := runClient(t, w, func(ev socketmode.Event) (bool, any) {
		if ev.Type == socketmode.EventTypeSlashCommand {
			return true, map[string]string{"text": "got it"}
		}
		return true, nil
	})
	if err := w.s.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}

	d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: "help", User: "U0ALICE", Channel: "C0ALERTS"})
	ack, err := d.WaitAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(ack.Payload) != `{"text":"got it"}` {
		t.Errorf("ack payload = %s", ack.Payload)
	}
	cmd := waitEvent(t, events, socketmode.EventTypeSlashCommand).Data.(slack.SlashCommand)
	if cmd.Command != "/rotate-token" || cmd.Text != "help" || cmd.UserID != "U0ALICE" || cmd.TriggerID != d.TriggerID || cmd.ResponseURL != d.ResponseURL {
		t.Errorf("client saw %+v", cmd)
	}

	msg := w.s.SendMessage(slacktest.UserMessage("C0ALERTS", "U0BOB", "hello"))
	if _, err := msg.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, events, socketmode.EventTypeEventsAPI).Data.(slackevents.EventsAPIEvent)
	inner, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || inner.Text != "hello" || inner.User != "U0BOB" || ev.Data.(*slackevents.EventsAPICallbackEvent).EventID != msg.EventID {
		t.Errorf("client saw %+v / %+v", ev, inner)
	}
}

func TestExampleAlertArrivesAsABotMessageWithAttachments(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	events := runClient(t, w, ackAll)

	var m slacktest.MessageEvent
	raw := `{"type":"message","subtype":"bot_message","text":"","username":"Prometheus Alertmanager","bot_id":"B0EXAMPLE1",
		"channel":"C0ALERTS","ts":"1764144000.000100","attachments":[{"color":"#ffa500","title":":warning: WARNING: SignonApiUserTokenExpirySoon",
		"fallback":"[FIRING:1] SignonApiUserTokenExpirySoon (content-tagger@alphagov.co.uk email-alert-api integration)",
		"fields":[{"short":true,"title":"Environment","value":"Integration"}],"id":1}]}`
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	d := w.s.SendMessage(m)
	if _, err := d.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, events, socketmode.EventTypeEventsAPI).Data.(slackevents.EventsAPIEvent)
	inner := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if inner.SubType != "bot_message" || inner.BotID != "B0EXAMPLE1" || inner.TimeStamp != "1764144000.000100" ||
		len(inner.Message.Attachments) != 1 || inner.Message.Attachments[0].Fields[0].Value != "Integration" {
		t.Errorf("client saw %+v (message %+v)", inner, inner.Message)
	}
	if h := w.s.History("C0ALERTS", ""); len(h) != 1 || h[0].Author != "Prometheus Alertmanager" {
		t.Errorf("channel history = %+v", h)
	}
}

func TestClientReconnectsAfterDisconnectCloseAndSilence(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	events := runClient(t, w, ackAll)
	if err := w.s.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}

	w.s.Disconnect("refresh_requested")
	if err := w.s.WaitConnected(ctx, 2); err != nil {
		t.Fatalf("after disconnect: %v", err)
	}
	w.s.DropConnections()
	if err := w.s.WaitConnected(ctx, 3); err != nil {
		t.Fatalf("after a dropped connection: %v", err)
	}
	// Without pings the client gives the connection up after its ping
	// interval (a second here) and opens another.
	w.s.StopPings(true)
	if err := w.s.WaitConnected(ctx, 4); err != nil {
		t.Fatalf("after pings stopped: %v", err)
	}
	w.s.StopPings(false)

	d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	if _, err := d.WaitAck(ctx); err != nil {
		t.Fatalf("after reconnecting: %v", err)
	}
	waitEvent(t, events, socketmode.EventTypeSlashCommand)
}

func TestUnackedEnvelopeIsRedeliveredOnTheNextConnection(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	first := true
	events := runClient(t, w, func(ev socketmode.Event) (bool, any) {
		if ev.Type == socketmode.EventTypeSlashCommand && first {
			first = false
			return false, nil
		}
		return true, nil
	})
	if err := w.s.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	waitEvent(t, events, socketmode.EventTypeSlashCommand)
	if d.Acked() {
		t.Fatal("acked although the client did not ack")
	}
	w.s.DropConnections()
	ack, err := d.WaitAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Attempt != 1 {
		t.Errorf("acked attempt %d, want the retry (1)", ack.Attempt)
	}
	ev := waitEvent(t, events, socketmode.EventTypeSlashCommand)
	if ev.Request.RetryAttempt != 1 || ev.Request.RetryReason != "timeout" {
		t.Errorf("redelivery has retry_attempt %d, retry_reason %q", ev.Request.RetryAttempt, ev.Request.RetryReason)
	}
}

func waitEvent(t *testing.T, events <-chan socketmode.Event, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 10s", typ)
		}
	}
}

// TestViewSubmissionErrors: field errors in a submission's ack keep the
// modal open and show beside its inputs; errors naming a block that is no
// input, or saying nothing, are what Slack refuses.
func TestViewSubmissionErrors(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	acks := make(chan any, 1)
	events := runClient(t, w, func(ev socketmode.Event) (bool, any) {
		if ev.Type == socketmode.EventTypeInteractive {
			return true, <-acks
		}
		return true, nil
	})
	cmd := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", User: "U0ALICE", Channel: "C0ALERTS"})
	waitEvent(t, events, socketmode.EventTypeSlashCommand)
	input := slack.NewPlainTextInputBlockElement(nil, "app")
	v, err := w.api.OpenViewContext(ctx, cmd.TriggerID, slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "Rotate a token", false, false),
		Submit: slack.NewTextBlockObject(slack.PlainTextType, "Start", false, false), CallbackID: "rotate-form",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "hello", false, false), nil, nil, slack.SectionBlockOptionBlockID("intro")),
			slack.NewInputBlock("app", slack.NewTextBlockObject(slack.PlainTextType, "Application", false, false), nil, input),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(ack any) []slacktest.View {
		t.Helper()
		acks <- ack
		d := w.s.Submit(slacktest.ViewSubmission{User: "U0ALICE", ViewID: v.ID, Values: map[string]map[string]slack.BlockAction{
			"app": {"app": {Type: "plain_text_input", Value: "Publishing API"}},
		}})
		if _, err := d.WaitAck(ctx); err != nil {
			t.Fatal(err)
		}
		return w.s.OpenViews("U0ALICE")
	}

	open := submit(slack.NewErrorsViewSubmissionResponse(map[string]string{"app": "Did you mean publishing-api?"}))
	if len(open) != 1 || open[0].Errors["app"] != "Did you mean publishing-api?" {
		t.Fatalf("after errors: %+v", open)
	}
	submit(slack.NewErrorsViewSubmissionResponse(map[string]string{"intro": "no"}))
	w.rec.expectViolation(t, `names "intro", which is not an input block`)
	submit(slack.NewErrorsViewSubmissionResponse(map[string]string{"app": " "}))
	w.rec.expectViolation(t, "empty message")
	submit(slack.NewErrorsViewSubmissionResponse(nil))
	w.rec.expectViolation(t, "with no errors")
	if open := submit(nil); len(open) != 0 {
		t.Fatalf("an empty ack left %+v open", open)
	}
}
