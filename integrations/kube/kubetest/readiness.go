package kubetest

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SetUnready makes the pods for which unready reports true start Running
// but never become Ready, as with a readiness probe that keeps failing.
// Calling it again (nil: every pod) makes the pods it no longer names
// Ready, those already running included.
func (k *Kubelet) SetUnready(unready func(*corev1.Pod) bool) {
	k.mu.Lock()
	k.unready = unready
	var names []string
	for name, rec := range k.pods {
		if rec.unready {
			names = append(names, name)
		}
	}
	k.mu.Unlock()
	for _, name := range names {
		k.queue.Add(name)
	}
}

func (k *Kubelet) isUnready(pod *corev1.Pod) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unready != nil && k.unready(pod)
}

// notReady marks a running pod's containers not ready.
func notReady(status *corev1.PodStatus, at metav1.Time) {
	for i := range status.ContainerStatuses {
		status.ContainerStatuses[i].Ready = false
	}
	setCondition(status, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", at)
	setCondition(status, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", at)
}

// readyAgain makes a running pod that was held unready Ready, once
// SetUnready no longer names it.
func (k *Kubelet) readyAgain(ctx context.Context, pod *corev1.Pod) error {
	k.mu.Lock()
	rec, ok := k.pods[pod.Name]
	held := ok && rec.unready && rec.uid == pod.UID && !rec.done
	k.mu.Unlock()
	if !held || k.isUnready(pod) {
		return nil
	}
	now := metav1.Now()
	status := pod.Status.DeepCopy()
	for i := range status.ContainerStatuses {
		status.ContainerStatuses[i].Ready = true
	}
	setCondition(status, corev1.ContainersReady, corev1.ConditionTrue, "", now)
	setCondition(status, corev1.PodReady, corev1.ConditionTrue, "", now)
	if _, err := k.updateStatus(ctx, pod.Name, pod.UID, status); err != nil {
		return err
	}
	k.mu.Lock()
	rec.unready = false
	k.notifyLocked()
	k.mu.Unlock()
	return nil
}
