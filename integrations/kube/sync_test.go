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
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	at := time.Date(2026, 8, 14, 9, 30, 0, 0, time.FixedZone("BST", 3600))

	job, err := e.client.StartSync(ctx, "run-1.1", at)
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
	again, err := e.client.StartSync(ctx, "run-1.1", at)
	if err != nil || again.Name != job.Name || again.Adopted {
		t.Errorf("StartSync again = %+v, %v; want %s", again, err, job.Name)
	}
	// Another run in the same minute gets a suffixed name.
	next, err := e.client.StartSync(ctx, "run-2.1", at)
	if err != nil || next.Name != job.Name+"-2" {
		t.Errorf("StartSync by another run = %+v, %v; want %s-2", next, err, job.Name)
	}
}

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

func TestStartSyncAdoptsAnActiveRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))

	first, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.StartSync(ctx, "run-2.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if second.Name != first.Name || !second.Adopted {
		t.Errorf("StartSync while %s runs = %+v, want it adopted", first.Name, second)
	}
	jobs, err := e.admin.BatchV1().Jobs(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 {
		t.Errorf("%d Jobs exist, want 1", len(jobs.Items))
	}
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
