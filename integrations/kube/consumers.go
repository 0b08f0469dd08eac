package kube

import (
	"cmp"
	"context"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alphagov/signon-token-bot/flows"
)

// Consumers lists every container of a Deployment or CronJob in the
// namespace that reads the Secret, through env (secretKeyRef) or envFrom
// (secretRef), sorted by kind, name, container and variable. Nothing is
// known in advance about which application reads what.
func (c *Client) Consumers(ctx context.Context, secret string) ([]flows.Consumer, error) {
	ns := c.cfg.Namespace
	var deps appsv1.DeploymentList
	if err := c.list(ctx, c.api.apps, "deployments", metav1.ListOptions{}, &deps); err != nil {
		return nil, wrapErr(err, "list deployments in "+ns)
	}
	var cronJobs batchv1.CronJobList
	if err := c.list(ctx, c.api.batch, "cronjobs", metav1.ListOptions{}, &cronJobs); err != nil {
		return nil, wrapErr(err, "list cronjobs in "+ns)
	}
	var out []flows.Consumer
	for _, d := range deps.Items {
		out = append(out, readersOf(secret, "Deployment", d.Name, d.Spec.Template.Spec.Containers)...)
	}
	for _, cj := range cronJobs.Items {
		out = append(out, readersOf(secret, "CronJob", cj.Name, cj.Spec.JobTemplate.Spec.Template.Spec.Containers)...)
	}
	slices.SortFunc(out, func(a, b flows.Consumer) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Container, b.Container), cmp.Compare(a.Variable, b.Variable))
	})
	return out, nil
}

// readersOf returns the containers' variables that take the Secret. With
// envFrom every key becomes a variable; the token's is the prefix plus
// bearer_token.
func readersOf(secret, kind, name string, containers []corev1.Container) []flows.Consumer {
	var out []flows.Consumer
	for _, ctr := range containers {
		for _, e := range ctr.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret {
				out = append(out, flows.Consumer{Kind: kind, Name: name, Container: ctr.Name, Variable: e.Name, Via: "env"})
			}
		}
		for _, from := range ctr.EnvFrom {
			if from.SecretRef != nil && from.SecretRef.Name == secret {
				out = append(out, flows.Consumer{Kind: kind, Name: name, Container: ctr.Name, Variable: from.Prefix + SecretKey, Via: "envFrom"})
			}
		}
	}
	return out
}
