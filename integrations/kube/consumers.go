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
	readers, err := c.SecretReaders(ctx)
	if err != nil {
		return nil, err
	}
	return readers[secret], nil
}

// SecretReaders lists the consumers of every Secret the namespace's
// Deployments and CronJobs read, by Secret, each sorted as Consumers
// sorts them: one list of each kind, however many Secrets there are, so
// that the daily sweep can show every token's consumers.
func (c *Client) SecretReaders(ctx context.Context) (map[string][]flows.Consumer, error) {
	ns := c.cfg.Namespace
	var deps appsv1.DeploymentList
	if err := c.list(ctx, c.api.apps, "deployments", metav1.ListOptions{}, &deps); err != nil {
		return nil, wrapErr(err, "list deployments in "+ns)
	}
	var cronJobs batchv1.CronJobList
	if err := c.list(ctx, c.api.batch, "cronjobs", metav1.ListOptions{}, &cronJobs); err != nil {
		return nil, wrapErr(err, "list cronjobs in "+ns)
	}
	out := map[string][]flows.Consumer{}
	for _, d := range deps.Items {
		addReaders(out, "Deployment", d.Name, d.Spec.Template.Spec.Containers)
	}
	for _, cj := range cronJobs.Items {
		addReaders(out, "CronJob", cj.Name, cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
	}
	for _, cons := range out {
		slices.SortFunc(cons, func(a, b flows.Consumer) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name),
				cmp.Compare(a.Container, b.Container), cmp.Compare(a.Variable, b.Variable))
		})
	}
	return out, nil
}

// addReaders adds the containers' variables that take a Secret to that
// Secret's readers. With envFrom every key becomes a variable; the
// token's is the prefix plus bearer_token.
func addReaders(out map[string][]flows.Consumer, kind, name string, containers []corev1.Container) {
	for _, ctr := range containers {
		for _, e := range ctr.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				s := e.ValueFrom.SecretKeyRef.Name
				out[s] = append(out[s], flows.Consumer{Kind: kind, Name: name, Container: ctr.Name, Variable: e.Name, Via: "env"})
			}
		}
		for _, from := range ctr.EnvFrom {
			if from.SecretRef != nil {
				s := from.SecretRef.Name
				out[s] = append(out[s], flows.Consumer{Kind: kind, Name: name, Container: ctr.Name, Variable: from.Prefix + SecretKey, Via: "envFrom"})
			}
		}
	}
}
