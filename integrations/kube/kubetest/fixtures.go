package kubetest

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// SyncCronJobName is the name of GOV.UK's token sync CronJob.
const SyncCronJobName = "signon-sync-token-secrets-to-k8s"

// SyncCronJob returns a CronJob shaped like GOV.UK's token sync (as the
// signon Helm chart renders it): the production schedule, container
// cron-task running the rake task, backoffLimit 0, restartPolicy Never. Its
// job template carries the annotation kubetest/from-template: "yes", so a
// test can see that a Job made from it copied the template's metadata.
func SyncCronJob(namespace string) *batchv1.CronJob {
	labels := map[string]string{"app.kubernetes.io/name": "signon", "app.kubernetes.io/component": "sync-token-secrets-to-k8s"}
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: SyncCronJobName, Namespace: namespace, Labels: labels},
		Spec: batchv1.CronJobSpec{
			Schedule:          "9 1 * * *",
			ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"kubetest/from-template": "yes"}},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](0),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyNever,
							Containers: []corev1.Container{{
								Name:    "cron-task",
								Image:   "ghcr.io/alphagov/signon:release",
								Command: []string{"rake", "kubernetes:sync_token_secrets"},
							}},
						},
					},
				},
			},
		},
	}
}

// ConsumerDeployment returns a Deployment shaped like a GOV.UK app that
// reads a token: one replica, Reloader's auto annotation, and container
// "app" with variable reading key bearer_token of secret.
func ConsumerDeployment(namespace, name, variable, secret string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Annotations: map[string]string{ReloaderAuto: "true"},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "app",
					Image: "ghcr.io/alphagov/" + name + ":release",
					Env: []corev1.EnvVar{
						{Name: "GOVUK_APP_NAME", Value: name},
						{Name: variable, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: secret},
							Key:                  "bearer_token",
						}}},
					},
				}}},
			},
		},
	}
}
