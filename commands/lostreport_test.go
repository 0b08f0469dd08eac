package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/slack/slacktest"
)

// TestLostRunReportedInItsThread: Redis loses its data while a run waits
// at its sync gate, and the next sweep of the replica that knew the run
// says so in Slack, from what the engine kept of the run: the status
// message shows the run failed, with its checklist and why, and a reply
// says what Signon and the cluster show. The question keeps its buttons;
// a click on them is answered that the run is gone (TestClickOnALostRun).
func TestLostRunReportedInItsThread(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.waitRun(w.runOf(alertTS).ID, "the sync gate", atGate(flows.GateSync))
	status, gate := run.Receipts[flows.StatusPostID].TS, gateMessage(t, run)
	w.redis.Flush()
	if err := w.engine.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}

	thread := w.fake.Thread(run.Thread.Channel, run.Thread.TS, "")
	byTS := map[string]slacktest.Message{}
	var report string
	for _, m := range thread {
		byTS[m.TS] = m
		w.noPlaintext(m.Text + string(m.BlocksJSON))
		if strings.Contains(string(m.BlocksJSON), "State lost: reconciled from Signon and the cluster") {
			report = string(m.BlocksJSON)
		}
	}
	for _, want := range []string{"Made during the run: token #" + itoa(int(run.NewToken.ID)), "Old: token #" + itoa(int(w.old.ID)), "holds fingerprint"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, w.fake.Transcript(run.Thread.Channel, run.Thread.TS))
		}
	}
	st := string(byTS[status].BlocksJSON)
	for _, want := range []string{"Failed:", "state store lost the run", "Issue a new token in Signon", "Sync tokens to Kubernetes", "Run `" + run.ID + "`"} {
		if !strings.Contains(st, want) {
			t.Errorf("the status message lacks %q:\n%s", want, st)
		}
	}
	if !strings.Contains(string(byTS[gate].BlocksJSON), "Run sync") {
		t.Errorf("the question lost its buttons:\n%s", byTS[gate].BlocksJSON)
	}
}
