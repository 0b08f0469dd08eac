package flows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// A step's time is its own work: the time the run waited for someone to
// click is not counted in the step that the click let go on.
func TestStepDurationExcludesTheWaitForAClick(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	w.clock.Advance(40 * time.Minute)
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.clock.Advance(3 * time.Hour)
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)

	for _, s := range []flows.Step{flows.StepSync, flows.StepRevoke} {
		st, _ := run.StepState(s)
		if took := st.Took(); st.EndedAt.IsZero() || took >= 40*time.Minute {
			t.Errorf("step %s took %s by its checklist (started %s, ended %s, waited %s): it counts the wait for a click", s, took, st.StartedAt, st.EndedAt, st.Waited)
		}
	}
	if !strings.Contains(e.notifier.Transcript(run.ID), "Took under a second.") {
		t.Errorf("the summary counts the 3h 40m the run waited for clicks:\n%s", e.notifier.Transcript(run.ID))
	}
}

// A hand-off waits for its requester to deliver the token, and its
// revoke for a second person: neither wait is the rotation's own time.
func TestHandoffTimeExcludesTheWaitForItsRequester(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))
	w.clock.Advance(2 * time.Hour)
	mustAct(t, eng, run, flows.ActionReveal, alice)
	run = mustAct(t, eng, run, flows.ActionDelivered, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	w.clock.Advance(time.Hour)
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)

	if st, _ := run.StepState(flows.StepHandoff); st.Status != flows.StepOK || st.Took() >= time.Second {
		t.Errorf("the hand-off step took %s (%s to %s, waited %s): it counts the wait for its requester", st.Took(), st.StartedAt, st.EndedAt, st.Waited)
	}
	if run.Waited != 3*time.Hour {
		t.Errorf("the run records %s of waits, want 3h", run.Waited)
	}
	if tr := e.notifier.Transcript(run.ID); !strings.Contains(tr, "Took under a second.") {
		t.Errorf("the summary counts the waits:\n%s", tr)
	}
}

// Every reply in the thread says whose token it is about, and counts are
// written as words, not "consumer(s)".
func TestThreadRepliesCountInWords(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)

	var notes []string
	for _, s := range run.Steps {
		notes = append(notes, s.Note)
	}
	all := strings.Join(notes, "\n") + "\n" + e.notifier.Transcript(run.ID)
	if strings.Contains(all, "(s)") {
		t.Errorf("the thread writes a plural as (s):\n%s", all)
	}
	for _, want := range []string{"2 consumers", "2 pod checks", "1 token"} {
		if !strings.Contains(strings.Join(notes, "\n"), want) {
			t.Errorf("checklist notes lack %q: %q", want, notes)
		}
	}
}

// When a rotation stops, the thread says before any click what each way
// on will do, and by when the rotation must be done.
func TestAStoppedRunSaysWhatEachButtonWillDo(t *testing.T) {
	w := newWorld(t, setup{})
	w.cluster.NoReloader = true
	e := newEnv(t, w)
	e.tune = func(c *flows.Config) {
		p := c.Policy.Environments[flows.Production]
		p.RolloutStartTimeout = 50 * time.Millisecond
		c.Policy.Environments[flows.Production] = p
	}
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the verify pause", atGate(flows.GateRecover))

	stop := run.Posts[len(run.Posts)-1]
	text := strings.Join(stop.Lines, "\n")
	for _, want := range []string{
		"*Retry* checks every consumer again",
		"*Roll back* revokes the new token #",
		"*Cancel run* stops here",
		"Deadline: the old token #" + itoa(w.old.ID) + " expires " + flows.When(w.old.ExpiresAt),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the stop lacks %q:\n%s", want, text)
		}
	}
}

// After Cancel the thread says where each token and consumer stands, as
// Signon and the cluster say, not as the run assumes.
func TestCancelSaysWhereTokensAndConsumersStandAsRead(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	// Someone revokes the new token by hand while the run waits: the
	// run's own record would still call it valid.
	if _, err := w.signon.Revoke(t.Context(), flows.RevokeRequest{Email: userEmail, Application: appName, TokenID: run.NewToken.ID, RunID: "r-byhand", Requester: bob}); err != nil {
		t.Fatal(err)
	}
	run = mustAct(t, eng, run, flows.ActionCancel, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)

	last := run.Posts[len(run.Posts)-1]
	text := strings.Join(last.Lines, "\n")
	for _, want := range []string{
		"The new token #" + itoa(run.NewToken.ID) + " is revoked in Signon",
		"The old token #" + itoa(w.old.ID) + " is valid in Signon",
		"Secret `" + w.secret + "` holds the old token",
		"(deploy/content-tagger): `" + variable + "` holds the old token",
		"(deploy/draft-content-tagger): `" + variable + "` holds the old token",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the cancel post lacks %q:\n%s", want, text)
		}
	}
	if st, _ := run.StepState(flows.StepSync); st.Status != flows.StepCancelled {
		t.Errorf("the sync step is %s after the cancel, want cancelled", st.Status)
	}
	if strings.Contains(run.Reason, bob) && !strings.Contains(run.Reason, flows.Mention(bob)) {
		t.Errorf("the reason names a raw user id: %q", run.Reason)
	}
}

// The revoke question of a hand-off says what the bot cannot know about
// a consumer outside the cluster, and what its confirmation rests on.
func TestHandoffRevokeGateSaysWhatTheBotCannotKnow(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))
	if _, err := act(t, eng, run, flows.ActionReveal, alice); err != nil {
		t.Fatal(err)
	}
	run = mustAct(t, eng, run, flows.ActionDelivered, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))

	ask := run.Posts[len(run.Posts)-1]
	text := strings.Join(ask.Lines, "\n")
	for _, want := range []string{
		"cannot tell whether it has switched to the new one",
		flows.Mention(alice) + " confirmed delivery at ",
		"not per token",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the revoke question lacks %q:\n%s", want, text)
		}
	}
}
