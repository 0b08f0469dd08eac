package kube

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

func TestConsumersThroughEnvAndEnvFrom(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	const secret = "signon-token-collections-email-alert-api"

	collections := kubetest.ConsumerDeployment(e.ns, "collections", "EMAIL_ALERT_API_BEARER_TOKEN", secret)
	worker := *collections.Spec.Template.Spec.Containers[0].DeepCopy()
	worker.Name = "worker"
	worker.Env[1].Name = "ALERTS_TOKEN"
	collections.Spec.Template.Spec.Containers = append(collections.Spec.Template.Spec.Containers, worker)

	draft := kubetest.ConsumerDeployment(e.ns, "draft-collections", "UNUSED", "signon-token-collections-publishing-api")
	draft.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{
		SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}},
	}}

	nightly := kubetest.SyncCronJob(e.ns)
	nightly.Name = "collections-nightly"
	nightly.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env = collections.Spec.Template.Spec.Containers[0].Env

	other := kubetest.ConsumerDeployment(e.ns, "frontend", "EMAIL_ALERT_API_BEARER_TOKEN", "signon-token-frontend-email-alert-api")
	e.mustCreate(t, collections, draft, nightly, other, kubetest.SyncCronJob(e.ns))

	got, err := e.client.Consumers(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := []flows.Consumer{
		{Kind: "CronJob", Name: "collections-nightly", Container: "cron-task", Variable: "EMAIL_ALERT_API_BEARER_TOKEN", Via: "env"},
		{Kind: "Deployment", Name: "collections", Container: "app", Variable: "EMAIL_ALERT_API_BEARER_TOKEN", Via: "env"},
		{Kind: "Deployment", Name: "collections", Container: "worker", Variable: "ALERTS_TOKEN", Via: "env"},
		{Kind: "Deployment", Name: "draft-collections", Container: "app", Variable: "bearer_token", Via: "envFrom"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Consumers(%s) =\n%+v\nwant\n%+v", secret, got, want)
	}

	none, err := e.client.Consumers(ctx, "signon-token-hmrc-publishing-api")
	if err != nil || len(none) != 0 {
		t.Errorf("Consumers of a Secret nothing reads = %+v, %v; want none (an external consumer)", none, err)
	}

	// The sweep's one look at the namespace finds every Secret's readers,
	// each as Consumers finds them.
	all, err := e.client.SecretReaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all[secret], want) {
		t.Errorf("SecretReaders()[%s] =\n%+v\nwant\n%+v", secret, all[secret], want)
	}
	frontend := []flows.Consumer{{Kind: "Deployment", Name: "frontend", Container: "app", Variable: "EMAIL_ALERT_API_BEARER_TOKEN", Via: "env"}}
	if got := all["signon-token-frontend-email-alert-api"]; !reflect.DeepEqual(got, frontend) {
		t.Errorf("SecretReaders() of the frontend's Secret = %+v, want %+v", got, frontend)
	}
	if got := all["signon-token-hmrc-publishing-api"]; got != nil {
		t.Errorf("SecretReaders() lists readers of a Secret nothing reads: %+v", got)
	}
}
