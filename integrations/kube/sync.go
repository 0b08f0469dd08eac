package kube

import (
	"context"
	"fmt"
	"maps"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
)

const (
	// AnnotationInstantiate marks a Job made by hand from a CronJob, as
	// kubectl and Argo CD mark it.
	AnnotationInstantiate = "cronjob.kubernetes.io/instantiate"
	// AnnotationRunID records which bot run made a Job, so that the run
	// finds its Job again after a restart instead of making another.
	AnnotationRunID = "signon-token-bot/run-id"
)

// maxNameTries bounds the search for a free Job name within one minute.
const maxNameTries = 20

// StartSync returns the sync Job a run relies on for a change made at
// after (its new token issued, or revoked): every sync Job writes every
// API user's newest token, so one Job serves every run whose change
// came before it started. In order:
//
//   - the Job this run made already (annotated with runID), even if it
//     failed, so that a run resumed after a crash never makes a second;
//   - a Job of the CronJob (the bot's or the schedule's) that started at
//     or after after and has not failed, a succeeded one first (Adopted);
//   - a Job of the CronJob that is still running but started before
//     after (Earlier): the caller waits for it to end and asks again,
//     since at most one sync should run at a time;
//   - else a new Job, made as Argo CD's "Create job" action does: named
//     <cronjob>-<yyMMddHHmm, UTC, now> (with -2, -3... if that is taken),
//     annotated cronjob.kubernetes.io/instantiate: manual, owned by the
//     CronJob, with the job template's labels, annotations and spec.
//
// The apiserver keeps times to the second: a Job that started in the
// same second as after counts as started after it. The caller checks the
// Secret once the Job is done, and asks again past a Job that missed.
func (c *Client) StartSync(ctx context.Context, runID string, after time.Time) (flows.SyncJob, error) {
	ns := c.cfg.Namespace
	cj := &batchv1.CronJob{}
	if err := c.get(ctx, c.api.batch, "cronjobs", c.cfg.CronJob, cj); err != nil {
		return flows.SyncJob{}, wrapErr(err, fmt.Sprintf("get cronjob %s/%s", ns, c.cfg.CronJob))
	}
	var jobs batchv1.JobList
	if err := c.list(ctx, c.api.batch, "jobs", metav1.ListOptions{}, &jobs); err != nil {
		return flows.SyncJob{}, wrapErr(err, "list jobs in "+ns)
	}
	var serves, earlier *batchv1.Job
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if runID != "" && j.Annotations[AnnotationRunID] == runID {
			return syncJob(j, false, false), nil
		}
		owner := metav1.GetControllerOf(j)
		if owner == nil || owner.UID != cj.UID || jobCondition(j, batchv1.JobFailed) {
			continue
		}
		switch {
		case !startOf(j).Before(after.Truncate(time.Second)):
			if serves == nil || better(j, serves) {
				serves = j
			}
		case !finished(j):
			earlier = j
		}
	}
	if serves != nil {
		return syncJob(serves, true, false), nil
	}
	if earlier != nil {
		return syncJob(earlier, true, true), nil
	}

	job := jobFromCronJob(cj, runID)
	base := cj.Name + "-" + c.cfg.Clock.Now().UTC().Format("0601021504")
	for try := 1; try <= maxNameTries; try++ {
		job.Name = base
		if try > 1 {
			job.Name = fmt.Sprintf("%s-%d", base, try)
		}
		created := &batchv1.Job{}
		_, err := c.call(ctx, c.api.batch.Post().Namespace(ns).Resource("jobs").
			VersionedParams(&metav1.CreateOptions{}, paramCodec).Body(job), created)
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return flows.SyncJob{}, wrapErr(err, fmt.Sprintf("create job %s/%s", ns, job.Name))
		}
		return syncJob(created, false, false), nil
	}
	return flows.SyncJob{}, fmt.Errorf("create job %s/%s: %d names in a row are taken", ns, base, maxNameTries)
}

// startOf is when the Job started, or was made if it has not started
// yet (it starts after that).
func startOf(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

// better prefers a Job that has written its Secrets already, then the
// one that started first (it ends first).
func better(a, b *batchv1.Job) bool {
	ac, bc := jobCondition(a, batchv1.JobComplete), jobCondition(b, batchv1.JobComplete)
	if ac != bc {
		return ac
	}
	return startOf(a).Before(startOf(b))
}

func syncJob(j *batchv1.Job, adopted, earlier bool) flows.SyncJob {
	return flows.SyncJob{Name: j.Name, Adopted: adopted, Earlier: earlier, CreatedAt: j.CreationTimestamp.UTC(), StartedAt: startOf(j).UTC()}
}

func jobFromCronJob(cj *batchv1.CronJob, runID string) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate
	annotations := maps.Clone(tmpl.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationInstantiate] = "manual"
	if runID != "" {
		annotations[AnnotationRunID] = runID
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   cj.Namespace,
			Labels:      maps.Clone(tmpl.Labels),
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         batchv1.SchemeGroupVersion.String(),
				Kind:               "CronJob",
				Name:               cj.Name,
				UID:                cj.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
}

// finished reports whether the Job has completed or failed for good.
func finished(j *batchv1.Job) bool {
	return jobCondition(j, batchv1.JobComplete) || jobCondition(j, batchv1.JobFailed)
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
