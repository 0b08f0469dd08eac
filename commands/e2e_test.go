package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// webAPICalls counts the Web API calls made since the fake started,
// leaving out the connection's own.
func (w *world) webAPICalls() (calls int, byMethod map[string]int) {
	byMethod = map[string]int{}
	for _, c := range w.fake.Calls() {
		if c.Method == "apps.connections.open" || c.Method == "auth.test" {
			continue
		}
		calls++
		byMethod[c.Method]++
	}
	return calls, byMethod
}

func TestAlertToRotation(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	thread := w.fake.Thread(alerts, alertTS, "")
	offer := thread[1]
	if !strings.Contains(offer.Text, "expiring") || len(offer.Buttons()) != 2 {
		t.Fatalf("offer %q has buttons %+v, want Rotate and Ignore", offer.Text, offer.Buttons())
	}

	d := w.click(alice, alerts, offer.TS, "Rotate")
	run := w.runOf(alertTS)
	if run.Thread != (flows.Thread{Channel: alerts, TS: alertTS}) || run.Origin.Kind != "alert" {
		t.Fatalf("run talks in %+v from %+v, want the alert's thread", run.Thread, run.Origin)
	}
	if _, err := d.WaitResponses(w.ctx, 1); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun(run.ID, "the sync gate", atGate(flows.GateSync))
	if w.cluster.JobsCreated() != 0 {
		t.Fatal("synced before the confirmation")
	}
	w.click(alice, alerts, gateMessage(t, run), "Run sync")
	run = w.waitRun(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if w.token(w.old.ID).Revoked() {
		t.Fatal("old token revoked before its confirmation")
	}
	// Production wants a second person: Alice started the run.
	refused := w.privateAnswer(w.click(alice, alerts, gateMessage(t, run), "Revoke old token"))
	if !strings.Contains(refused, "You may not approve") || !strings.Contains(refused, "someone other than <@U0ALICE>") {
		t.Errorf("Alice's second confirmation: %q", refused)
	}
	w.click(bob, alerts, gateMessage(t, run), "Revoke old token")
	run = w.waitRun(run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone || !w.token(w.old.ID).Revoked() || w.token(run.NewToken.ID).Revoked() {
		t.Fatalf("phase %s; want done, the old token revoked and the new one live", run.Phase)
	}

	story := w.fake.Transcript(alerts, alertTS)
	t.Logf("the thread:\n%s", story)
	wantInOrder(t, story,
		"Prometheus Alertmanager: The following alert is firing:",
		"signon-token-bot (edited): :key: *A Signon API token expires soon* in production.",
		"*Content Tagger* → *Publishing API*",
		"Rotation done, started by <@U0ALICE>",
		"signon-token-bot (edited): *:white_check_mark: Done:* Content Tagger → Publishing API (production)",
		":white_check_mark: Check the runbook's special cases",
		":white_check_mark: Revoke the old token",
		"*Inspected Content Tagger → Publishing API (production)*",
		":white_check_mark: *Issued a new token for Content Tagger → Publishing API (production)*",
		"*Run the token sync job in production?*",
		":white_check_mark: Confirmed by <@U0ALICE>",
		":white_check_mark: *Synced the token into Kubernetes*",
		":white_check_mark: *Verified: every consumer holds the new token*",
		"*Revoke the old token?*",
		":white_check_mark: Confirmed by <@U0BOB>",
		":white_check_mark: *Revoked the old token*",
		":white_check_mark: *Rotation complete: Content Tagger → Publishing API (production)*",
	)
	if strings.Contains(story, "[Rotate]") || strings.Contains(story, "[Run sync]") || strings.Contains(story, "[Revoke old token]") {
		t.Errorf("buttons left in the finished thread:\n%s", story)
	}
	w.noPlaintext(story)

	calls, byMethod := w.webAPICalls()
	t.Logf("Web API calls for the whole rotation: %d %v; response_url posts: %d (one a refusal)", calls, byMethod, w.responseURLPosts())
	if calls > 12 {
		t.Errorf("a rotation from the alert took %d Web API calls (%v), want at most 12", calls, byMethod)
	}
}
