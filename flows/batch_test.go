package flows_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// addPairs adds n more API users, each with a token for the world's
// application that expires in nine days and one Deployment reading it.
func addPairs(w *world, n int) []flows.Key {
	keys := []flows.Key{key(flows.Production)}
	now := w.clock.Now()
	for i := range n {
		name := fmt.Sprintf("Batch User %d", i)
		email := fmt.Sprintf("batch-user-%d@alphagov.co.uk", i)
		w.signon.AddAPIUser(name, email)
		created := now.AddDate(-2, 0, 9)
		w.signon.AddToken(email, appName, created, now.AddDate(0, 0, 9).Sub(created))
		w.signon.SetLastSynced(email, appName, now.Add(-time.Hour))
		secret := w.cluster.AddSecret(name, appName)
		w.cluster.AddDeployment(fmt.Sprintf("batch-app-%d", i), "app", variable, secret)
		keys = append(keys, flows.Key{Environment: flows.Production, APIUser: email, Application: appSlug})
	}
	return keys
}

func startBatch(t *testing.T, eng *flows.Engine, keys []flows.Key) *flows.BatchStarted {
	t.Helper()
	res, err := eng.StartBatch(context.Background(), flows.BatchRequest{Keys: keys, Actor: alice, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"}})
	if err != nil {
		t.Fatalf("start batch: %v", err)
	}
	if len(res.Refused) > 0 {
		t.Fatalf("batch refused %d tokens: %v", len(res.Refused), res.Refused[0].Err)
	}
	return res
}

// waitBatch waits (up to 10 s) until the batch satisfies cond.
func waitBatch(t *testing.T, eng *flows.Engine, id, what string, cond func(*flows.Batch, []*flows.Run) bool) (*flows.Batch, []*flows.Run) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := eng.GetBatch(ctx, id)
		if err == nil {
			runs, rerr := eng.BatchRuns(ctx, b)
			if rerr == nil && cond(b, runs) {
				return b, runs
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error %v)", what, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func batchAt(kind flows.GateKind, n int) func(*flows.Batch, []*flows.Run) bool {
	return func(b *flows.Batch, runs []*flows.Run) bool {
		return b.Gate != nil && b.Gate.Kind == kind && len(b.Covers) == n && len(b.Receipts) >= len(b.Posts)+1
	}
}

func batchEnded(b *flows.Batch, runs []*flows.Run) bool { return b.Ended }

func TestBatchPassesItsGatesTogether(t *testing.T) {
	w := newWorld(t, setup{})
	keys := addPairs(w, 2)
	e := newEnv(t, w)
	eng, _ := e.engine("r1", nil)
	res := startBatch(t, eng, keys)
	if len(res.Runs) != 3 {
		t.Fatalf("started %d runs, want 3", len(res.Runs))
	}

	b, runs := waitBatch(t, eng, res.Batch.ID, "one sync confirmation for the three", batchAt(flows.GateSync, 3))
	for _, r := range runs {
		if r.Gate == nil || r.Gate.Batch != b.ID || r.Gate.Kind != flows.GateSync {
			t.Fatalf("run %s waits at %+v, want the batch's sync gate", r.ID, r.Gate)
		}
		// A member's own gate takes no click: only the batch's does.
		if _, err := act(t, eng, r, flows.ActionApprove, alice); !isA[*flows.StaleError](err) {
			t.Fatalf("a click on a member's own sync gate: %v, want a StaleError", err)
		}
	}
	// Bad clicks change nothing: a stale gate id, a user with no role.
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: "forged", Action: flows.ActionApprove, Actor: alice}); !isA[*flows.StaleError](err) {
		t.Fatalf("forged gate id: %v, want StaleError", err)
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: mallory}); !isA[*flows.DeniedError](err) {
		t.Fatalf("mallory approves: %v, want DeniedError", err)
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
		t.Fatalf("alice runs the sync: %v", err)
	}

	b, runs = waitBatch(t, eng, b.ID, "one revoke confirmation for the three", batchAt(flows.GateRevoke, 3))
	for _, r := range runs {
		if v, _ := r.StepState(flows.StepVerify); v.Status != flows.StepOK {
			t.Fatalf("run %s reached the revoke gate with verify %s", r.ID, v.Status)
		}
		for _, tk := range r.OldTokens {
			if !strings.Contains(strings.Join(b.Posts[len(b.Posts)-1].Lines, "\n"), tk.Fingerprint.Short()) {
				t.Errorf("the revoke confirmation does not list old token #%d", tk.ID)
			}
		}
	}
	// Four eyes: the starter may not revoke in production.
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); !isA[*flows.DeniedError](err) {
		t.Fatalf("alice revokes her own batch: %v, want DeniedError", err)
	}
	for _, r := range runs {
		if n := unrevokedCount(t, w, r.Key.APIUser); n != 2 {
			t.Fatalf("%s: %d unrevoked tokens; want the old and new token unrevoked before the revoke", r.Key.APIUser, n)
		}
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatalf("bob revokes: %v", err)
	}
	b, runs = waitBatch(t, eng, b.ID, "the batch to end", batchEnded)
	for _, r := range runs {
		if r.Phase != flows.PhaseDone {
			t.Errorf("run %s ended %s, want done", r.ID, r.Phase)
		}
		if a := r.Approvals[len(r.Approvals)-1]; a.Gate != flows.GateRevoke || a.User != bob {
			t.Errorf("run %s: last approval %+v, want bob's revoke", r.ID, a)
		}
		if len(e.notifier.Thread(r.ID)) != 0 {
			t.Errorf("run %s posted %d messages of its own; a batch's runs talk through its status", r.ID, len(e.notifier.Thread(r.ID)))
		}
	}
	// The thread: the status, the sync question, the revoke question and
	// the summary, whatever the number of tokens.
	if got := len(e.notifier.Thread(b.ID)); got != 4 {
		t.Errorf("the batch's thread has %d messages, want 4:\n%s", got, e.notifier.Transcript(b.ID))
	}
	// Confirmed together, the runs enter the sync step together and
	// share one Job.
	if got := w.cluster.JobsCreated(); got != 1 {
		t.Errorf("sync Jobs created for a batch of %d: %d, want exactly 1", len(runs), got)
	}
}

func TestBatchVerifyFailureStopsOneToken(t *testing.T) {
	w := newWorld(t, setup{})
	keys := addPairs(w, 2)
	w.cluster.Stuck = map[string]bool{"batch-app-1": true}
	e := newEnv(t, w)
	eng, _ := e.engine("r1", nil)
	res := startBatch(t, eng, keys)
	b, _ := waitBatch(t, eng, res.Batch.ID, "the sync confirmation", batchAt(flows.GateSync, 3))
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
		t.Fatal(err)
	}
	b, runs := waitBatch(t, eng, b.ID, "a revoke confirmation for the two that verified", batchAt(flows.GateRevoke, 2))
	var stuck *flows.Run
	for _, r := range runs {
		if r.Key.APIUser == "batch-user-1@alphagov.co.uk" {
			stuck = r
		}
	}
	if stuck.Phase != flows.PhasePaused || !stuck.Detached || stuck.Gate == nil || stuck.Gate.Kind != flows.GateRecover || stuck.Gate.Batch != "" {
		t.Fatalf("the stuck token: phase %s, detached %v, gate %+v; want paused on its own recover gate", stuck.Phase, stuck.Detached, stuck.Gate)
	}
	for _, a := range []flows.Action{flows.ActionRetry, flows.ActionRollback, flows.ActionCancel} {
		if !stuck.Gate.Accepts(a) {
			t.Errorf("the stuck token offers no %s", a)
		}
	}
	if slices := b.Covers; len(slices) != 2 || contains(slices, stuck.ID) {
		t.Fatalf("the revoke confirmation covers %v; it must leave out %s", b.Covers, stuck.ID)
	}
	// Its own reply names its consumers and fingerprints.
	thread := e.notifier.Transcript(stuck.ID)
	for _, want := range []string{"batch-app-1", stuck.NewToken.Fingerprint.Short(), stuck.OldTokens[0].Fingerprint.Short(), "Retry"} {
		if !strings.Contains(strings.ToLower(thread), strings.ToLower(want)) {
			t.Errorf("the stuck token's reply does not say %q:\n%s", want, thread)
		}
	}
	// The same table and cause as a run of its own, in its own reply.
	last := strings.Join(stuck.Posts[len(stuck.Posts)-1].Lines, "\n")
	for _, want := range []string{
		"Which token each consumer holds",
		"• deploy/batch-app-1 (app, `" + variable + "`), pod batch-app-1-2-x7k2p: *old* `" + stuck.OldTokens[0].Fingerprint.Short() + "`",
		"Likely cause:\n• deploy/batch-app-1 rolled out after the Secret changed, yet pod batch-app-1-2-x7k2p holds the old token",
		"Deadline: the old token #",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("the stuck token's stopped reply does not say %q:\n%s", want, last)
		}
	}
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.ID == stuck.ID {
			continue
		}
		waitFor(t, eng, r.ID, "the verified runs to finish", func(r *flows.Run) bool { return r.Phase == flows.PhaseDone })
	}
	if got := unrevokedCount(t, w, stuck.Key.APIUser); got != 2 {
		t.Fatalf("the stuck token's user has %d unrevoked tokens, want 2: its old token must not be revoked", got)
	}
	// Rolling it back (a second person, in production) ends it and the batch.
	stuck = waitFor(t, eng, stuck.ID, "the stuck run", func(r *flows.Run) bool { return r.Phase == flows.PhasePaused })
	mustAct(t, eng, stuck, flows.ActionRollback, bob)
	waitFor(t, eng, stuck.ID, "the rollback", ended)
	waitBatch(t, eng, b.ID, "the batch to end", batchEnded)
}

func unrevokedCount(t *testing.T, w *world, email string) int {
	t.Helper()
	ts, err := w.signon.Tokens(context.Background(), email, appName)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range ts.Tokens {
		if !tk.Revoked() {
			n++
		}
	}
	return n
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// A crash between the batch recording an answer and the runs taking it:
// the next replica passes it on, and no token is issued twice.
func TestBatchAnswerSurvivesACrash(t *testing.T) {
	w := newWorld(t, setup{})
	keys := addPairs(w, 2)
	e := newEnv(t, w)
	eng, stop := e.engine("r1", nil)
	res := startBatch(t, eng, keys)
	b, _ := waitBatch(t, eng, res.Batch.ID, "the sync confirmation", batchAt(flows.GateSync, 3))
	stop()
	// The click lands on a replica whose engine has stopped driving.
	if _, err := eng.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
		t.Fatal(err)
	}
	b2, runs := waitBatch(t, eng, b.ID, "the recorded answer", func(b *flows.Batch, runs []*flows.Run) bool { return len(b.Passed) == 1 })
	for _, r := range runs {
		if r.Phase != flows.PhaseWaiting || r.Gate.Kind != flows.GateSync {
			t.Fatalf("run %s moved with no engine running: %s %s", r.ID, r.Phase, r.Step)
		}
	}
	eng2, _ := e.engine("r2", nil)
	b2, _ = waitBatch(t, eng2, b2.ID, "the revoke confirmation after the restart", batchAt(flows.GateRevoke, 3))
	if _, err := eng2.ActBatch(context.Background(), flows.BatchActRequest{BatchID: b2.ID, GateID: b2.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	_, runs = waitBatch(t, eng2, b2.ID, "the batch to end", batchEnded)
	for _, r := range runs {
		if r.Phase != flows.PhaseDone {
			t.Errorf("run %s ended %s", r.ID, r.Phase)
		}
		if n := unrevokedCount(t, w, r.Key.APIUser); n != 1 {
			t.Errorf("%s has %d unrevoked tokens after the batch, want 1", r.Key.APIUser, n)
		}
		if n := w.signon.TokenCount(r.Key.APIUser, appName); n != 2 {
			t.Errorf("%s has %d tokens, want the old one and exactly one new", r.Key.APIUser, n)
		}
	}
}

func TestBatchRefusesBadRequests(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("r1", nil)
	ctx := context.Background()
	cases := map[string]flows.BatchRequest{
		"no token":        {Actor: alice},
		"two envs":        {Actor: alice, Keys: []flows.Key{key(flows.Production), key(flows.Integration)}},
		"no role":         {Actor: mallory, Keys: []flows.Key{key(flows.Production)}},
		"unknown env":     {Actor: alice, Keys: []flows.Key{{Environment: "nowhere", APIUser: userEmail, Application: appSlug}}},
		"malformed email": {Actor: alice, Keys: []flows.Key{{Environment: flows.Production, APIUser: "not-an-email", Application: appSlug}}},
	}
	for name, req := range cases {
		if _, err := eng.StartBatch(ctx, req); err == nil {
			t.Errorf("%s: started a batch", name)
		}
	}
	if runs, err := eng.Active(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("bad requests left %d runs (%v)", len(runs), err)
	}
}
