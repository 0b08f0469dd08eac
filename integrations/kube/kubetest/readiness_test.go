package kubetest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A pod SetUnready names runs without becoming Ready, so its Deployment
// never completes a rollout; once it is no longer named it becomes Ready.
func TestUnreadyPodsBecomeReadyWhenReleased(t *testing.T) {
	t.Parallel()
	cp := Shared(t)
	ns := cp.Namespace(t)
	kl := &Kubelet{}
	kl.Start(t, cp.Config, ns)
	cs := cp.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	kl.SetUnready(func(p *corev1.Pod) bool { return p.Labels["app"] == "stuck" })
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"},
		Data: map[string][]byte{"bearer_token": []byte("x")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stuck", "fine"} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, ConsumerDeployment(ns, name, "X_BEARER_TOKEN", "token"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fine := waitPod(t, ctx, cs, ns, "fine", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if !ready(fine) {
		t.Errorf("pod %s of an app SetUnready does not name is not Ready", fine.Name)
	}
	stuck := waitPod(t, ctx, cs, ns, "stuck", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if ready(stuck) {
		t.Fatalf("pod %s is Ready although SetUnready names it", stuck.Name)
	}
	kl.SetUnready(nil)
	waitPod(t, ctx, cs, ns, "stuck", ready)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitPod watches the app's pods until one satisfies cond.
func waitPod(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, app string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if cond(&list.Items[i]) {
				return &list.Items[i]
			}
		}
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + app, ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatalf("waiting for a pod of %s: %v", app, err)
		}
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && cond(p) {
				w.Stop()
				return p
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for a pod of %s: %v", app, ctx.Err())
		}
	}
}
