package flows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/signon"
)

// autopilotEnv is the env with production's autopilot set to mode.
func autopilotEnv(t *testing.T, w *world, mode flows.Autopilot, acked bool) *env {
	t.Helper()
	e := newEnv(t, w)
	p := e.policy.Environments[flows.Production]
	p.Autopilot, p.AutopilotAcknowledged = mode, acked
	p.AutopilotSource = "environments.production.autopilot: " + string(mode)
	p.Ping = flows.Principals{Users: []string{bob}}
	e.policy.Environments[flows.Production] = p
	return e
}

func startAsPolicy(t *testing.T, eng *flows.Engine, keys []flows.Key) *flows.BatchStarted {
	t.Helper()
	res, err := eng.StartBatch(context.Background(), flows.BatchRequest{Keys: keys, Actor: flows.PolicyActor(flows.Production), Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "sweep"}})
	if err != nil {
		t.Fatalf("the policy starts a batch: %v", err)
	}
	return res
}

// TestFullPassesBothGatesAsThePolicy: under full (acknowledged in
// production) a batch the policy started runs to the end with no click;
// each gate is recorded as the policy's decision, naming the
// configuration, in the thread and in every run's audit, never as a
// person; one token is issued per pair.
func TestFullPassesBothGatesAsThePolicy(t *testing.T) {
	w := newWorld(t, setup{})
	keys := addPairs(w, 1)
	e := autopilotEnv(t, w, flows.AutopilotFull, true)
	eng, _ := e.engine("r1", nil)
	res := startAsPolicy(t, eng, keys)
	if len(res.Runs) != 2 {
		t.Fatalf("started %d runs, want 2 (%v)", len(res.Runs), res.Refused)
	}
	b, runs := waitBatch(t, eng, res.Batch.ID, "the batch to end with no click", batchEnded)
	for _, p := range b.Posts {
		if p.Ping != "" {
			t.Errorf("post %q pings %s; a gate the policy passes asks nobody", p.Title, p.Ping)
		}
	}
	for _, r := range runs {
		if r.Phase != flows.PhaseDone {
			t.Fatalf("run %s ended %s (%s)", r.ID, r.Phase, r.Reason)
		}
		if n := unrevokedCount(t, w, r.Key.APIUser); n != 1 {
			t.Errorf("%s has %d unrevoked tokens, want the new one alone", r.Key.APIUser, n)
		}
		trail, err := eng.AuditTrail(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		gates := 0
		for _, a := range trail {
			if a.Action == string(flows.ActionApprove) {
				gates++
				if a.Actor != flows.PolicyActor(flows.Production) || !strings.Contains(a.Detail, "environments.production.autopilot: full") {
					t.Errorf("audit of a gate: %+v, want the policy's decision naming its configuration", a)
				}
			}
		}
		if gates != 2 {
			t.Errorf("run %s: %d gate decisions audited, want 2", r.ID, gates)
		}
	}
	if len(b.Passed) != 2 {
		t.Fatalf("batch answers %+v, want sync and revoke", b.Passed)
	}
	for _, a := range b.Passed {
		if a.User != flows.PolicyActor(flows.Production) {
			t.Errorf("gate %s passed by %s, want the policy", a.Gate, a.User)
		}
	}
	said := 0
	for _, p := range b.Posts {
		if p.Gate != "" && strings.Contains(strings.Join(p.Lines, "\n"), "Passed by the autopilot policy, not by a person") {
			said++
		}
	}
	if said != 2 {
		t.Errorf("%d gate posts say the policy passed them, want 2", said)
	}
	if n := w.signon.Calls(signon.OpIssue); n != 2 {
		t.Errorf("%d issues for 2 pairs", n)
	}
}

// TestToGatesStopsAtBothGates: under to-gates the policy's batch waits
// for a person at the sync and at the revoke; four-eyes then needs
// someone other than the person who confirmed the sync, since the policy
// that started it is nobody.
func TestToGatesStopsAtBothGates(t *testing.T) {
	w := newWorld(t, setup{})
	keys := addPairs(w, 1)
	e := autopilotEnv(t, w, flows.AutopilotToGates, false)
	eng, _ := e.engine("r1", nil)
	res := startAsPolicy(t, eng, keys)
	b, _ := waitBatch(t, eng, res.Batch.ID, "the sync gate", batchAt(flows.GateSync, 2))
	if len(b.Passed) != 0 {
		t.Fatalf("to-gates passed %+v by itself", b.Passed)
	}
	if b.Gate.Ping != flows.Mention(bob) {
		t.Errorf("the sync gate pings %q, want the approvers (%s)", b.Gate.Ping, flows.Mention(bob))
	}
	// The policy may not answer under to-gates, whoever asks for it.
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: flows.PolicyActor(flows.Production)}); !isA[*flows.DeniedError](err) {
		t.Fatalf("the policy approves under to-gates: %v, want DeniedError", err)
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
		t.Fatalf("alice runs the sync: %v", err)
	}
	b, runs := waitBatch(t, eng, b.ID, "the revoke gate", batchAt(flows.GateRevoke, 2))
	if b.Gate.NotUser != alice {
		t.Fatalf("the revoke gate excludes %q, want alice, who confirmed the sync", b.Gate.NotUser)
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); !isA[*flows.DeniedError](err) {
		t.Fatalf("alice revokes after confirming the sync: %v, want DeniedError", err)
	}
	for _, r := range runs {
		if n := unrevokedCount(t, w, r.Key.APIUser); n != 2 {
			t.Errorf("%s has %d unrevoked tokens before the revoke, want 2", r.Key.APIUser, n)
		}
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatalf("bob revokes: %v", err)
	}
	_, runs = waitBatch(t, eng, b.ID, "the end", batchEnded)
	for _, r := range runs {
		if r.Phase != flows.PhaseDone {
			t.Errorf("run %s ended %s (%s)", r.ID, r.Phase, r.Reason)
		}
	}
}

// TestThePolicyActsOnlyWhereConfigured: off starts nothing, another
// environment's policy starts nothing here, and a token with no consumer
// in the cluster is left for a person before anything is issued.
func TestThePolicyActsOnlyWhereConfigured(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		w := newWorld(t, setup{})
		eng, _ := autopilotEnv(t, w, flows.AutopilotOff, false).engine("r1", nil)
		_, err := eng.StartBatch(context.Background(), flows.BatchRequest{Keys: []flows.Key{key(flows.Production)}, Actor: flows.PolicyActor(flows.Production), Thread: flows.Thread{Channel: channel}})
		if !isA[*flows.DeniedError](err) {
			t.Fatalf("the policy starts under off: %v, want DeniedError", err)
		}
		_, err = eng.StartBatch(context.Background(), flows.BatchRequest{Keys: []flows.Key{key(flows.Production)}, Actor: flows.PolicyActor(flows.Integration), Thread: flows.Thread{Channel: channel}})
		if !isA[*flows.DeniedError](err) {
			t.Fatalf("integration's policy starts in production: %v, want DeniedError", err)
		}
	})
	t.Run("external", func(t *testing.T) {
		w := newWorld(t, setup{external: true})
		eng, _ := autopilotEnv(t, w, flows.AutopilotFull, true).engine("r1", nil)
		res := startAsPolicy(t, eng, []flows.Key{key(flows.Production)})
		_, runs := waitBatch(t, eng, res.Batch.ID, "the batch to end", batchEnded)
		if len(runs) != 1 || runs[0].Phase != flows.PhaseCancelled || !strings.Contains(runs[0].Reason, "waits for its requester") {
			t.Fatalf("runs %+v, want one left for its requester", runs)
		}
		if n := w.signon.Calls(signon.OpIssue); n != 0 {
			t.Errorf("%d tokens issued for an external consumer by the policy", n)
		}
	})
}

// TestFullInProductionNeedsTheAcknowledgement: the engine itself refuses
// full in production without it, whatever the configuration loader did.
func TestFullInProductionNeedsTheAcknowledgement(t *testing.T) {
	p := flows.GOVUKPolicy()
	prod := p.Environments[flows.Production]
	prod.Autopilot = flows.AutopilotFull
	p.Environments[flows.Production] = prod
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), flows.AutopilotAcknowledgement) {
		t.Fatalf("Validate: %v, want a refusal naming the acknowledgement", err)
	}
	prod.AutopilotAcknowledged = true
	p.Environments[flows.Production] = prod
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate with the acknowledgement: %v", err)
	}
	st := p.Environments[flows.Staging]
	st.Autopilot = flows.AutopilotToGates
	p.Environments[flows.Staging] = st
	if err := p.Validate(); err == nil {
		t.Fatal("Validate accepted autopilot where the bot does not rotate")
	}
}
