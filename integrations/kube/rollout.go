package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
)

// AnnotationRestartedAt is the pod-template annotation `kubectl rollout
// restart` sets.
const AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"

// WaitRollout watches the Deployment, its ReplicaSets and pods until a
// rollout that began at or after since (its newest ReplicaSet was created
// then, whether Reloader, a restart or a deploy changed the template) has
// replaced every pod, and the new pods are ready. Times are compared to
// the second, the apiserver's precision. A Deployment scaled to zero has
// nothing to roll out: it is complete, with Replicas 0, once none of its
// pods runs. If no such rollout has begun within startTimeout it returns
// ErrRolloutNotStarted; at ctx's deadline, ErrTimeout.
func (c *Client) WaitRollout(ctx context.Context, deployment string, since time.Time, startTimeout time.Duration) (flows.Rollout, error) {
	ns := c.cfg.Namespace
	ro := flows.Rollout{Deployment: deployment}
	_, sel, err := c.deployment(ctx, deployment)
	if err != nil {
		return ro, err
	}
	w := c.newWatcher(ctx)
	defer w.stop()
	deps := w.watch(c.api.apps, "deployments", ns, &appsv1.Deployment{}, fields.OneTermEqualSelector("metadata.name", deployment).String(), "")
	sets := w.watch(c.api.apps, "replicasets", ns, &appsv1.ReplicaSet{}, "", sel.String())
	pods := w.watch(c.api.core, "pods", ns, &corev1.Pod{}, "", sel.String())
	if err := w.sync(); err != nil {
		return ro, c.waitErr(ctx, err, "deployment "+deployment)
	}
	notStarted := time.NewTimer(startTimeout)
	defer notStarted.Stop()
	since = since.Truncate(time.Second)
	for {
		obj, exists := deps.GetByKey(ns + "/" + deployment)
		if !exists {
			return ro, fmt.Errorf("deployment %s/%s disappeared while the bot waited: %w", ns, deployment, flows.ErrNotFound)
		}
		ro = rolloutState(obj.(*appsv1.Deployment), sets, pods, since)
		if ro.Complete {
			return ro, nil
		}
		select {
		case <-w.changed:
		case err := <-w.failed:
			return ro, fmt.Errorf("wait for deployment %s: %w", deployment, err)
		case <-notStarted.C:
			if !ro.Started {
				return ro, fmt.Errorf("deployment %s/%s since %s: %w", ns, deployment, since.Format(time.RFC3339), flows.ErrRolloutNotStarted)
			}
		case <-ctx.Done():
			return ro, c.waitErr(ctx, ctx.Err(), "deployment "+deployment+" to roll out")
		}
	}
}

// rolloutState reads how far the Deployment has rolled out since the
// Secret changed.
func rolloutState(d *appsv1.Deployment, sets, pods *store, since time.Time) flows.Rollout {
	want := ptr.Deref(d.Spec.Replicas, 1)
	ro := flows.Rollout{Deployment: d.Name, Replicas: want}

	owned := map[string]bool{} // ReplicaSets of this Deployment
	var newest *appsv1.ReplicaSet
	for _, o := range sets.List() {
		rs := o.(*appsv1.ReplicaSet)
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		owned[rs.Name] = true
		if newest == nil || revision(rs) > revision(newest) {
			newest = rs
		}
	}
	ro.Started = newest != nil && !newest.CreationTimestamp.Time.Before(since)

	stale := 0 // pods still running from before the change
	live := 0
	for _, o := range pods.List() {
		p := o.(*corev1.Pod)
		ref := metav1.GetControllerOf(p)
		if ref == nil || !owned[ref.Name] || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		if newest == nil || ref.Name != newest.Name || p.CreationTimestamp.Time.Before(since) {
			stale++
			continue
		}
		if podReady(p) {
			ro.Ready++
		}
	}
	if want == 0 {
		// Scaled to zero: no pod holds a token, once the last one is gone.
		ro.Started, ro.Complete = true, live == 0
		return ro
	}
	ro.Complete = ro.Started && stale == 0 && ro.Ready >= want &&
		d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas >= want && d.Status.Replicas == d.Status.UpdatedReplicas
	return ro
}

func revision(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// RestartDeployment does what `kubectl rollout restart` does: it stamps
// the pod template with the time, which makes the Deployment controller
// replace every pod.
func (c *Client) RestartDeployment(ctx context.Context, deployment string, at time.Time) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{AnnotationRestartedAt: at.UTC().Format(time.RFC3339)}},
	}}})
	if err != nil {
		return err
	}
	ns := c.cfg.Namespace
	_, err = c.call(ctx, c.api.apps.Patch(types.StrategicMergePatchType).Namespace(ns).Resource("deployments").Name(deployment).
		VersionedParams(&metav1.PatchOptions{FieldManager: "signon-token-bot"}, paramCodec).
		Body(patch), &appsv1.Deployment{})
	if err != nil {
		return wrapErr(err, fmt.Sprintf("restart deployment %s/%s", ns, deployment))
	}
	return nil
}
