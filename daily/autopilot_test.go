package daily_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/alphagov/signon-token-bot/daily"
	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// shiftedClock is the wall clock moved by a settable offset: the days of
// a test pass by moving the offset, while the apiserver, the Jobs and the
// pods keep real time. A rotation runs at an offset where the two agree
// to the second, so that a Job the engine waits for starts after the
// token it writes was issued.
type shiftedClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *shiftedClock) set(off time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = off
}

const (
	apUser  = "Content Tagger"
	apEmail = "content-tagger@alphagov.co.uk"
	apApp   = "Publishing API"
	apVar   = "PUBLISHING_API_BEARER_TOKEN"
	apAlice = "U0ALICE"
	apBob   = "U0BOB"
)

// autopilotWorld is one environment on a real apiserver with the Job and
// Deployment controllers, a real redis-server and the Signon double: an
// internal API user whose token Signon's renewal did not renew, expiring
// 10 days after the test starts, read by one Deployment.
type autopilotWorld struct {
	t        *testing.T
	ctx      context.Context
	clock    *shiftedClock
	signon   *signontest.Signon
	store    *state.Store
	kubelet  *kubetest.Kubelet
	engine   *flows.Engine
	notifier *flowstest.Notifier
	digests  *digests
	secret   string
	mode     flows.Autopilot
	env      string
	runIDs   []string
}

func newAutopilotWorld(t *testing.T, env string, mode flows.Autopilot) *autopilotWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	w := &autopilotWorld{t: t, ctx: ctx, clock: &shiftedClock{}, kubelet: &kubetest.Kubelet{}, notifier: &flowstest.Notifier{}, digests: &digests{}, mode: mode, env: env}
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	w.kubelet.Start(t, cp.Config, ns)
	kubetest.StartReloader(t, cp.Config, ns)

	w.signon = signontest.New(w.clock)
	w.signon.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	w.signon.AddHumanUser("Bob", "bob@digital.cabinet-office.gov.uk")
	w.signon.AddAPIUser(apUser, apEmail)
	w.signon.AddApplication(apApp)
	now := w.clock.Now()
	created := now.AddDate(-2, 0, 10)
	_, oldTok := w.signon.AddToken(apEmail, apApp, created, now.AddDate(0, 0, 10).Sub(created))
	w.signon.SetLastSynced(apEmail, apApp, now.Add(-time.Hour))

	kc, err := kube.NewForConfig(cp.Config, kube.Config{Namespace: ns, SyncTimeout: time.Minute, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	admin := cp.Clientset(t)
	w.secret = kc.SecretName(apUser, apApp)
	apply := applycorev1.Secret(w.secret, ns).WithType(corev1.SecretTypeOpaque).WithData(map[string][]byte{kube.SecretKey: []byte(oldTok.Reveal())})
	if _, err := admin.CoreV1().Secrets(ns).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.BatchV1().CronJobs(ns).Create(ctx, kubetest.SyncCronJob(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AppsV1().Deployments(ns).Create(ctx, kubetest.ConsumerDeployment(ns, "content-tagger", apVar, w.secret), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.WaitRollout(ctx, "content-tagger", time.Time{}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The apiserver keeps times to the second: the consumer's first pod
	// must not pass for one of the rollout the sync causes.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	if w.store, err = state.New(redistest.New(t).Client(), state.Options{}); err != nil {
		t.Fatal(err)
	}
	policy := flows.GOVUKPolicy()
	ep := policy.Environments[env]
	ep.Autopilot, ep.AutopilotAcknowledged = mode, env == flows.Production && mode == flows.AutopilotFull
	ep.Starters = flows.Principals{Users: []string{apAlice, apBob}}
	ep.RolloutStartTimeout, ep.VerifyTimeout = 5*time.Second, 20*time.Second
	policy.Environments = map[string]flows.EnvPolicy{env: ep}
	w.engine, err = flows.New(flows.Config{
		Policy: policy, Envs: map[string]flows.Env{env: {Signon: w.signon, Cluster: kc}},
		Store: w.store, Notifier: w.notifier, Clock: w.clock, Owner: "replica-1",
		Directory: &flowstest.Directory{Emails: map[string]string{apAlice: "alice@digital.cabinet-office.gov.uk", apBob: "bob@digital.cabinet-office.gov.uk"}},
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		LeaseTTL:  2 * time.Second, SweepEvery: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.engine.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	return w
}

// replica is one bot replica's sweep, acting as the configured policy.
func (w *autopilotWorld) replica(owner string) *daily.Sweeper {
	w.t.Helper()
	sched, err := daily.ParseSchedule("01:30")
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := daily.New(daily.Config{Environment: w.env, Schedule: sched, Owner: owner, LeaseTTL: time.Second},
		daily.Parts{Estate: w.signon, Store: w.store, Runs: w.store, Publisher: w.digests, Clock: w.clock,
			Actor: daily.Steps{&daily.Rotations{Mode: w.mode, Batches: w.engine, Channel: "C0DIGEST", Within: flows.GOVUKPolicy().ExpiryWindow}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// day moves the clock to off from now and has two replicas tick.
func (w *autopilotWorld) day(off time.Duration) {
	w.t.Helper()
	w.clock.set(off)
	tickAll(w.t, w.replica("replica-a"), w.replica("replica-b"))
}

// batches are the batches started so far, active or not.
func (w *autopilotWorld) batches() []*flows.Batch {
	w.t.Helper()
	runs, err := w.store.ActiveRuns(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []*flows.Batch
	for _, r := range append(runs, w.ended()...) {
		if r.Batch != "" && !seen[r.Batch] {
			seen[r.Batch] = true
			b, err := w.engine.GetBatch(w.ctx, r.Batch)
			if err != nil {
				w.t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// ended are the runs of the pair that ended (the audit keeps them).
func (w *autopilotWorld) ended() []*flows.Run {
	var out []*flows.Run
	for _, id := range w.runIDs {
		if r, err := w.engine.Get(w.ctx, id); err == nil && r.Ended() {
			out = append(out, r)
		}
	}
	return out
}

// waitRun waits for the pair's run to satisfy cond.
func (w *autopilotWorld) waitRun(what string, cond func(*flows.Run) bool) *flows.Run {
	w.t.Helper()
	var run *flows.Run
	deadline := time.Now().Add(90 * time.Second)
	for run == nil && time.Now().Before(deadline) {
		runs, err := w.store.ActiveRuns(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(runs) > 0 {
			run = runs[0]
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
	if run == nil {
		w.t.Fatalf("no run started for %s", what)
	}
	w.remember(run.ID)
	ctx, cancel := context.WithTimeout(w.ctx, 90*time.Second)
	defer cancel()
	got, err := w.engine.WaitFor(ctx, run.ID, cond)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v\n%s", what, err, w.notifier.Transcript(run.ID))
	}
	return got
}

func (w *autopilotWorld) remember(id string) {
	for _, r := range w.runIDs {
		if r == id {
			return
		}
	}
	w.runIDs = append(w.runIDs, id)
}

// playSync plays the sync task once the new token exists, writing it.
func (w *autopilotWorld) playSync() {
	w.t.Helper()
	newest, _ := w.signon.NewestUnrevoked(apUser, apApp)
	if _, err := w.kubelet.PlaySync(w.ctx, kube.DefaultCronJob, kubetest.SyncRun{Tokens: map[string]token.Secret{w.secret: newest}}); err != nil {
		w.t.Fatalf("play the sync task: %v", err)
	}
}

// issued counts the pair's tokens made after the test began.
func (w *autopilotWorld) issued() int {
	return w.signon.Calls(signon.OpIssue)
}

func atGate(kind flows.GateKind) func(*flows.Run) bool {
	return func(r *flows.Run) bool { return r.Phase == flows.PhaseWaiting && r.Gate != nil && r.Gate.Kind == kind }
}

func runEnded(r *flows.Run) bool { return r.Ended() }

const apDay = 24 * time.Hour

// TestFullRotatesAnIntegrationTokenWithNoClick: integration under full.
// Twelve and eleven days earlier the renewal had failed already, but the
// token was further off than the rotation window (14 days): the sweeps
// start nothing. On the day it is within, the sweep starts a batch and
// the rotation issues, syncs, verifies and revokes with no click; a sweep
// that failed after it acted and is retried, and the days after, issue
// nothing more.
func TestFullRotatesAnIntegrationTokenWithNoClick(t *testing.T) {
	w := newAutopilotWorld(t, flows.Integration, flows.AutopilotFull)
	w.day(-12 * apDay)
	w.day(-11 * apDay)
	if n := w.issued(); n != 0 || len(w.digests.posted()) != 2 {
		t.Fatalf("%d issued and digests %q before the token was due", n, w.digests.posted())
	}

	// The day it is due: the first sweep acts, then fails to post its
	// digest; the replica that retries once the lease lapses acts again.
	w.clock.set(0)
	w.digests.mu.Lock()
	w.digests.Fail = context.DeadlineExceeded
	w.digests.mu.Unlock()
	first := w.replica("replica-a")
	if ok, err := first.Tick(w.ctx); ok || err == nil {
		t.Fatalf("the sweep whose digest failed: %v %v", ok, err)
	}
	w.waitRun("the sync Job to start by itself", func(r *flows.Run) bool { return r.SyncJob != nil })
	w.playSync()
	retry := w.replica("replica-b")
	deadline := time.Now().Add(10 * time.Second)
	for len(w.digests.posted()) < 3 && time.Now().Before(deadline) {
		if _, err := retry.Tick(w.ctx); err != nil {
			t.Fatalf("the retried sweep: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval: the lease lapses in Redis' own time
	}
	run := w.waitRun("the rotation to end", runEnded)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("the rotation ended %s (%s)\n%s", run.Phase, run.Reason, w.notifier.Transcript(run.ID))
	}
	for _, a := range run.Approvals {
		if a.User != flows.PolicyActor(flows.Integration) {
			t.Errorf("gate %s passed by %s, want the policy", a.Gate, a.User)
		}
	}
	if len(run.Approvals) != 2 {
		t.Errorf("approvals %+v, want sync and revoke by the policy", run.Approvals)
	}

	w.day(apDay)
	w.day(2 * apDay)
	if n := w.issued(); n != 1 {
		t.Fatalf("%d tokens issued over five days, want 1", n)
	}
	if bs := w.batches(); len(bs) != 1 {
		t.Fatalf("%d batches, want 1", len(bs))
	}
	ts, err := w.signon.Tokens(w.ctx, apEmail, "publishing-api")
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, tk := range ts.Tokens {
		if !tk.Revoked() {
			live++
			if tk.ID != run.NewToken.ID {
				t.Errorf("token #%d left unrevoked", tk.ID)
			}
		}
	}
	if live != 1 {
		t.Errorf("%d live tokens, want the new one", live)
	}
}

// TestToGatesStopsAtBothGatesOverDays: production under to-gates. The
// sweep starts the batch and it waits at the sync confirmation; the next
// day's sweep starts nothing more and it still waits; Alice confirms the
// sync, and it waits again at the revoke, which Bob confirms.
func TestToGatesStopsAtBothGatesOverDays(t *testing.T) {
	w := newAutopilotWorld(t, flows.Production, flows.AutopilotToGates)
	w.day(-2 * apDay)
	run := w.waitRun("the sync gate", atGate(flows.GateSync))
	if run.Gate.Batch == "" || run.StartedBy != flows.PolicyActor(flows.Production) {
		t.Fatalf("run %+v, want a member of the policy's batch", run)
	}
	w.day(-apDay)
	run = w.waitRun("the sync gate still", atGate(flows.GateSync))
	if n, bs := w.issued(), w.batches(); n != 1 || len(bs) != 1 {
		t.Fatalf("after the second day %d issued in %d batches, want 1 in 1", n, len(bs))
	}
	w.clock.set(0)
	b, err := w.engine.GetBatch(w.ctx, run.Batch)
	if err != nil || b.Gate == nil || b.Gate.Kind != flows.GateSync {
		t.Fatalf("batch %+v (%v), want it at its sync gate", b, err)
	}
	if _, err := w.engine.ActBatch(w.ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: apAlice}); err != nil {
		t.Fatal(err)
	}
	w.playSync()
	run = w.waitRun("the revoke gate", atGate(flows.GateRevoke))
	deadline := time.Now().Add(10 * time.Second)
	for (b.Gate == nil || b.Gate.Kind != flows.GateRevoke) && time.Now().Before(deadline) {
		b, _ = w.engine.GetBatch(w.ctx, run.Batch)
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
	if b.Gate == nil || b.Gate.Kind != flows.GateRevoke || b.Gate.NotUser != apAlice {
		t.Fatalf("batch gate %+v, want the revoke, closed to Alice who confirmed the sync", b.Gate)
	}
	if _, err := w.engine.ActBatch(w.ctx, flows.BatchActRequest{BatchID: b.ID, GateID: b.Gate.ID, Action: flows.ActionApprove, Actor: apBob}); err != nil {
		t.Fatal(err)
	}
	run = w.waitRun("the end", runEnded)
	if run.Phase != flows.PhaseDone || w.issued() != 1 {
		t.Fatalf("ended %s with %d issued, want done with 1", run.Phase, w.issued())
	}
}
