package kubetest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons SetFailing can give, as a kubelet reports them.
const (
	// ImagePullBackOff: the image cannot be pulled. The pod stays Pending.
	ImagePullBackOff = "ImagePullBackOff"
	// CrashLoopBackOff: the container exits at once, and the kubelet
	// waits longer before each restart. The pod is Running, never Ready.
	CrashLoopBackOff = "CrashLoopBackOff"
)

// crashRestarts is the restart count a crash-looping container shows.
const crashRestarts = 4

// SetFailing makes the pods for which failing returns a reason
// (ImagePullBackOff or CrashLoopBackOff) never start, with the status a
// kubelet writes for them: the container waiting with that reason, and
// for a crash loop its last exit. Such a pod runs no process, so an exec
// into it fails. It applies to pods started after the call.
func (k *Kubelet) SetFailing(failing func(*corev1.Pod) string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failing = failing
}

func (k *Kubelet) failure(pod *corev1.Pod) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failing == nil {
		return ""
	}
	return k.failing(pod)
}

// fail writes the status of a pod that cannot start, once: the informer
// hands the pod back after each write.
func (k *Kubelet) fail(ctx context.Context, pod *corev1.Pod, reason string) error {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
			return nil
		}
	}
	now := metav1.Now()
	status := pod.Status.DeepCopy()
	status.ContainerStatuses = nil
	status.HostIP = "127.0.0.1"
	status.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	status.StartTime = &now
	setCondition(status, corev1.PodScheduled, corev1.ConditionTrue, "", now)
	setCondition(status, corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", now)
	setCondition(status, corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", now)
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		switch reason {
		case ImagePullBackOff:
			status.Phase = corev1.PodPending
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: fmt.Sprintf("Back-off pulling image %q", c.Image)}
		case CrashLoopBackOff:
			status.Phase = corev1.PodRunning
			status.PodIP = "127.0.0.1"
			status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
			cs.ImageID, cs.ContainerID = c.Image, "kubetest://"+string(pod.UID)+"/"+c.Name
			cs.RestartCount = crashRestarts
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason,
				Message: fmt.Sprintf("back-off 1m20s restarting failed container=%s pod=%s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)}
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now,
				ContainerID: cs.ContainerID}
		default:
			return fmt.Errorf("kubetest: pod %s: SetFailing gave %q, not a reason the kubelet stand-in knows", pod.Name, reason)
		}
		status.ContainerStatuses = append(status.ContainerStatuses, cs)
	}
	_, err := k.updateStatus(ctx, pod.Name, pod.UID, status)
	return err
}
