package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

const testSecret = "signon-token-short-url-manager-publishing-api"

// recorder collects WaitSync's progress reports.
type recorder struct {
	mu     sync.Mutex
	phases []string
}

func (r *recorder) record(p flows.SyncProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phases = append(r.phases, p.Phase)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.phases)
}

func TestSyncSucceeds(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 8, 14, 9, 30, 0, 0, time.FixedZone("BST", 3600))
	e := newEnv(t, &kubetest.Kubelet{}, Config{Clock: fixedClock(at)})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))

	job, err := e.client.StartSync(ctx, "run-1.1", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := kubetest.SyncCronJobName + "-2608140830"; job.Name != want || job.Adopted {
		t.Errorf("StartSync = %+v, want a new Job named %s (minute in UTC)", job, want)
	}
	j, err := e.admin.BatchV1().Jobs(e.ns).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.GetControllerOf(j)
	switch {
	case j.Annotations[AnnotationInstantiate] != "manual", j.Annotations[AnnotationRunID] != "run-1.1",
		j.Annotations["kubetest/from-template"] != "yes", j.Labels["app.kubernetes.io/name"] != "signon":
		t.Errorf("job metadata not as Argo CD makes it: labels %v annotations %v", j.Labels, j.Annotations)
	case owner == nil || owner.Kind != "CronJob" || owner.Name != kubetest.SyncCronJobName:
		t.Errorf("job owner = %+v, want the CronJob", owner)
	case *j.Spec.BackoffLimit != 0 || j.Spec.Template.Spec.Containers[0].Name != "cron-task":
		t.Errorf("job spec not copied from the template: %+v", j.Spec)
	}
	// With no field manager given, the apiserver names the writer after
	// its User-Agent: the audit log can tell the bot's Jobs apart.
	if !slices.ContainsFunc(j.ManagedFields, func(f metav1.ManagedFieldsEntry) bool {
		return f.Manager == "signon-token-bot" && f.Subresource == ""
	}) {
		t.Errorf("job managed fields %+v, want the manager signon-token-bot", j.ManagedFields)
	}

	tok := token.Generate()
	played := make(chan error, 1)
	go func() {
		_, err := e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Tokens: map[string]token.Secret{
			testSecret:                             tok,
			"signon-token-whitehall-asset-manager": token.Generate(),
		}})
		played <- err
	}()
	var rec recorder
	res, err := e.client.WaitSync(ctx, job.Name, testSecret, rec.record)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-played; err != nil {
		t.Fatal(err)
	}
	if !res.Succeeded || res.StartedAt.IsZero() || res.CompletedAt.Before(res.StartedAt) {
		t.Errorf("result = %+v, want a success with start and completion times", res)
	}
	if len(res.SecretLines) != 1 || !strings.Contains(res.SecretLines[0], testSecret) {
		t.Errorf("SecretLines = %q, want the one line naming %s", res.SecretLines, testSecret)
	}
	if got, want := rec.seen(), []string{"created", "scheduled", "running", "succeeded"}; !slices.Equal(got, want) {
		t.Errorf("progress = %v, want %v", got, want)
	}

	st, err := e.client.Secret(ctx, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.Fingerprint != tok.Fingerprint() || st.UpdatedAt.IsZero() {
		t.Errorf("Secret = %+v, want fingerprint %s and a write time", st, tok.Fingerprint())
	}

	// The Job is this run's: asking again finds it rather than making a
	// second, even though it has finished.
	again, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil || again.Name != job.Name || again.Adopted {
		t.Errorf("StartSync again = %+v, %v; want %s", again, err, job.Name)
	}
	// A run whose change came after the Job started needs another; in the
	// same minute, it gets a suffixed name.
	next, err := e.client.StartSync(ctx, "run-2.1", res.StartedAt.Add(2*time.Second))
	if err != nil || next.Name != job.Name+"-2" || next.Adopted {
		t.Errorf("StartSync by another run = %+v, %v; want a new Job %s-2", next, err, job.Name)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestSyncFailureReportsLogTailAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))

	job, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{
			Error: "Kubernetes::Client::Error: secrets is forbidden",
		})
		if err != nil {
			t.Error(err)
		}
	}()
	var rec recorder
	res, err := e.client.WaitSync(ctx, job.Name, testSecret, rec.record)
	if err != nil {
		t.Fatal(err)
	}
	if res.Succeeded {
		t.Fatalf("result = %+v, want a failure", res)
	}
	if !slices.Contains(res.LogTail, "rake aborted!") || !slices.Contains(res.LogTail, "Kubernetes::Client::Error: secrets is forbidden") {
		t.Errorf("LogTail = %q, want the rake error", res.LogTail)
	}
	if !slices.ContainsFunc(res.Events, func(ev string) bool { return strings.Contains(ev, "BackoffLimitExceeded") }) {
		t.Errorf("Events = %q, want the Job controller's BackoffLimitExceeded", res.Events)
	}
	if got := rec.seen(); got[len(got)-1] != "failed" {
		t.Errorf("progress = %v, want it to end with failed", got)
	}
}

// TestStartSyncSharesJobs: a Job that started after a run's change
// serves it, running or succeeded, whoever made it (another run or the
// CronJob's schedule); one that started before it makes the run wait
// (Earlier); a failed one serves nobody but the run that made it.
func TestStartSyncSharesJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	before := time.Now().Add(-time.Minute)

	first, err := e.client.StartSync(ctx, "run-1.1", before)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.StartSync(ctx, "run-2.1", before)
	if err != nil {
		t.Fatal(err)
	}
	if second.Name != first.Name || !second.Adopted || second.Earlier {
		t.Errorf("StartSync while %s runs = %+v, want it shared", first.Name, second)
	}
	// A change after the running Job started: wait for it.
	later := first.StartedAt.Add(2 * time.Second)
	waits, err := e.client.StartSync(ctx, "run-3.1", later)
	if err != nil {
		t.Fatal(err)
	}
	if waits.Name != first.Name || !waits.Earlier {
		t.Errorf("StartSync for a change after %s started = %+v, want it Earlier", first.Name, waits)
	}
	if n := e.jobs(t); n != 1 {
		t.Fatalf("%d Jobs exist, want 1", n)
	}

	// It succeeds: it still serves the runs whose change came before it,
	// and the later one gets a Job of its own.
	go func() { _, _ = e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{}) }()
	if res, err := e.client.WaitSync(ctx, first.Name, testSecret, nil); err != nil || !res.Succeeded {
		t.Fatalf("WaitSync = %+v, %v", res, err)
	}
	if again, err := e.client.StartSync(ctx, "run-4.1", before); err != nil || again.Name != first.Name || !again.Adopted {
		t.Errorf("StartSync after %s succeeded = %+v, %v; want it shared", first.Name, again, err)
	}
	next, err := e.client.StartSync(ctx, "run-3.1", later)
	if err != nil || next.Name == first.Name || next.Adopted || next.Earlier {
		t.Fatalf("StartSync for the later change = %+v, %v; want a new Job", next, err)
	}

	// That one fails: it serves no other run, but its maker finds it.
	go func() {
		_, _ = e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Error: "Signon is down"})
	}()
	if res, err := e.client.WaitSync(ctx, next.Name, testSecret, nil); err != nil || res.Succeeded {
		t.Fatalf("WaitSync = %+v, %v; want a failure", res, err)
	}
	if own, err := e.client.StartSync(ctx, "run-3.1", later); err != nil || own.Name != next.Name {
		t.Errorf("StartSync by the failed Job's maker = %+v, %v; want %s", own, err, next.Name)
	}

	// The CronJob's schedule starts a Job: it counts like the bot's own.
	cj, err := e.admin.BatchV1().CronJobs(e.ns).Get(ctx, kubetest.SyncCronJobName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := jobFromCronJob(cj, "")
	scheduled.Name = kubetest.SyncCronJobName + "-29410000"
	delete(scheduled.Annotations, AnnotationInstantiate)
	if _, err := e.admin.BatchV1().Jobs(e.ns).Create(ctx, scheduled, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.StartSync(ctx, "run-5.1", later); err != nil || got.Name != scheduled.Name || !got.Adopted {
		t.Errorf("StartSync while the scheduled Job runs = %+v, %v; want the scheduled Job", got, err)
	}
	if n := e.jobs(t); n != 3 {
		t.Errorf("%d Jobs exist, want 3", n)
	}
}

func (e *env) jobs(t *testing.T) int {
	t.Helper()
	jobs, err := e.admin.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(jobs.Items)
}

func TestSyncErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{SyncTimeout: 2 * time.Second})
	ctx := testContext(t)

	if _, err := e.client.StartSync(ctx, "run-1.1", time.Now()); !errors.Is(err, flows.ErrNotFound) || !strings.Contains(err.Error(), kubetest.SyncCronJobName) {
		t.Errorf("StartSync without the CronJob: %v, want ErrNotFound naming it", err)
	}
	if _, err := e.client.WaitSync(ctx, "no-such-job", testSecret, nil); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("WaitSync for a missing Job: %v, want ErrNotFound", err)
	}
	st, err := e.client.Secret(ctx, "signon-token-nobody-nothing")
	if err != nil || st.Exists || st.Fingerprint != "" {
		t.Errorf("Secret of a missing Secret = %+v, %v; want it absent and no error", st, err)
	}

	// Nobody plays the task: the Job's pod runs until the deadline.
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	job, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := e.client.WaitSync(ctx, job.Name, testSecret, nil); !errors.Is(err, flows.ErrTimeout) {
		t.Errorf("WaitSync past SyncTimeout: %v, want ErrTimeout", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("WaitSync took %s with a 2s SyncTimeout", took)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.client.WaitSync(cancelled, job.Name, testSecret, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitSync with a cancelled context: %v, want context.Canceled", err)
	}
}
