package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

// Each way a consumer can miss a new token, made for real: the apiserver,
// the Deployment controller, Reloader and a kubelet that writes the
// statuses a real one does. Explain, run as the shipped Role, must name
// the cause from those objects alone.
func TestExplainSaysWhyConsumersMissTheToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const variable = "PUBLISHING_API_BEARER_TOKEN"
	e.writeToken(t, testSecret, token.Generate())
	e.writeToken(t, "signon-token-someone-else", token.Generate())

	plain := kubetest.ConsumerDeployment(e.ns, "no-annotation", variable, testSecret)
	plain.Annotations = nil
	crashing := kubetest.ConsumerDeployment(e.ns, "crashing", variable, testSecret)
	pulling := kubetest.ConsumerDeployment(e.ns, "pulling", variable, testSecret)
	unready := kubetest.ConsumerDeployment(e.ns, "unready", variable, testSecret)
	unready.Spec.Replicas = ptr.To[int32](3)
	unready.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/healthcheck/ready", Port: intstr.FromInt32(3000)}}}
	overridden := kubetest.ConsumerDeployment(e.ns, "overridden", variable, testSecret)
	ctr := &overridden.Spec.Template.Spec.Containers[0]
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: variable, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "signon-token-someone-else"}, Key: SecretKey}}})
	mounted := kubetest.ConsumerDeployment(e.ns, "mounted", variable, testSecret)
	mounted.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: testSecret}}}}
	mounted.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: "/etc/signon/token", SubPath: SecretKey}}
	// Without Reloader's annotation, a subPath mount keeps the old token.
	unmounted := mounted.DeepCopy()
	unmounted.Name, unmounted.Annotations = "unmounted", nil
	unmounted.Spec.Selector.MatchLabels = map[string]string{"app": "unmounted"}
	unmounted.Spec.Template.Labels = map[string]string{"app": "unmounted"}
	healthy := kubetest.ConsumerDeployment(e.ns, "healthy", variable, testSecret)
	for _, d := range []*appsv1.Deployment{plain, crashing, pulling, unready, overridden, mounted, unmounted, healthy} {
		e.mustCreate(t, d)
		if ro, err := e.client.WaitRollout(ctx, d.Name, time.Time{}, 30*time.Second); err != nil || !ro.Complete {
			t.Fatalf("first rollout of %s: %+v, %v", d.Name, ro, err)
		}
	}
	// Kubernetes keeps times to the second: let the second of the first
	// rollouts end, so the Secret's write comes after them.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	// The pods Reloader's restart makes are the ones that fail.
	reloaded := func(p *corev1.Pod, app string) bool {
		_, ok := p.Annotations[kubetest.ReloaderLastReloadedFrom]
		return ok && p.Labels["app"] == app
	}
	e.kl.SetFailing(func(p *corev1.Pod) string {
		switch {
		case reloaded(p, "crashing"):
			return kubetest.CrashLoopBackOff
		case reloaded(p, "pulling"):
			return kubetest.ImagePullBackOff
		}
		return ""
	})
	e.kl.SetUnready(func(p *corev1.Pod) bool { return reloaded(p, "unready") })
	kubetest.StartReloader(t, e.cp.Config, e.ns)
	newTok := token.Generate()
	e.writeToken(t, testSecret, newTok)
	st, err := e.client.Secret(ctx, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if ro, err := e.client.WaitRollout(ctx, "healthy", st.UpdatedAt, 30*time.Second); err != nil || !ro.Complete {
		t.Fatalf("the healthy Deployment did not roll: %+v, %v", ro, err)
	}

	consumers, err := e.client.Consumers(ctx, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	asRole := e.clientAs(t, e.cp.ConfigForRole(t, e.ns, loadRole(t)), Config{})
	want := []string{
		"Reloader did not restart deploy/no-annotation: it has no Reloader annotation",
		"container app is in CrashLoopBackOff (restarted 4 times, last exit code 1)",
		"The rollout of deploy/crashing is still in progress: 1 of 1 pods updated, 0 ready.",
		"container app is in ImagePullBackOff",
		"The rollout of deploy/unready is still in progress: 1 of 3 pods updated, 0 ready.",
		"of deploy/unready never became ready: container app runs, but its readiness probe is failing.",
		"deploy/overridden (container app) takes `PUBLISHING_API_BEARER_TOKEN` from Secret `signon-token-someone-else` (key bearer_token)",
		"deploy/mounted (container app) also mounts the Secret as a file at `/etc/signon/token`; the bot compares only the variable.",
		"deploy/unmounted (container app) mounts the Secret as a file at `/etc/signon/token` with subPath, which Kubernetes never updates",
	}
	var lines []string
	until(t, ctx, func() bool {
		lines, err = asRole.Explain(ctx, testSecret, st.UpdatedAt, consumers)
		if err != nil {
			t.Fatalf("Explain as the shipped Role: %v", err)
		}
		return !slices.ContainsFunc(want, func(w string) bool { return !containsPart(lines, w) })
	}, func() string { return "Explain said:\n" + strings.Join(lines, "\n") })
	for _, l := range lines {
		if strings.Contains(l, "deploy/healthy") {
			t.Errorf("a consumer that rolled and is ready has a cause: %q", l)
		}
		if strings.Contains(l, newTok.Reveal()) {
			t.Fatalf("a line holds the token")
		}
	}
	if n := countPart(lines, "CrashLoopBackOff"); n != 1 {
		t.Errorf("%d lines name CrashLoopBackOff, want one per cause: %q", n, lines)
	}

	// A Deployment scaled to zero holds no token: nothing to explain.
	idle := kubetest.ConsumerDeployment(e.ns, "idle", variable, testSecret)
	idle.Annotations = nil
	idle.Spec.Replicas = ptr.To[int32](0)
	e.mustCreate(t, idle)
	only := []flows.Consumer{{Kind: "Deployment", Name: "idle", Container: "app", Variable: variable, Via: "env"}}
	if lines, err := asRole.Explain(ctx, testSecret, st.UpdatedAt, only); err != nil || len(lines) != 0 {
		t.Errorf("Explain of a Deployment at 0 replicas = %q, %v; want nothing", lines, err)
	}
}

// until polls cond until it holds, or fails the test at ctx's deadline
// with what says.
func until(t *testing.T, ctx context.Context, cond func() bool, says func() string) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", says())
		case <-tick.C:
		}
	}
}

func containsPart(lines []string, part string) bool { return countPart(lines, part) > 0 }

func countPart(lines []string, part string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, part) {
			n++
		}
	}
	return n
}
