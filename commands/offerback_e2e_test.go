package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/commands"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// waitButton waits until the message shows a button with the text.
func (w *world) waitButton(t *testing.T, channel, ts, text string) slacktest.Message {
	t.Helper()
	var m slacktest.Message
	err := waitUntil(w.ctx, func() bool {
		var ok bool
		m, ok = w.fake.Message(channel, ts, alice)
		_, has := m.Button(text)
		return ok && has
	})
	if err != nil {
		t.Fatalf("message %s has no button %q: %+v", ts, text, m.Buttons())
	}
	return m
}

// groupedWorld is a world with three tokens expiring in production and a
// grouped alert for them answered: the alert's ts and the offer.
func groupedWorld(t *testing.T) (*world, string, slacktest.Message) {
	t.Helper()
	w := newWorld(t, worldSetup{})
	w.signon.AddApplication("Whitehall")
	w.addExpiring("Short URL Manager", "short-url-manager@alphagov.co.uk", appName, 3)
	w.addExpiring("HMRC Bot", "hmrc-bot@example.gov.uk", "Whitehall", 12)
	grouped := alertmanager(commands.StatusFiring, 3, flows.Production, "production monitoring/kube-prometheus-stack-prometheus warning", "")
	alertTS, _ := w.sendAlert(1, grouped)
	return w, alertTS, w.fake.Thread(alerts, alertTS, "")[1]
}

// offerItem is the stored item of the alert's offer for the world's token.
func (w *world) offerItem(t *testing.T, alertTS string) flows.OfferItem {
	t.Helper()
	o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range o.Items {
		if it.Key.APIUser == userEmail {
			return it
		}
	}
	t.Fatal("the offer has no item for the world's token")
	return flows.OfferItem{}
}

func TestCancelGivesTheOfferItsRotateButtonBack(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	w.click(alice, alerts, offer.TS, "Rotate")
	first := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, alerts, gateMessage(t, first), "Cancel run")
	first = w.waitRun(first.ID, "the end", ended)
	if first.Phase != flows.PhaseCancelled {
		t.Fatalf("run %s, want cancelled", first.Phase)
	}

	m := w.waitButton(t, alerts, offer.TS, "Rotate")
	if _, ok := m.Button("Ignore"); !ok {
		t.Errorf("the reopened offer has buttons %+v, want Rotate and Ignore", m.Buttons())
	}
	if it := w.offerItem(t, alertTS); it.RunID != "" || it.EndedRunID != first.ID {
		t.Errorf("offer item links run %q, ended run %q; want none and %s", it.RunID, it.EndedRunID, first.ID)
	}
	story := w.fake.Transcript(alerts, alertTS)
	wantInOrder(t, story,
		"Rotation cancelled, started by <@U0ALICE>",
		"[Rotate]",
		"*Cancelled*",
		"Rotate is back on the alert's offer")

	// A second Rotate goes through the same checks as the first.
	if got := w.privateAnswer(w.click(mallory, alerts, offer.TS, "Rotate")); !strings.Contains(got, "not among the configured starters") {
		t.Errorf("Mallory's Rotate: %q", got)
	}
	if it := w.offerItem(t, alertTS); it.RunID != "" {
		t.Fatalf("Mallory's refused click linked run %s", it.RunID)
	}
	w.click(bob, alerts, offer.TS, "Rotate")
	var second *flows.Run
	if err := waitUntil(w.ctx, func() bool { return w.offerItem(t, alertTS).RunID != "" }); err != nil {
		t.Fatal("the second Rotate started no run")
	}
	second = w.waitRun(w.offerItem(t, alertTS).RunID, "the second run", func(*flows.Run) bool { return true })
	if second.ID == first.ID || second.StartedBy != bob || second.Origin.OfferID == "" {
		t.Fatalf("second run %s by %s from %+v; want a new run by Bob from the offer", second.ID, second.StartedBy, second.Origin)
	}
	if m, _ := w.fake.Message(alerts, offer.TS, alice); len(m.Buttons()) != 0 {
		t.Errorf("the offer still has buttons %+v while the second run is under way", m.Buttons())
	}
	w.noPlaintext(w.fake.Transcript(alerts, alertTS))
}

func TestRollbackGivesTheOfferItsRotateButtonBack(t *testing.T) {
	w := newWorld(t, worldSetup{})
	w.cluster.Stuck = map[string]bool{"content-tagger": true}
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	w.click(alice, alerts, offer.TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the failed verification", atGate(flows.GateRecover))
	w.click(bob, alerts, gateMessage(t, run), "Roll back")
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseRolledBack {
		t.Fatalf("run %s (%s), want rolled back", run.Phase, run.Reason)
	}
	w.waitButton(t, alerts, offer.TS, "Rotate")
	wantInOrder(t, w.fake.Transcript(alerts, alertTS),
		"Rotation rolled back, started by <@U0ALICE>",
		"[Rotate]",
		"*Rolled back*",
		"Rotate is back on the alert's offer")
}

func TestCancelledBatchGivesRotateAllBack(t *testing.T) {
	w, alertTS, offer := groupedWorld(t)
	w.click(alice, alerts, offer.TS, "Rotate all 3")
	b := w.batchOf(t)
	b = w.waitBatch(t, b.ID, "the batch's sync confirmation", batchGateOpen(flows.GateSync))
	w.click(alice, alerts, gatePostTS(t, b), "Cancel all")
	b = w.waitBatch(t, b.ID, "the batch's end", func(b *flows.Batch) bool { return b.Ended })
	m := w.waitButton(t, alerts, offer.TS, "Rotate all 3")
	if got := strings.Count(w.fake.Transcript(alerts, alertTS), "Rotation cancelled, started by <@U0ALICE>"); got != 3 {
		t.Errorf("the offer shows %d cancelled rotations, want 3", got)
	}
	rotate := 0
	for _, bt := range m.Buttons() {
		if bt.Text == "Rotate" {
			rotate++
		}
	}
	if rotate != 3 {
		t.Errorf("the reopened offer has %d Rotate buttons (%+v), want 3", rotate, m.Buttons())
	}
	w.click(alice, alerts, offer.TS, "Rotate all 3")
	if err := waitUntil(w.ctx, func() bool {
		o, err := w.store.OfferForAlert(w.ctx, alerts, alertTS)
		if err != nil {
			return false
		}
		for _, it := range o.Items {
			if it.RunID == "" || it.RunID == it.EndedRunID {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal("Rotate all after the cancel started no second batch")
	}
}
