package flows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

func TestRevealAgainIsAnnouncedEachTime(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))
	for range 2 {
		if _, err := act(t, eng, run, flows.ActionReveal, alice); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.revealer.Revealed(); len(got) != 2 || got[1].Fingerprint != run.NewToken.Fingerprint {
		t.Fatalf("revealed %+v, want the run's token twice", got)
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 {
		t.Fatalf("revealing made tokens: %d, want 2", n)
	}
	run = waitFor(t, eng, run.ID, "both reveals in the thread", func(r *flows.Run) bool { return r.Reveals == 2 })
	story := e.notifier.Transcript(run.ID)
	for _, want := range []string{"reveal 1 of this hand-off", "reveal 2 of this hand-off"} {
		if !strings.Contains(story, want) {
			t.Errorf("the thread does not say %q:\n%s", want, story)
		}
	}
	trail, err := e.store.AuditTrail(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	reveals := 0
	for _, a := range trail {
		if a.Action == "reveal" && a.Outcome == "ok" && a.Actor == alice {
			reveals++
		}
	}
	if reveals != 2 {
		t.Errorf("audit trail has %d reveals, want 2: %+v", reveals, trail)
	}
	// The hand-off is still open: delivery goes on as before.
	if run.Gate == nil || run.Gate.Kind != flows.GateHandoff {
		t.Fatalf("after reveals the gate is %+v, want the hand-off", run.Gate)
	}
	mustAct(t, eng, run, flows.ActionDelivered, alice)
	noPlaintext(t, w, story)
}

func TestRevealOfATokenRevokedOutsideTheBotMakesNone(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))
	// Someone revokes the run's token in Signon while the hand-off is open.
	if _, err := w.signon.Revoke(context.Background(), flows.RevokeRequest{RunID: "r-someoneelse", Email: userEmail, Application: appName, TokenID: run.NewToken.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := act(t, eng, run, flows.ActionReveal, alice)
	if !isA[*flows.StaleError](err) {
		t.Fatalf("reveal of a revoked token: err = %v, want StaleError", err)
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 {
		t.Fatalf("a reveal made a token: Signon has %d, want 2", n)
	}
	if got := e.revealer.Revealed(); len(got) != 0 {
		t.Fatalf("revealed %+v", got)
	}
	run = waitFor(t, eng, run.ID, "the thread saying so", func(r *flows.Run) bool {
		return strings.Contains(e.notifier.Transcript(r.ID), "The new token cannot be revealed")
	})
	if story := e.notifier.Transcript(run.ID); !strings.Contains(story, "Cancel this run, then rotate again") {
		t.Errorf("the thread does not say what to do:\n%s", story)
	}
	if run.Gate == nil || run.Gate.Kind != flows.GateHandoff {
		t.Fatalf("gate %+v, want the hand-off still open for Cancel", run.Gate)
	}
}
