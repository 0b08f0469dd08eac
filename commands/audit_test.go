package commands_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// `/rotate-token audit <run>` shows the trail privately to starters and
// approvers, tells anyone else why not, and says plainly when a run has
// no trail or the id is malformed.
func TestAuditCommandShowsTheTrailPrivately(t *testing.T) {
	w := newWorld(t, worldSetup{})
	alertTS, _ := w.sendAlert(1, alertAttachment(flows.Production))
	w.click(alice, alerts, w.fake.Thread(alerts, alertTS, "")[1].TS, "Rotate")
	run := w.runOf(alertTS)

	d := w.slash(bob, elsewhere, "audit "+run.ID)
	r := w.answer(d)
	if r.ResponseType != "ephemeral" {
		t.Errorf("the trail was answered %q, want ephemeral", r.ResponseType)
	}
	for _, want := range []string{"Audit trail, run " + run.ID, "start", alice, "all-runs stream", "Dates in UTC"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("trail lacks %q:\n%s", want, r.Text)
		}
	}

	for _, c := range []struct{ user, args, want string }{
		{mallory, "audit " + run.ID, "You may not see the rotations under way"},
		{bob, "audit r-nosuchrun", "There is no audit trail for `r-nosuchrun`: no such run, or it ended more than 720h0m0s ago"},
		{bob, "audit not-a-run", "with a run id like `r-abcd1234`"},
		{bob, "audit", "with a run id like `r-abcd1234`"},
	} {
		got := w.privateAnswer(w.slash(c.user, elsewhere, c.args))
		if !strings.Contains(got, c.want) || c.user == mallory && strings.Contains(got, run.ID) {
			t.Errorf("%s's %q: %q, want %q", c.user, c.args, got, c.want)
		}
	}
}
