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

// StartSync makes a Job from the sync CronJob as Argo CD's "Create job"
// action does: named <cronjob>-<yyMMddHHmm of at, UTC> (with -2, -3... if
// that is taken), annotated cronjob.kubernetes.io/instantiate: manual,
// owned by the CronJob, with the job template's labels, annotations and
// spec. Before that it looks for the Job this run made already, and for a
// run of the CronJob still going, which it adopts rather than start a
// second sync beside it.
func (c *Client) StartSync(ctx context.Context, runID string, at time.Time) (flows.SyncJob, error) {
	ns := c.cfg.Namespace
	cj := &batchv1.CronJob{}
	if err := c.get(ctx, c.api.batch, "cronjobs", c.cfg.CronJob, cj); err != nil {
		return flows.SyncJob{}, wrapErr(err, fmt.Sprintf("get cronjob %s/%s", ns, c.cfg.CronJob))
	}
	var jobs batchv1.JobList
	if err := c.list(ctx, c.api.batch, "jobs", metav1.ListOptions{}, &jobs); err != nil {
		return flows.SyncJob{}, wrapErr(err, "list jobs in "+ns)
	}
	var active *batchv1.Job
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if runID != "" && j.Annotations[AnnotationRunID] == runID {
			return flows.SyncJob{Name: j.Name, CreatedAt: j.CreationTimestamp.UTC()}, nil
		}
		owner := metav1.GetControllerOf(j)
		if owner == nil || owner.UID != cj.UID || finished(j) {
			continue
		}
		if active == nil || j.CreationTimestamp.After(active.CreationTimestamp.Time) {
			active = j
		}
	}
	if active != nil {
		return flows.SyncJob{Name: active.Name, Adopted: true, CreatedAt: active.CreationTimestamp.UTC()}, nil
	}

	job := jobFromCronJob(cj, runID)
	base := cj.Name + "-" + at.UTC().Format("0601021504")
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
		return flows.SyncJob{Name: created.Name, CreatedAt: created.CreationTimestamp.UTC()}, nil
	}
	return flows.SyncJob{}, fmt.Errorf("create job %s/%s: %d names in a row are taken", ns, base, maxNameTries)
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
