package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
)

// Stakater Reloader's workload annotations (docs.stakater.com/reloader,
// "Annotation Reference"). GOV.UK's charts set the first.
const (
	reloaderAuto       = "reloader.stakater.com/auto"
	reloaderSecretAuto = "secret.reloader.stakater.com/auto"
	reloaderReload     = "secret.reloader.stakater.com/reload"
	reloaderSearch     = "reloader.stakater.com/search"
)

// waitingReasons are the container states in which a pod will not become
// ready by itself: the kubelet backs off and tries again, and a rollout
// waits for ever.
var waitingReasons = []string{"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// Explain says, from the objects' own status, why consumers of the Secret
// may not hold what it was written with at since: Reloader's annotations,
// the rollout's progress, why new pods are not ready, and where a
// container takes the variable from if not from the Secret. It reads only
// what the Role grants already (Deployments, ReplicaSets, pods). A
// consumer with nothing to say adds no line.
func (c *Client) Explain(ctx context.Context, secret string, since time.Time, consumers []flows.Consumer) ([]string, error) {
	var lines []string
	seen := map[string]bool{}
	for _, con := range consumers {
		if con.Kind != "Deployment" || seen[con.Name] {
			continue
		}
		seen[con.Name] = true
		more, err := c.explainDeployment(ctx, secret, since, con.Name, consumersOf(consumers, con.Name))
		lines = append(lines, more...)
		if err != nil {
			return lines, err
		}
	}
	return lines, nil
}

func consumersOf(all []flows.Consumer, deployment string) []flows.Consumer {
	var out []flows.Consumer
	for _, c := range all {
		if c.Kind == "Deployment" && c.Name == deployment {
			out = append(out, c)
		}
	}
	return out
}

func (c *Client) explainDeployment(ctx context.Context, secret string, since time.Time, name string, cons []flows.Consumer) ([]string, error) {
	d, sel, err := c.deployment(ctx, name)
	if err != nil {
		return nil, err
	}
	opts := metav1.ListOptions{LabelSelector: sel.String()}
	var sets appsv1.ReplicaSetList
	if err := c.list(ctx, c.api.apps, "replicasets", opts, &sets); err != nil {
		return nil, wrapErr(err, "list replicasets of deployment "+name)
	}
	var pods corev1.PodList
	if err := c.list(ctx, c.api.core, "pods", opts, &pods); err != nil {
		return nil, wrapErr(err, "list pods of deployment "+name)
	}
	lines := overrides(d, secret, cons)
	if ptr.Deref(d.Spec.Replicas, 1) == 0 {
		return lines, nil
	}
	setStore, podStore := newStore(), newStore()
	for i := range sets.Items {
		_ = setStore.put(&sets.Items[i])
	}
	for i := range pods.Items {
		_ = podStore.put(&pods.Items[i])
	}
	ro := rolloutState(d, setStore, podStore, since.Truncate(time.Second))
	switch {
	case d.Spec.Paused:
		lines = append(lines, fmt.Sprintf("deploy/%s is paused: it rolls out nothing until someone resumes it.", name))
	case !ro.Started:
		lines = append(lines, reloaderLine(d, secret))
	case !ro.Complete:
		lines = append(lines, progressLine(d, ro))
	}
	lines = append(lines, podLines(name, pods.Items, newestSet(d, sets.Items))...)
	return append(lines, fileMounts(d, secret, cons, ro.Started)...), nil
}

// reloaderLine explains a Deployment that has not rolled since the
// Secret changed, by the annotations Reloader reads.
func reloaderLine(d *appsv1.Deployment, secret string) string {
	a := d.Annotations
	named := slices.ContainsFunc(strings.Split(a[reloaderReload], ","), func(s string) bool { return strings.TrimSpace(s) == secret })
	switch {
	case a[reloaderAuto] == "false":
		return fmt.Sprintf("Reloader did not restart deploy/%s: its annotation `%s: \"false\"` turns reloading off.", d.Name, reloaderAuto)
	case a[reloaderAuto] == "true" || a[reloaderSecretAuto] == "true" || named:
		return fmt.Sprintf("Reloader did not restart deploy/%s, although its annotations ask it to: is Reloader running, and does it watch this namespace?", d.Name)
	case a[reloaderSearch] == "true":
		return fmt.Sprintf("Reloader did not restart deploy/%s: with `%s` it reloads only for Secrets annotated `reloader.stakater.com/match: \"true\"`.", d.Name, reloaderSearch)
	}
	return fmt.Sprintf("Reloader did not restart deploy/%s: it has no Reloader annotation (`%s: \"true\"`, or the Secret named in `%s`).", d.Name, reloaderAuto, reloaderReload)
}

// progressLine describes a rollout that began but has not finished.
func progressLine(d *appsv1.Deployment, ro flows.Rollout) string {
	want := ptr.Deref(d.Spec.Replicas, 1)
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentProgressing && cond.Status == corev1.ConditionFalse {
			return fmt.Sprintf("The rollout of deploy/%s has stalled (%s): %d of %d pods updated, %d ready.", d.Name, cond.Reason, d.Status.UpdatedReplicas, want, ro.Ready)
		}
	}
	return fmt.Sprintf("The rollout of deploy/%s is still in progress: %d of %d pods updated, %d ready.", d.Name, d.Status.UpdatedReplicas, want, ro.Ready)
}

func newestSet(d *appsv1.Deployment, sets []appsv1.ReplicaSet) string {
	var newest *appsv1.ReplicaSet
	for i := range sets {
		rs := &sets[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		if newest == nil || revision(rs) > revision(newest) {
			newest = rs
		}
	}
	if newest == nil {
		return ""
	}
	return newest.Name
}

// podLines says why pods of the newest ReplicaSet are not ready, one line
// per reason: a hundred pods in CrashLoopBackOff are one cause.
func podLines(dep string, pods []corev1.Pod, newest string) []string {
	var lines []string
	said := map[string]bool{}
	for i := range pods {
		p := &pods[i]
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Name != newest || p.DeletionTimestamp != nil || podReady(p) {
			continue
		}
		why, key := podCause(p)
		if why == "" || said[key] {
			continue
		}
		said[key] = true
		lines = append(lines, fmt.Sprintf("Pod %s of deploy/%s never became ready: %s.", p.Name, dep, why))
	}
	return lines
}

// podCause reads a pod's status as `kubectl describe pod` shows it: a
// container waiting in a back-off, a pod the scheduler cannot place, or a
// running container whose readiness probe fails.
func podCause(p *corev1.Pod) (why, key string) {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && slices.Contains(waitingReasons, w.Reason) {
			why = fmt.Sprintf("container %s is in %s", cs.Name, w.Reason)
			if t := cs.LastTerminationState.Terminated; t != nil {
				why += fmt.Sprintf(" (restarted %s, last exit code %d)", times(cs.RestartCount), t.ExitCode)
			}
			return why, w.Reason
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return "the scheduler cannot place it (" + cond.Reason + ")", "unschedulable"
		}
	}
	if p.Status.Phase != corev1.PodRunning {
		return "", ""
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready || cs.State.Running == nil {
			continue
		}
		if probed(p, cs.Name) {
			return fmt.Sprintf("container %s runs, but its readiness probe is failing", cs.Name), "unready"
		}
		return fmt.Sprintf("container %s runs but is not ready", cs.Name), "unready"
	}
	return "", ""
}

func probed(p *corev1.Pod, container string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == container {
			return c.ReadinessProbe != nil
		}
	}
	return false
}

func times(n int32) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// overrides finds consumers whose variable the container takes from
// elsewhere: Kubernetes gives env precedence over envFrom, and a later
// env entry of the same name over an earlier one, so the pod holds
// whatever that other source holds.
func overrides(d *appsv1.Deployment, secret string, cons []flows.Consumer) []string {
	var lines []string
	for _, con := range cons {
		ctr := container(d, con.Container)
		if ctr == nil {
			continue
		}
		var last *corev1.EnvVar
		for i := range ctr.Env {
			if ctr.Env[i].Name == con.Variable {
				last = &ctr.Env[i]
			}
		}
		if last == nil {
			continue
		}
		if src := envSource(last); src != "" && !(last.ValueFrom != nil && last.ValueFrom.SecretKeyRef != nil && last.ValueFrom.SecretKeyRef.Name == secret) {
			lines = append(lines, fmt.Sprintf("deploy/%s (container %s) takes `%s` from %s, which overrides the Secret's own entry: its pods never hold the token the sync writes.", d.Name, ctr.Name, con.Variable, src))
		}
	}
	return lines
}

func envSource(e *corev1.EnvVar) string {
	switch {
	case e.ValueFrom == nil:
		return "a literal value in the pod spec"
	case e.ValueFrom.SecretKeyRef != nil:
		return fmt.Sprintf("Secret `%s` (key %s)", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
	case e.ValueFrom.ConfigMapKeyRef != nil:
		return fmt.Sprintf("ConfigMap `%s` (key %s)", e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
	}
	return "the pod's own fields"
}

// fileMounts finds containers that also read the Secret as a file: the
// bot compares only the variable, and a subPath mount never sees the
// Secret change, so until a rollout replaces the pod it holds the old
// token.
func fileMounts(d *appsv1.Deployment, secret string, cons []flows.Consumer, rolled bool) []string {
	vols := map[string]bool{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			vols[v.Name] = true
		}
	}
	var lines []string
	said := map[string]bool{}
	for _, con := range cons {
		ctr := container(d, con.Container)
		if ctr == nil || said[ctr.Name] {
			continue
		}
		said[ctr.Name] = true
		for _, m := range ctr.VolumeMounts {
			if !vols[m.Name] {
				continue
			}
			if m.SubPath != "" && !rolled {
				lines = append(lines, fmt.Sprintf("deploy/%s (container %s) mounts the Secret as a file at `%s` with subPath, which Kubernetes never updates: only a restart gives it the new token.", d.Name, ctr.Name, m.MountPath))
				continue
			}
			lines = append(lines, fmt.Sprintf("deploy/%s (container %s) also mounts the Secret as a file at `%s`; the bot compares only the variable.", d.Name, ctr.Name, m.MountPath))
		}
	}
	return lines
}

func container(d *appsv1.Deployment, name string) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == name {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

var _ flows.Explainer = (*Client)(nil)
