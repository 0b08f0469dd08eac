package flows_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// Kubernetes faults where they are real: a real apiserver with the Job
// and Deployment controllers, the test kubelet, the real kube client and
// the engine on a real redis-server. The sync Job fails, a rollout never
// starts, a consumer's new pod never becomes ready, the apiserver stops
// answering: each time the run stops at a clear, resumable state with the
// old token intact, and once the fault clears the way on completes it.

// realWorld is one environment on the real control plane: the Signon
// double, a namespace holding the sync CronJob, the token's Secret and
// two Deployments that read it, and an engine whose kube client reaches
// the apiserver through a link the test can cut.
type realWorld struct {
	t        *testing.T
	ctx      context.Context
	signon   *signontest.Signon
	old      flows.Token
	ns       string
	kubelet  *kubetest.Kubelet
	admin    kubernetes.Interface
	link     *kubetest.Link
	secret   string
	store    *state.Store
	engine   *flows.Engine
	notifier *flowstest.Notifier
}

// Verification's deadlines: short, so that a fault costs seconds, and
// long enough for a retry to pass on a busy machine.
const (
	realRolloutStart = 2 * time.Second
	realVerify       = 8 * time.Second
	// realCallTimeout bounds each call to the apiserver.
	realCallTimeout = 2 * time.Second
)

func newRealWorld(t *testing.T, reloader bool) *realWorld {
	t.Helper()
	t.Parallel()
	cp := kubetest.Shared(t)
	rs := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	w := &realWorld{t: t, ctx: ctx, ns: cp.Namespace(t), kubelet: &kubetest.Kubelet{}, admin: cp.Clientset(t), notifier: &flowstest.Notifier{}}
	w.kubelet.Start(t, cp.Config, w.ns)
	if reloader {
		kubetest.StartReloader(t, cp.Config, w.ns)
	}

	w.signon = signontest.New(flows.SystemClock{})
	w.signon.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	w.signon.AddAPIUser(userName, userEmail)
	w.signon.AddApplication(appName)
	now := w.signon.Now()
	created := now.AddDate(-2, 0, 9)
	var oldTok token.Secret
	w.old, oldTok = w.signon.AddToken(userEmail, appName, created, now.AddDate(0, 0, 9).Sub(created))
	w.signon.SetLastSynced(userEmail, appName, now.Add(-time.Hour))

	w.link = kubetest.NewLink(t, cp.Config.Host)
	rc := rest.CopyConfig(cp.Config)
	rc.Host = "https://" + w.link.Addr()
	kc := w.kubeClient(rc)
	w.secret = kc.SecretName(userName, appName)
	apply := applycorev1.Secret(w.secret, w.ns).WithType(corev1.SecretTypeOpaque).WithData(map[string][]byte{kube.SecretKey: []byte(oldTok.Reveal())})
	if _, err := w.admin.CoreV1().Secrets(w.ns).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.admin.BatchV1().CronJobs(w.ns).Create(ctx, kubetest.SyncCronJob(w.ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"content-tagger", "draft-content-tagger"} {
		if _, err := w.admin.AppsV1().Deployments(w.ns).Create(ctx, kubetest.ConsumerDeployment(w.ns, name, variable, w.secret), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.WaitRollout(ctx, name, time.Time{}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// The apiserver keeps times to the second: the consumers' first pods
	// must be of an earlier second than the sync's Secret write, or they
	// would pass for pods of the rollout it causes.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	var err error
	if w.store, err = state.New(rs.Client(), state.Options{}); err != nil {
		t.Fatal(err)
	}
	w.engine = w.replica("replica-1", kc)
	return w
}

// kubeClient is a replica's client of the cluster through rc.
func (w *realWorld) kubeClient(rc *rest.Config) *kube.Client {
	w.t.Helper()
	kc, err := kube.NewForConfig(rc, kube.Config{Namespace: w.ns, SyncTimeout: time.Minute, CallTimeout: realCallTimeout,
		// The app's own smoke test needs its code; this one proves the
		// variable is set in the pod.
		LiveChecks: map[string][]string{appSlug: {"sh", "-c", `test -n "$` + kube.VariablePlaceholder + `"`}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return kc
}

// replica starts an engine named owner whose cluster is kc, until the
// test ends.
func (w *realWorld) replica(owner string, kc *kube.Client) *flows.Engine {
	w.t.Helper()
	policy := flows.GOVUKPolicy()
	prod := policy.Environments[flows.Production]
	prod.Starters = flows.Principals{Users: []string{alice, bob}}
	prod.RolloutStartTimeout, prod.VerifyTimeout = realRolloutStart, realVerify
	policy.Environments = map[string]flows.EnvPolicy{flows.Production: prod}
	eng, err := flows.New(flows.Config{
		Policy:     policy,
		Envs:       map[string]flows.Env{flows.Production: {Signon: w.signon, Cluster: kc}},
		Store:      w.store,
		Notifier:   w.notifier,
		Directory:  &flowstest.Directory{Emails: map[string]string{alice: "alice@digital.cabinet-office.gov.uk"}},
		Owner:      owner,
		SweepEvery: time.Hour,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(runCtx) }()
	w.t.Cleanup(func() { stop(); <-done })
	return eng
}

// wait waits up to a minute for the run to satisfy cond.
func (w *realWorld) wait(id, what string, cond func(*flows.Run) bool) *flows.Run {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	run, err := w.engine.WaitFor(ctx, id, cond)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v\n%s", what, err, w.notifier.Transcript(id))
	}
	return run
}

// playSync plays the next sync Job's task as Signon's would: it writes
// the newest unrevoked token, or fails with failure.
func (w *realWorld) playSync(failure string) <-chan error {
	played := make(chan error, 1)
	go func() {
		run := kubetest.SyncRun{Error: failure}
		if failure == "" {
			newest, _ := w.signon.NewestUnrevoked(userName, appName)
			run.Tokens = map[string]token.Secret{w.secret: newest}
		}
		_, err := w.kubelet.PlaySync(w.ctx, kube.DefaultCronJob, run)
		played <- err
	}()
	return played
}

// paused checks that the run stopped at step s, says why, offers a
// retry, and left the old token alone.
func (w *realWorld) paused(run *flows.Run, s flows.Step, why string) {
	w.t.Helper()
	if run.Phase != flows.PhasePaused || run.Step != s || run.Gate == nil || run.Gate.Kind != flows.GateRecover {
		w.t.Fatalf("run is %s at %s, want paused at %s:\n%s", run.Phase, run.Step, s, w.notifier.Transcript(run.ID))
	}
	if !strings.Contains(run.Reason, why) {
		w.t.Errorf("the pause says %q, want it to say %q", run.Reason, why)
	}
	if !slices.Contains(run.Gate.Actions, flows.ActionRetry) {
		w.t.Errorf("the pause offers %v, not a retry", run.Gate.Actions)
	}
	if last := run.Posts[len(run.Posts)-1]; !slices.Contains(last.Lines, "The old token is still valid and untouched.") {
		w.t.Errorf("the pause does not say the old token is untouched: %v", last.Lines)
	}
	if w.revoked(w.old.ID) {
		w.t.Fatal("the old token was revoked")
	}
}

func (w *realWorld) revoked(id int64) bool {
	w.t.Helper()
	set, err := w.signon.Tokens(w.ctx, userEmail, appName)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, tk := range set.Tokens {
		if tk.ID == id {
			return tk.Revoked()
		}
	}
	w.t.Fatalf("no token %d", id)
	return false
}

// secretHolds reports the fingerprint of the token in the Secret, read as
// the administrator.
func (w *realWorld) secretHolds() token.Fingerprint {
	w.t.Helper()
	s, err := w.admin.CoreV1().Secrets(w.ns).Get(w.ctx, w.secret, metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return token.FingerprintOf(string(s.Data[kube.SecretKey]))
}

func (w *realWorld) jobs() int {
	w.t.Helper()
	jobs, err := w.admin.BatchV1().Jobs(w.ns).List(w.ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(jobs.Items)
}

func (w *realWorld) act(run *flows.Run, a flows.Action, actor string) *flows.Run {
	w.t.Helper()
	r, err := w.engine.Act(w.ctx, flows.ActRequest{RunID: run.ID, GateID: run.Gate.ID, Action: a, Actor: actor})
	if err != nil {
		w.t.Fatalf("%s by %s: %v", a, actor, err)
	}
	return r
}

// start begins a rotation and waits for its sync gate.
func (w *realWorld) start() *flows.Run {
	w.t.Helper()
	run := start(w.t, w.engine, flows.ModeRotate)
	return w.wait(run.ID, "the sync gate", atGate(flows.GateSync))
}

// finish passes the revoke gate and checks the rotation ended with one
// new token, proven in every consumer's pod, and the old one revoked.
func (w *realWorld) finish(run *flows.Run) {
	w.t.Helper()
	run = w.wait(run.ID, "the revoke gate", atGate(flows.GateRevoke))
	if len(run.Checks) != 2 {
		w.t.Errorf("in-pod checks %+v, want one per Deployment", run.Checks)
	}
	for _, c := range run.Checks {
		if !c.Match || c.Fingerprint != run.NewToken.Fingerprint {
			w.t.Errorf("pod %s holds %s, want the new token %s", c.Pod, c.Fingerprint, run.NewToken.Fingerprint)
		}
	}
	run = w.act(run, flows.ActionApprove, bob)
	run = w.wait(run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		w.t.Fatalf("the run ended %s (%s):\n%s", run.Phase, run.Reason, w.notifier.Transcript(run.ID))
	}
	if n := w.signon.TokenCount(userEmail, appName); n != 2 || !w.revoked(w.old.ID) || w.revoked(run.NewToken.ID) {
		w.t.Errorf("Signon has %d tokens; want the old one revoked and one new one live", n)
	}
	noPlaintext(w.t, &world{signon: w.signon}, w.notifier.Transcript(run.ID))
}

func TestRealSyncJobFails(t *testing.T) {
	w := newRealWorld(t, true)
	run := w.start()
	played := w.playSync("ActiveRecord::ConnectionNotEstablished: could not connect to server")
	run = w.act(run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	run = w.wait(run.ID, "the pause", atGate(flows.GateRecover))
	w.paused(run, flows.StepSync, "failed")
	last := run.Posts[len(run.Posts)-1]
	if !slices.Contains(last.Code, "ActiveRecord::ConnectionNotEstablished: could not connect to server") ||
		!slices.ContainsFunc(last.Lines, func(l string) bool { return strings.Contains(l, "BackoffLimitExceeded") }) {
		t.Errorf("the pause does not show the task's error and the Job controller's event: %+v", last)
	}
	if got := w.secretHolds(); got != w.old.Fingerprint {
		t.Errorf("after the failed sync the Secret holds %s, want the old token %s", got, w.old.Fingerprint)
	}

	// The database is back: a retry runs a fresh Job.
	played = w.playSync("")
	run = w.act(run, flows.ActionRetry, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	w.finish(run)
	if n := w.jobs(); n != 2 {
		t.Errorf("%d sync Jobs, want 2: the failed one and the retry", n)
	}
}

func TestRealRolloutNeverStarts(t *testing.T) {
	// No Reloader: nothing rolls the consumers when the Secret changes.
	w := newRealWorld(t, false)
	run := w.start()
	played := w.playSync("")
	run = w.act(run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	run = w.wait(run.ID, "the pause", atGate(flows.GateRecover))
	w.paused(run, flows.StepVerify, "Not rolled out since the Secret changed: content-tagger, draft-content-tagger")
	if !slices.Contains(run.Gate.Actions, flows.ActionRestart) {
		t.Fatalf("the pause offers %v, not a restart", run.Gate.Actions)
	}
	// The old pods still run with the old token, which still works.
	if got := w.secretHolds(); got != run.NewToken.Fingerprint {
		t.Errorf("the Secret holds %s, want the new token %s", got, run.NewToken.Fingerprint)
	}

	run = w.act(run, flows.ActionRestart, alice)
	w.finish(run)
	if n := w.jobs(); n != 1 {
		t.Errorf("%d sync Jobs, want 1", n)
	}
}

func TestRealConsumerNeverBecomesReady(t *testing.T) {
	w := newRealWorld(t, true)
	// From now on the draft app's new pods fail their readiness probe.
	w.kubelet.SetUnready(func(p *corev1.Pod) bool { return p.Labels["app"] == "draft-content-tagger" })
	run := w.start()
	played := w.playSync("")
	run = w.act(run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	run = w.wait(run.ID, "the pause", atGate(flows.GateRecover))
	w.paused(run, flows.StepVerify, "draft-content-tagger")
	if !strings.Contains(run.Reason, flows.ErrTimeout.Error()) {
		t.Errorf("the pause does not say the rollout timed out: %q", run.Reason)
	}
	// The Deployment keeps its old, ready pod, with the old token.
	pods, err := w.admin.CoreV1().Pods(w.ns).List(w.ctx, metav1.ListOptions{LabelSelector: "app=draft-content-tagger"})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if len(pods.Items) != 2 || ready != 1 {
		t.Errorf("the draft app has %d pods, %d ready; want the old one ready and the new one not", len(pods.Items), ready)
	}

	// The probe passes again: a retry verifies.
	w.kubelet.SetUnready(nil)
	run = w.act(run, flows.ActionRetry, alice)
	w.finish(run)
}

// TestRealApiserverUnreachable: the apiserver refuses connections just as
// the run asks it to start the sync. The thread says so plainly (the
// address is in the log only); once it answers again, a retry finishes the
// rotation with one sync Job.
func TestRealApiserverUnreachable(t *testing.T) {
	apiserverFault(t, (*kubetest.Link).Cut, "the cluster did not answer")
}

// TestRealApiserverHangs: the apiserver stops answering, without closing
// anything. The call gives up at the client's timeout, so the run stops
// with a clear message ("no answer within 2s" is in the log) and the old
// token intact instead of holding its lease for ever. The retry goes
// through the same replica: a second one could lose the lease to this one
// and see it pause again, and which replica drives is not the test's to
// choose; taking over from a stuck replica is
// TestAStepStuckPastItsDeadlineIsTakenOver's.
func TestRealApiserverHangs(t *testing.T) {
	apiserverFault(t, (*kubetest.Link).Hang, "the cluster timed out")
}

// apiserverFault breaks the link to the apiserver with fault as the sync is
// approved, checks the pause says why, then mends it and finishes the
// rotation with a retry and one sync Job.
func apiserverFault(t *testing.T, fault func(*kubetest.Link), why string) {
	w := newRealWorld(t, true)
	run := w.start()
	fault(w.link)
	run = w.act(run, flows.ActionApprove, alice)
	run = w.wait(run.ID, "the pause", atGate(flows.GateRecover))
	w.paused(run, flows.StepSync, why)
	if n := w.jobs(); n != 0 {
		t.Errorf("%d sync Jobs while the apiserver was cut off", n)
	}

	w.link.Mend()
	played := w.playSync("")
	run = w.act(run, flows.ActionRetry, alice)
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	w.finish(run)
	if n := w.jobs(); n != 1 {
		t.Errorf("%d sync Jobs, want 1", n)
	}
}
