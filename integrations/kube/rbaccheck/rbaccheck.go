// Package rbaccheck makes every Kubernetes call the bot makes, as a given
// identity, against a real control plane, and tries calls beyond them. It
// is the one list of the bot's calls that RBAC is checked against:
// integrations/kube runs it as a user bound to deploy/rbac/role.yaml, and
// deploy/deploytest as the ServiceAccount the Helm chart creates, bound
// by the chart's own Role and RoleBinding.
package rbaccheck

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

const (
	// secret, app and variable are a token Secret and its consumer as
	// GOV.UK names them.
	secret   = "signon-token-short-url-manager-publishing-api"
	app      = "search-admin"
	variable = "PUBLISHING_API_BEARER_TOKEN"
)

// Fixture is what a rotation meets in a namespace, made by the
// administrator: the sync CronJob, a token Secret, a Deployment consuming
// it with a ready pod, Reloader and a kubelet that runs the pods.
type Fixture struct {
	CP        *kubetest.ControlPlane
	Namespace string
	Kubelet   *kubetest.Kubelet
	admin     kubernetes.Interface
}

// NewFixture sets the namespace up. The CronJob is kubetest's, named as
// GOV.UK's (kube.DefaultCronJob).
func NewFixture(t *testing.T, cp *kubetest.ControlPlane, ns string) *Fixture {
	t.Helper()
	f := &Fixture{CP: cp, Namespace: ns, Kubelet: &kubetest.Kubelet{}, admin: cp.Clientset(t)}
	f.Kubelet.Start(t, cp.Config, ns)
	ctx := context.Background()
	if _, err := f.admin.BatchV1().CronJobs(ns).Create(ctx, kubetest.SyncCronJob(ns), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the sync CronJob: %v", err)
	}
	f.writeToken(t, token.Generate())
	if _, err := f.admin.AppsV1().Deployments(ns).Create(ctx, kubetest.ConsumerDeployment(ns, app, variable, secret), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Deployment %s: %v", app, err)
	}
	asAdmin, err := kube.NewForConfig(cp.Config, kube.Config{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if ro, err := asAdmin.WaitRollout(testContext(t), app, time.Time{}, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("first rollout of %s: %+v, %v", app, ro, err)
	}
	// Kubernetes keeps times to the second: a Secret written in the second
	// the Deployment was made could not be told apart from one written
	// before it, so the second ends first.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	kubetest.StartReloader(t, cp.Config, ns)
	return f
}

// writeToken writes the token Secret as the sync task does.
func (f *Fixture) writeToken(t *testing.T, tok token.Secret) {
	t.Helper()
	s := applycorev1.Secret(secret, f.Namespace).WithType(corev1.SecretTypeOpaque).
		WithData(map[string][]byte{kube.SecretKey: []byte(tok.Reveal())})
	if _, err := f.admin.CoreV1().Secrets(f.Namespace).Apply(context.Background(), s, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
		t.Fatalf("write Secret %s: %v", secret, err)
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// EveryCallAllowed makes, as rc, every call of kube.Client a rotation
// makes, in the order a rotation makes them (a failed sync and a good one,
// the rollout, a restart, the in-pod and live checks, the Signon runner's
// exec), and fails t if any is refused or goes wrong. Exec is also tried
// over WebSocket alone, since the SPDY fallback would hide a Role that
// lacks get on pods/exec.
func (f *Fixture) EveryCallAllowed(t *testing.T, rc *rest.Config) {
	t.Helper()
	ctx := testContext(t)
	bot, err := kube.NewForConfig(rc, kube.Config{Namespace: f.Namespace, LiveChecks: map[string][]string{
		"publishing-api": {"sh", "-c", `test -n "$` + kube.VariablePlaceholder + `"`},
	}})
	if err != nil {
		t.Fatal(err)
	}

	consumers, err := bot.Consumers(ctx, secret)
	if err != nil || len(consumers) != 1 {
		t.Fatalf("Consumers = %+v, %v", consumers, err)
	}
	if _, err := bot.Secret(ctx, secret); err != nil {
		t.Fatalf("Secret: %v", err)
	}

	failed, err := bot.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	go func() {
		if _, err := f.Kubelet.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Error: "Signon is down"}); err != nil {
			t.Error(err)
		}
	}()
	res, err := bot.WaitSync(ctx, failed.Name, secret, nil)
	if err != nil || res.Succeeded || len(res.LogTail) == 0 || len(res.Events) == 0 {
		t.Fatalf("WaitSync of a failing Job = %+v, %v; want log tail and events", res, err)
	}
	newTok := token.Generate()
	job, err := bot.StartSync(ctx, "run-1.2", time.Now())
	if err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	go func() {
		if _, err := f.Kubelet.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Tokens: map[string]token.Secret{secret: newTok}}); err != nil {
			t.Error(err)
		}
	}()
	res, err = bot.WaitSync(ctx, job.Name, secret, nil)
	if err != nil || !res.Succeeded || len(res.SecretLines) != 1 {
		t.Fatalf("WaitSync = %+v, %v", res, err)
	}
	st, err := bot.Secret(ctx, secret)
	if err != nil || st.Fingerprint != newTok.Fingerprint() {
		t.Fatalf("Secret = %+v, %v", st, err)
	}
	if ro, err := bot.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("WaitRollout = %+v, %v", ro, err)
	}
	if _, err := bot.Explain(ctx, secret, st.UpdatedAt, consumers); err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if err := bot.RestartDeployment(ctx, app, time.Now()); err != nil {
		t.Fatalf("RestartDeployment: %v", err)
	}
	if ro, err := bot.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("WaitRollout after restart = %+v, %v", ro, err)
	}
	checks, err := bot.CheckPods(ctx, consumers[0], newTok.Fingerprint())
	if err != nil || len(checks) == 0 || !checks[0].Match {
		t.Fatalf("CheckPods = %+v, %v", checks, err)
	}
	if lc, err := bot.LiveCheck(ctx, consumers[0], "publishing-api"); err != nil || !lc.Passed {
		t.Fatalf("LiveCheck = %+v, %v", lc, err)
	}
	var out bytes.Buffer
	if err := bot.Runner(app, "app").Run(ctx, []string{"cat"}, strings.NewReader("puts 1"), &out, nil); err != nil || out.String() != "puts 1" {
		t.Fatalf("Runner.Run = %q, %v", out.String(), err)
	}
	if err := kubetest.ExecWebSocketOnly(ctx, rc, f.Namespace, checks[0].Pod, "app"); err != nil {
		t.Errorf("exec over WebSocket: %v", err)
	}
}

// WiderCallsDenied tries, as rc, calls a little beyond the bot's: reading
// every Secret or one in another namespace, writing or deleting what the
// bot only reads, creating pods, changing the sync CronJob, reading the
// cluster's nodes. Each must be forbidden.
func (f *Fixture) WiderCallsDenied(t *testing.T, rc *rest.Config) {
	t.Helper()
	ctx := testContext(t)
	other := f.CP.Namespace(t)
	if _, err := f.admin.CoreV1().Secrets(other).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := f.admin.BatchV1().Jobs(f.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) == 0 {
		t.Fatalf("no Job to try deleting (run EveryCallAllowed first): %v", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ns := f.Namespace
	for what, call := range map[string]func() error{
		"list secrets": func() error {
			_, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"watch secrets": func() error {
			w, err := cs.CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		},
		"delete a secret": func() error {
			return cs.CoreV1().Secrets(ns).Delete(ctx, secret, metav1.DeleteOptions{})
		},
		"write a secret": func() error {
			_, err := cs.CoreV1().Secrets(ns).Patch(ctx, secret, types.MergePatchType, []byte(`{"data":{"bearer_token":""}}`), metav1.PatchOptions{})
			return err
		},
		"read a secret in another namespace": func() error {
			_, err := cs.CoreV1().Secrets(other).Get(ctx, secret, metav1.GetOptions{})
			return err
		},
		"create a pod": func() error {
			_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}}, metav1.CreateOptions{})
			return err
		},
		"delete a deployment": func() error {
			return cs.AppsV1().Deployments(ns).Delete(ctx, app, metav1.DeleteOptions{})
		},
		"delete a job": func() error {
			return cs.BatchV1().Jobs(ns).Delete(ctx, jobs.Items[0].Name, metav1.DeleteOptions{})
		},
		"change the sync cronjob": func() error {
			_, err := cs.BatchV1().CronJobs(ns).Patch(ctx, kubetest.SyncCronJobName, types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
			return err
		},
		"list nodes": func() error {
			_, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		},
	} {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want forbidden", what, err)
		}
	}
}

// ReadRole reads a Role from a YAML file, strictly.
func ReadRole(t *testing.T, path string) *rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if role.Kind != "Role" || len(role.Rules) == 0 {
		t.Fatalf("%s is not a Role with rules: %+v", path, role.TypeMeta)
	}
	return &role
}
