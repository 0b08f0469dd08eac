package commands_test

import (
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// An offer recorded but never posted (the replica stopped, or Slack
// failed, between the two) is posted by a later sweep, once: an alert is
// answered late rather than never.
func TestAnUnpostedOfferIsPostedLate(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.fake.FailNext("chat.postMessage", 1, slacktest.Fault{Status: 500})
	d := w.fake.SendMessage(slacktest.AlertmanagerMessage(alerts, alertAttachment(flows.Production)))
	if _, err := d.WaitAck(w.ctx); err != nil {
		t.Fatal(err)
	}
	var alertTS string
	for _, m := range w.fake.History(alerts, "") {
		alertTS = m.TS
	}
	o, err := waitOffer(w, alertTS)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Messages) != 0 || len(w.fake.Thread(alerts, alertTS, "")) != 1 {
		t.Fatalf("the failed post left messages %v", o.Messages)
	}

	// Too young: an answer may still be on its way.
	if err := w.bot.PostUnposted(w.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(w.fake.Thread(alerts, alertTS, "")); n != 1 {
		t.Fatalf("a young unposted offer was posted by the sweep: %d messages", n)
	}
	w.clock.Advance(6 * time.Minute)
	for range 2 {
		if err := w.bot.PostUnposted(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	thread := w.waitThread(alerts, alertTS, 2)
	if len(thread) != 2 {
		t.Fatalf("thread after two sweeps: %d messages, want the alert and one offer", len(thread))
	}
	if o, _ = w.store.Offer(w.ctx, o.ID); len(o.Messages) != 1 {
		t.Fatalf("the late offer's message was not recorded: %v", o.Messages)
	}
	if rest, err := w.store.UnpostedOffers(w.ctx, w.clock.Now()); err != nil || len(rest) != 0 {
		t.Fatalf("unposted offers after the sweep: %d, %v", len(rest), err)
	}
}

// waitOffer waits for the offer answering an alert to be recorded.
func waitOffer(w *world, alertTS string) (*flows.Offer, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
		if err == nil || time.Now().After(deadline) {
			return o, err
		}
		select {
		case <-w.ctx.Done():
			return nil, w.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
