package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
)

// logTailLines is how much of a failed sync's log is shown.
const logTailLines = 20

// WaitSync watches the Job and its pods until the Job completes or fails,
// reporting each step once: created, scheduled, running (per pod), then
// succeeded or failed. It gives up at Config.SyncTimeout or ctx's
// deadline with ErrTimeout. A succeeded Job's result carries its log
// lines that name secret; a failed one its log tail and events.
func (c *Client) WaitSync(ctx context.Context, job, secret string, progress func(flows.SyncProgress)) (flows.SyncResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SyncTimeout)
	defer cancel()
	ns := c.cfg.Namespace
	res := flows.SyncResult{Job: job}
	if progress == nil {
		progress = func(flows.SyncProgress) {}
	}

	w := c.newWatcher(ctx)
	defer w.stop()
	jobs := w.watch(c.api.batch, "jobs", ns, &batchv1.Job{}, fields.OneTermEqualSelector("metadata.name", job).String(), "")
	pods := w.watch(c.api.core, "pods", ns, &corev1.Pod{}, "", batchv1.JobNameLabel+"="+job)
	if err := w.sync(); err != nil {
		return res, c.waitErr(ctx, err, "job "+job)
	}
	if _, exists := jobs.GetByKey(ns + "/" + job); !exists {
		return res, fmt.Errorf("job %s/%s: %w", ns, job, flows.ErrNotFound)
	}

	reported := map[string]bool{}
	report := func(phase, pod string, at time.Time) {
		key := phase + "/" + pod
		if reported[key] {
			return
		}
		reported[key] = true
		if at.IsZero() {
			at = c.cfg.Clock.Now()
		}
		progress(flows.SyncProgress{Job: job, Phase: phase, Pod: pod, At: at.UTC()})
	}
	for {
		obj, exists := jobs.GetByKey(ns + "/" + job)
		if !exists {
			return res, fmt.Errorf("job %s/%s disappeared while the bot waited: %w", ns, job, flows.ErrNotFound)
		}
		j := obj.(*batchv1.Job)
		report("created", "", j.CreationTimestamp.Time)
		var jobPods []*corev1.Pod
		for _, o := range pods.List() {
			jobPods = append(jobPods, o.(*corev1.Pod))
		}
		slices.SortFunc(jobPods, func(a, b *corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
		for _, p := range jobPods {
			if p.Spec.NodeName != "" {
				report("scheduled", p.Name, podConditionTime(p, corev1.PodScheduled))
			}
			if p.Status.Phase != corev1.PodPending {
				report("running", p.Name, ptr.Deref(p.Status.StartTime, metav1.Time{}).Time)
			}
		}
		if j.Status.StartTime != nil {
			res.StartedAt = j.Status.StartTime.UTC()
		}
		switch {
		case jobCondition(j, batchv1.JobComplete):
			res.Succeeded = true
			res.CompletedAt = conditionTime(j, batchv1.JobComplete)
			if j.Status.CompletionTime != nil {
				res.CompletedAt = j.Status.CompletionTime.UTC()
			}
			if p := lastPod(jobPods, corev1.PodSucceeded); p != nil {
				// A pod already cleaned away leaves no lines; the caller
				// reads the Secret itself anyway.
				lines, err := c.podLog(ctx, p, nil)
				if err != nil && !errors.Is(err, flows.ErrNotFound) {
					return res, err
				}
				res.SecretLines = linesNaming(lines, secret)
			}
			report("succeeded", "", res.CompletedAt)
			return res, nil
		case jobCondition(j, batchv1.JobFailed):
			res.CompletedAt = conditionTime(j, batchv1.JobFailed)
			if p := lastPod(jobPods, corev1.PodFailed); p != nil {
				// A pod already cleaned away leaves the tail empty; the
				// events still say why the Job failed.
				tail, err := c.podLog(ctx, p, ptr.To[int64](logTailLines))
				if err != nil && !errors.Is(err, flows.ErrNotFound) {
					return res, err
				}
				res.LogTail = tail
			}
			events, err := c.events(ctx, j, jobPods)
			if err != nil {
				return res, err
			}
			res.Events = events
			report("failed", "", res.CompletedAt)
			return res, nil
		}
		select {
		case <-w.changed:
		case err := <-w.failed:
			return res, fmt.Errorf("wait for job %s: %w", job, err)
		case <-ctx.Done():
			return res, c.waitErr(ctx, ctx.Err(), "job "+job)
		}
	}
}

// waitErr says why a wait ended early: its deadline (ErrTimeout) or the
// caller giving up.
func (c *Client) waitErr(ctx context.Context, err error, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("wait for %s: %w", what, flows.ErrTimeout)
	}
	return fmt.Errorf("wait for %s: %w", what, err)
}

// podLog returns the pod's log lines (all containers, in order), the last
// tail of each if set, with anything that looks like a token redacted.
func (c *Client) podLog(ctx context.Context, p *corev1.Pod, tail *int64) ([]string, error) {
	var out []string
	for _, ctr := range p.Spec.Containers {
		raw, err := c.call(ctx, c.api.core.Get().Namespace(p.Namespace).Resource("pods").Name(p.Name).SubResource("log").
			VersionedParams(&corev1.PodLogOptions{Container: ctr.Name, TailLines: tail}, paramCodec), nil)
		if err != nil {
			return nil, wrapErr(err, fmt.Sprintf("read log of pod %s/%s container %s", p.Namespace, p.Name, ctr.Name))
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			out = append(out, redact(sc.Text()))
		}
	}
	return out, nil
}

// events lists the Job's and its pods' events, oldest first, as
// "Type Reason: message".
func (c *Client) events(ctx context.Context, j *batchv1.Job, pods []*corev1.Pod) ([]string, error) {
	names := []string{j.Name}
	for _, p := range pods {
		names = append(names, p.Name)
	}
	var evs []corev1.Event
	for _, name := range names {
		var evl corev1.EventList
		err := c.list(ctx, c.api.core, "events", metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String(),
		}, &evl)
		if err != nil {
			return nil, wrapErr(err, "list events of "+name)
		}
		evs = append(evs, evl.Items...)
	}
	slices.SortStableFunc(evs, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, redact(fmt.Sprintf("%s %s %s: %s", e.Type, e.InvolvedObject.Kind, e.Reason, strings.TrimSpace(e.Message))))
	}
	return out, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// linesNaming returns the lines that mention the Secret by name.
func linesNaming(lines []string, secret string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, secret) {
			out = append(out, l)
		}
	}
	return out
}

// lastPod is the newest pod in the phase.
func lastPod(pods []*corev1.Pod, phase corev1.PodPhase) *corev1.Pod {
	for i := len(pods) - 1; i >= 0; i-- {
		if pods[i].Status.Phase == phase {
			return pods[i]
		}
	}
	return nil
}

func conditionTime(j *batchv1.Job, t batchv1.JobConditionType) time.Time {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.LastTransitionTime.UTC()
		}
	}
	return time.Time{}
}

func podConditionTime(p *corev1.Pod, t corev1.PodConditionType) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
