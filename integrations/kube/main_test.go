package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// env is one test's corner of the shared control plane: a namespace, a
// kubelet for it, an administrator's clientset and the client under test.
type env struct {
	cp     *kubetest.ControlPlane
	ns     string
	kl     *kubetest.Kubelet
	admin  kubernetes.Interface
	client *Client
}

func newEnv(t *testing.T, kl *kubetest.Kubelet, cfg Config) *env {
	t.Helper()
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	kl.Start(t, cp.Config, ns)
	cfg.Namespace = ns
	e := &env{cp: cp, ns: ns, kl: kl, admin: cp.Clientset(t)}
	e.client = e.clientAs(t, cp.Config, cfg)
	return e
}

func (e *env) clientAs(t *testing.T, rc *rest.Config, cfg Config) *Client {
	t.Helper()
	cfg.Namespace = e.ns
	c, err := NewForConfig(rc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustCreate creates objects as the administrator, in the test's
// namespace.
func (e *env) mustCreate(t *testing.T, objs ...any) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Secret:
			_, err = e.admin.CoreV1().Secrets(e.ns).Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.Deployment:
			_, err = e.admin.AppsV1().Deployments(e.ns).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.CronJob:
			_, err = e.admin.BatchV1().CronJobs(e.ns).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("mustCreate: %T is not handled", o)
		}
		if err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}
}

func TestNewFromKubeconfigContext(t *testing.T) {
	t.Parallel()
	cp := kubetest.Shared(t)
	ns := cp.Namespace(t)
	c, err := New(Config{Kubeconfig: cp.Kubeconfig, Context: "kubetest", Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Consumers(testContext(t), testSecret); err != nil {
		t.Errorf("a client from the kubeconfig context cannot list: %v", err)
	}
	if c.Namespace() != ns || c.cfg.CronJob != DefaultCronJob || c.cfg.SignonDeployment != DefaultSignonDeployment || c.cfg.SyncTimeout != DefaultSyncTimeout {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	if _, err := New(Config{Kubeconfig: cp.Kubeconfig, Context: "production"}); err == nil || !strings.Contains(err.Error(), "production") {
		t.Errorf("New with an unknown context: %v, want an error naming it", err)
	}
}
