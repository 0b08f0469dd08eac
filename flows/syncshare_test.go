package flows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

// Sync Jobs shared between runs, on a real apiserver with the Job
// controller, the real kube client and engines on a real redis-server.

// shareWorld is one environment with n API users, each with a token for
// the same application, its Secret and a Deployment that reads it.
type shareWorld struct {
	t        *testing.T
	ctx      context.Context
	cp       *kubetest.ControlPlane
	ns       string
	kubelet  *kubetest.Kubelet
	admin    kubernetes.Interface
	signon   *signontest.Signon
	store    *state.Store
	notifier *flowstest.Notifier
	users    []string // emails
	secrets  []string
}

func newShareWorld(t *testing.T, n int, signonClock flows.Clock) *shareWorld {
	t.Helper()
	t.Parallel()
	cp := kubetest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	w := &shareWorld{t: t, ctx: ctx, cp: cp, ns: cp.Namespace(t), kubelet: &kubetest.Kubelet{}, admin: cp.Clientset(t), notifier: &flowstest.Notifier{}}
	w.kubelet.Start(t, cp.Config, w.ns)
	w.signon = signontest.New(signonClock)
	w.signon.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	w.signon.AddApplication(appName)
	if _, err := w.admin.BatchV1().CronJobs(w.ns).Create(ctx, kubetest.SyncCronJob(w.ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := w.signon.Now()
	for i := range n {
		name, email := fmt.Sprintf("Share User %d", i), fmt.Sprintf("share-user-%d@alphagov.co.uk", i)
		w.signon.AddAPIUser(name, email)
		created := now.AddDate(-2, 0, 9)
		_, tok := w.signon.AddToken(email, appName, created, now.AddDate(0, 0, 9).Sub(created))
		w.signon.SetLastSynced(email, appName, now.Add(-time.Hour))
		secret := flows.Parameterize("signon-token-" + name + "-" + appName)
		apply := applycorev1.Secret(secret, w.ns).WithType(corev1.SecretTypeOpaque).WithData(map[string][]byte{kube.SecretKey: []byte(tok.Reveal())})
		if _, err := w.admin.CoreV1().Secrets(w.ns).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
			t.Fatal(err)
		}
		dep := kubetest.ConsumerDeployment(w.ns, flows.Parameterize(name), variable, secret)
		dep.Spec.Replicas = ptr.To[int32](0)
		if _, err := w.admin.AppsV1().Deployments(w.ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w.users, w.secrets = append(w.users, email), append(w.secrets, secret)
	}
	var err error
	if w.store, err = state.New(redistest.New(t).Client(), state.Options{}); err != nil {
		t.Fatal(err)
	}
	return w
}

// replica starts an engine named owner whose cluster is cl (the real
// client unless wrap changes it) until the test ends or kill is called.
func (w *shareWorld) replica(owner string, wrap func(cl flows.Cluster, kill func()) flows.Cluster) *flows.Engine {
	w.t.Helper()
	kc, err := kube.NewForConfig(w.cp.Config, kube.Config{Namespace: w.ns, SyncTimeout: time.Minute, CallTimeout: 5 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	runCtx, kill := context.WithCancel(w.ctx)
	var cl flows.Cluster = kc
	if wrap != nil {
		cl = wrap(kc, kill)
	}
	policy := flows.GOVUKPolicy()
	prod := policy.Environments[flows.Production]
	prod.Starters = flows.Principals{Users: []string{alice, bob}}
	prod.RolloutStartTimeout, prod.VerifyTimeout = realRolloutStart, realVerify
	policy.Environments = map[string]flows.EnvPolicy{flows.Production: prod}
	eng, err := flows.New(flows.Config{
		Policy:     policy,
		Envs:       map[string]flows.Env{flows.Production: {Signon: w.signon, Cluster: cl}},
		Store:      w.store,
		Notifier:   w.notifier,
		Directory:  &flowstest.Directory{Emails: map[string]string{alice: "alice@digital.cabinet-office.gov.uk"}},
		Owner:      owner,
		LeaseTTL:   time.Second,
		SweepEvery: 200 * time.Millisecond,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(runCtx) }()
	w.t.Cleanup(func() { kill(); <-done })
	return eng
}

// start begins a rotation of user i's token and waits for its sync gate.
func (w *shareWorld) start(eng *flows.Engine, i int) *flows.Run {
	w.t.Helper()
	run, err := eng.Start(w.ctx, flows.StartRequest{
		Key:  flows.Key{Environment: flows.Production, APIUser: w.users[i], Application: appSlug},
		Mode: flows.ModeRotate, Actor: alice,
		Thread: flows.Thread{Channel: channel}, Origin: flows.Origin{Kind: "command"},
	})
	if err != nil {
		w.t.Fatalf("start: %v", err)
	}
	return w.wait(eng, run.ID, "the sync gate", atGate(flows.GateSync))
}

func (w *shareWorld) wait(eng *flows.Engine, id, what string, cond func(*flows.Run) bool) *flows.Run {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	run, err := eng.WaitFor(ctx, id, cond)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v\n%s", what, err, w.notifier.Transcript(id))
	}
	return run
}

func (w *shareWorld) approve(eng *flows.Engine, run *flows.Run) {
	w.t.Helper()
	if _, err := eng.Act(w.ctx, flows.ActRequest{RunID: run.ID, GateID: run.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
		w.t.Fatalf("approve the sync of %s: %v", run.ID, err)
	}
}

// play plays the running sync Job's task: it writes every user's newest
// unrevoked token, as Signon's does.
func (w *shareWorld) play() {
	w.t.Helper()
	run := kubetest.SyncRun{Tokens: map[string]token.Secret{}}
	for i, email := range w.users {
		_ = email
		newest, _ := w.signon.NewestUnrevoked(fmt.Sprintf("Share User %d", i), appName)
		run.Tokens[w.secrets[i]] = newest
	}
	if _, err := w.kubelet.PlaySync(w.ctx, kube.DefaultCronJob, run); err != nil {
		w.t.Fatal(err)
	}
}

func (w *shareWorld) jobs() []batchv1.Job {
	w.t.Helper()
	jobs, err := w.admin.BatchV1().Jobs(w.ns).List(w.ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return jobs.Items
}

func relies(r *flows.Run) bool { return r.SyncJob != nil && !r.SyncJob.Earlier }

func synced(r *flows.Run) bool {
	st, _ := r.StepState(flows.StepSync)
	return st.Status == flows.StepOK || r.Ended()
}

// checkSynced checks that every run synced with job, that each Secret
// holds its run's new token, and that the thread names the Job.
func (w *shareWorld) checkSynced(eng *flows.Engine, runs []*flows.Run, job string) {
	w.t.Helper()
	for i, r := range runs {
		r = w.wait(eng, r.ID, "the sync", synced)
		if r.Phase == flows.PhaseFailed || r.SyncJob == nil || r.SyncJob.Name != job {
			w.t.Errorf("run %s (%s) synced with %+v, want Job %s:\n%s", r.ID, r.Phase, r.SyncJob, job, w.notifier.Transcript(r.ID))
			continue
		}
		s, err := w.admin.CoreV1().Secrets(w.ns).Get(w.ctx, w.secrets[i], metav1.GetOptions{})
		if err != nil {
			w.t.Fatal(err)
		}
		if got := token.FingerprintOf(string(s.Data[kube.SecretKey])); got != r.NewToken.Fingerprint {
			w.t.Errorf("Secret %s holds %s, want run %s's new token %s", w.secrets[i], got, r.ID, r.NewToken.Fingerprint)
		}
		if !strings.Contains(w.notifier.Transcript(r.ID), job) {
			w.t.Errorf("run %s's thread does not name Job %s:\n%s", r.ID, job, w.notifier.Transcript(r.ID))
		}
	}
}

// TestRealRunsAtTheSyncStepShareOneJob: three runs confirmed together
// make one Job between them, and each says which runs it synced.
func TestRealRunsAtTheSyncStepShareOneJob(t *testing.T) {
	w := newShareWorld(t, 3, flows.SystemClock{})
	eng := w.replica("replica-1", nil)
	var runs []*flows.Run
	for i := range 3 {
		runs = append(runs, w.start(eng, i))
	}
	for _, r := range runs {
		w.approve(eng, r)
	}
	for _, r := range runs {
		w.wait(eng, r.ID, "the run to rely on a Job", relies)
	}
	jobs := w.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d sync Jobs for three runs at the sync step, want 1", len(jobs))
	}
	w.play()
	w.checkSynced(eng, runs, jobs[0].Name)
	r := w.wait(eng, runs[0].ID, "the sync", synced)
	want := []string{runs[0].ID, runs[1].ID, runs[2].ID}
	slices.Sort(want)
	if !slices.Equal(r.SyncJob.Runs, want) {
		t.Errorf("the Job synced runs %v, want %v", r.SyncJob.Runs, want)
	}
	if n := len(w.jobs()); n != 1 {
		t.Errorf("%d sync Jobs in the end, want 1", n)
	}
}

// TestRealTwoReplicasMakeOneJob: two replicas at the sync step at once,
// each driving its own runs, make one Job between them.
func TestRealTwoReplicasMakeOneJob(t *testing.T) {
	w := newShareWorld(t, 4, flows.SystemClock{})
	one := w.replica("replica-1", nil)
	two := w.replica("replica-2", nil)
	engines := []*flows.Engine{one, two, one, two}
	var runs []*flows.Run
	for i, eng := range engines {
		runs = append(runs, w.start(eng, i))
	}
	// Both replicas get their clicks at once.
	done := make(chan struct{})
	for i, r := range runs {
		go func() {
			defer func() { done <- struct{}{} }()
			if _, err := engines[i].Act(w.ctx, flows.ActRequest{RunID: r.ID, GateID: r.Gate.ID, Action: flows.ActionApprove, Actor: alice}); err != nil {
				t.Errorf("approve %s: %v", r.ID, err)
			}
		}()
	}
	for range runs {
		<-done
	}
	for _, r := range runs {
		w.wait(one, r.ID, "the run to rely on a Job", relies)
	}
	jobs := w.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d sync Jobs for two replicas' runs at the sync step, want 1", len(jobs))
	}
	w.play()
	w.checkSynced(one, runs, jobs[0].Name)
}

// TestRealRunsArrivingDuringAnEarlierJobWaitForTheNext: a Job (the
// CronJob's schedule's) runs that started before the runs' tokens were
// issued. The runs start none beside it; once it ends they share the
// next one.
func TestRealRunsArrivingDuringAnEarlierJobWaitForTheNext(t *testing.T) {
	w := newShareWorld(t, 2, flows.SystemClock{})
	eng := w.replica("replica-1", nil)
	cj, err := w.admin.BatchV1().CronJobs(w.ns).Get(w.ctx, kube.DefaultCronJob, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: kube.DefaultCronJob + "-29410000", Namespace: w.ns, Labels: cj.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}}},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if _, err := w.admin.BatchV1().Jobs(w.ns).Create(w.ctx, scheduled, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The apiserver keeps times to the second and a Job of the token's
	// second counts as after it: the tokens must come in a later second
	// than the scheduled Job's start. (A clock skewed ahead instead made
	// the next Job, too, look earlier than the tokens when it came within
	// the skew.)
	if err := until(w.ctx, func() bool {
		j, err := w.admin.BatchV1().Jobs(w.ns).Get(w.ctx, scheduled.Name, metav1.GetOptions{})
		return err == nil && j.Status.StartTime != nil && time.Now().Truncate(time.Second).After(j.Status.StartTime.Time)
	}); err != nil {
		t.Fatalf("the scheduled Job never started: %v", err)
	}
	var runs []*flows.Run
	for i := range 2 {
		runs = append(runs, w.start(eng, i))
	}
	for _, r := range runs {
		w.approve(eng, r)
	}
	for _, r := range runs {
		w.wait(eng, r.ID, "the run to wait for the scheduled Job", func(r *flows.Run) bool {
			st, _ := r.StepState(flows.StepSync)
			return strings.Contains(st.Note, "waiting for Job "+scheduled.Name)
		})
	}
	if n := len(w.jobs()); n != 1 {
		t.Fatalf("%d sync Jobs while the scheduled one runs, want it alone", n)
	}
	// The scheduled Job read Signon before the new tokens: it writes the
	// old ones.
	old := kubetest.SyncRun{Tokens: map[string]token.Secret{}}
	if _, err := w.kubelet.PlaySync(w.ctx, kube.DefaultCronJob, old); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		w.wait(eng, r.ID, "the run to rely on the next Job", func(r *flows.Run) bool { return relies(r) && r.SyncJob.Name != scheduled.Name })
	}
	jobs := w.jobs()
	if len(jobs) != 2 {
		t.Fatalf("%d sync Jobs, want the scheduled one and one next Job for both runs", len(jobs))
	}
	next := jobs[0].Name
	if next == scheduled.Name {
		next = jobs[1].Name
	}
	w.play()
	w.checkSynced(eng, runs, next)
}

// crashAfterCreate kills its engine once the first StartSync has made
// the Job, before the run can record it.
type crashAfterCreate struct {
	flows.Cluster
	kill    func()
	crashed atomic.Bool
}

func (c *crashAfterCreate) StartSync(ctx context.Context, runID string, after time.Time) (flows.SyncJob, error) {
	job, err := c.Cluster.StartSync(ctx, runID, after)
	if err == nil && c.crashed.CompareAndSwap(false, true) {
		c.kill()
		return flows.SyncJob{}, errors.New("crashed after creating the Job")
	}
	return job, err
}

// TestRealCrashBetweenCreateAndRecordMakesNoSecondJob: the replica dies
// after the apiserver made the run's Job and before the run recorded it;
// the replica that takes the run over finds that Job.
func TestRealCrashBetweenCreateAndRecordMakesNoSecondJob(t *testing.T) {
	w := newShareWorld(t, 1, flows.SystemClock{})
	var crash *crashAfterCreate
	one := w.replica("replica-1", func(cl flows.Cluster, kill func()) flows.Cluster {
		crash = &crashAfterCreate{Cluster: cl, kill: kill}
		return crash
	})
	run := w.start(one, 0)
	w.approve(one, run)
	deadline := time.Now().Add(time.Minute)
	for !crash.crashed.Load() || len(w.jobs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first replica never made the Job")
		}
		select {
		case <-w.ctx.Done():
			t.Fatal(w.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if r, err := w.store.Run(w.ctx, run.ID); err != nil || r.SyncJob != nil {
		t.Fatalf("after the crash the run records Job %+v (%v), want none", r.SyncJob, err)
	}
	made := w.jobs()[0].Name

	two := w.replica("replica-2", nil)
	w.wait(two, run.ID, "the second replica to take the Job over", relies)
	w.play()
	w.checkSynced(two, []*flows.Run{run}, made)
	if n := len(w.jobs()); n != 1 {
		t.Errorf("%d sync Jobs, want the one made before the crash", n)
	}
}

// until polls cond until it holds or ctx ends.
func until(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
