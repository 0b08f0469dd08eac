package slacktest_test

import (
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// A slash command's ack payload is its reply, read as a response_url post
// is; a click's is shown nowhere, so sending one is a mistake.
func TestSlashCommandAckPayloadIsItsReply(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	replies := map[string]any{
		"help":  map[string]string{"text": "usage"},
		"loud":  map[string]string{"text": "everyone", "response_type": "in_channel"},
		"bad":   map[string]string{"txt": "typo"},
		"swap":  map[string]any{"text": "x", "replace_original": true},
		"quiet": nil,
	}
	runClient(t, w, func(ev socketmode.Event) (bool, any) {
		switch d := ev.Data.(type) {
		case slack.SlashCommand:
			return true, replies[d.Text]
		case slack.InteractionCallback:
			return true, map[string]string{"text": "clicked"}
		}
		return true, nil
	})
	if err := w.s.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	send := func(text string) *slacktest.Delivery {
		t.Helper()
		d := w.s.SendSlashCommand(slacktest.SlashCommand{Command: "/rotate-token", Text: text, User: "U0ALICE", Channel: "C0ALERTS"})
		if _, err := d.WaitAck(ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}

	got, err := send("help").WaitResponses(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "usage" || got[0].ResponseType != "ephemeral" || !got[0].InAck {
		t.Errorf("reply = %+v, want the ack's text, ephemeral, in the ack", got[0])
	}
	if h := w.s.History("C0ALERTS", "U0ALICE"); len(h) != 1 || h[0].VisibleTo != "U0ALICE" {
		t.Errorf("alice sees %+v", h)
	}
	if h := w.s.History("C0ALERTS", ""); len(h) != 0 {
		t.Errorf("everyone sees %+v", h)
	}
	if got, err := send("loud").WaitResponses(ctx, 1); err != nil || got[0].ResponseType != "in_channel" {
		t.Errorf("in_channel reply = %+v, %v", got, err)
	}
	// The ack's reply uses none of the response_url's five posts.
	d := send("help")
	for i := range 5 {
		if _, _, err := w.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("more", false)); err != nil {
			t.Fatalf("post %d after the ack's reply: %v", i+1, err)
		}
	}

	if d := send("bad"); len(d.Responses()) != 0 {
		t.Errorf("a reply with an unknown field was shown: %+v", d.Responses())
	}
	w.rec.expectViolation(t, `unknown field "txt"`)
	if d := send("swap"); len(d.Responses()) != 0 {
		t.Errorf("replace_original in a slash command's ack was applied: %+v", d.Responses())
	}
	w.rec.expectViolation(t, "without an original message")
	if d := send("quiet"); len(d.Responses()) != 0 {
		t.Errorf("an empty ack made a reply: %+v", d.Responses())
	}

	_, ts, err := w.api.PostMessageContext(ctx, "C0ALERTS", slack.MsgOptionText("offer", false), slack.MsgOptionBlocks(
		slack.NewActionBlock("", slack.NewButtonBlockElement("ignore", "item-7", slack.NewTextBlockObject(slack.PlainTextType, "Ignore", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	click := w.s.Click(slacktest.BlockAction{User: "U0BOB", Channel: "C0ALERTS", MessageTS: ts, ActionID: "ignore"})
	if _, err := click.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if len(click.Responses()) != 0 {
		t.Errorf("a click's ack payload made a reply: %+v", click.Responses())
	}
	w.rec.expectViolation(t, "ack payload for a click")
}
