package kube

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// writeToken writes a token Secret as the sync task does.
func (e *env) writeToken(t *testing.T, name string, tok token.Secret) {
	t.Helper()
	s := applycorev1.Secret(name, e.ns).WithType(corev1.SecretTypeOpaque).
		WithData(map[string][]byte{SecretKey: []byte(tok.Reveal())})
	if _, err := e.admin.CoreV1().Secrets(e.ns).Apply(context.Background(), s, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
		t.Fatal(err)
	}
}

// deployReady creates a consumer Deployment and waits for its first
// rollout.
func (e *env) deployReady(t *testing.T, name, variable, secret string, replicas int32) {
	t.Helper()
	d := kubetest.ConsumerDeployment(e.ns, name, variable, secret)
	d.Spec.Replicas = ptr.To(replicas)
	e.mustCreate(t, d)
	ro, err := e.client.WaitRollout(testContext(t), name, time.Time{}, 30*time.Second)
	if err != nil || !ro.Complete {
		t.Fatalf("first rollout of %s: %+v, %v", name, ro, err)
	}
	// Kubernetes keeps times to the second. A Secret written in the
	// second the Deployment was created could not be told apart from one
	// written before it, so let that second end.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
}

func (e *env) podNames(t *testing.T, deployment string) []string {
	t.Helper()
	pods, err := e.admin.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + deployment})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names
}

// The whole path the verify step takes, for real: the sync writes the
// Secret, Reloader patches the Deployment, the real Deployment controller
// rolls it, the kubelet starts the new pods with the new Secret, and the
// fingerprint computed inside a pod matches the new token.
func TestRolloutAfterSyncThenInPodCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const app, variable = "short-url-manager", "PUBLISHING_API_BEARER_TOKEN"
	oldTok, newTok := token.Generate(), token.Generate()
	e.writeToken(t, testSecret, oldTok)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	e.deployReady(t, app, variable, testSecret, 2)
	before := e.podNames(t, app)
	reloader := kubetest.StartReloader(t, e.cp.Config, e.ns)
	consumer := flows.Consumer{Kind: "Deployment", Name: app, Container: "app", Variable: variable, Via: "env"}

	checks, err := e.client.CheckPods(ctx, consumer, newTok.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 || checks[0].Match || checks[0].Fingerprint != oldTok.Fingerprint() || !slices.Contains(before, checks[0].Pod) {
		t.Fatalf("before the sync: %+v, want a mismatch showing the old token's fingerprint %s", checks, oldTok.Fingerprint())
	}

	job, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if _, err := e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Tokens: map[string]token.Secret{testSecret: newTok}}); err != nil {
			t.Error(err)
		}
	}()
	if res, err := e.client.WaitSync(ctx, job.Name, testSecret, nil); err != nil || !res.Succeeded {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	st, err := e.client.Secret(ctx, testSecret)
	if err != nil || st.Fingerprint != newTok.Fingerprint() {
		t.Fatalf("Secret after the sync = %+v, %v", st, err)
	}

	ro, err := e.client.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ro.Started || !ro.Complete || ro.Replicas != 2 || ro.Ready != 2 {
		t.Errorf("rollout = %+v, want started, complete, 2/2 ready", ro)
	}
	if got := reloader.Reloaded(); !slices.Equal(got, []string{app}) {
		t.Errorf("Reloader reloaded %v, want [%s]", got, app)
	}
	after := e.podNames(t, app)
	for _, p := range after {
		if slices.Contains(before, p) {
			t.Errorf("pod %s from before the sync still runs: %v", p, after)
		}
	}

	began := time.Now()
	checks, err = e.client.CheckPods(ctx, consumer, newTok.Fingerprint())
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 || !checks[0].Match || checks[0].Fingerprint != newTok.Fingerprint() || !slices.Contains(after, checks[0].Pod) {
		t.Errorf("after the rollout: %+v, want a match in a new pod", checks)
	}
	t.Logf("in-pod fingerprint check (find a ready pod, exec through the apiserver, hash): %s", took.Round(time.Millisecond))
}

func TestRolloutNotStartedThenRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const app, variable = "publisher", "PUBLISHING_API_BEARER_TOKEN"
	const secret = "signon-token-publisher-publishing-api"
	e.writeToken(t, secret, token.Generate())
	e.deployReady(t, app, variable, secret, 1)
	before := e.podNames(t, app)

	// No Reloader: the Secret changes and nothing rolls.
	newTok := token.Generate()
	e.writeToken(t, secret, newTok)
	st, err := e.client.Secret(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := e.client.WaitRollout(ctx, app, st.UpdatedAt, 1500*time.Millisecond)
	if !errors.Is(err, flows.ErrRolloutNotStarted) || ro.Started || ro.Complete {
		t.Fatalf("WaitRollout with no rollout = %+v, %v; want ErrRolloutNotStarted", ro, err)
	}
	consumer := flows.Consumer{Kind: "Deployment", Name: app, Container: "app", Variable: variable, Via: "env"}
	if checks, err := e.client.CheckPods(ctx, consumer, newTok.Fingerprint()); err != nil || checks[0].Match {
		t.Fatalf("a pod that has not restarted = %+v, %v; want the old token", checks, err)
	}

	restartAt := time.Now()
	if err := e.client.RestartDeployment(ctx, app, restartAt); err != nil {
		t.Fatal(err)
	}
	d, err := e.admin.AppsV1().Deployments(e.ns).Get(ctx, app, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Spec.Template.Annotations[AnnotationRestartedAt], restartAt.UTC().Format(time.RFC3339); got != want {
		t.Errorf("restartedAt = %q, want %q", got, want)
	}
	if !slices.ContainsFunc(d.ManagedFields, func(f metav1.ManagedFieldsEntry) bool {
		return f.Manager == "signon-token-bot" && f.Operation == metav1.ManagedFieldsOperationUpdate
	}) {
		t.Errorf("deployment managed fields %+v, want an update by signon-token-bot", d.ManagedFields)
	}
	ro, err = e.client.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second)
	if err != nil || !ro.Complete || ro.Ready != 1 {
		t.Fatalf("rollout after restart = %+v, %v", ro, err)
	}
	if after := e.podNames(t, app); slices.Equal(after, before) {
		t.Errorf("pods %v did not change", after)
	}
	if checks, err := e.client.CheckPods(ctx, consumer, newTok.Fingerprint()); err != nil || !checks[0].Match {
		t.Errorf("after the restart = %+v, %v; want the new token", checks, err)
	}

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := e.client.WaitRollout(short, app, time.Now().Add(time.Hour), time.Hour); !errors.Is(err, flows.ErrTimeout) {
		t.Errorf("WaitRollout past ctx's deadline: %v, want ErrTimeout", err)
	}
	if _, err := e.client.WaitRollout(ctx, "no-such-app", time.Now(), time.Second); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("WaitRollout of a missing Deployment: %v, want ErrNotFound", err)
	}
	if err := e.client.RestartDeployment(ctx, "no-such-app", time.Now()); !errors.Is(err, flows.ErrNotFound) {
		t.Errorf("RestartDeployment of a missing Deployment: %v, want ErrNotFound", err)
	}
}
