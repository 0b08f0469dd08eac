package kube

import (
	"errors"
	"os"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
	"github.com/alphagov/signon-token-bot/integrations/kube/kubetest"
)

const shippedRole = "../../deploy/rbac/role.yaml"

func loadRole(t *testing.T) *rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(shippedRole)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("%s: %v", shippedRole, err)
	}
	if role.Kind != "Role" || role.Namespace != DefaultNamespace || len(role.Rules) == 0 {
		t.Fatalf("%s is not a Role in %s: %+v", shippedRole, DefaultNamespace, role.TypeMeta)
	}
	return &role
}

// A user the cluster knows but has granted nothing gets ErrForbidden from
// every call, which the Slack layer can explain.
func TestForbiddenIsReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	e.mustCreate(t, kubetest.SyncCronJob(e.ns))
	e.writeToken(t, testSecret, token.Generate())
	e.deployReady(t, "support", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
	job, err := e.client.StartSync(ctx, "run-1.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := e.cp.UserConfig("someone-else")
	if err != nil {
		t.Fatal(err)
	}
	nobody := e.clientAs(t, cfg, Config{})
	consumer := flows.Consumer{Kind: "Deployment", Name: "support", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
	for what, call := range map[string]func() error{
		"Secret": func() error { _, err := nobody.Secret(ctx, testSecret); return err },
		"Consumers": func() error {
			_, err := nobody.Consumers(ctx, testSecret)
			return err
		},
		"StartSync": func() error { _, err := nobody.StartSync(ctx, "run-2.1", time.Now()); return err },
		"WaitSync":  func() error { _, err := nobody.WaitSync(ctx, job.Name, testSecret, nil); return err },
		"WaitRollout": func() error {
			_, err := nobody.WaitRollout(ctx, "support", time.Now(), time.Second)
			return err
		},
		"RestartDeployment": func() error { return nobody.RestartDeployment(ctx, "support", time.Now()) },
		"CheckPods": func() error {
			_, err := nobody.CheckPods(ctx, consumer, "0123456789abcdef")
			return err
		},
		"Runner.Run": func() error {
			return nobody.SignonRunner().Run(ctx, []string{"true"}, nil, nil, nil)
		},
	} {
		err := call()
		if !errors.Is(err, flows.ErrForbidden) {
			t.Errorf("%s as a user with no role: %v, want ErrForbidden", what, err)
		}
	}

	// Exec itself refused, as when the Role lacks pods/exec.
	noExec := loadRole(t)
	noExec.Rules = removeResource(noExec.Rules, "pods/exec")
	limited := e.clientAs(t, e.cp.ConfigForRole(t, e.ns, noExec), Config{})
	if _, err := limited.CheckPods(ctx, consumer, "0123456789abcdef"); !errors.Is(err, flows.ErrForbidden) {
		t.Errorf("CheckPods without pods/exec: %v, want ErrForbidden", err)
	}
}

// Where WebSocket exec is refused (a Role written for SPDY, with create
// but not get on pods/exec), exec falls back to SPDY and still works.
func TestExecFallsBackToSPDY(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &kubetest.Kubelet{}, Config{})
	ctx := testContext(t)
	tok := token.Generate()
	e.writeToken(t, testSecret, tok)
	e.deployReady(t, "whitehall-admin", "PUBLISHING_API_BEARER_TOKEN", testSecret, 1)
	role := loadRole(t)
	for i := range role.Rules {
		if role.Rules[i].Resources[0] == "pods/exec" {
			role.Rules[i].Verbs = []string{"create"}
		}
	}
	spdyOnly := e.cp.ConfigForRole(t, e.ns, role)
	pod, err := e.client.readyPod(ctx, "whitehall-admin", "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := kubetest.ExecWebSocketOnly(ctx, spdyOnly, e.ns, pod.Name, "app"); err == nil {
		t.Fatal("exec over WebSocket worked without get on pods/exec; this test no longer exercises the fallback")
	}
	consumer := flows.Consumer{Kind: "Deployment", Name: "whitehall-admin", Container: "app", Variable: "PUBLISHING_API_BEARER_TOKEN", Via: "env"}
	checks, err := e.clientAs(t, spdyOnly, Config{}).CheckPods(ctx, consumer, tok.Fingerprint())
	if err != nil || !checks[0].Match {
		t.Errorf("CheckPods over SPDY = %+v, %v; want a match", checks, err)
	}
}

func removeResource(rules []rbacv1.PolicyRule, resource string) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		if len(r.Resources) == 1 && r.Resources[0] == resource {
			continue
		}
		out = append(out, r)
	}
	return out
}
