package commands_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// TestRotationSlackCalls counts the Web API calls of one rotation from an
// alert, as cmd/bench's rotation does it (Rotate and Run sync by Alice,
// Revoke old token by Bob), against issue 15's target of 8, and checks
// that the thread still ends with everything the operator needs: the
// offer showing the outcome, the run's status, and its replies, the last
// ones (the revoke and the summary) in the message Bob clicked, replaced
// through his click's response_url.
func TestRotationSlackCalls(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	offer := w.fake.Thread(alerts, alertTS, "")[1]
	w.click(alice, alerts, offer.TS, "Rotate")
	run := w.runOf(alertTS)
	run = w.waitRun(run.ID, "the sync gate", atGate(flows.GateSync))
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("run ended %s: %s", run.Phase, run.Reason)
	}
	// The offer shows the outcome once its item is refreshed.
	if err := waitUntil(w.ctx, func() bool { return strings.Contains(w.fake.Transcript(alerts, alertTS), "Rotation done") }); err != nil {
		t.Fatalf("the offer never showed the outcome:\n%s", w.fake.Transcript(alerts, alertTS))
	}

	var list []string
	for _, c := range w.fake.Calls() {
		if c.Method == "apps.connections.open" || c.Method == "auth.test" {
			continue
		}
		what := c.Args["ts"]
		if c.Method == "users.info" {
			what = c.Args["user"]
		}
		list = append(list, fmt.Sprintf("%s %s %.60q", c.Method, what, c.Args["text"]))
	}
	story := w.fake.Transcript(alerts, alertTS)
	if len(list) > 8 {
		t.Errorf("one rotation made %d Web API calls, want at most 8:\n%s\nthe thread:\n%s", len(list), strings.Join(list, "\n"), story)
	}
	bots := 0
	for _, m := range w.fake.Thread(alerts, alertTS, "") {
		if m.User == w.fake.BotUserID {
			bots++
		}
	}
	if bots != 4 {
		t.Errorf("the thread has %d messages of the bot, want 4 (the offer, the status, two batches of replies, the last ending with the outcome):\n%s", bots, story)
	}
	wantInOrder(t, story,
		"Rotation done, started by <@U0ALICE>",
		"*:white_check_mark: Done:* Content Tagger → Publishing API (production)",
		"*Inspected Content Tagger → Publishing API (production)*",
		"*Run the token sync job in production?*",
		":white_check_mark: Confirmed by <@U0ALICE>",
		":white_check_mark: *Synced the token into Kubernetes*",
		"*Revoke the old token?*",
		":white_check_mark: Confirmed by <@U0BOB>",
		":white_check_mark: *Revoked the old token*",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (production)*",
	)
}
