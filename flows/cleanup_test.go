package flows_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// superseded adds an API user whose token a renewal superseded eight hours
// ago; the nightly sync wrote the new token and its Deployment rolled. A
// stuck consumer caches the old token through the roll.
func addSuperseded(t *testing.T, w *world, i int, stuck bool) flows.Key {
	t.Helper()
	name := fmt.Sprintf("Clean User %d", i)
	email := fmt.Sprintf("clean-user-%d@alphagov.co.uk", i)
	dep := fmt.Sprintf("clean-app-%d", i)
	now := w.clock.Now()
	w.signon.AddAPIUser(name, email)
	created := now.AddDate(-2, 0, 9)
	w.signon.AddToken(email, appName, created, now.AddDate(0, 0, 9).Sub(created))
	w.signon.SetLastSynced(email, appName, now.Add(-time.Hour))
	secret := w.cluster.AddSecret(name, appName)
	w.cluster.AddDeployment(dep, "app", variable, secret)
	w.signon.AddToken(email, appName, now.Add(-8*time.Hour), 2*365*24*time.Hour)
	if stuck {
		w.cluster.Stuck[dep] = true
	}
	// Last night's sync: it writes the renewed token and Reloader rolls.
	job := w.cluster.StartScheduled()
	if _, err := w.cluster.WaitSync(context.Background(), job, secret, nil); err != nil {
		t.Fatal(err)
	}
	return flows.Key{Environment: flows.Production, APIUser: email, Application: appSlug}
}

func startCleanup(t *testing.T, eng *flows.Engine, keys []flows.Key) *flows.BatchStarted {
	t.Helper()
	res, err := eng.StartBatch(context.Background(), flows.BatchRequest{Mode: flows.ModeCleanup, Keys: keys, Actor: alice, Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "digest"}})
	if err != nil {
		t.Fatalf("start the clean-up: %v", err)
	}
	if len(res.Refused) > 0 {
		t.Fatalf("the clean-up refused %d pairs: %v", len(res.Refused), res.Refused[0].Err)
	}
	return res
}

// live is the pair's unrevoked tokens by id.
func live(t *testing.T, w *world, email string) []int64 {
	t.Helper()
	ts, err := w.signon.Tokens(context.Background(), email, appName)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, tk := range ts.Tokens {
		if !tk.Revoked() {
			out = append(out, tk.ID)
		}
	}
	return out
}

func newest(t *testing.T, w *world, email string) int64 {
	t.Helper()
	ts, err := w.signon.Tokens(context.Background(), email, appName)
	if err != nil {
		t.Fatal(err)
	}
	best := ts.Tokens[0]
	for _, tk := range ts.Tokens {
		if tk.ExpiresAt.After(best.ExpiresAt) {
			best = tk
		}
	}
	return best.ID
}

func cleanupWorld(t *testing.T) (*world, *env) {
	t.Helper()
	w := newWorld(t, setup{renewed: true, synced: true})
	w.cluster.Stuck = map[string]bool{}
	e := newEnv(t, w)
	e.onRealRedis()
	return w, e
}

// A clean-up of three pairs, one of whose consumers caches the old token:
// one question revokes the two verified pairs' superseded tokens, by
// someone other than the starter in production; the third is listed apart
// and keeps its token. Nothing is issued and no sync Job is made.
func TestCleanupRevokesOnlyVerifiedPairs(t *testing.T) {
	w, e := cleanupWorld(t)
	keys := []flows.Key{key(flows.Production), addSuperseded(t, w, 0, false), addSuperseded(t, w, 1, true)}
	jobs := w.cluster.JobsCreated()
	eng, _ := e.engine("r1", nil)
	res := startCleanup(t, eng, keys)
	if len(res.Runs) != 3 {
		t.Fatalf("started %d runs, want 3", len(res.Runs))
	}
	b, runs := waitBatch(t, eng, res.Batch.ID, "one revoke question for the two verified pairs", batchAt(flows.GateRevoke, 2))
	var stuck *flows.Run
	for _, r := range runs {
		if r.Key == keys[2] {
			stuck = r
		}
	}
	if contains(b.Covers, stuck.ID) || stuck.Phase != flows.PhasePaused || stuck.Gate == nil || stuck.Gate.Accepts(flows.ActionRollback) {
		t.Fatalf("the pair whose consumer holds the old token: covered %v, phase %s, gate %+v; want paused apart, with no rollback", contains(b.Covers, stuck.ID), stuck.Phase, stuck.Gate)
	}
	q := b.Posts[len(b.Posts)-1]
	text := q.Title + "\n" + strings.Join(q.Lines, "\n")
	for _, want := range []string{"Revoke 2 superseded tokens?", "Not revoked, listed apart (1 pair):", stuck.Label(), "clean-app-1", "In production someone other than"} {
		if !strings.Contains(text, want) {
			t.Errorf("the revoke question does not say %q:\n%s", want, text)
		}
	}
	for _, k := range keys {
		if n := len(live(t, w, k.APIUser)); n != 2 {
			t.Fatalf("%s has %d unrevoked tokens before the click, want 2", k.APIUser, n)
		}
	}
	ctx := context.Background()
	if _, err := eng.ActBatch(ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: alice}); !isA[*flows.DeniedError](err) {
		t.Fatalf("alice confirms her own clean-up in production: %v, want DeniedError", err)
	}
	if _, err := eng.ActBatch(ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatalf("bob confirms: %v", err)
	}
	for _, r := range runs {
		if r.ID != stuck.ID {
			waitFor(t, eng, r.ID, "the verified pairs to finish", func(r *flows.Run) bool { return r.Phase == flows.PhaseDone })
		}
	}
	for _, k := range keys[:2] {
		if got, want := live(t, w, k.APIUser), newest(t, w, k.APIUser); len(got) != 1 || got[0] != want {
			t.Errorf("%s keeps %v unrevoked, want only the synced token #%d", k.APIUser, got, want)
		}
	}
	if n := len(live(t, w, keys[2].APIUser)); n != 2 {
		t.Errorf("the stuck pair has %d unrevoked tokens, want 2: its superseded token must not be revoked", n)
	}
	for _, k := range keys {
		if n := w.signon.TokenCount(k.APIUser, appName); n != 2 {
			t.Errorf("%s has %d tokens, want 2: a clean-up issues nothing", k.APIUser, n)
		}
	}
	if got := w.cluster.JobsCreated() - jobs; got != 0 {
		t.Errorf("the clean-up made %d sync Jobs, want 0", got)
	}
	// The stuck pair ends by its own Cancel, and with it the batch.
	mustAct(t, eng, waitFor(t, eng, stuck.ID, "the stuck pair", func(r *flows.Run) bool { return r.Phase == flows.PhasePaused }), flows.ActionCancel, alice)
	b, _ = waitBatch(t, eng, b.ID, "the clean-up to end", batchEnded)
	if last := b.Posts[len(b.Posts)-1]; last.Title != "Clean-up ended: 2 of 3 pairs cleaned up" {
		t.Errorf("the summary is %q", last.Title)
	}
	if n := len(live(t, w, keys[2].APIUser)); n != 2 {
		t.Errorf("cancelling the stuck pair left %d unrevoked tokens, want 2", n)
	}
}

// Between the question and the click someone revokes the synced token in
// Signon: the old one is the latest again, no longer superseded, and the
// click revokes nothing.
func TestCleanupRechecksSignonAtTheClick(t *testing.T) {
	w, e := cleanupWorld(t)
	keys := []flows.Key{key(flows.Production), addSuperseded(t, w, 0, false)}
	eng, _ := e.engine("r1", nil)
	res := startCleanup(t, eng, keys)
	b, _ := waitBatch(t, eng, res.Batch.ID, "the revoke question", batchAt(flows.GateRevoke, 2))
	revokeThenConfirm(t, w, eng, b, w.renewed.ID)
	_, runs := waitBatch(t, eng, b.ID, "the clean-up to end", batchEnded)
	for _, r := range runs {
		switch r.Key {
		case keys[0]:
			if r.Phase != flows.PhaseFailed || !strings.Contains(r.Reason, "no longer superseded") {
				t.Errorf("the pair whose synced token was revoked ended %s (%q), want failed: no longer superseded", r.Phase, r.Reason)
			}
		default:
			if r.Phase != flows.PhaseDone {
				t.Errorf("the other pair ended %s, want done", r.Phase)
			}
		}
	}
	if got := live(t, w, userEmail); len(got) != 1 || got[0] != w.old.ID {
		t.Fatalf("unrevoked after the click: %v, want the old token #%d, now the only one", got, w.old.ID)
	}
}

// revokeThenConfirm revokes a token in Signon by hand, as someone at the
// console would, then has Bob confirm the batch's open question.
func revokeThenConfirm(t *testing.T, w *world, eng *flows.Engine, b *flows.Batch, id int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.signon.Revoke(ctx, flows.RevokeRequest{Email: userEmail, Application: appName, TokenID: id,
		Initiator: "alice@digital.cabinet-office.gov.uk", RunID: "r-manual", Requester: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ActBatch(ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: bob}); err != nil {
		t.Fatal(err)
	}
}

// A superseded token someone else revoked before the click counts as done.
func TestCleanupCountsARevokeThatHappened(t *testing.T) {
	w, e := cleanupWorld(t)
	eng, _ := e.engine("r1", nil)
	res := startCleanup(t, eng, []flows.Key{key(flows.Production)})
	b, _ := waitBatch(t, eng, res.Batch.ID, "the revoke question", batchAt(flows.GateRevoke, 1))
	revokeThenConfirm(t, w, eng, b, w.old.ID)
	_, runs := waitBatch(t, eng, b.ID, "the clean-up to end", batchEnded)
	if runs[0].Phase != flows.PhaseDone {
		t.Fatalf("ended %s (%s), want done", runs[0].Phase, runs[0].Reason)
	}
	var said []string
	for _, p := range runs[0].Posts {
		said = append(said, p.Lines...)
	}
	if !contains(said, fmt.Sprintf("Token #%d was already revoked.", w.old.ID)) {
		t.Errorf("the run does not say the token was revoked already:\n%s", strings.Join(said, "\n"))
	}
}

// Pairs with nothing to clean, or whose consumers cannot hold the synced
// token, are refused one by one and change nothing.
func TestCleanupRefusesPairsWithNothingSuperseded(t *testing.T) {
	w := newWorld(t, setup{})
	e := newEnv(t, w)
	eng, _ := e.engine("r1", nil)
	res, err := eng.StartBatch(context.Background(), flows.BatchRequest{Mode: flows.ModeCleanup, Keys: []flows.Key{key(flows.Production)}, Actor: alice, Thread: flows.Thread{Channel: channel}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 0 || len(res.Refused) != 1 || !strings.Contains(res.Refused[0].Err.Error(), "no superseded token") {
		t.Fatalf("runs %d, refused %+v; want the one pair refused: no superseded token", len(res.Runs), res.Refused)
	}
	if _, err := eng.StartBatch(context.Background(), flows.BatchRequest{Mode: flows.ModeRevokeDisused, Keys: []flows.Key{key(flows.Production)}, Actor: alice}); err == nil {
		t.Fatal("a batch of revoke-disused started")
	}
	if n := len(live(t, w, userEmail)); n != 1 {
		t.Fatalf("%d unrevoked tokens, want 1", n)
	}
}

// Nothing in the cluster reads the pair's Secret: its consumer cannot be
// proven to hold the synced token, so nothing is revoked, even on Retry.
func TestCleanupLeavesAnExternalConsumerAlone(t *testing.T) {
	w := newWorld(t, setup{renewed: true, synced: true, external: true})
	e := newEnv(t, w)
	eng, _ := e.engine("r1", nil)
	res := startCleanup(t, eng, []flows.Key{key(flows.Production)})
	run := waitFor(t, eng, res.Runs[0].ID, "the pause", func(r *flows.Run) bool { return r.Phase == flows.PhasePaused })
	if !strings.Contains(run.Reason, "cannot prove") {
		t.Fatalf("paused with %q", run.Reason)
	}
	mustAct(t, eng, run, flows.ActionRetry, bob)
	run = waitFor(t, eng, run.ID, "the pause after Retry", func(r *flows.Run) bool { return r.Phase == flows.PhasePaused && r.Gate != nil })
	if b, _ := eng.GetBatch(context.Background(), res.Batch.ID); b.Gate != nil {
		t.Fatalf("the batch asks %q for a pair nobody verified", b.Gate.Prompt)
	}
	if n := len(live(t, w, userEmail)); n != 2 {
		t.Fatalf("%d unrevoked tokens, want 2", n)
	}
}
