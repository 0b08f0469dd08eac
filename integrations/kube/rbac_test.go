package kube

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/yaml"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

const shippedRole = "../../deploy/rbac/role.yaml"

func loadRole(t *testing.T) *rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(shippedRole)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("%s: %v", shippedRole, err)
	}
	if role.Kind != "Role" || role.Namespace != DefaultNamespace || len(role.Rules) == 0 {
		t.Fatalf("%s is not a Role in %s: %+v", shippedRole, DefaultNamespace, role.TypeMeta)
	}
	return &role
}

// Every call the bot makes works for a user bound to the shipped Role and
// to nothing else, and calls beyond them are refused.
func TestShippedRoleAllowsEveryCallAndNoMore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const app, variable = "search-admin", "PUBLISHING_API_BEARER_TOKEN"
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	e.writeToken(t, testSecret, token.Generate())
	e.deployReady(t, app, variable, testSecret, 1)
	kubetest.StartReloader(t, e.cp.Config, e.ns)

	roleCfg := e.cp.ConfigForRole(t, e.ns, loadRole(t))
	bot := e.clientAs(t, roleCfg, Config{LiveChecks: map[string][]string{
		"publishing-api": {"sh", "-c", `test -n "$` + VariablePlaceholder + `"`},
	}})

	consumers, err := bot.Consumers(ctx, testSecret)
	if err != nil || len(consumers) != 1 {
		t.Fatalf("Consumers = %+v, %v", consumers, err)
	}
	if _, err := bot.Secret(ctx, testSecret); err != nil {
		t.Fatalf("Secret: %v", err)
	}

	// A failed sync (log tail and events), then a good one.
	failed, err := bot.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	go func() {
		if _, err := e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Error: "Signon is down"}); err != nil {
			t.Error(err)
		}
	}()
	res, err := bot.WaitSync(ctx, failed.Name, testSecret, nil)
	if err != nil || res.Succeeded || len(res.LogTail) == 0 || len(res.Events) == 0 {
		t.Fatalf("WaitSync of a failing Job = %+v, %v; want log tail and events", res, err)
	}
	newTok := token.Generate()
	job, err := bot.StartSync(ctx, "run-1.2", time.Now())
	if err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	go func() {
		if _, err := e.kl.PlaySync(ctx, kubetest.SyncCronJobName, kubetest.SyncRun{Tokens: map[string]token.Secret{testSecret: newTok}}); err != nil {
			t.Error(err)
		}
	}()
	res, err = bot.WaitSync(ctx, job.Name, testSecret, nil)
	if err != nil || !res.Succeeded || len(res.SecretLines) != 1 {
		t.Fatalf("WaitSync = %+v, %v", res, err)
	}
	st, err := bot.Secret(ctx, testSecret)
	if err != nil || st.Fingerprint != newTok.Fingerprint() {
		t.Fatalf("Secret = %+v, %v", st, err)
	}
	if ro, err := bot.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("WaitRollout = %+v, %v", ro, err)
	}
	if err := bot.RestartDeployment(ctx, app, time.Now()); err != nil {
		t.Fatalf("RestartDeployment: %v", err)
	}
	if ro, err := bot.WaitRollout(ctx, app, st.UpdatedAt, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("WaitRollout after restart = %+v, %v", ro, err)
	}
	checks, err := bot.CheckPods(ctx, consumers[0], newTok.Fingerprint())
	if err != nil || !checks[0].Match {
		t.Fatalf("CheckPods = %+v, %v", checks, err)
	}
	if lc, err := bot.LiveCheck(ctx, consumers[0], "publishing-api"); err != nil || !lc.Passed {
		t.Fatalf("LiveCheck = %+v, %v", lc, err)
	}
	var out bytes.Buffer
	if err := bot.Runner(app, "app").Run(ctx, []string{"cat"}, strings.NewReader("puts 1"), &out, nil); err != nil || out.String() != "puts 1" {
		t.Fatalf("Runner.Run = %q, %v", out.String(), err)
	}
	// The Role lets exec use WebSocket; the SPDY fallback would hide it.
	pod, err := bot.readyPod(ctx, app, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := webSocketOnlyExec(ctx, roleCfg, e.ns, pod.Name); err != nil {
		t.Errorf("exec over WebSocket under the Role: %v", err)
	}

	// Beyond the Role.
	other := e.cp.Namespace(t)
	if _, err := e.admin.CoreV1().Secrets(other).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: testSecret}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(roleCfg)
	if err != nil {
		t.Fatal(err)
	}
	for what, call := range map[string]func() error{
		"list secrets": func() error {
			_, err := cs.CoreV1().Secrets(e.ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"watch secrets": func() error {
			w, err := cs.CoreV1().Secrets(e.ns).Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		},
		"delete a secret": func() error {
			return cs.CoreV1().Secrets(e.ns).Delete(ctx, testSecret, metav1.DeleteOptions{})
		},
		"write a secret": func() error {
			_, err := cs.CoreV1().Secrets(e.ns).Patch(ctx, testSecret, types.MergePatchType, []byte(`{"data":{"bearer_token":""}}`), metav1.PatchOptions{})
			return err
		},
		"read a secret in another namespace": func() error {
			_, err := cs.CoreV1().Secrets(other).Get(ctx, testSecret, metav1.GetOptions{})
			return err
		},
		"create a pod": func() error {
			_, err := cs.CoreV1().Pods(e.ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}}, metav1.CreateOptions{})
			return err
		},
		"delete a deployment": func() error {
			return cs.AppsV1().Deployments(e.ns).Delete(ctx, app, metav1.DeleteOptions{})
		},
		"delete a job": func() error {
			return cs.BatchV1().Jobs(e.ns).Delete(ctx, job.Name, metav1.DeleteOptions{})
		},
		"change the sync cronjob": func() error {
			_, err := cs.BatchV1().CronJobs(e.ns).Patch(ctx, kubetest.SyncCronJobName, types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
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

// A user the cluster knows but has granted nothing gets ErrForbidden from
// every call, which the Slack layer can explain.
func TestForbiddenIsReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	e.writeToken(t, testSecret, token.Generate())
	e.deployReady(t, "support", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
	job, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := e.cp.UserConfig("someone-else")
	if err != nil {
		t.Fatal(err)
	}
	nobody := e.clientAs(t, cfg, Config{})
	consumer := flows.Consumer{Kind: "Deployment", Name: "support", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
	for what, call := range map[string]func() error{
		"Secret": func() error { _, err := nobody.Secret(ctx, testSecret); return err },
		"Consumers": func() error {
			_, err := nobody.Consumers(ctx, testSecret)
			return err
		},
		"StartSync": func() error { _, err := nobody.StartSync(ctx, "run-2.1", time.Now()); return err },
		"WaitSync":  func() error { _, err := nobody.WaitSync(ctx, job.Name, testSecret, nil); return err },
		"WaitRollout": func() error {
			_, err := nobody.WaitRollout(ctx, "support", time.Now(), time.Second)
			return err
		},
		"RestartDeployment": func() error { return nobody.RestartDeployment(ctx, "support", time.Now()) },
		"CheckPods": func() error {
			_, err := nobody.CheckPods(ctx, consumer, "0123456789abcdef")
			return err
		},
		"Runner.Run": func() error {
			return nobody.SignonRunner().Run(ctx, []string{"true"}, nil, nil, nil)
		},
	} {
		err := call()
		if !errors.Is(err, flows.ErrForbidden) {
			t.Errorf("%s as a user with no role: %v, want ErrForbidden", what, err)
		}
	}

	// Exec itself refused, as when the Role lacks pods/exec.
	noExec := loadRole(t)
	noExec.Rules = removeResource(noExec.Rules, "pods/exec")
	limited := e.clientAs(t, e.cp.ConfigForRole(t, e.ns, noExec), Config{})
	if _, err := limited.CheckPods(ctx, consumer, "0123456789abcdef"); !errors.Is(err, flows.ErrForbidden) {
		t.Errorf("CheckPods without pods/exec: %v, want ErrForbidden", err)
	}
}

func webSocketOnlyExec(ctx context.Context, rc *rest.Config, ns, pod string) error {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: []string{"true"}, Stdout: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(rc, "GET", req.URL().String())
	if err != nil {
		return err
	}
	return ws.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
}

// Where WebSocket exec is refused (a Role written for SPDY, with create
// but not get on pods/exec), exec falls back to SPDY and still works.
func TestExecFallsBackToSPDY(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	tok := token.Generate()
	e.writeToken(t, testSecret, tok)
	e.deployReady(t, "whitehall-admin", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
	role := loadRole(t)
	for i := range role.Rules {
		if role.Rules[i].Resources[0] == "pods/exec" {
			role.Rules[i].Verbs = []string{"create"}
		}
	}
	spdyOnly := e.cp.ConfigForRole(t, e.ns, role)
	pod, err := e.client.readyPod(ctx, "whitehall-admin", "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := webSocketOnlyExec(ctx, spdyOnly, e.ns, pod.Name); err == nil {
		t.Fatal("exec over WebSocket worked without get on pods/exec; this test no longer exercises the fallback")
	}
	consumer := flows.Consumer{Kind: "Deployment", Name: "whitehall-admin", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
	checks, err := e.clientAs(t, spdyOnly, Config{}).CheckPods(ctx, consumer, tok.Fingerprint())
	if err != nil || !checks[0].Match {
		t.Errorf("CheckPods over SPDY = %+v, %v; want a match", checks, err)
	}
}

func removeResource(rules []rbacv1.PolicyRule, resource string) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		if len(r.Resources) == 1 && r.Resources[0] == resource {
			continue
		}
		out = append(out, r)
	}
	return out
}
