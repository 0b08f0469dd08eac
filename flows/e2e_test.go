package flows_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/flowstest"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
	"github.com/alphagov/signon-token-bot/integrations/signon/signontest"
	"github.com/alphagov/signon-token-bot/state"
	"github.com/alphagov/signon-token-bot/state/redistest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// TestEndToEndRealRedisAndAPIServer runs a rotation with the real state
// store on a real redis-server and the real Kubernetes client against a
// real apiserver with the Job and Deployment controllers: the test kubelet
// plays the sync task and the pods, a test Reloader rolls the consumers,
// and the in-pod check execs sha256sum in them. Signon is the double.
func TestEndToEndRealRedisAndAPIServer(t *testing.T) {
	rs := redistest.New(t)
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	kl := &kubetest.Kubelet{}
	kl.Start(t, cp.Config, ns)
	kubetest.StartReloader(t, cp.Config, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sn := signontest.New(flows.SystemClock{})
	sn.AddHumanUser("Alice", "alice@digital.cabinet-office.gov.uk")
	sn.AddAPIUser(userName, userEmail)
	sn.AddApplication(appName)
	now := sn.Now()
	created := now.AddDate(-2, 0, 9)
	old, oldTok := sn.AddToken(userEmail, appName, created, now.AddDate(0, 0, 9).Sub(created))
	sn.SetLastSynced(userEmail, appName, now.Add(-time.Hour))

	kc, err := kube.NewForConfig(cp.Config, kube.Config{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	admin := cp.Clientset(t)
	secret := kc.SecretName(userName, appName)
	apply := applycorev1.Secret(secret, ns).WithType(corev1.SecretTypeOpaque).WithData(map[string][]byte{kube.SecretKey: []byte(oldTok.Reveal())})
	if _, err := admin.CoreV1().Secrets(ns).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: kubetest.SyncFieldManager, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.BatchV1().CronJobs(ns).Create(ctx, kubetest.SyncCronJob(ns), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"content-tagger", "draft-content-tagger"} {
		if _, err := admin.AppsV1().Deployments(ns).Create(ctx, kubetest.ConsumerDeployment(ns, name, variable, secret), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.WaitRollout(ctx, name, time.Time{}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// The apiserver keeps times to the second: let the second in which
	// the consumers started end, so that their first pods cannot pass for
	// pods of the rollout the sync causes.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	st, err := state.New(rs.Client(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	policy := flows.GOVUKPolicy()
	prod := policy.Environments[flows.Production]
	prod.Starters = flows.Principals{Users: []string{alice, bob}}
	policy.Environments = map[string]flows.EnvPolicy{flows.Production: prod}
	notifier := &flowstest.Notifier{}
	eng, err := flows.New(flows.Config{
		Policy:    policy,
		Envs:      map[string]flows.Env{flows.Production: {Signon: sn, Cluster: kc}},
		Store:     st,
		Notifier:  notifier,
		Directory: &flowstest.Directory{Emails: map[string]string{alice: "alice@digital.cabinet-office.gov.uk"}},
		Owner:     "replica-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(runCtx) }()
	defer func() { stop(); <-done }()

	run := start(t, eng, flows.ModeRotate)
	run = waitFor(t, eng, run.ID, "the sync gate", atGate(flows.GateSync))
	if len(run.Consumers) != 2 {
		t.Fatalf("consumers found in the cluster: %+v", run.Consumers)
	}
	newest, _ := sn.NewestUnrevoked(userName, appName)
	played := make(chan error, 1)
	go func() {
		_, err := kl.PlaySync(ctx, kube.DefaultCronJob, kubetest.SyncRun{Tokens: map[string]token.Secret{secret: newest}})
		played <- err
	}()
	run = mustAct(t, eng, run, flows.ActionApprove, alice)
	if err := <-played; err != nil {
		t.Fatalf("play the sync task: %v", err)
	}
	ctx30, cancel30 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel30()
	run, err = eng.WaitFor(ctx30, run.ID, atGate(flows.GateRevoke))
	if err != nil {
		t.Fatalf("waiting for the revoke gate: %v\n%s", err, notifier.Transcript(run.ID))
	}
	if len(run.Checks) != 2 {
		t.Fatalf("in-pod checks: %+v", run.Checks)
	}
	for _, c := range run.Checks {
		if !c.Match || c.Fingerprint != run.NewToken.Fingerprint {
			t.Errorf("pod %s holds %s, want %s", c.Pod, c.Fingerprint, run.NewToken.Fingerprint)
		}
	}
	run = mustAct(t, eng, run, flows.ActionApprove, bob)
	run = waitFor(t, eng, run.ID, "the end", ended)
	if run.Phase != flows.PhaseDone {
		t.Fatalf("phase %s (%s)", run.Phase, run.Reason)
	}
	set, err := sn.Tokens(ctx, userEmail, appName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range set.Tokens {
		if tk.ID == old.ID && !tk.Revoked() {
			t.Error("old token not revoked")
		}
		if tk.ID == run.NewToken.ID && tk.Revoked() {
			t.Error("new token revoked")
		}
	}
	trail, err := eng.AuditTrail(ctx, run.ID)
	if err != nil || len(trail) < 6 {
		t.Errorf("audit trail in the real Redis: %d entries, %v", len(trail), err)
	}
	noPlaintext(t, &world{signon: sn}, notifier.Transcript(run.ID))
}
