package flows_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
)

// starters is the user group the tests name as production's starters.
const starters = "S0STARTERS"

func TestRequesterRemovedFromStartersLosesTheHandOff(t *testing.T) {
	w := newWorld(t, setup{external: true})
	e := newEnv(t, w)
	prod := e.policy.Environments[flows.Production]
	prod.Starters = flows.Principals{Groups: []string{starters}}
	prod.Approvers = flows.Principals{Users: []string{bob}}
	e.policy.Environments[flows.Production] = prod
	e.dir.SetGroup(starters, alice)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the hand-off", atGate(flows.GateHandoff))

	e.dir.SetGroup(starters)
	for _, a := range []flows.Action{flows.ActionReveal, flows.ActionDelivered, flows.ActionCancel, flows.ActionRollback} {
		if _, err := act(t, eng, run, a, alice); !isA[*flows.DeniedError](err) {
			t.Errorf("%s by a requester no longer a starter: err = %v, want DeniedError", a, err)
		}
	}
	if len(e.revealer.Revealed()) != 0 {
		t.Fatal("a refused reveal revealed")
	}
	if got, _ := eng.Get(t.Context(), run.ID); got.Gate == nil || got.Gate.ID != run.Gate.ID {
		t.Fatal("a refused click passed the gate")
	}
	// Back in the group, the hand-off is hers again.
	e.dir.SetGroup(starters, alice)
	if _, err := act(t, eng, run, flows.ActionReveal, alice); err != nil {
		t.Fatalf("reveal by the requester back among the starters: %v", err)
	}
}

func TestRollbackIsOfferedOnlyBeforeVerification(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if !slices.Contains(run.Gate.Actions, flows.ActionRollback) {
		t.Errorf("the sync gate offers %v: before the sync nothing holds the new token, so it may be rolled back", run.Gate.Actions)
	}
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if slices.Contains(run.Gate.Actions, flows.ActionRollback) {
		t.Fatalf("the revoke gate offers %v after every consumer was verified on the new token", run.Gate.Actions)
	}
	newID := run.NewToken.ID
	if _, err := act(t, eng, run, flows.ActionRollback, bob); !errors.Is(err, flows.ErrBadInput) {
		t.Fatalf("rollback at the revoke gate: err = %v, want ErrBadInput", err)
	}
	if w.token(t, newID).Revoked() {
		t.Fatal("the verified new token was revoked")
	}
}

func TestProductionRollbackNeedsASecondPerson(t *testing.T) {
	w := newWorld(t, setup{})
	w.cluster.Stuck = map[string]bool{"draft-content-tagger": true}
	e := newEnv(t, w)
	eng, _ := e.engine("replica-1", nil)
	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	run = waitFor(t, eng, run.ID, "the pause", atGate(flows.GateRecover))
	if !slices.Contains(run.Gate.Actions, flows.ActionRollback) {
		t.Fatalf("a failed verification offers %v, want rollback", run.Gate.Actions)
	}
	if _, err := act(t, eng, run, flows.ActionRollback, alice); !isA[*flows.DeniedError](err) {
		t.Fatalf("the starter rolling back in production: err = %v, want DeniedError", err)
	}
	if w.token(t, run.NewToken.ID).Revoked() {
		t.Fatal("a refused rollback revoked the new token")
	}
	run = mustAct(t, eng, run, flows.ActionRollback, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseRolledBack {
		t.Fatalf("phase %s, want rolled-back", run.Phase)
	}
}

// MaySee, asked at every click on an offer, takes a user named in any
// environment's configuration without asking Slack about groups, and
// still finds a member of a group.
func TestMaySeeTakesNamedUsersBeforeGroups(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	for _, env := range []string{flows.Integration, flows.Production} {
		p := e.policy.Environments[env]
		p.Starters = flows.Principals{Groups: []string{starters}}
		p.Approvers = flows.Principals{}
		e.policy.Environments[env] = p
	}
	// Bob is named once, in the environment asked about last.
	prod := e.policy.Environments[flows.Production]
	prod.Approvers = flows.Principals{Users: []string{bob}}
	e.policy.Environments[flows.Production] = prod
	const carol = "U0CAROL"
	e.dir.SetGroup(starters, carol)
	eng, _ := e.engine("replica-1", nil)

	e.dir.SetErr(errors.New("usergroups.users.list: ratelimited"))
	if ok, err := eng.MaySee(t.Context(), bob); !ok || err != nil {
		t.Errorf("MaySee(bob, named) with groups unreadable = %v, %v; want yes without asking", ok, err)
	}
	if ok, err := eng.MaySee(t.Context(), carol); ok || err == nil {
		t.Errorf("MaySee(carol, a group member) with groups unreadable = %v, %v; want the error, never a yes", ok, err)
	}
	e.dir.SetErr(nil)
	for user, want := range map[string]bool{carol: true, bob: true, "U0MALLORY": false} {
		if ok, err := eng.MaySee(t.Context(), user); ok != want || err != nil {
			t.Errorf("MaySee(%s) = %v, %v; want %v", user, ok, err, want)
		}
	}
}
