package flows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

func TestVerifyFailureRollsBack(t *testing.T) {
	w := newWorld(t, setup{})
	w.cluster.Stuck = map[string]bool{"draft-content-tagger": true}
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the pause", atGate(flows.GateRecover))

	if run.Phase != flows.PhasePaused || run.Step != flows.StepVerify {
		t.Fatalf("phase %s at %s, want paused at verify", run.Phase, run.Step)
	}
	if !strings.Contains(run.Reason, "draft-content-tagger") {
		t.Errorf("reason %q does not name the stuck consumer", run.Reason)
	}
	if !slices.Contains(run.Gate.Actions, flows.ActionRollback) || !slices.Contains(run.Gate.Actions, flows.ActionRetry) {
		t.Fatalf("recovery offers %v, want retry and rollback", run.Gate.Actions)
	}
	if w.token(t, w.old.ID).Revoked() {
		t.Fatal("old token revoked although verification failed")
	}
	// Retrying changes nothing while the consumer is stuck.
	run = mustAct(t, eng, run, flows.ActionRetry, alice)
	run = waitFor(t, eng, run.ID, "the pause again", atGate(flows.GateRecover))

	newID := run.NewToken.ID
	run = mustAct(t, eng, run, flows.ActionRollback, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseRolledBack {
		t.Fatalf("phase %s (%s), want rolled-back", run.Phase, run.Reason)
	}
	if !w.token(t, newID).Revoked() || w.token(t, w.old.ID).Revoked() {
		t.Fatal("want the new token revoked and the old one valid")
	}
	if got := w.cluster.PodFingerprint("content-tagger", variable); got != w.old.Fingerprint {
		t.Errorf("after rollback content-tagger holds %s, want the old token %s", got, w.old.Fingerprint)
	}
	if n := w.cluster.JobsCreated(); n != 2 {
		t.Errorf("sync Jobs = %d, want 2 (the sync and the one that restores the old token)", n)
	}
}

func TestRolloutThatNeverStartsOffersRestart(t *testing.T) {
	w := newWorld(t, setup{})
	w.cluster.NoReloader = true
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the pause", atGate(flows.GateRecover))
	if !slices.Contains(run.Gate.Actions, flows.ActionRestart) {
		t.Fatalf("recovery offers %v, want restart", run.Gate.Actions)
	}
	run = mustAct(t, eng, run, flows.ActionRestart, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	// A restart repeated after a lost compare-and-set patches the same
	// restartedAt value, so it may be called again but rolls only once.
	if len(run.Rollouts) != 2 {
		t.Fatalf("rollouts checked: %+v, want both Deployments", run.Rollouts)
	}
	for _, ro := range run.Rollouts {
		if n := w.cluster.Restarts(ro.Deployment); n != 1 {
			t.Errorf("deploy/%s restarted %d times, want once", ro.Deployment, n)
		}
	}
}

func TestSyncFailurePausesAndRetries(t *testing.T) {
	w := newWorld(t, setup{})
	w.cluster.FailSyncs = 1
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the pause", atGate(flows.GateRecover))
	last := run.Posts[len(run.Posts)-1]
	if len(last.Code) == 0 || !strings.Contains(strings.Join(last.Code, "\n"), "rake aborted") {
		t.Errorf("the failure post lacks the log tail: %+v", last)
	}
	run = mustAct(t, eng, run, flows.ActionRetry, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if n := w.cluster.JobsCreated(); n != 2 {
		t.Errorf("sync Jobs = %d, want 2: a retry after a failed Job makes a new one", n)
	}
}

func TestCancel(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if _, err := eng.Act(context.Background(), flows.ActRequest{RunID: run.ID, Action: flows.ActionCancel, Actor: mallory}); !isA[*flows.DeniedError](err) {
		t.Fatalf("Mallory cancelling: %v", err)
	}
	if _, err := eng.Act(context.Background(), flows.ActRequest{RunID: run.ID, Action: flows.ActionCancel, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseCancelled {
		t.Fatalf("phase %s", run.Phase)
	}
	last := run.Posts[len(run.Posts)-1]
	if !strings.Contains(strings.Join(last.Lines, " "), "is valid in Signon") {
		t.Errorf("the cancel post does not say the new token exists: %v", last.Lines)
	}
	if _, err := act(t, eng, &flows.Run{ID: run.ID, Gate: &flows.Gate{ID: "x"}}, flows.ActionApprove, alice); !isA[*flows.StaleError](err) {
		t.Fatalf("a click on a cancelled run: %v, want StaleError", err)
	}
	if w.cluster.JobsCreated() != 0 || w.token(t, w.old.ID).Revoked() {
		t.Fatal("a cancelled run synced or revoked")
	}
}

func TestGateExpiresAndIsReopened(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	w.clock.Advance(5 * time.Hour)
	if err := eng.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	expired := waitFor(t, eng, run.ID, "the gate to expire", func(r *flows.Run) bool { return r.Gate != nil && r.Gate.Expired })
	if expired.Phase != flows.PhaseWaiting {
		t.Fatalf("an expired gate left the run %s, want waiting", expired.Phase)
	}
	if _, err := act(t, eng, expired, flows.ActionApprove, alice); !isA[*flows.StaleError](err) {
		t.Fatalf("approving an expired gate: %v, want StaleError", err)
	}
	reopened := mustAct(t, eng, expired, flows.ActionReopen, alice)
	if reopened.Gate.ID == expired.Gate.ID || reopened.Gate.Expired {
		t.Fatal("reopen did not open a fresh gate")
	}
	// The old gate's buttons are dead.
	if _, err := act(t, eng, expired, flows.ActionApprove, alice); !isA[*flows.StaleError](err) {
		t.Fatalf("a click on the replaced gate: %v", err)
	}
	reopened = mustAct(t, eng, reopened, flows.ActionApprove, alice)
	waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
}

func TestSignonOutagePausesIssue(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	w.signon.Locked(func() {
		w.signon.FailNext = map[signon.Op]error{signon.OpIssue: fmt.Errorf("exec in pod signon-6f9: %w", flows.ErrUnavailable)}
	})
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the pause", atGate(flows.GateRecover))
	if run.Step != flows.StepIssue || run.NewToken != nil {
		t.Fatalf("paused at %s with token %v", run.Step, run.NewToken)
	}
	run = mustAct(t, eng, run, flows.ActionRetry, alice)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if got := w.signon.TokenCount(userEmail, appName); got != 2 {
		t.Fatalf("tokens = %d, want 2", got)
	}
}
