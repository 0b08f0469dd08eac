package kubetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows/token"
)

func TestMain(m *testing.M) { Main(m) }

// The foundation's promise: a CronJob on the real apiserver, a Job made
// from it as Argo CD does, the kubelet played, and the real Job controller
// marks the Job Complete.
func TestJobFromCronJobCompletes(t *testing.T) {
	t.Parallel()
	cp := Shared(t)
	ns := cp.Namespace(t)
	kl := &Kubelet{}
	kl.Start(t, cp.Config, ns)
	cs := cp.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cj, err := cs.BatchV1().CronJobs(ns).Create(ctx, SyncCronJob(ns), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        cj.Name + "-" + time.Now().UTC().Format("0601021504"),
			Labels:      cj.Spec.JobTemplate.Labels,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if job, err = cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tok := token.Generate()
	secret := "signon-token-short-url-manager-publishing-api"
	pod, err := kl.PlaySync(ctx, SyncCronJobName, SyncRun{Tokens: map[string]token.Secret{secret: tok}})
	if err != nil {
		t.Fatal(err)
	}

	done := waitJob(t, ctx, cs, ns, job.Name)
	if !hasCondition(done, batchv1.JobComplete) {
		t.Fatalf("job %s finished without Complete: %+v", job.Name, done.Status.Conditions)
	}
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := token.FingerprintOf(string(s.Data["bearer_token"])); got != tok.Fingerprint() {
		t.Errorf("secret holds a token with fingerprint %s, want %s", got, tok.Fingerprint())
	}
	if len(s.ManagedFields) != 1 || s.ManagedFields[0].Manager != SyncFieldManager || s.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("secret was not server-side applied by %q alone: %+v", SyncFieldManager, s.ManagedFields)
	}
	// The apiserver proxies the pod's log to the kubelet.
	logs, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "cron-task"}).Do(ctx).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), secret) {
		t.Errorf("log of %s does not name %s:\n%s", pod, secret, logs)
	}
	if strings.Contains(string(logs), tok.Reveal()) {
		t.Error("the sync task logged the token")
	}
}

// Exec goes through the real apiserver to the kubelet, which runs the
// command with the environment the pod spec gives the container.
func TestExecResolvesEnvFromPodSpec(t *testing.T) {
	t.Parallel()
	cp := Shared(t)
	ns := cp.Namespace(t)
	kl := &Kubelet{Images: map[string][]string{"minimal": {"sh"}}}
	kl.Start(t, cp.Config, ns)
	cs := cp.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "keyed"}, Data: map[string][]byte{"bearer_token": []byte("from-secret-key")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "whole"}, Data: map[string][]byte{"bearer_token": []byte("from-env-from"), "OTHER": []byte("x")}},
	} {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "minimal",
			EnvFrom: []corev1.EnvFromSource{{Prefix: "P_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "whole"}}}},
			Env: []corev1.EnvVar{
				{Name: "PLAIN", Value: "plain value"},
				{Name: "KEYED", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "keyed"}, Key: "bearer_token"}}},
				{Name: "P_OTHER", Value: "env overrides envFrom"},
			},
		}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(t, ctx, cs, ns, "app")

	var stdout, stderr bytes.Buffer
	err := execIn(ctx, cp, cs, ns, "app", "main", []string{"sh", "-c", `echo "$PLAIN|$KEYED|$P_bearer_token|$P_OTHER"; read line; echo "got $line"; exit 3`}, strings.NewReader("hello\n"), &stdout, &stderr)
	var exit utilexec.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 {
		t.Fatalf("exec returned %v, want exit status 3", err)
	}
	want := "plain value|from-secret-key|from-env-from|env overrides envFrom\ngot hello\n"
	if stdout.String() != want {
		t.Errorf("stdout = %q, want %q (stderr %q)", stdout.String(), want, stderr.String())
	}

	// The image has sh and nothing else.
	stdout.Reset()
	stderr.Reset()
	err = execIn(ctx, cp, cs, ns, "app", "main", []string{"sh", "-c", "sha256sum </dev/null"}, nil, &stdout, &stderr)
	if !errors.As(err, &exit) || exit.ExitStatus() != 127 {
		t.Fatalf("sha256sum in an image without it: %v (stderr %q), want exit status 127", err, stderr.String())
	}
}

func execIn(ctx context.Context, cp *ControlPlane, cs kubernetes.Interface, ns, pod, container string, cmd []string, stdin *strings.Reader, stdout, stderr *bytes.Buffer) error {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(cp.Config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	opts := remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr}
	if stdin != nil {
		opts.Stdin = stdin
	}
	return ex.StreamWithContext(ctx, opts)
}

func waitJob(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) *batchv1.Job {
	t.Helper()
	w, err := cs.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if j, ok := ev.Object.(*batchv1.Job); ok && (hasCondition(j, batchv1.JobComplete) || hasCondition(j, batchv1.JobFailed)) {
			return j
		}
	}
	t.Fatalf("job %s did not finish: %v", name, ctx.Err())
	return nil
}

func hasCondition(j *batchv1.Job, c batchv1.JobConditionType) bool {
	for _, cond := range j.Status.Conditions {
		if cond.Type == c && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func waitPodReady(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
	}
	t.Fatalf("pod %s did not become ready: %v", name, ctx.Err())
}

// TestAnExecdProcessOutlivesItsStream: as with a container runtime, a
// client that stops waiting closes the stream and nothing more; the
// process runs on, still writing, until the pod stops.
func TestAnExecdProcessOutlivesItsStream(t *testing.T) {
	t.Parallel()
	cp := Shared(t)
	ns := cp.Namespace(t)
	kl := &Kubelet{}
	kl.Start(t, cp.Config, ns)
	cs := cp.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(t, ctx, cs, ns, "app")

	marker := filepath.Join(t.TempDir(), "still-running")
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	// The client's copying goroutines may still write to these after it
	// returns, so the test never reads them.
	var stdout, stderr bytes.Buffer
	script := `echo $$ >"$0.pid"; while :; do echo tick; date +%s%N >"$0"; sleep 0.1; done`
	if err := execIn(short, cp, cs, ns, "app", "main", []string{"sh", "-c", script, marker}, nil, &stdout, &stderr); err == nil {
		t.Fatal("an endless command returned without error")
	}
	first, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	// It goes on writing, to its closed stream and its file, after the
	// client left.
	for deadline := time.Now().Add(10 * time.Second); ; {
		now, _ := os.ReadFile(marker)
		if !bytes.Equal(now, first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process stopped when its client went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The loop's own children (date, sleep) come and go beside it, in
	// whatever order /proc lists them.
	if ps := kl.Processes("app"); !slices.ContainsFunc(ps, func(p []string) bool { return len(p) > 2 && p[0] == "sh" && p[2] == script }) {
		t.Fatalf("ps in the pod: %q, want the sh loop", ps)
	}

	b, err := os.ReadFile(marker + ".pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Stopping the pod stops it (and the kubelet reaps it).
	for syscall.Kill(pid, 0) == nil {
		if ctx.Err() != nil {
			t.Fatal("the process outlived its pod")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
