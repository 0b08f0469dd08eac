package signon_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/signon"
	"github.com/alphagov/signon-token-bot/integrations/signon/signonlite"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
)

// TestMain stops the servers the tests shared: the control plane and
// signon-lite's MariaDB.
func TestMain(m *testing.M) {
	code := m.Run()
	signonlite.StopShared()
	kubetest.StopShared()
	os.Exit(code)
}

// TestThroughTheKubernetesExecPath runs the script as production does: the
// client execs `rails runner -` in a ready pod of the signon Deployment,
// through the real apiserver, which proxies the exec to the test kubelet,
// which runs signon-lite in the container's working directory with the
// container's environment.
func TestThroughTheKubernetesExecPath(t *testing.T) {
	t.Parallel()
	lite := signonlite.Start(t)
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	(&kubetest.Kubelet{}).Start(t, cp.Config, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var env []corev1.EnvVar
	for _, kv := range lite.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	labels := map[string]string{"app": "signon"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "signon", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "ghcr.io/alphagov/signon:release", WorkingDir: signonlite.Dir(), Env: env,
				}}},
			},
		},
	}
	if _, err := cp.Clientset(t).AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc, err := kube.NewForConfig(cp.Config, kube.Config{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.WaitRollout(ctx, "signon", time.Time{}, 30*time.Second); err != nil {
		t.Fatalf("signon Deployment did not come up: %v", err)
	}
	client, err := signon.New(kc.SignonRunner(), signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity})
	if err != nil {
		t.Fatal(err)
	}

	lite.AddHumanUser("Token bot", signontest.SuiteServiceIdentity)
	lite.AddAPIUser("Short URL Manager", liteUser)
	lite.AddApplication(liteApp)
	old, _ := lite.AddToken(liteUser, liteApp, lite.Now().AddDate(-2, 0, 5), 2*365*24*time.Hour)

	user, err := client.FindAPIUser(ctx, liteUser)
	if err != nil || user.Name != "Short URL Manager" {
		t.Fatalf("FindAPIUser = %+v, %v", user, err)
	}
	intent := time.Now().UTC()
	issued, err := client.Issue(ctx, flows.IssueRequest{Email: liteUser, Application: liteApp, IntentAt: intent})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if issued.Existing || issued.Secret.Fingerprint() != issued.Token.Fingerprint || !issued.Initiator.Service {
		t.Fatalf("Issue = %+v", issued)
	}
	again, err := client.Issue(ctx, flows.IssueRequest{Email: liteUser, Application: liteApp, IntentAt: intent})
	if err != nil || !again.Existing || again.Token.ID != issued.Token.ID {
		t.Fatalf("a retried Issue made or found %+v (%v), want token %d again", again.Token, err, issued.Token.ID)
	}
	if n := lite.TokenCount(liteUser, liteApp); n != 2 {
		t.Fatalf("tokens = %d, want 2", n)
	}
	set, err := client.Tokens(ctx, liteUser, liteApp)
	if err != nil || len(set.Tokens) != 2 || set.Tokens[0].ID != issued.Token.ID {
		t.Fatalf("Tokens = %+v, %v", set, err)
	}
	if _, err := client.Revoke(ctx, flows.RevokeRequest{Email: "nobody@alphagov.co.uk", Application: liteApp, TokenID: old.ID}); !errors.Is(err, flows.ErrUnknownAPIUser) {
		t.Fatalf("revoking as an unknown user: %v", err)
	}
	if _, err := client.Revoke(ctx, flows.RevokeRequest{Email: liteUser, Application: liteApp, TokenID: old.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := client.Revoke(ctx, flows.RevokeRequest{Email: liteUser, Application: liteApp, TokenID: old.ID}); !errors.Is(err, flows.ErrAlreadyRevoked) {
		t.Fatalf("revoking twice: %v, want ErrAlreadyRevoked", err)
	}
	var events []string
	for _, e := range lite.Events() {
		events = append(events, e.Name)
	}
	if got := strings.Join(events, " "); got != signontest.EventGenerated+" "+signontest.EventRevoked {
		t.Errorf("Signon's event log: %s", got)
	}
}
