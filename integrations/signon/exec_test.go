package signon_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, _ := signonPod(ctx, t, lite)
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
	issued, err := client.Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: intent})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if issued.Existing || issued.Secret.Fingerprint() != issued.Token.Fingerprint || !issued.Initiator.Service {
		t.Fatalf("Issue = %+v", issued)
	}
	again, err := client.Issue(ctx, flows.IssueRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, IntentAt: intent})
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
	if _, err := client.Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: "nobody@alphagov.co.uk", Application: liteApp, TokenID: old.ID}); !errors.Is(err, flows.ErrUnknownAPIUser) {
		t.Fatalf("revoking as an unknown user: %v", err)
	}
	if _, err := client.Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, TokenID: old.ID}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := client.Revoke(ctx, flows.RevokeRequest{RunID: "r-test0001", Email: liteUser, Application: liteApp, TokenID: old.ID}); !errors.Is(err, flows.ErrAlreadyRevoked) {
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

// signonPod runs a signon Deployment of one pod on the real apiserver and
// the test kubelet, its app container running signon-lite with extra
// environment besides, and returns a client for it.
func signonPod(ctx context.Context, t *testing.T, lite *signonlite.Lite, extra ...corev1.EnvVar) (*kube.Client, *kubetest.Kubelet) {
	t.Helper()
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	kl := &kubetest.Kubelet{}
	kl.Start(t, cp.Config, ns)
	var env []corev1.EnvVar
	for _, kv := range lite.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	env = append(env, extra...)
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
	return kc, kl
}

// TestAHungConsoleIsGoneFromThePodAtTheDeadline: the script hangs inside
// its transaction, after making the token and before committing it.
// Closing the exec stream would not stop it (the test kubelet, like a
// container runtime, lets it run on), so only the bound the client puts
// around it in the pod can: the process is gone by the time the client
// gives up, and nothing was written. The process ran with the quiet
// environment although the container's says otherwise, and no argument
// list in the pod showed the request.
func TestAHungConsoleIsGoneFromThePodAtTheDeadline(t *testing.T) {
	t.Parallel()
	lite := signonlite.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hanging := filepath.Join(t.TempDir(), "hanging")
	kc, kl := signonPod(ctx, t, lite,
		corev1.EnvVar{Name: "SIGNON_LITE_FAULT", Value: "hang_before_commit"},
		corev1.EnvVar{Name: "SIGNON_LITE_HANG_FILE", Value: hanging},
		// What Signon's Deployment and the shared ConfigMap set.
		corev1.EnvVar{Name: "RAILS_LOG_LEVEL", Value: "debug"},
		corev1.EnvVar{Name: "ENABLE_OPEN_TELEMETRY", Value: "true"},
		corev1.EnvVar{Name: "GOVUK_RAILS_JSON_LOGGING", Value: "true"},
		corev1.EnvVar{Name: "SENTRY_DSN", Value: "https://public@sentry.invalid/1"},
	)
	lite.AddHumanUser("Token bot", signontest.SuiteServiceIdentity)
	lite.AddAPIUser("Short URL Manager", liteUser)
	lite.AddApplication(liteApp)
	lite.AddToken(liteUser, liteApp, lite.Now().AddDate(-2, 0, 5), 2*365*24*time.Hour)
	before := lite.Snapshot()
	pods, err := kubetest.Shared(t).Clientset(t).CoreV1().Pods(kc.Namespace()).List(ctx, metav1.ListOptions{LabelSelector: "app=signon"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("signon pods: %v, %v", pods, err)
	}
	pod := pods.Items[0].Name

	// 40s: 28s for the process in the pod, KILL 4s later, 8s to spare.
	const timeout = 40 * time.Second
	client, err := signon.New(kc.SignonRunner(), signon.Config{ServiceIdentity: signontest.SuiteServiceIdentity, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := client.Issue(ctx, flows.IssueRequest{RunID: "r-hungconsole", Email: liteUser, Application: liteApp, IntentAt: time.Now().UTC()})
		done <- result{err, time.Since(start)}
	}()

	var seen map[string]*string
	for seen == nil {
		select {
		case r := <-done:
			t.Fatalf("Issue returned (%v after %v) before the script reached its hang", r.err, r.took)
		case <-ctx.Done():
			t.Fatal("the script never reached its hang")
		case <-time.After(50 * time.Millisecond):
		}
		if b, err := os.ReadFile(hanging); err == nil {
			if err := json.Unmarshal(b, &seen); err != nil {
				t.Fatal(err)
			}
		}
	}
	quiet := map[string]string{"RAILS_LOG_LEVEL": "warn", "ENABLE_OPEN_TELEMETRY": "false", "GOVUK_RAILS_JSON_LOGGING": "(unset)", "SENTRY_DSN": "(unset)"}
	for name, want := range quiet {
		got := "(unset)"
		if seen[name] != nil {
			got = *seen[name]
		}
		if got != want {
			t.Errorf("the console ran with %s=%s, want %s", name, got, want)
		}
	}
	if seen[signon.RequestVariable] == nil || !strings.Contains(*seen[signon.RequestVariable], `"op":"issue"`) {
		t.Errorf("the console did not get the request in %s", signon.RequestVariable)
	}
	ps := kl.Processes(pod)
	if !slices.ContainsFunc(ps, func(args []string) bool { return slices.Contains(args, "runner") }) {
		t.Errorf("ps in the pod shows no rails runner while the script hangs: %q", ps)
	}
	for _, args := range ps {
		if strings.Contains(strings.Join(args, " "), signon.RequestVariable) {
			t.Errorf("ps in the pod shows the request: %q", args)
		}
	}

	r := <-done
	var e *signon.Error
	if !errors.As(r.err, &e) || e.Kind != signon.KindTimeout {
		t.Fatalf("Issue: %v, want a timeout", r.err)
	}
	if r.took > timeout+5*time.Second {
		t.Errorf("Issue took %v, more than its %v", r.took, timeout)
	}
	if ps := kl.Processes(pod); len(ps) != 0 {
		t.Errorf("when the client gave up, the pod still ran %q", ps)
	}
	if lite.Snapshot() != before {
		t.Error("the hung console wrote to Signon")
	}
	t.Logf("gave up after %v: %v", r.took.Round(time.Millisecond), r.err)
}
