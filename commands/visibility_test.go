package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// `list` and `status` show runs whose threads may be in private channels:
// only starters and approvers see them; anyone else is told privately why
// not, and shown nothing of the run.
func TestOnlyStartersAndApproversSeeRuns(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.runOf(alertTS)

	for _, sub := range []string{"list", "status " + run.ID} {
		got := w.privateAnswer(w.slash(mallory, elsewhere, sub))
		if !strings.Contains(got, "You may not see the rotations under way") || strings.Contains(got, run.ID) || strings.Contains(got, "archives") {
			t.Errorf("Mallory's %s: %q", sub, got)
		}
		d := w.slash(bob, elsewhere, sub)
		r := w.answer(d)
		if !strings.Contains(r.Text+string(r.Blocks), userName) {
			t.Errorf("Bob's %s: %q", sub, r.Text)
		}
	}
}
